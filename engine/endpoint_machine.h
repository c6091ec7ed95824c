// The endpoint state machine: pure functions from (current endpoint,
// command or attempt outcome, now, options) to the new endpoint and the
// events that record the change.
//
// The companion of delivery_machine.h. No I/O, no strand and no clock reads:
// the caller passes `now` (and a Jitter where randomness is part of the
// decision). Input is validated by engine/validation.h before it gets here;
// the one check that needs the patched result (metadata limits after a
// merge) is made here, and a refused change returns an error and nothing
// else.
//
//   (none) --create--> enabled | disabled("manual")
//   enabled --update(enabled=false)--> disabled("manual")
//   disabled --update(enabled=true)--> enabled
//   enabled --410 Gone--> disabled("gone_410")
//   enabled --failing for auto_disable_after--> disabled("failing")
//   any --rotate--> same, new current secret (the old one expires later)
//   any --delete--> deleted (a tombstone: history is kept)
//   breaker: closed --failures--> open --probe succeeds--> closed
//
// Thread-safety: pure functions; the EndpointGuard and Jitter passed in are
// not thread-safe (the engine confines both to its strand).
#ifndef HOOKLOG_ENGINE_ENDPOINT_MACHINE_H_
#define HOOKLOG_ENGINE_ENDPOINT_MACHINE_H_

#include <optional>
#include <vector>

#include "engine/delivery_machine.h"
#include "engine/endpoint_guard.h"
#include "hooklog/event.h"
#include "hooklog/options.h"
#include "hooklog/status.h"
#include "hooklog/transport.h"
#include "hooklog/types.h"

namespace hooklog {

struct EndpointDecision {
  Endpoint endpoint;                  // after the change
  std::vector<Event> events;          // to append, in order; empty: none
  std::vector<OperationalEvent> ops;  // to report once durable
};

// An event carrying a snapshot of `ep`.
Event EndpointEvent(EventType type, const Endpoint& ep, Timestamp now);

// A new endpoint from a validated spec: a fresh id and signing secret,
// created and updated at `now`; enabled unless the spec says otherwise
// (then disabled_reason "manual").
EndpointDecision DecideCreateEndpoint(const EndpointSpec& spec, Timestamp now);

// `current` with validated update `u` applied field by field. The event is
// kEndpointEnabled/kEndpointDisabled when `u` flips `enabled`, else
// kEndpointUpdated. InvalidArgument (nothing changed) when the merged
// metadata is over the limits of ValidateMetadata.
Result<EndpointDecision> DecideUpdateEndpoint(const Endpoint& current,
                                              const EndpointUpdate& u,
                                              Timestamp now);

// A new current secret; secrets without an expiry get now + grace, and the
// expired ones are dropped.
EndpointDecision DecideRotateSecret(const Endpoint& current, Timestamp now,
                                    Duration grace);

// The endpoint becomes a tombstone (deleted = true).
EndpointDecision DecideDeleteEndpoint(const Endpoint& current, Timestamp now);

// Feeds one attempt's outcome (an attempt started at `started`, answered at
// `now`) to the endpoint's guard and decides what changes for the endpoint:
//   - the endpoint-wide pause: Retry-After on 429/503 (clamped to the retry
//     policy's bounds), or, for a 429 without it, the guard's escalating
//     RateLimitBackoff times a jitter factor;
//   - circuit opened / closed (kCircuitOpened / kCircuitClosed);
//   - disabled after 410 Gone ("gone_410") or after failing for
//     auto_disable_after ("failing").
// 429s are neither successes nor failures for the breaker and auto-disable.
// The guard is updated in any case; events are empty when the endpoint row
// does not change.
EndpointDecision DecideEndpointHealth(
    const Endpoint& current, EndpointGuard* guard, const AttemptResult& result,
    Timestamp started, bool was_probe, Timestamp now,
    const EngineOptions& options, Jitter* jitter);

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_ENDPOINT_MACHINE_H_
