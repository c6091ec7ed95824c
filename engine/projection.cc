#include "engine/projection.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace hooklog {

void ApplyToEndpoint(const Event& event, Endpoint* endpoint) {
  if (const auto* snap = std::get_if<EndpointSnapshot>(&event.body)) {
    *endpoint = snap->endpoint;
  }
}

void ApplyToDelivery(const Event& event, Delivery* d) {
  switch (event.type) {
    case EventType::kEnqueued:
    case EventType::kReplayed: {
      const auto& c = std::get<DeliveryCreated>(event.body);
      *d = Delivery{};
      d->id = DeliveryId(event.aggregate);
      d->message_id = c.message_id;
      d->endpoint_id = c.endpoint_id;
      d->event_type = c.event_type;
      d->status = DeliveryStatus::kPending;
      d->created_at = event.time;
      d->next_attempt_at = c.next_attempt_at;
      d->replay_of = c.replay_of;
      d->is_test = c.is_test;
      break;
    }
    case EventType::kAttempted: {
      const auto& a = std::get<Attempted>(event.body);
      d->attempts++;
      if (a.counts_as_failure) d->failed_attempts++;
      d->last_attempted_at = a.record.at;
      d->http_status_code = a.record.http_status_code;
      d->response_body = a.record.response_body;
      d->last_error = a.record.error;
      d->status = a.status_after;
      d->next_attempt_at = a.next_attempt_at;
      if (a.status_after != DeliveryStatus::kRateLimited) {
        d->rate_limited_since = 0;
      }
      d->attempts_log.push_back(a.record);
      if (d->attempts_log.size() > Delivery::kMaxAttemptsLog) {
        d->attempts_log.erase(d->attempts_log.begin());
      }
      break;
    }
    case EventType::kRateLimited: {
      const auto& r = std::get<RateLimited>(event.body);
      d->status = DeliveryStatus::kRateLimited;
      d->next_attempt_at = r.next_attempt_at;
      d->rate_limited_since = r.since;
      break;
    }
    case EventType::kDeadLettered: {
      const auto& r = std::get<DeadLettered>(event.body);
      d->status = DeliveryStatus::kDeadLetter;
      d->next_attempt_at = 0;
      d->dead_letter_reason = r.reason;
      break;
    }
    default:
      break;
  }
}

Status Projection::Apply(const Event& event) {
  last_sequence_ = event.seq;
  switch (event.type) {
    case EventType::kEndpointCreated:
    case EventType::kEndpointUpdated:
    case EventType::kEndpointSecretRotated:
    case EventType::kEndpointDisabled:
    case EventType::kEndpointEnabled:
    case EventType::kEndpointDeleted:
    case EventType::kCircuitOpened:
    case EventType::kCircuitClosed: {
      EndpointId id(event.aggregate);
      if (event.type != EventType::kEndpointCreated && !endpoints_.count(id)) {
        return Status::Corruption("event " + std::to_string(event.seq) +
                                  " changes unknown endpoint " + id.ToString());
      }
      ApplyToEndpoint(event, &endpoints_[id]);
      return Status::Ok();
    }
    case EventType::kMessageAccepted: {
      const Message& m = std::get<MessageAccepted>(event.body).message;
      messages_[m.id] = m;
      if (!m.idempotency_key.empty()) {
        idempotency_[m.idempotency_key] =
            IdempotencyRecord{m.idempotency_key, m.id, {}, m.created_at};
      }
      return Status::Ok();
    }
    case EventType::kEnqueued:
    case EventType::kReplayed: {
      DeliveryId id(event.aggregate);
      Delivery& d = deliveries_[id];
      ApplyToDelivery(event, &d);
      if (event.type == EventType::kEnqueued && !d.is_test) {
        auto m = messages_.find(d.message_id);
        if (m != messages_.end() && !m->second.idempotency_key.empty()) {
          auto rec = idempotency_.find(m->second.idempotency_key);
          if (rec != idempotency_.end() && rec->second.message_id == m->first) {
            rec->second.deliveries.push_back(id);
          }
        }
      }
      return Status::Ok();
    }
    case EventType::kAttempted:
    case EventType::kRateLimited:
    case EventType::kDeadLettered: {
      auto it = deliveries_.find(DeliveryId(event.aggregate));
      if (it == deliveries_.end()) {
        return Status::Corruption("event " + std::to_string(event.seq) +
                                  " changes unknown delivery " +
                                  event.aggregate.ToString());
      }
      ApplyToDelivery(event, &it->second);
      return Status::Ok();
    }
  }
  return Status::Corruption("event " + std::to_string(event.seq) +
                            " has an unknown type");
}

EndpointCounters Projection::CountersFor(const EndpointId& id) const {
  EndpointCounters c;
  for (const auto& [did, d] : deliveries_) {
    if (d.endpoint_id != id) continue;
    c.by_status[static_cast<int>(d.status)]++;
    c.attempts += d.attempts;
  }
  return c;
}

EndpointCounters Projection::Totals() const {
  EndpointCounters c;
  for (const auto& [did, d] : deliveries_) {
    c.by_status[static_cast<int>(d.status)]++;
    c.attempts += d.attempts;
  }
  return c;
}

namespace {

void Mismatch(VerifyReport* r, std::string what) {
  if (r->mismatches.size() < 100) r->mismatches.push_back(std::move(what));
}

}  // namespace

Result<VerifyReport> VerifyStorage(Storage* storage) {
  VerifyReport report;
  Projection p;
  uint64_t next = 1;
  uint64_t expected = 0;  // 0 until the first event: the log may start later
                          // than 1 once retention has pruned its head
  std::vector<Event> chunk;
  for (;;) {
    chunk.clear();
    HOOKLOG_RETURN_IF_ERROR(storage->ReadLog(next, 4096, &chunk));
    if (chunk.empty()) break;
    for (const Event& e : chunk) {
      if (expected != 0 && e.seq != expected) {
        report.gapless = false;
        Mismatch(&report, "log gap: expected seq " + std::to_string(expected) +
                              ", found " + std::to_string(e.seq));
      }
      expected = e.seq + 1;
      Status st = p.Apply(e);
      if (!st.ok()) Mismatch(&report, st.ToString());
      report.events++;
    }
    next = chunk.back().seq + 1;
  }
  if (expected != 0 && expected - 1 != storage->LastSequence()) {
    Mismatch(&report,
             "last sequence is " + std::to_string(storage->LastSequence()) +
                 " but the log ends at " + std::to_string(expected - 1));
  }

  // Retention (Storage::PrunedBefore): deliveries first, to know which are
  // legitimately gone, so that counters and messages can discount them.
  const Timestamp pruned_before = storage->PrunedBefore();
  std::unordered_map<EndpointId, EndpointCounters, IdHash> pruned_counters;
  EndpointCounters pruned_totals;
  // Per message: deliveries in the log, and how many of them were pruned.
  std::unordered_map<MessageId, std::pair<uint64_t, uint64_t>, IdHash>
      message_deliveries;
  auto add = [](EndpointCounters* c, const Delivery& d) {
    c->by_status[static_cast<int>(d.status)]++;
    c->attempts += d.attempts;
  };
  for (const auto& [id, want] : p.deliveries()) {
    report.deliveries++;
    auto& per_message = message_deliveries[want.message_id];
    per_message.first++;
    auto got = storage->GetDelivery(id);
    if (got.status().IsNotFound() && IsTerminal(want.status) &&
        want.created_at < pruned_before) {
      report.pruned_deliveries++;
      per_message.second++;
      add(&pruned_counters[want.endpoint_id], want);
      add(&pruned_totals, want);
    } else if (!got.ok()) {
      Mismatch(&report, "delivery " + id.ToString() +
                            " missing: " + got.status().ToString());
    } else if (!(*got == want)) {
      Mismatch(&report, "delivery " + id.ToString() + " differs from the log");
    }
  }
  auto minus = [](EndpointCounters c, const EndpointCounters& pruned) {
    for (size_t i = 0; i < std::size(c.by_status); ++i) {
      c.by_status[i] -= pruned.by_status[i];
    }
    c.attempts -= pruned.attempts;
    return c;
  };

  for (const auto& [id, want] : p.endpoints()) {
    report.endpoints++;
    auto got = storage->GetEndpoint(id);
    if (!got.ok()) {
      Mismatch(&report, "endpoint " + id.ToString() +
                            " missing: " + got.status().ToString());
    } else if (!(*got == want)) {
      Mismatch(&report, "endpoint " + id.ToString() + " differs from the log");
    }
    auto counters = storage->GetCounters(id);
    EndpointCounters want_counters = p.CountersFor(id);
    if (auto it = pruned_counters.find(id); it != pruned_counters.end()) {
      want_counters = minus(want_counters, it->second);
    }
    if (!counters.ok() || !(*counters == want_counters)) {
      Mismatch(&report, "counters of endpoint " + id.ToString() +
                            " differ from the log");
    }
  }
  for (const auto& [id, want] : p.messages()) {
    report.messages++;
    auto got = storage->GetMessage(id);
    if (got.status().IsNotFound()) {
      // Retention drops a message with its last delivery row.
      auto it = message_deliveries.find(id);
      if (it != message_deliveries.end() && it->second.second > 0 &&
          it->second.second == it->second.first) {
        report.pruned_messages++;
        continue;
      }
    }
    if (!got.ok() || !(*got == want)) {
      Mismatch(&report, "message " + id.ToString() + " differs or is missing");
    }
  }
  for (const auto& [key, want] : p.idempotency()) {
    auto got = storage->GetIdempotency(key);
    if (!got.ok() || !got->has_value() || !(**got == want)) {
      Mismatch(&report, "idempotency key '" + key + "' differs or is missing");
    }
  }
  auto totals = storage->GetTotals();
  if (!totals.ok() || !(*totals == minus(p.Totals(), pruned_totals))) {
    Mismatch(&report, "delivery totals differ from the log");
  }
  // The other direction: no row the log does not explain.
  DeliveryQuery dq;
  dq.count_total = false;
  for (;;) {
    auto page = storage->ListDeliveries(dq);
    if (!page.ok()) return page.status();
    for (const Delivery& d : page->items) {
      if (!p.deliveries().count(d.id)) {
        Mismatch(&report, "delivery " + d.id.ToString() + " is not in the log");
      }
    }
    if (page->next_cursor.empty()) break;
    dq.cursor = page->next_cursor;
  }
  EndpointQuery eq;
  eq.include_deleted = true;
  for (;;) {
    auto page = storage->ListEndpoints(eq);
    if (!page.ok()) return page.status();
    for (const Endpoint& e : page->items) {
      if (!p.endpoints().count(e.id)) {
        Mismatch(&report, "endpoint " + e.id.ToString() + " is not in the log");
      }
    }
    if (page->next_cursor.empty()) break;
    eq.cursor = page->next_cursor;
  }
  return report;
}

}  // namespace hooklog
