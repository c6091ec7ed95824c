#include "engine/admission.h"

#include <algorithm>

namespace hooklog {

EndpointState& Admission::StateOf(const Endpoint& ep) {
  auto [it, inserted] = endpoints_.try_emplace(ep.id, ctx_->options);
  EndpointState& es = it->second;
  es.ep = ep;
  es.guard.SetRateLimit(ep.rate_limit_per_s, EffectiveRateLimitBurst(ep));
  es.guard.SetBreakerOptions(
      ep.protection.circuit_breaker.value_or(ctx_->options.circuit_breaker));
  // Breaker state is restored from the row once; afterwards the guard is
  // the source of truth and the row follows it.
  if (inserted) es.guard.Restore(ep.circuit_open_until, ep.failing_since);
  return es;
}

EndpointState* Admission::Live(const EndpointId& id) {
  EndpointState* es = Find(id);
  return es == nullptr || es->ep.deleted ? nullptr : es;
}

EndpointState* Admission::Find(const EndpointId& id) {
  auto it = endpoints_.find(id);
  return it == endpoints_.end() ? nullptr : &it->second;
}

void Admission::Admit(const DeliveryId& id, Active* a) {
  if (a->busy || ctx_->stopping) return;
  EndpointState* es = Live(a->row.endpoint_id);
  if (es == nullptr) {
    // Its endpoint was deleted while it was in flight or before a crash.
    starter_->EndOrphan(id, a);
    return;
  }
  if (a->immediate) {
    // Operator-initiated (test ping, replay): bypasses every gate.
    if (starter_->StartAttempt(id, a, *es)) {
      es->in_flight++;
      in_flight_.Add();
    }
    return;
  }
  if (!a->row.is_test && !es->ep.enabled) {
    es->parked.push_back(id);
    return;
  }
  // A FIFO endpoint's later deliveries wait, unscheduled, until they
  // become the oldest (OnFinished schedules the next one).
  if (es->ep.fifo && !a->row.is_test && !IsFifoHead(*es, id)) return;
  es->ready.push_back(id);
  Pump(es, SIZE_MAX);
}

size_t Admission::Pump(EndpointState* es, size_t limit) {
  size_t started = 0;
  const Timestamp now = ctx_->Now();
  while (!es->ready.empty() && started < limit) {
    auto it = active_->find(es->ready.front());
    if (it == active_->end() || it->second.busy) {
      es->ready.pop_front();
      continue;
    }
    if (in_flight_.value() >= ctx_->options.global_max_in_flight) {
      ListWaiting(es);  // PumpWaiting() serves it as slots free up
      break;
    }
    auto admission = es->guard.TryAcquire(now, es->in_flight, CapOf(*es));
    if (!admission.allowed) {
      if (admission.retry_at != 0) {
        scheduler_->WakeAt(es->ep.id, &es->wake_at, admission.retry_at);
      }
      break;  // retry_at 0: a slot (or the probe's result) frees it
    }
    es->ready.pop_front();
    it->second.probe = admission.probe;
    if (starter_->StartAttempt(it->first, &it->second, *es)) {
      es->in_flight++;
      in_flight_.Add();
    }
    ++started;
  }
  return started;
}

void Admission::ListWaiting(EndpointState* es) {
  if (!es->listed) {
    es->listed = true;
    waiting_.push_back(es->ep.id);
  }
}

void Admission::PumpWaiting() {
  size_t rounds = waiting_.size();
  while (rounds-- > 0 &&
         in_flight_.value() < ctx_->options.global_max_in_flight) {
    const EndpointId eid = waiting_.front();
    waiting_.pop_front();
    EndpointState* es = Find(eid);
    if (es == nullptr) continue;
    es->listed = false;
    Pump(es, 1);
    if (!es->ready.empty()) ListWaiting(es);
  }
}

void Admission::Release(EndpointState* es) {
  in_flight_.Sub();
  if (es != nullptr && es->in_flight > 0) es->in_flight--;
}

void Admission::Unpark(EndpointState* es) {
  std::vector<DeliveryId> parked = std::move(es->parked);
  es->parked.clear();
  const Timestamp now = ctx_->Now();
  for (const DeliveryId& id : parked) {
    auto it = active_->find(id);
    if (it != active_->end()) {
      scheduler_->Schedule(id, &it->second.scheduled, now);
    }
  }
}

void Admission::ResetFifo(EndpointState* es) {
  es->fifo.clear();
  const Timestamp now = ctx_->Now();
  for (auto& [id, a] : *active_) {
    if (a.row.endpoint_id != es->ep.id || a.row.is_test) continue;
    if (es->ep.fifo) {
      es->fifo.insert({a.row.created_at, id});
    } else if (!a.busy && a.scheduled == 0) {
      scheduler_->Schedule(id, &a.scheduled,
                           std::max(now, a.row.next_attempt_at));
    }
  }
  if (es->ep.fifo) ScheduleFifoHead(es);
}

void Admission::ScheduleFifoHead(EndpointState* es) {
  if (es->fifo.empty()) return;
  auto it = active_->find(es->fifo.begin()->second);
  if (it != active_->end() && !it->second.busy && it->second.scheduled == 0) {
    scheduler_->Schedule(it->first, &it->second.scheduled,
                         it->second.row.next_attempt_at);
  }
}

void Admission::OnFinished(const Delivery& row) {
  EndpointState* es = Find(row.endpoint_id);
  if (es == nullptr || es->fifo.empty()) return;
  es->fifo.erase({row.created_at, row.id});
  ScheduleFifoHead(es);
}

void Admission::OnEndpointWake(const EndpointId& eid) {
  EndpointState* es = Find(eid);
  if (es == nullptr) return;
  es->wake_at = 0;
  Pump(es, SIZE_MAX);
}

void Admission::OnDeliveryDue(const DeliveryId& id) {
  auto it = active_->find(id);
  if (it == active_->end()) return;
  it->second.scheduled = 0;
  Admit(id, &it->second);
}

}  // namespace hooklog
