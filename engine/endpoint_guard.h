// EndpointGuard: per-endpoint admission control — may an attempt to this
// endpoint start now, and if not, when should the engine look again?
//
// It combines, in this order:
//   1. an endpoint-wide pause (429/503 with Retry-After for that long; a 429
//      without Retry-After for a backoff that doubles with each consecutive
//      such 429: the whole endpoint backs off, not just the one delivery);
//   2. the circuit breaker (closed → open after N consecutive failures or a
//      failure rate over the last W attempts; open defers every attempt
//      until open_until; then half-open lets exactly one probe through; the
//      probe's success closes it, its failure re-opens it for twice as long,
//      up to a maximum);
//   3. the in-flight cap (a slot must be free);
//   4. the token-bucket rate limit (rate/s, burst).
// Waiting here is not an attempt and consumes no retry budget.
//
// Pure logic: time is passed in, so tests drive it directly.
// Thread-safety: not thread-safe; the engine confines it to its strand.
#ifndef HOOKLOG_ENGINE_ENDPOINT_GUARD_H_
#define HOOKLOG_ENGINE_ENDPOINT_GUARD_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "hooklog/clock.h"
#include "hooklog/options.h"

namespace hooklog {

// The endpoint-wide backoff after a 429 without Retry-After: 1 s for the
// first, doubling with each consecutive one, capped; the engine multiplies it
// by a jitter factor in [1 - kRateLimitBackoffJitter, 1 + ...].
inline constexpr Duration kRateLimitBackoffFirst = std::chrono::seconds(1);
inline constexpr Duration kRateLimitBackoffMax = std::chrono::minutes(10);
inline constexpr double kRateLimitBackoffJitter = 0.2;

class EndpointGuard {
 public:
  explicit EndpointGuard(const CircuitBreakerOptions& options)
      : options_(options) {}

  // Restores persisted breaker state (from the endpoint row).
  void Restore(Timestamp open_until, Timestamp failing_since);
  // Changes take effect at the next TryAcquire/OnResult; the current
  // breaker state (open, failures counted so far) is kept.
  void SetBreakerOptions(const CircuitBreakerOptions& options) {
    options_ = options;
  }
  // per_second 0: no limit; otherwise at most `burst` (>= 1) at once. A
  // change refills the bucket.
  void SetRateLimit(double per_second, uint32_t burst);
  // Forgets the current run of failures (an operator re-enabled the
  // endpoint: auto-disable must not fire again on its first failure).
  void ClearFailures() {
    consecutive_failures_ = 0;
    failing_since_ = 0;
  }

  struct Admission {
    bool allowed = false;
    // When not allowed: the time to try again, or 0 to wait for an
    // in-flight slot to free.
    Timestamp retry_at = 0;
    bool probe = false;  // allowed as the half-open probe
  };
  // REQUIRES: called only when an attempt would start if allowed; an
  // allowed admission consumes a token (and the probe slot).
  Admission TryAcquire(Timestamp now, uint32_t in_flight, uint32_t cap);

  enum class Outcome { kSuccess, kFailure, kRateLimited };
  enum class Transition { kNone, kOpened, kClosed };
  // Records an attempt's outcome. `pause` (from Retry-After on 429/503, or
  // the jittered RateLimitBackoff) pauses the whole endpoint until
  // now + pause. Any outcome but kRateLimited ends the run of 429s.
  Transition OnResult(Outcome outcome, Timestamp now,
                      std::optional<Duration> pause, bool was_probe);

  // For a 429 without Retry-After to an attempt started at `started`: the
  // endpoint-wide pause before jitter (kRateLimitBackoffFirst doubling per
  // consecutive 429, up to kRateLimitBackoffMax), counting this 429 in the
  // run. Zero when the attempt started before the current pause ends: it
  // was already in flight when the endpoint was paused, so its 429 is part
  // of the same burst and does not escalate (otherwise N attempts in flight
  // would multiply the pause by 2^N at once).
  Duration RateLimitBackoff(Timestamp started);

  bool open() const { return open_until_ != 0; }
  Timestamp open_until() const { return open_until_; }
  // Start of the current run of failures; 0 after a success.
  Timestamp failing_since() const { return failing_since_; }
  Timestamp paused_until() const { return paused_until_; }

 private:
  void Open(Timestamp now);

  CircuitBreakerOptions options_;
  // Breaker.
  Timestamp open_until_ = 0;  // 0: closed
  Duration open_for_{0};      // current open period (doubles on re-open)
  bool probe_in_flight_ = false;
  uint32_t consecutive_failures_ = 0;
  std::deque<bool> window_;  // last attempts, true = failure
  uint32_t window_failures_ = 0;
  Timestamp failing_since_ = 0;
  // Pause.
  Timestamp paused_until_ = 0;
  uint32_t rate_limited_run_ = 0;  // consecutive escalating 429s
  // Token bucket.
  double rate_ = 0;
  double burst_ = 1;
  double tokens_ = 0;
  Timestamp tokens_at_ = 0;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_ENDPOINT_GUARD_H_
