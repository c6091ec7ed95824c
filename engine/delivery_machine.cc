#include "engine/delivery_machine.h"

#include <algorithm>

namespace hooklog {
namespace {

Event MakeEvent(EventType type, const Uuid128& aggregate, Timestamp now,
                EventBody body) {
  Event e;
  e.type = type;
  e.aggregate = aggregate;
  e.time = now;
  e.body = std::move(body);
  return e;
}

Duration Clamp(Duration d, const RetryPolicy& p) {
  return std::clamp(d, p.min_retry_after, p.max_retry_after);
}

// The schedule's delay before attempt number `n+1` (n attempts counted).
Duration ScheduleDelay(const RetryPolicy& p, uint32_t n) {
  if (p.schedule.empty()) return Duration(0);
  return p.schedule[std::min<size_t>(n, p.schedule.size() - 1)];
}

}  // namespace

Duration Jitter::Apply(Duration d, double jitter) {
  if (jitter <= 0 || d.count() == 0) return d;
  std::uniform_real_distribution<double> dist(1.0 - jitter, 1.0 + jitter);
  return Duration(static_cast<int64_t>(double(d.count()) * dist(rng_)));
}

Event DecideEnqueue(const DeliveryId& id, const Message& message,
                    const EndpointId& endpoint, bool is_test,
                    Timestamp created_at, Timestamp now,
                    const RetryPolicy& policy, Jitter* jitter) {
  DeliveryCreated c;
  c.message_id = message.id;
  c.endpoint_id = endpoint;
  c.event_type = message.event_type;
  c.is_test = is_test;
  c.next_attempt_at =
      is_test
          ? now
          : now +
                jitter->Apply(ScheduleDelay(policy, 0), policy.jitter).count();
  return MakeEvent(EventType::kEnqueued, id.raw(), created_at, std::move(c));
}

Decision DecideAttempt(const Delivery& d, const AttemptResult& result,
                       Timestamp attempted_at, Timestamp now,
                       const RetryPolicy& policy, Jitter* jitter,
                       Timestamp endpoint_paused_until) {
  Decision out;
  Attempted a;
  a.record.at = attempted_at;
  a.record.http_status_code = result.http_status_code;
  a.record.response_body = result.response_body;
  a.record.error = result.http_status_code ? ErrorClass::kNone : result.error;
  a.record.latency_ms = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(result.latency)
          .count());
  const Uuid128& agg = d.id.raw();
  const int code = result.http_status_code.value_or(0);

  if (result.http_status_code && IsSuccess(code)) {
    a.status_after = DeliveryStatus::kDelivered;
    out.events.push_back(MakeEvent(EventType::kAttempted, agg, now, a));
    return out;
  }

  if (code == 429) {
    // 429 is "slow down", not a failure: it spends no attempt of the
    // schedule but has its own time budget.
    Timestamp since = d.rate_limited_since != 0 ? d.rate_limited_since : now;
    if (now - since >= policy.rate_limit_budget.count()) {
      a.status_after = DeliveryStatus::kRateLimited;
      out.events.push_back(MakeEvent(EventType::kAttempted, agg, now, a));
      out.events.push_back(
          MakeEvent(EventType::kDeadLettered, agg, now,
                    DeadLettered{DeadLetterReason::kRateLimitBudget}));
      return out;
    }
    Duration wait =
        result.retry_after
            ? Clamp(std::chrono::duration_cast<Duration>(*result.retry_after),
                    policy)
            : Clamp(jitter->Apply(ScheduleDelay(policy, d.failed_attempts + 1),
                                  policy.jitter),
                    policy);
    Timestamp next = std::max(now + wait.count(), endpoint_paused_until);
    a.status_after = DeliveryStatus::kRateLimited;
    a.next_attempt_at = next;
    out.events.push_back(MakeEvent(EventType::kAttempted, agg, now, a));
    out.events.push_back(
        MakeEvent(EventType::kRateLimited, agg, now, RateLimited{next, since}));
    return out;
  }

  // Every other outcome is a failure: 1xx/3xx/4xx/5xx, or no response.
  a.counts_as_failure = true;
  a.status_after = DeliveryStatus::kFailed;
  const uint32_t failures = d.failed_attempts + 1;
  if (code == 410) {
    out.events.push_back(MakeEvent(EventType::kAttempted, agg, now, a));
    out.events.push_back(MakeEvent(EventType::kDeadLettered, agg, now,
                                   DeadLettered{DeadLetterReason::kGone}));
    out.disable_endpoint = true;
    return out;
  }
  if (failures >= policy.schedule.size()) {
    out.events.push_back(MakeEvent(EventType::kAttempted, agg, now, a));
    out.events.push_back(
        MakeEvent(EventType::kDeadLettered, agg, now,
                  DeadLettered{DeadLetterReason::kAttemptsExhausted}));
    return out;
  }
  Duration wait = jitter->Apply(policy.schedule[failures], policy.jitter);
  if ((code == 502 || code == 503 || code == 504) && result.retry_after) {
    wait = Clamp(std::chrono::duration_cast<Duration>(*result.retry_after),
                 policy);
  }
  a.next_attempt_at = now + wait.count();
  out.events.push_back(MakeEvent(EventType::kAttempted, agg, now, a));
  return out;
}

Result<Event> DecideReplay(const Delivery& original, const DeliveryId& new_id,
                           Timestamp now) {
  if (original.status != DeliveryStatus::kDeadLetter) {
    return Status::FailedPrecondition(
        "only a dead_letter delivery can be replayed; delivery " +
        original.id.ToString() + " is " +
        std::string(DeliveryStatusName(original.status)));
  }
  DeliveryCreated c;
  c.message_id = original.message_id;
  c.endpoint_id = original.endpoint_id;
  c.event_type = original.event_type;
  c.next_attempt_at = now;
  c.replay_of = original.id;
  c.is_test = original.is_test;
  return MakeEvent(EventType::kReplayed, new_id.raw(), now, std::move(c));
}

Event DecideEndpointDeleted(const Delivery& d, Timestamp now) {
  return MakeEvent(EventType::kDeadLettered, d.id.raw(), now,
                   DeadLettered{DeadLetterReason::kEndpointDeleted});
}

bool IsAllowedTransition(DeliveryStatus from, DeliveryStatus to) {
  if (from == to) {
    return from == DeliveryStatus::kFailed ||
           from == DeliveryStatus::kRateLimited;
  }
  if (IsTerminal(from)) return false;
  switch (to) {
    case DeliveryStatus::kPending:
      return false;  // only a new (replayed) delivery starts pending
    case DeliveryStatus::kDelivered:
    case DeliveryStatus::kFailed:
    case DeliveryStatus::kRateLimited:
    case DeliveryStatus::kDeadLetter:
      return true;
  }
  return false;
}

}  // namespace hooklog
