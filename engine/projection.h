// Projection: the rows derived from the event log, computed in memory.
//
// The single definition of "what an event does to a row". The engine uses it
// to compute the rows it hands to Storage::Append alongside the events; the
// verifier (VerifyStorage in hooklog/verify.h) and the property tests rebuild a
// whole Projection from the log and compare it with what a Storage holds.
//
// Thread-safety: not thread-safe; confine to one thread.
#ifndef HOOKLOG_ENGINE_PROJECTION_H_
#define HOOKLOG_ENGINE_PROJECTION_H_

#include <map>
#include <string>
#include <unordered_map>

#include "hooklog/event.h"
#include "hooklog/status.h"
#include "hooklog/storage.h"
#include "hooklog/types.h"
#include "hooklog/verify.h"

namespace hooklog {

// Applies one event to one row. REQUIRES: the event's aggregate is the row's
// id (or the row is new for creating events).
void ApplyToEndpoint(const Event& event, Endpoint* endpoint);
void ApplyToDelivery(const Event& event, Delivery* delivery);

class Projection {
 public:
  // Applies `event` (events must come in log order). Corruption when the
  // event refers to a row that does not exist or cannot apply.
  Status Apply(const Event& event);

  const std::unordered_map<EndpointId, Endpoint, IdHash>& endpoints() const {
    return endpoints_;
  }
  const std::unordered_map<DeliveryId, Delivery, IdHash>& deliveries() const {
    return deliveries_;
  }
  const std::unordered_map<MessageId, Message, IdHash>& messages() const {
    return messages_;
  }
  const std::map<std::string, IdempotencyRecord>& idempotency() const {
    return idempotency_;
  }
  // Counts of this endpoint's deliveries by status, and their attempts.
  EndpointCounters CountersFor(const EndpointId& id) const;
  EndpointCounters Totals() const;
  uint64_t last_sequence() const { return last_sequence_; }

 private:
  std::unordered_map<EndpointId, Endpoint, IdHash> endpoints_;
  std::unordered_map<DeliveryId, Delivery, IdHash> deliveries_;
  std::unordered_map<MessageId, Message, IdHash> messages_;
  std::map<std::string, IdempotencyRecord> idempotency_;
  uint64_t last_sequence_ = 0;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_PROJECTION_H_
