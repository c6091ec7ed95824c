// Admission: which due deliveries may start an attempt now.
//
// Owns each endpoint's run-time state (EndpointState: its row, ready queue,
// parked deliveries, FIFO order, in-flight count and EndpointGuard) and the
// global in-flight count. One pipeline decides every start:
//
//   Admit(delivery)        a delivery fell due (or was created for an
//                          immediate attempt): endpoint gone → ended;
//                          operator-initiated → started at once; endpoint
//                          disabled → parked; FIFO and not the head → waits;
//                          else → the endpoint's ready queue, then
//   Pump(endpoint, limit)  start ready deliveries while the global cap and
//                          the endpoint's guard (pause, breaker, cap, rate)
//                          allow; held by the global cap → listed for
//   PumpWaiting()          as global slots free: one start per listed
//                          endpoint per round (round robin), so that one
//                          busy endpoint cannot starve the others.
//
// Starting an attempt (and ending a delivery whose endpoint is gone) is the
// Starter's job (Attempts).
//
// Thread-safety: confined to the engine strand; in_flight() may be read
// (and waited on) from any thread.
// Ownership: owned by EngineImpl; points at the active deliveries (owned by
// Attempts), the Scheduler and the Starter, all owned by EngineImpl.
#ifndef HOOKLOG_ENGINE_ADMISSION_H_
#define HOOKLOG_ENGINE_ADMISSION_H_

#include <cstddef>
#include <deque>
#include <unordered_map>

#include "engine/engine_state.h"
#include "engine/gate.h"
#include "engine/scheduler.h"

namespace hooklog {

class Admission final : public Scheduler::Handler {
 public:
  class Starter {
   public:
    virtual ~Starter() = default;
    // Starts an attempt of `a` to `es`; false when it could not (it was
    // rescheduled). On true the attempt is in flight until Release().
    virtual bool StartAttempt(const DeliveryId& id, Active* a,
                              const EndpointState& es) = 0;
    // Ends non-busy `a`, whose endpoint was deleted.
    virtual void EndOrphan(const DeliveryId& id, Active* a) = 0;
  };

  Admission(EngineContext* ctx, ActiveMap* active, Scheduler* scheduler,
            Starter* starter)
      : ctx_(ctx), active_(active), scheduler_(scheduler), starter_(starter) {}

  // --- endpoints -----------------------------------------------------------

  // The endpoint's state, created on first use; the row and the guard's
  // settings are (re)applied from `ep`.
  EndpointState& StateOf(const Endpoint& ep);
  // The endpoint's state unless it is unknown or deleted.
  EndpointState* Live(const EndpointId& id);
  // The endpoint's state, deleted or not; null when unknown.
  EndpointState* Find(const EndpointId& id);
  void Forget(const EndpointId& id) { endpoints_.erase(id); }
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (auto& [eid, es] : endpoints_) fn(es);
  }

  // --- the pipeline --------------------------------------------------------

  void Admit(const DeliveryId& id, Active* a);
  // Returns how many it started.
  size_t Pump(EndpointState* es, size_t limit);
  void PumpWaiting();
  // An attempt to `es` (null: its endpoint is gone) came back: frees its
  // slots.
  void Release(EndpointState* es);

  // Reschedules the deliveries parked while `es` was disabled.
  void Unpark(EndpointState* es);
  // Rebuilds a FIFO endpoint's order from the active deliveries (start-up,
  // FIFO switched on), or releases them all (FIFO switched off).
  void ResetFifo(EndpointState* es);
  // Is `id` the delivery a FIFO endpoint may attempt now (its oldest
  // non-terminal one)?
  static bool IsFifoHead(const EndpointState& es, const DeliveryId& id) {
    return es.fifo.empty() || es.fifo.begin()->second == id;
  }
  // Delivery `row` reached a terminal state: the next of a FIFO endpoint may
  // go.
  void OnFinished(const Delivery& row);

  uint64_t in_flight() const { return in_flight_.value(); }
  InFlightCounter& in_flight_counter() { return in_flight_; }

  // Scheduler::Handler.
  void OnEndpointWake(const EndpointId& eid) override;
  void OnDeliveryDue(const DeliveryId& id) override;

 private:
  uint32_t CapOf(const EndpointState& es) const {
    return es.ep.max_in_flight != 0 ? es.ep.max_in_flight
                                    : ctx_->options.default_max_in_flight;
  }
  void ListWaiting(EndpointState* es);
  void ScheduleFifoHead(EndpointState* es);

  EngineContext* const ctx_;
  ActiveMap* const active_;
  Scheduler* const scheduler_;
  Starter* const starter_;
  std::unordered_map<EndpointId, EndpointState, IdHash> endpoints_;
  // Endpoints with ready deliveries held by the global cap, in turn order.
  std::deque<EndpointId> waiting_;
  InFlightCounter in_flight_;  // attempts in flight, all endpoints
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_ADMISSION_H_
