#include "hooklog/options.h"

namespace hooklog {

std::vector<Duration> RetryPolicy::DefaultSchedule() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  return {Duration(0), seconds(5), minutes(5), minutes(30), hours(2),
          hours(5),    hours(10),  hours(14),  hours(20),   hours(24)};
}

std::string_view OperationalEventKindName(OperationalEvent::Kind kind) {
  switch (kind) {
    case OperationalEvent::Kind::kEndpointDisabled:
      return "endpoint.disabled";
    case OperationalEvent::Kind::kCircuitOpened:
      return "endpoint.circuit_opened";
    case OperationalEvent::Kind::kCircuitClosed:
      return "endpoint.circuit_closed";
    case OperationalEvent::Kind::kDeliveryDeadLettered:
      return "delivery.dead_lettered";
    case OperationalEvent::Kind::kDeliveryRecovered:
      return "delivery.recovered";
  }
  return "unknown";
}

}  // namespace hooklog
