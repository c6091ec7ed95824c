#include "engine/attempts.h"

#include <optional>
#include <utility>

#include "base/kill_point.h"
#include "engine/endpoint_machine.h"
#include "engine/projection.h"
#include "engine/stats.h"
#include "hooklog/signing.h"

namespace hooklog {
namespace {

DeliveryResult ResultOf(const Delivery& d) {
  return DeliveryResult{d.id, d.status, d.http_status_code, d.response_body};
}

}  // namespace

void Attempts::Adopt(const Message& m, const std::vector<Delivery>& rows,
                     Callback<DeliveryResult> waiter, bool immediate) {
  for (const Delivery& row : rows) {
    if (!ctx_->Owns(row.endpoint_id.raw())) continue;  // another node's
    auto [it, inserted] = active_.try_emplace(row.id);
    Active& a = it->second;
    if (inserted) {
      a.row = row;
      // One envelope per message, shared by its deliveries and retries.
      Body& body = bodies_[m.id];
      if (!body.envelope) {
        body.envelope = std::make_shared<const std::string>(WebhookEnvelope(m));
      }
      body.refs++;
      EndpointState* es = admission_->Find(row.endpoint_id);
      if (es != nullptr && es->ep.fifo && !row.is_test) {
        es->fifo.insert({row.created_at, row.id});
      }
    }
    // Cluster mode: the follower may have adopted it first (it saw the
    // event before this node's commit completed).
    if (waiter) a.waiters.push_back(std::move(waiter));
    if ((a.waiters.size() > 0 || immediate) && !a.busy) {
      Unschedule(&a);
      a.immediate = true;
      admission_->Admit(row.id, &a);
    } else if (inserted) {
      Schedule(row.id, &a, row.next_attempt_at);
    }
  }
}

void Attempts::AdoptLoaded(const Delivery& row) {
  auto [it, inserted] = active_.try_emplace(row.id);
  if (!inserted) return;
  it->second.row = row;
  bodies_[row.message_id].refs++;
  Schedule(row.id, &it->second, row.next_attempt_at);
}

void Attempts::Forget(const DeliveryId& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Unschedule(&it->second);
  auto body = bodies_.find(it->second.row.message_id);
  if (body != bodies_.end() && --body->second.refs == 0) bodies_.erase(body);
  active_.erase(it);
}

std::shared_ptr<const std::string> Attempts::EnvelopeFor(const MessageId& mid) {
  Body& body = bodies_[mid];
  if (!body.envelope) {
    // Only after a restart: deliveries adopted by this process have their
    // envelope cached from the message they were created with. The read
    // stays here, on the strand, because the attempt is being started
    // right now; doing it elsewhere would need an asynchronous path (and a
    // way to keep the admitted slot and token meanwhile) for a read made
    // once per message per restart.
    auto m = storage_->GetMessage(mid);
    if (!m.ok()) return nullptr;
    body.envelope = std::make_shared<const std::string>(WebhookEnvelope(*m));
  }
  return body.envelope;
}

bool Attempts::StartAttempt(const DeliveryId& id, Active* a,
                            const EndpointState& es) {
  if (!ctx_->Owns(es.ep.id.raw())) {
    // The lease is not renewed in time (storage unreachable, or this
    // process was paused): wait. Renewed → attempted then; lost → the
    // partition is dropped and this delivery forgotten.
    Schedule(id, a, ctx_->Now() + kRetryAfterStorageFailure.count());
    return false;
  }
  auto body = EnvelopeFor(a->row.message_id);
  if (!body) {
    // The message row is unreadable right now (storage failing); try
    // again later rather than lose the delivery.
    Schedule(id, a, ctx_->Now() + kRetryAfterStorageFailure.count());
    return false;
  }
  a->busy = true;
  a->immediate = false;
  AttemptRequest req;
  req.url = es.ep.url;
  req.body = *body;
  req.webhook_id = EventIdString(a->row.message_id);
  req.delivery_id = id.ToString();
  req.event_type = a->row.event_type;
  req.scheme = es.ep.signature_scheme;
  const Timestamp now = ctx_->Now();
  for (const SigningSecret& s : es.ep.secrets) {
    if (s.expires_at == 0 || s.expires_at > now) {
      req.secrets.push_back(s.secret);
    }
  }
  req.headers = es.ep.headers;
  req.http2 = es.ep.http2;
  req.connect_timeout = ctx_->options.connect_timeout;
  req.timeout = ctx_->options.attempt_timeout;
  transport_->Send(std::move(req), [this, id, now](AttemptResult r) {
    boost::asio::post(ctx_->strand,
                      [this, id, now, r = std::move(r)]() mutable {
                        OnAttemptDone(id, now, std::move(r));
                      });
  });
  return true;
}

void Attempts::EndOrphan(const DeliveryId& id, Active* a) {
  EndDelivery(id, a, DecideEndpointDeleted(a->row, ctx_->Now()));
}

void Attempts::OnAttemptDone(const DeliveryId& id, Timestamp started,
                             AttemptResult r) {
  auto it = active_.find(id);
  if (it == active_.end()) {
    admission_->Release(nullptr);
    return;
  }
  Active& a = it->second;
  const bool was_probe = std::exchange(a.probe, false);
  EndpointState* es = admission_->Find(a.row.endpoint_id);
  admission_->Release(es);
  if (ctx_->aborting) return;  // stays as last recorded; resumes on restart
  if (a.dropped) {
    // Its partition was lost while in flight: the new owner attempts it
    // again; recording this attempt would write over its decisions.
    a.busy = false;
    for (auto& w : a.waiters) {
      w(
          Status::Unavailable("this node lost the endpoint's partition during "
                              "the attempt; its new owner attempts it"));
    }
    Forget(id);
    return;
  }
  metrics_->RecordLatency(r);
  if (r.http_status_code && *r.http_status_code / 100 == 2) {
    HOOKLOG_KILL_POINT("attempt_2xx_before_record");
  }
  const Timestamp now = ctx_->Now();
  const bool endpoint_gone = es == nullptr || es->ep.deleted;
  // The endpoint first: a pause it decides bounds the delivery's next
  // attempt (a 429 must not be retried before the endpoint resumes).
  std::optional<EndpointDecision> health;
  Timestamp paused_until = 0;
  if (!endpoint_gone) {
    health = DecideEndpointHealth(es->ep, &es->guard, r, started, was_probe,
                                  now, ctx_->options, &ctx_->jitter);
    paused_until = es->guard.paused_until();
  }
  Decision d = DecideAttempt(a.row, r, started, now, ctx_->options.retry,
                             &ctx_->jitter, paused_until);
  WriteBatch b;
  Delivery row = a.row;
  for (Event& e : d.events) {
    ApplyToDelivery(e, &row);
    b.events.push_back(std::move(e));
  }
  if (endpoint_gone && !IsTerminal(row.status)) {
    Event e = DecideEndpointDeleted(row, now);
    ApplyToDelivery(e, &row);
    b.events.push_back(std::move(e));
  }
  // The endpoint changes only when it has events: applied now, so that
  // later decisions see it; restored if the write fails.
  std::optional<Endpoint> before;
  std::vector<OperationalEvent> ops;
  if (health && !health->events.empty()) {
    before = std::move(es->ep);
    es->ep = std::move(health->endpoint);
    for (Event& e : health->events) b.events.push_back(std::move(e));
    b.endpoints.push_back(es->ep);
    ops = std::move(health->ops);
  }
  if (row.status == DeliveryStatus::kDeadLetter) {
    ops.push_back(
        {OperationalEvent::Kind::kDeliveryDeadLettered, row.endpoint_id, row.id,
         std::string(DeadLetterReasonName(row.dead_letter_reason.value_or(
             DeadLetterReason::kAttemptsExhausted))),
         now});
  } else if (row.status == DeliveryStatus::kDelivered &&
             row.failed_attempts > 0) {
    ops.push_back({OperationalEvent::Kind::kDeliveryRecovered, row.endpoint_id,
                   row.id, "", now});
  }
  b.deliveries.push_back(row);
  // Recorded with the attempt, in the same Append: as durable as it is.
  AddStats(&b, row.endpoint_id, now, AttemptStats(r, row));
  if (row.status == DeliveryStatus::kDeadLetter) {
    HOOKLOG_KILL_POINT("dead_letter_before_commit");
  }
  ctx_->Fence(&b, row.endpoint_id.raw());
  ctx_->Commit(
      std::move(b),
      [this, id, row = std::move(row), before = std::move(before),
       ops = std::move(ops)](Status st) {
        auto it = active_.find(id);
        if (it == active_.end()) return;
        Active& a = it->second;
        a.busy = false;
        EndpointState* es = admission_->Find(row.endpoint_id);
        if (a.dropped) {
          // The partition was lost meanwhile; what was written (if the
          // lease still held) the new owner loads, what was refused it
          // decides again.
          for (auto& w : a.waiters)
            w(st.ok() ? Result<DeliveryResult>(ResultOf(row))
                      : Result<DeliveryResult>(st));
          Forget(id);
          if (es != nullptr && before && !st.ok()) es->ep = *before;
          return;
        }
        if (!st.ok()) {
          if (before && es != nullptr) es->ep = *before;
          for (auto& w : a.waiters) w(st);
          a.waiters.clear();
          Schedule(id, &a, ctx_->Now() + kRetryAfterStorageFailure.count());
        } else {
          metrics_->CountOutcome(row);
          a.row = row;
          for (auto& w : a.waiters) w(ResultOf(row));
          a.waiters.clear();
          if (IsTerminal(row.status)) {
            if (row.status == DeliveryStatus::kDeadLetter) {
              HOOKLOG_KILL_POINT("dead_letter_after_commit");
            }
            Finish(id);
          } else if (es != nullptr && es->ep.fifo && !row.is_test &&
                     !Admission::IsFifoHead(*es, id)) {
            // Not its turn (FIFO switched on while it was in flight).
          } else {
            // The retry is durable; its timer is not armed yet.
            HOOKLOG_KILL_POINT("reschedule_after_commit");
            Schedule(id, &a, row.next_attempt_at);
          }
          Emit(ops);
        }
        if (es != nullptr) admission_->Pump(es, SIZE_MAX);
        admission_->PumpWaiting();
      },
      // Cluster mode: a result waits out a database outage rather than be
      // attempted again (bounded by the lease: once it is lost, refused).
      ctx_->ownership != nullptr);
  // The slot this attempt held is free: give it to the next in turn.
  admission_->PumpWaiting();
}

void Attempts::EndDelivery(const DeliveryId& id, Active* a, Event e) {
  Delivery row = a->row;
  ApplyToDelivery(e, &row);
  WriteBatch b;
  b.events.push_back(std::move(e));
  b.deliveries.push_back(row);
  if (row.status == DeliveryStatus::kDeadLetter) {
    AddStats(&b, row.endpoint_id, ctx_->Now(), DeadLetterStats());
  }
  a->busy = true;
  ctx_->Fence(&b, row.endpoint_id.raw());
  ctx_->Commit(std::move(b), [this, id, row = std::move(row)](Status st) {
    auto it = active_.find(id);
    if (it == active_.end()) return;
    it->second.busy = false;
    if (it->second.dropped) {
      for (auto& w : it->second.waiters)
        w(st.ok() ? Result<DeliveryResult>(ResultOf(row))
                  : Result<DeliveryResult>(st));
      Forget(id);
      return;
    }
    if (!st.ok()) {
      Schedule(id, &it->second,
               ctx_->Now() + kRetryAfterStorageFailure.count());
      return;
    }
    it->second.row = row;
    for (auto& w : it->second.waiters) w(ResultOf(row));
    Finish(id);
  });
}

void Attempts::Finish(const DeliveryId& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Unschedule(&it->second);
  admission_->OnFinished(it->second.row);
  auto body = bodies_.find(it->second.row.message_id);
  if (body != bodies_.end() && --body->second.refs == 0) bodies_.erase(body);
  active_.erase(it);
}

void Attempts::FailWaiters(const Status& st) {
  for (auto& [id, a] : active_) {
    for (auto& w : a.waiters) w(st);
    a.waiters.clear();
  }
}

void Attempts::Emit(const std::vector<OperationalEvent>& ops) {
  if (!ctx_->options.on_operational_event) return;
  for (const OperationalEvent& op : ops) ctx_->options.on_operational_event(op);
}

}  // namespace hooklog
