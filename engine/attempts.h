// Attempts: the life of a delivery from adoption to its terminal state.
//
// Owns the active (non-terminal) deliveries and the envelope cache. A new
// durable delivery is adopted (Adopt) and scheduled; when Admission lets
// it start, StartAttempt builds the signed request and sends it; the
// transport's answer comes back to OnAttemptDone, which decides (the
// delivery machine for the delivery, the endpoint machine for its
// endpoint), commits, and then reschedules the delivery or finishes it.
//
//   Adopt → [Scheduler → Admission] → StartAttempt → Transport
//         → OnAttemptDone → decide → Commit → reschedule | Finish
//
// Thread-safety: confined to the engine strand (the transport's callback
// posts back to it).
// Ownership: owned by EngineImpl; points at the storage, transport,
// Admission, Scheduler and Metrics, all owned by EngineImpl.
#ifndef HOOKLOG_ENGINE_ATTEMPTS_H_
#define HOOKLOG_ENGINE_ATTEMPTS_H_

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/admission.h"
#include "engine/engine_state.h"
#include "engine/metrics.h"
#include "engine/scheduler.h"
#include "hooklog/storage.h"
#include "hooklog/transport.h"

namespace hooklog {

class Attempts final : public Admission::Starter {
 public:
  Attempts(EngineContext* ctx, Storage* storage, Admission* admission,
           Scheduler* scheduler, Metrics* metrics)
      : ctx_(ctx),
        storage_(storage),
        admission_(admission),
        scheduler_(scheduler),
        metrics_(metrics) {}

  void set_transport(Transport* transport) { transport_ = transport; }

  // The active deliveries, by id.
  ActiveMap& active() { return active_; }

  // New durable deliveries of `m` join the active set and are scheduled;
  // with `waiter` (test, replay) the one delivery is attempted at once and
  // the waiter answered after that attempt; `immediate` attempts at once
  // without a waiter (a test another node forwarded). In cluster mode only
  // deliveries of owned endpoints are adopted; one already active only
  // gets the waiter.
  void Adopt(const Message& m, const std::vector<Delivery>& rows,
             Callback<DeliveryResult> waiter = nullptr, bool immediate = false);
  // A delivery loaded from storage (start-up, a partition just acquired):
  // scheduled at its next_attempt_at; its envelope is read when due.
  // Ignored when already active.
  void AdoptLoaded(const Delivery& row);
  // Forgets a non-busy delivery of a partition this node lost: nothing is
  // recorded (the new owner has it).
  void Forget(const DeliveryId& id);
  // Queues `a` for its next attempt at `at` (0: now).
  void Schedule(const DeliveryId& id, Active* a, Timestamp at) {
    scheduler_->Schedule(id, &a->scheduled, at);
  }
  void Unschedule(Active* a) {
    scheduler_->Unschedule(a->row.id, &a->scheduled);
  }
  // Forgets a delivery that reached a terminal state.
  void Finish(const DeliveryId& id);
  // Answers every waiter of an attempt with `st` (shutdown).
  void FailWaiters(const Status& st);

  // Admission::Starter.
  bool StartAttempt(const DeliveryId& id, Active* a,
                    const EndpointState& es) override;
  void EndOrphan(const DeliveryId& id, Active* a) override;

 private:
  struct Body {
    std::shared_ptr<const std::string> envelope;
    size_t refs = 0;  // active deliveries of the message
  };

  std::shared_ptr<const std::string> EnvelopeFor(const MessageId& mid);
  void OnAttemptDone(const DeliveryId& id, Timestamp started, AttemptResult r);
  // Ends non-busy `a` with one terminal event.
  void EndDelivery(const DeliveryId& id, Active* a, Event e);
  void Emit(const std::vector<OperationalEvent>& ops);

  EngineContext* const ctx_;
  Storage* const storage_;
  Admission* const admission_;
  Scheduler* const scheduler_;
  Metrics* const metrics_;
  Transport* transport_ = nullptr;
  ActiveMap active_;
  std::unordered_map<MessageId, Body, IdHash> bodies_;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_ATTEMPTS_H_
