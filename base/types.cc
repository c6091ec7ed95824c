#include "hooklog/types.h"

#include <algorithm>
#include <cmath>

namespace hooklog {

std::string_view DeliveryStatusName(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kPending:
      return "pending";
    case DeliveryStatus::kDelivered:
      return "delivered";
    case DeliveryStatus::kFailed:
      return "failed";
    case DeliveryStatus::kRateLimited:
      return "rate_limited";
    case DeliveryStatus::kDeadLetter:
      return "dead_letter";
  }
  return "unknown";
}

Result<DeliveryStatus> ParseDeliveryStatus(std::string_view name) {
  for (int i = 0; i < kDeliveryStatusCount; ++i) {
    auto s = static_cast<DeliveryStatus>(i);
    if (DeliveryStatusName(s) == name) return s;
  }
  return Status::InvalidArgument(
      "status must be one of pending, delivered, failed, rate_limited, "
      "dead_letter",
      "status");
}

std::string_view ErrorClassName(ErrorClass e) {
  switch (e) {
    case ErrorClass::kNone:
      return "none";
    case ErrorClass::kDns:
      return "dns";
    case ErrorClass::kConnect:
      return "connect";
    case ErrorClass::kTls:
      return "tls";
    case ErrorClass::kTimeout:
      return "timeout";
    case ErrorClass::kReset:
      return "reset";
    case ErrorClass::kTooLarge:
      return "too_large";
    case ErrorClass::kBlocked:
      return "blocked";
    case ErrorClass::kOther:
      return "other";
  }
  return "other";
}

std::string_view SignatureSchemeName(SignatureScheme s) {
  return s == SignatureScheme::kClosient ? "closient" : "standard";
}

Result<SignatureScheme> ParseSignatureScheme(std::string_view name) {
  if (name == "standard") return SignatureScheme::kStandard;
  if (name == "closient") return SignatureScheme::kClosient;
  return Status::InvalidArgument(
      "signature_scheme must be 'standard' or 'closient'", "signature_scheme");
}

std::string_view DeadLetterReasonName(DeadLetterReason r) {
  switch (r) {
    case DeadLetterReason::kAttemptsExhausted:
      return "attempts_exhausted";
    case DeadLetterReason::kGone:
      return "gone_410";
    case DeadLetterReason::kEndpointDeleted:
      return "endpoint_deleted";
    case DeadLetterReason::kRateLimitBudget:
      return "rate_limit_budget";
    case DeadLetterReason::kEndpointDisabled:
      return "endpoint_disabled";
  }
  return "unknown";
}

uint32_t EffectiveRateLimitBurst(const Endpoint& ep) {
  if (ep.rate_limit_per_s <= 0) return 0;
  if (ep.protection.rate_limit_burst != 0)
    return ep.protection.rate_limit_burst;
  // Rates are at most 1e6 (validation), so the cast is exact.
  return static_cast<uint32_t>(std::max(1.0, std::floor(ep.rate_limit_per_s)));
}

bool Endpoint::Matches(std::string_view event_type) const {
  for (const std::string& f : event_types) {
    if (f == "*") return true;
    if (f.size() >= 2 && f.ends_with(".*")) {
      std::string_view prefix(f.data(), f.size() - 1);  // keeps the '.'
      if (event_type.starts_with(prefix) && event_type.size() > prefix.size())
        return true;
    } else if (f == event_type) {
      return true;
    }
  }
  return false;
}

std::string_view ReplayJobStateName(ReplayJobState s) {
  switch (s) {
    case ReplayJobState::kRunning:
      return "running";
    case ReplayJobState::kDone:
      return "done";
    case ReplayJobState::kFailed:
      return "failed";
  }
  return "unknown";
}

void StatsCounts::Add(const StatsCounts& o) {
  delivered += o.delivered;
  failed += o.failed;
  rate_limited += o.rate_limited;
  dead_letter += o.dead_letter;
  attempts += o.attempts;
  latency_sum_ms += o.latency_sum_ms;
  for (int i = 0; i < kStatsLatencyBuckets; ++i) latency[i] += o.latency[i];
}

std::optional<double> StatsCounts::LatencyQuantileMs(double q) const {
  uint64_t n = 0;
  for (uint64_t c : latency) n += c;
  if (n == 0) return std::nullopt;
  // The rank-th smallest latency (1-based) lies in the first bucket whose
  // running count reaches it; assume latencies spread evenly inside it.
  const double rank = std::max(1.0, std::ceil(std::clamp(q, 0.0, 1.0) * n));
  uint64_t below = 0;
  for (int i = 0; i < kStatsLatencyBuckets; ++i) {
    if (latency[i] == 0 || below + latency[i] < rank) {
      below += latency[i];
      continue;
    }
    const double lo = i == 0 ? 0 : kStatsLatencyBoundsMs[i - 1];
    // The open last bucket has no upper bound: report its lower one.
    if (i == kStatsLatencyBuckets - 1) return lo;
    const double hi = kStatsLatencyBoundsMs[i];
    return lo + (hi - lo) * ((rank - below) / static_cast<double>(latency[i]));
  }
  return kStatsLatencyBoundsMs[kStatsLatencyBuckets - 2];
}

std::string EventIdString(const MessageId& id) {
  return "evt_" + id.ToString();
}

}  // namespace hooklog
