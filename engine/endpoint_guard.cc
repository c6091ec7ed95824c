#include "engine/endpoint_guard.h"

#include <algorithm>
#include <cmath>

namespace hooklog {

void EndpointGuard::Restore(Timestamp open_until, Timestamp failing_since) {
  open_until_ = open_until;
  failing_since_ = failing_since;
  if (open_until_ != 0) open_for_ = options_.open_for;
}

void EndpointGuard::SetRateLimit(double per_second, uint32_t burst) {
  const double new_burst = std::max(1.0, double(burst));
  if (per_second != rate_ || new_burst != burst_) {
    rate_ = per_second;
    burst_ = new_burst;
    tokens_ = burst_;  // start with a full bucket
    tokens_at_ = 0;
  }
}

EndpointGuard::Admission EndpointGuard::TryAcquire(Timestamp now,
                                                   uint32_t in_flight,
                                                   uint32_t cap) {
  Admission a;
  if (paused_until_ > now) {
    a.retry_at = paused_until_;
    return a;
  }
  // A breaker switched off while open lets everything through; the first
  // success records that it closed.
  if (open_until_ != 0 && options_.enabled) {
    if (now < open_until_) {
      a.retry_at = open_until_;
      return a;
    }
    // Half-open: exactly one probe at a time.
    if (probe_in_flight_) return a;  // retry_at 0: the probe's result wakes
  }
  if (in_flight >= cap) return a;
  if (rate_ > 0) {
    if (tokens_at_ != 0) {
      tokens_ = std::min(
          burst_, tokens_ + double(now - tokens_at_) * rate_ / double(kSecond));
    }
    tokens_at_ = now;
    if (tokens_ < 1.0) {
      a.retry_at = now + static_cast<Timestamp>(
                             std::ceil((1.0 - tokens_) / rate_ * kSecond));
      return a;
    }
    tokens_ -= 1.0;
  }
  a.allowed = true;
  if (open_until_ != 0 && options_.enabled) {
    a.probe = true;
    probe_in_flight_ = true;
  }
  return a;
}

Duration EndpointGuard::RateLimitBackoff(Timestamp started) {
  if (started < paused_until_) return Duration(0);
  // 2^run seconds, capped; the shift is bounded so it cannot overflow.
  const uint32_t run = std::min<uint32_t>(rate_limited_run_, 30);
  rate_limited_run_++;
  return std::min(kRateLimitBackoffFirst * (int64_t{1} << run),
                  kRateLimitBackoffMax);
}

void EndpointGuard::Open(Timestamp now) {
  open_for_ = open_for_.count() == 0
                  ? options_.open_for
                  : std::min(open_for_ * 2, options_.max_open_for);
  open_until_ = now + open_for_.count();
}

EndpointGuard::Transition EndpointGuard::OnResult(Outcome outcome,
                                                  Timestamp now,
                                                  std::optional<Duration> pause,
                                                  bool was_probe) {
  if (was_probe) probe_in_flight_ = false;
  if (pause) paused_until_ = std::max(paused_until_, now + pause->count());
  if (outcome == Outcome::kRateLimited) return Transition::kNone;
  rate_limited_run_ = 0;  // the receiver answered something else: reset

  const bool failure = outcome == Outcome::kFailure;
  window_.push_back(failure);
  window_failures_ += failure;
  while (window_.size() > options_.window_attempts) {
    window_failures_ -= window_.front();
    window_.pop_front();
  }
  if (!failure) {
    consecutive_failures_ = 0;
    failing_since_ = 0;
    if (open_until_ != 0) {
      open_until_ = 0;
      open_for_ = Duration(0);
      window_.clear();
      window_failures_ = 0;
      return Transition::kClosed;
    }
    return Transition::kNone;
  }
  consecutive_failures_++;
  if (failing_since_ == 0) failing_since_ = now;
  if (!options_.enabled) return Transition::kNone;
  if (open_until_ != 0) {
    // A failed probe (or a failure of an attempt started before the
    // breaker opened) keeps it open; only a probe extends the period.
    if (was_probe) {
      Open(now);
      return Transition::kOpened;
    }
    return Transition::kNone;
  }
  const bool too_many = consecutive_failures_ >= options_.consecutive_failures;
  const bool too_often = window_.size() >= options_.window_attempts &&
                         double(window_failures_) >=
                             options_.failure_rate * double(window_.size());
  if (too_many || too_often) {
    Open(now);
    return Transition::kOpened;
  }
  return Transition::kNone;
}

}  // namespace hooklog
