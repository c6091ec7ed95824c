// Events: the durable record of everything that happened.
//
// Every state change of an endpoint or a delivery is an Event appended to the
// log (Storage::Append). Projections (the rows queries read) are derived from
// events; rebuilding them from the log gives the same rows. The binary
// encoding (EncodeEvent/DecodeEvent) is versioned and checksummed, documented
// in docs/event_format.md; every format version ever written still decodes.
//
// Thread-safety: values and pure functions.
#ifndef HOOKLOG_EVENT_H_
#define HOOKLOG_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "hooklog/status.h"
#include "hooklog/types.h"

namespace hooklog {

// Stable numbers: they are written to disk. Never reuse one.
enum class EventType : uint8_t {
  kEndpointCreated = 1,
  kEndpointUpdated = 2,
  kEndpointSecretRotated = 3,
  kEndpointDisabled = 4,
  kEndpointEnabled = 5,
  kEndpointDeleted = 6,
  kCircuitOpened = 7,  // the endpoint's circuit breaker opened (or re-opened)
  kCircuitClosed = 8,
  kMessageAccepted = 10,  // a published message (payload), before fan-out
  kEnqueued = 20,         // a delivery is created (pending)
  kAttempted = 21,        // one HTTP attempt and its outcome
  kRateLimited = 22,      // the attempt got 429: retried on its own budget
  kDeadLettered = 23,     // terminal failure
  kReplayed = 24,         // a new delivery created from a dead-lettered one
};
std::string_view EventTypeName(EventType t);  // "enqueued", ...

// Endpoint lifecycle events carry the endpoint as it is after the change.
struct EndpointSnapshot {
  Endpoint endpoint;
  friend bool operator==(const EndpointSnapshot&,
                         const EndpointSnapshot&) = default;
};

struct MessageAccepted {
  Message message;
  friend bool operator==(const MessageAccepted&,
                         const MessageAccepted&) = default;
};

// Body of kEnqueued and kReplayed.
struct DeliveryCreated {
  MessageId message_id;
  EndpointId endpoint_id;
  std::string event_type;
  Timestamp next_attempt_at = 0;
  std::optional<DeliveryId> replay_of;  // set for kReplayed
  bool is_test = false;
  friend bool operator==(const DeliveryCreated&,
                         const DeliveryCreated&) = default;
};

struct Attempted {
  AttemptRecord record;
  DeliveryStatus status_after = DeliveryStatus::kFailed;
  Timestamp next_attempt_at = 0;   // 0 when terminal
  bool counts_as_failure = false;  // consumes one attempt of the schedule
  friend bool operator==(const Attempted&, const Attempted&) = default;
};

struct RateLimited {
  Timestamp next_attempt_at = 0;
  Timestamp since = 0;  // start of the current run of 429s
  friend bool operator==(const RateLimited&, const RateLimited&) = default;
};

struct DeadLettered {
  DeadLetterReason reason = DeadLetterReason::kAttemptsExhausted;
  friend bool operator==(const DeadLettered&, const DeadLettered&) = default;
};

using EventBody =
    std::variant<EndpointSnapshot, MessageAccepted, DeliveryCreated, Attempted,
                 RateLimited, DeadLettered>;

struct Event {
  uint64_t seq = 0;  // global, gapless, assigned by Storage::Append
  Timestamp time = 0;
  EventType type = EventType::kEnqueued;
  Uuid128 aggregate;  // endpoint, message or delivery id
  EventBody body;
  friend bool operator==(const Event&, const Event&) = default;
};

// The current format version written by EncodeEvent. Version 2 added the
// endpoint's circuit breaker fields (circuit_open_until, failing_since);
// version 3 the endpoint's own protection settings (Endpoint::protection).
inline constexpr uint8_t kEventFormatVersion = 3;

// Binary encoding with a CRC32C checksum (docs/event_format.md).
std::string EncodeEvent(const Event& event);
// Corruption (never a crash) on truncated input, a bad checksum, an unknown
// type or a format version newer than this build understands.
Result<Event> DecodeEvent(std::string_view bytes);

}  // namespace hooklog

#endif  // HOOKLOG_EVENT_H_
