#include "hooklog/options.h"

namespace hooklog {

std::vector<Duration> RetryPolicy::DefaultSchedule() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  return {Duration(0), seconds(5), minutes(5), minutes(30), hours(2),
          hours(5),    hours(10),  hours(14),  hours(20),   hours(24)};
}

}  // namespace hooklog
