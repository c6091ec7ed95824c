// The delivery state machine: a pure function from (delivery, input, now) to
// the events that record what happens next.
//
// No I/O and no clock reads: the caller passes `now` and a Jitter. Every
// status change it produces follows an edge of docs/state_machine.md:
//
//   pending|failed|rate_limited --2xx--------------------> delivered
//   pending|failed|rate_limited --failure, budget left---> failed
//   pending|failed|rate_limited --429--------------------> rate_limited
//   failed|rate_limited --(attempts or 429 budget spent)-> dead_letter
//   any non-terminal --410 / endpoint deleted-----------> dead_letter
//   dead_letter --replay--> (a NEW delivery, pending; the original unchanged)
//
// Thread-safety: pure functions; Jitter is not thread-safe.
#ifndef HOOKLOG_ENGINE_DELIVERY_MACHINE_H_
#define HOOKLOG_ENGINE_DELIVERY_MACHINE_H_

#include <cstdint>
#include <random>
#include <vector>

#include "hooklog/event.h"
#include "hooklog/options.h"
#include "hooklog/transport.h"
#include "hooklog/types.h"

namespace hooklog {

// Uniform factor in [1-j, 1+j] for retry delays; deterministic for a seed.
class Jitter {
 public:
  explicit Jitter(uint64_t seed) : rng_(seed) {}
  Duration Apply(Duration d, double jitter);

 private:
  std::mt19937_64 rng_;
};

// Is this HTTP status a success?
inline bool IsSuccess(int code) { return code >= 200 && code <= 299; }

struct Decision {
  std::vector<Event> events;      // to append, in order
  bool disable_endpoint = false;  // 410 Gone: the engine disables it
};

// A delivery is created for `message` (kEnqueued) at `created_at` (the
// engine keeps creation times strictly increasing, so they may run a little
// ahead of the clock); its first attempt is due the schedule's first delay
// after `now`.
Event DecideEnqueue(const DeliveryId& id, const Message& message,
                    const EndpointId& endpoint, bool is_test,
                    Timestamp created_at, Timestamp now,
                    const RetryPolicy& policy, Jitter* jitter);

// The outcome of one attempt on non-terminal `d`, made at `attempted_at`.
// `endpoint_paused_until` is the end of the endpoint-wide pause (0: none): a
// rate-limited delivery is not due before it, so that its next_attempt_at
// shows when it can really go.
Decision DecideAttempt(const Delivery& d, const AttemptResult& result,
                       Timestamp attempted_at, Timestamp now,
                       const RetryPolicy& policy, Jitter* jitter,
                       Timestamp endpoint_paused_until = 0);

// Replay of `original`: FailedPrecondition unless it is dead_letter; else a
// kReplayed event creating `new_id`, due now.
Result<Event> DecideReplay(const Delivery& original, const DeliveryId& new_id,
                           Timestamp now);

// The endpoint of non-terminal `d` was deleted.
Event DecideEndpointDeleted(const Delivery& d, Timestamp now);

// Is `from` → `to` an edge of the diagram? (Used by the property test.)
bool IsAllowedTransition(DeliveryStatus from, DeliveryStatus to);

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_DELIVERY_MACHINE_H_
