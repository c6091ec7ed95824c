#include "hooklog/clock.h"

#include <charconv>
#include <ctime>

#include "base/civil_time.h"

namespace hooklog {
namespace {

class RealClock : public Clock {
 public:
  Timestamp Now() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Reads exactly `n` digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

Status BadTime(std::string_view text) {
  return Status::InvalidArgument("'" + std::string(text.substr(0, 64)) +
                                 "' is not an ISO 8601 time such as "
                                 "2026-11-26T23:07:04Z");
}

}  // namespace

std::shared_ptr<Clock> SystemClock() {
  static const std::shared_ptr<Clock> clock = std::make_shared<RealClock>();
  return clock;
}

std::string FormatIso8601(Timestamp t) {
  std::time_t secs = static_cast<std::time_t>(t / kSecond);
  if (t < 0 && t % kSecond != 0) --secs;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Timestamp> ParseIso8601(std::string_view s) {
  size_t p = 0;
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!Digits(s, &p, 4, &y) || !Expect(s, &p, '-') || !Digits(s, &p, 2, &mo) ||
      !Expect(s, &p, '-') || !Digits(s, &p, 2, &d)) {
    return BadTime(s);
  }
  // Days per month (February by leap year): "2026-02-30" is no date, and
  // silently becoming March 2nd would move a filter by days.
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 ||
      d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) {
    return BadTime(s);
  }
  int64_t frac_us = 0;
  int64_t offset_s = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return BadTime(s);
    ++p;
    if (!Digits(s, &p, 2, &h) || !Expect(s, &p, ':') ||
        !Digits(s, &p, 2, &mi) || !Expect(s, &p, ':') ||
        !Digits(s, &p, 2, &se)) {
      return BadTime(s);
    }
    if (h > 23 || mi > 59 || se > 60) return BadTime(s);
    if (p < s.size() && s[p] == '.') {
      ++p;
      int64_t scale = 100000;
      size_t start = p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        frac_us += (s[p] - '0') * scale;
        scale /= 10;
        ++p;
      }
      if (p == start) return BadTime(s);
    }
    if (p >= s.size()) return BadTime(s);  // a time needs a zone
    if (s[p] == 'Z' || s[p] == 'z') {
      ++p;
    } else if (s[p] == '+' || s[p] == '-') {
      int sign = s[p] == '-' ? -1 : 1;
      ++p;
      int oh, om;
      if (!Digits(s, &p, 2, &oh) || !Expect(s, &p, ':') ||
          !Digits(s, &p, 2, &om) || oh > 23 || om > 59) {
        return BadTime(s);
      }
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return BadTime(s);
    }
    if (p != s.size()) return BadTime(s);
  }
  int64_t days = DaysFromCivil(y, mo, d);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  return secs * kSecond + frac_us;
}

Result<Duration> ParseDuration(std::string_view text) {
  if (text == "0") return Duration(0);
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  if (ec != std::errc() || ptr == text.data() || n < 0) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a duration such as 250ms, 5s, "
                                   "5m, 2h");
  }
  int64_t us;
  if (unit == "ms") {
    us = 1000;
  } else if (unit == "s") {
    us = kSecond;
  } else if (unit == "m") {
    us = 60 * kSecond;
  } else if (unit == "h") {
    us = 3600 * kSecond;
  } else if (unit == "d") {
    us = 86400 * kSecond;
  } else {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' has no unit; use ms, s, m, h or d");
  }
  if (n > INT64_MAX / us) {
    return Status::InvalidArgument("duration '" + std::string(text) +
                                   "' is too large");
  }
  return Duration(n * us);
}

std::string FormatDuration(Duration d) {
  int64_t us = d.count();
  if (us == 0) return "0s";
  struct Unit {
    int64_t us;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400 * kSecond, "d"},
                                    {3600 * kSecond, "h"},
                                    {60 * kSecond, "m"},
                                    {kSecond, "s"},
                                    {1000, "ms"}};
  for (const Unit& u : kUnits) {
    if (us % u.us == 0) return std::to_string(us / u.us) + u.name;
  }
  return std::to_string(us) + "us";
}

}  // namespace hooklog
