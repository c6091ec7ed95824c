// The engine's in-memory state, shared by its units (scheduler, admission,
// attempts, the host-command front), and the context they all use.
//
// Thread-safety: everything here is confined to the engine strand, except
// what EngineContext documents otherwise. There are no locks: a unit runs
// only inside handlers on the strand.
//
// Ownership: EngineImpl owns the context; Attempts owns the active
// deliveries, Admission the endpoint states. Units hold raw pointers to each
// other and to the context, all owned by EngineImpl and destroyed together.
#ifndef HOOKLOG_ENGINE_ENGINE_STATE_H_
#define HOOKLOG_ENGINE_ENGINE_STATE_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/committer.h"
#include "engine/delivery_machine.h"
#include "engine/endpoint_guard.h"
#include "hooklog/engine.h"
#include "hooklog/options.h"

namespace hooklog {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
template <typename T>
using Callback = Engine::Callback<T>;

// A failed append leaves the decision unrecorded; it is retried after this.
inline constexpr Duration kRetryAfterStorageFailure = std::chrono::seconds(1);

// Which partitions this engine owns (engine/cluster.h). Absent (null) on a
// single node, which owns everything and fences nothing.
class Ownership {
 public:
  virtual ~Ownership() = default;
  // Strand: may this node decide about `key` (an endpoint id, or a replay
  // job id) now?
  virtual bool Owns(const Uuid128& key) const = 0;
  // Strand: adds the fence of `key`'s partition to `b` (REQUIRES: Owns).
  virtual void Fence(WriteBatch* b, const Uuid128& key) const = 0;
};

// A Commit refused because the lease it was fenced with is lost: nothing
// was written, and the partition is no longer this node's.
bool IsLeaseLost(const Status& st);

// A non-terminal delivery.
struct Active {
  Delivery row;             // as last recorded
  bool busy = false;        // in flight, or a decision about it is being
                            // written: nothing else may decide for it
  bool immediate = false;   // operator-initiated first attempt (test,
                            // replay): bypasses the enabled flag and caps
  bool probe = false;       // the half-open breaker's probe
  bool dropped = false;     // its partition was lost while it was busy: it
                            // is forgotten when the busy work returns
  Timestamp scheduled = 0;  // key in the due queue, 0 when not scheduled
  std::vector<Callback<DeliveryResult>> waiters;  // first attempt
};
using ActiveMap = std::unordered_map<DeliveryId, Active, IdHash>;

// An endpoint as the engine runs it: its row and its admission state.
struct EndpointState {
  explicit EndpointState(const EngineOptions& o) : guard(o.circuit_breaker) {}
  Endpoint ep;
  EndpointGuard guard;  // pause, breaker, rate limit
  uint32_t in_flight = 0;
  std::deque<DeliveryId> ready;    // due, waiting for the guard or a slot
  bool listed = false;             // in Admission's round-robin list
  Timestamp wake_at = 0;           // key in the wake-ups, 0 when none
  std::vector<DeliveryId> parked;  // due while the endpoint is disabled
  // FIFO endpoints: non-terminal deliveries in publish order.
  std::set<std::pair<Timestamp, DeliveryId>> fifo;
};

// What every unit needs. Set up by EngineImpl; `committer` exists from
// Start() on.
struct EngineContext {
  EngineContext(const EngineOptions& o, std::shared_ptr<Clock> c, Strand s,
                uint64_t jitter_seed)
      : options(o),
        clock(std::move(c)),
        strand(std::move(s)),
        jitter(jitter_seed) {}

  // Hands `b` to the group commit; `on_strand` runs on the strand once it
  // is durable (or failed). `keep_when_unavailable`: see Committer::Submit.
  void Commit(WriteBatch b, std::function<void(Status)> on_strand,
              bool keep_when_unavailable = false) {
    committer->Submit(
        std::move(b),
        [this, f = std::move(on_strand)](Status st) mutable {
          boost::asio::post(strand,
                            [f = std::move(f), st]() mutable { f(st); });
        },
        keep_when_unavailable);
  }
  Timestamp Now() const { return clock->Now(); }
  bool Owns(const Uuid128& key) const {
    return ownership == nullptr || ownership->Owns(key);
  }
  // Fences `b` as a decision about `key`'s partition (cluster mode only).
  void Fence(WriteBatch* b, const Uuid128& key) const {
    if (ownership != nullptr) ownership->Fence(b, key);
  }

  const EngineOptions& options;        // immutable: any thread
  const std::shared_ptr<Clock> clock;  // thread-safe
  Strand strand;
  std::unique_ptr<Committer> committer;  // thread-safe
  const Ownership* ownership = nullptr;  // cluster mode; strand only
  Jitter jitter;                         // strand only
  // Set by Shutdown, read anywhere: no new work is started once stopping,
  // and nothing more is recorded once aborting.
  std::atomic<bool> stopping{false};
  std::atomic<bool> aborting{false};
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_ENGINE_STATE_H_
