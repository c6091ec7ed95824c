// Scheduler: the due queue. Deliveries wait here until their next attempt
// is due, endpoints until they may be pumped again (a token, the end of a
// pause or of the breaker's open period). One asio timer, armed for the
// earliest of both, and the clock's observer (a fake clock moving) make it
// look; due entries are handed to the Handler.
//
// Each scheduled delivery or endpoint keeps its own key (the time it is
// queued at, 0 when not queued) in its Active / EndpointState, passed in as
// `slot`, so that no second index is needed.
//
// Thread-safety: confined to the engine strand; the queue's depth is
// reported through Metrics.
// Ownership: owned by EngineImpl; the Handler and Metrics outlive it.
#ifndef HOOKLOG_ENGINE_SCHEDULER_H_
#define HOOKLOG_ENGINE_SCHEDULER_H_

#include <boost/asio/steady_timer.hpp>
#include <set>
#include <utility>

#include "engine/engine_state.h"
#include "engine/metrics.h"

namespace hooklog {

class Scheduler {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // `eid`'s wake-up time came; it left the queue and its slot must be
    // cleared.
    virtual void OnEndpointWake(const EndpointId& eid) = 0;
    // `id` is due; it left the queue and its slot must be cleared.
    virtual void OnDeliveryDue(const DeliveryId& id) = 0;
  };

  Scheduler(EngineContext* ctx, Metrics* metrics, Handler* handler);

  // Queues delivery `id` for `at` (0: now), replacing its current entry.
  void Schedule(const DeliveryId& id, Timestamp* slot, Timestamp at);
  void Unschedule(const DeliveryId& id, Timestamp* slot);
  // Wakes endpoint `eid` at `at`, unless it is already woken no later.
  void WakeAt(const EndpointId& eid, Timestamp* slot, Timestamp at);

  // Hands everything due to the Handler, then re-arms the timer. Run by the
  // timer and by the clock's observer; does nothing once the engine is
  // aborting (EngineContext::aborting).
  void OnTimer();
  // Cancels the timer (at shutdown, once aborting).
  void Cancel() { timer_.cancel(); }

 private:
  void ArmTimer(Timestamp at);
  // Arms the timer for `at` unless it is armed earlier already.
  void ArmNoLaterThan(Timestamp at) {
    if (timer_at_ == 0 || at < timer_at_) ArmTimer(at);
  }

  EngineContext* const ctx_;
  Metrics* const metrics_;
  Handler* const handler_;
  boost::asio::steady_timer timer_;
  Timestamp timer_at_ = 0;  // 0: not armed
  std::set<std::pair<Timestamp, DeliveryId>> due_;
  std::set<std::pair<Timestamp, EndpointId>> wakeups_;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_SCHEDULER_H_
