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

std::string EventIdString(const MessageId& id) {
  return "evt_" + id.ToString();
}

}  // namespace hooklog
