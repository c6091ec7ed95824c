// Time in hooklog: Timestamp (microseconds since the Unix epoch, UTC), the
// Clock the engine reads it from, and ISO 8601 helpers.
//
// The engine never reads the system time directly: it asks its Clock, so that
// tests can drive time with a FakeClock (include/hooklog/testing/fake_clock.h).
//
// Thread-safety: Clock implementations must be thread-safe.
#ifndef HOOKLOG_CLOCK_H_
#define HOOKLOG_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hooklog/status.h"

namespace hooklog {

// Microseconds since 1970-01-01T00:00:00Z. 0 means "none" in records.
using Timestamp = int64_t;
using Duration = std::chrono::microseconds;

inline constexpr Timestamp kSecond = 1'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;

  // Called after the clock jumps (FakeClock::Advance) so that timers armed
  // against it re-check what is due. The real clock never calls it. Returns
  // a token for RemoveObserver. Observers run on the thread that advanced
  // the clock and must not block.
  virtual uint64_t AddObserver(std::function<void()> observer) {
    (void)observer;
    return 0;
  }
  virtual void RemoveObserver(uint64_t token) { (void)token; }
};

// The process-wide wall clock (std::chrono::system_clock).
std::shared_ptr<Clock> SystemClock();

// "2026-11-26T23:07:04Z" (whole seconds, UTC).
std::string FormatIso8601(Timestamp t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" and a bare date
// "YYYY-MM-DD" (midnight UTC). InvalidArgument otherwise.
Result<Timestamp> ParseIso8601(std::string_view text);

// Parses "250ms", "5s", "5m", "2h", "1d" (and "0"). InvalidArgument otherwise.
Result<Duration> ParseDuration(std::string_view text);
// The inverse, choosing the largest exact unit ("5m", "250ms").
std::string FormatDuration(Duration d);

}  // namespace hooklog

#endif  // HOOKLOG_CLOCK_H_
