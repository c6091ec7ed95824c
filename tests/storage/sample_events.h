// Deterministic sample events: one per event type, every field set to a
// non-default value. The golden vectors in golden/ are their v1 encodings.
#ifndef HOOKLOG_TESTS_STORAGE_SAMPLE_EVENTS_H_
#define HOOKLOG_TESTS_STORAGE_SAMPLE_EVENTS_H_

#include <string>
#include <utility>
#include <vector>

#include "hooklog/event.h"

namespace hooklog::testing {

inline Endpoint SampleEndpoint() {
  Endpoint e;
  e.id = EndpointId(Uuid128{0x0123456789ABCDEFULL, 0xFEDCBA9876543210ULL});
  e.url = "https://hooks.example.com/in?x=1";
  e.secrets = {
      {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0},
      {"whsec_b2xkc2VjcmV0b2xkc2VjcmV0b2xkc2Vj", 1'790'000'600'000'000}};
  e.enabled = false;
  e.disabled_reason = "gone_410";
  e.event_types = {"invoice.*", "user.created"};
  e.description = "Billing \xE2\x9C\x93 endpoint";
  e.metadata = {{"team", "billing"}, {"tier", "gold"}};
  e.headers = {{"X-Tenant", "42"}, {"X-Empty", ""}};
  e.rate_limit_per_s = 12.5;
  e.max_in_flight = 64;
  e.fifo = true;
  e.http2 = true;
  e.signature_scheme = SignatureScheme::kClosient;
  e.deleted = true;
  e.created_at = 1'790'000'000'000'001;
  e.updated_at = 1'790'000'100'000'002;
  return e;
}

inline std::vector<std::pair<std::string, Event>> SampleEvents() {
  const Uuid128 delivery{0x1111111111111111ULL, 0x2222222222222222ULL};
  const Timestamp t = 1'790'000'000'123'456;
  std::vector<std::pair<std::string, Event>> out;
  const EventType endpoint_types[] = {
      EventType::kEndpointCreated,       EventType::kEndpointUpdated,
      EventType::kEndpointSecretRotated, EventType::kEndpointDisabled,
      EventType::kEndpointEnabled,       EventType::kEndpointDeleted};
  uint64_t seq = 1;
  for (EventType type : endpoint_types) {
    Event e;
    e.seq = seq++;
    e.time = t;
    e.type = type;
    e.aggregate = SampleEndpoint().id.raw();
    e.body = EndpointSnapshot{SampleEndpoint()};
    out.emplace_back(std::string(EventTypeName(type)), e);
  }
  {
    Message m;
    m.id = MessageId(Uuid128{0x3333333333333333ULL, 0x4444444444444444ULL});
    m.event_type = "invoice.paid";
    m.payload = R"({"amount":1200,"currency":"EUR","note":"\u00e9"})";
    m.idempotency_key = "idem-7";
    m.created_at = t - 5;
    Event e{seq++, t, EventType::kMessageAccepted, m.id.raw(),
            MessageAccepted{m}};
    out.emplace_back("message_accepted", e);
  }
  {
    DeliveryCreated b;
    b.message_id =
        MessageId(Uuid128{0x3333333333333333ULL, 0x4444444444444444ULL});
    b.endpoint_id = SampleEndpoint().id;
    b.event_type = "invoice.paid";
    b.next_attempt_at = t + 1;
    b.is_test = true;
    out.emplace_back("enqueued",
                     Event{seq++, t, EventType::kEnqueued, delivery, b});
    b.replay_of =
        DeliveryId(Uuid128{0x5555555555555555ULL, 0x6666666666666666ULL});
    b.is_test = false;
    out.emplace_back("replayed",
                     Event{seq++, t, EventType::kReplayed, delivery, b});
  }
  {
    Attempted a;
    a.record.at = t + 10;
    a.record.http_status_code = 503;
    a.record.response_body = "Service Unavailable";
    a.record.error = ErrorClass::kNone;
    a.record.latency_ms = 87;
    a.status_after = DeliveryStatus::kFailed;
    a.next_attempt_at = t + 5'000'000;
    a.counts_as_failure = true;
    out.emplace_back("attempted_response",
                     Event{seq++, t, EventType::kAttempted, delivery, a});
    Attempted n;
    n.record.at = t + 20;
    n.record.error = ErrorClass::kTimeout;
    n.record.latency_ms = 15000;
    n.status_after = DeliveryStatus::kDeadLetter;
    n.next_attempt_at = 0;
    n.counts_as_failure = true;
    out.emplace_back("attempted_no_response",
                     Event{seq++, t, EventType::kAttempted, delivery, n});
  }
  out.emplace_back("rate_limited",
                   Event{seq++, t, EventType::kRateLimited, delivery,
                         RateLimited{t + 60'000'000, t - 1'000'000}});
  out.emplace_back("dead_lettered",
                   Event{seq++, t, EventType::kDeadLettered, delivery,
                         DeadLettered{DeadLetterReason::kGone}});
  return out;
}

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_STORAGE_SAMPLE_EVENTS_H_
