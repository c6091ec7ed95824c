// Cluster: one engine as one node of several sharing a store
// (EngineOptions::cluster, docs/scale-out.md).
//
// Endpoints are hashed into a fixed number of partitions (PartitionOf).
// The node
//   - leases a fair share of the partitions: a lease thread calls
//     Storage::SyncLeases every ttl / 3 (and right after a lease of another
//     node may have lapsed), renewing what it holds, releasing what is above
//     its share, acquiring lapsed partitions up to its share;
//   - attempts only the deliveries of the endpoints it owns (Ownership):
//     a partition is owned while its lease is held and was renewed less
//     than ttl - ttl / 3 ago on this node's clock, so a node that cannot
//     renew stops before anyone else may take over;
//   - fences every decision about an owned delivery with the lease's epoch,
//     so that a write after the lease passed elsewhere is refused by the
//     store (the Committer then drops the partition here);
//   - follows the other nodes' writes through the store's log (a follower
//     thread: WaitForAppends, then ReadLog): endpoint changes are applied
//     to the in-memory endpoints; a new delivery for an owned endpoint is
//     adopted; a first attempt another node is waiting for is reported to
//     it (AwaitForwarded).
// On acquiring a partition its non-terminal deliveries are loaded
// (Storage::LoadActiveOf); on losing one they are forgotten (those in flight
// when their attempt returns, without recording it).
//
// Thread-safety: Owns/Fence/AwaitForwarded/FailForwarded on the strand; the
// Committer hooks on the committer thread; FillStats from any thread.
// Ownership: owned by EngineImpl; points at its context, storage and units.
#ifndef HOOKLOG_ENGINE_CLUSTER_H_
#define HOOKLOG_ENGINE_CLUSTER_H_

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/admission.h"
#include "engine/attempts.h"
#include "engine/engine_state.h"
#include "engine/metrics.h"
#include "engine/replay_jobs.h"
#include "hooklog/storage.h"

namespace hooklog {

// The partition of `key` (an endpoint or replay job id) among `partitions`.
uint32_t PartitionOf(const Uuid128& key, uint32_t partitions);

class Cluster final : public Ownership {
 public:
  Cluster(EngineContext* ctx, boost::asio::io_context* io, Storage* storage,
          Attempts* attempts, Admission* admission, Metrics* metrics,
          ReplayJobs* jobs);
  ~Cluster() override;  // Stop()

  // Before the engine's threads run: one first SyncLeases (a heartbeat), so
  // that a store without leases or with another partition count is refused
  // at open.
  Status Join();
  // Starts the lease and follower threads; the follower reads the log from
  // `follow_after` + 1 (the last sequence before the engine loaded its
  // endpoints). REQUIRES: the committer exists.
  void Start(uint64_t follow_after);
  // Stops both threads, then releases every lease and leaves (one last
  // sync). Call after the committer has written its last batch.
  void Stop();

  // Ownership (strand).
  bool Owns(const Uuid128& key) const override;
  void Fence(WriteBatch* b, const Uuid128& key) const override;

  // Strand: delivery `id` (a test or replay to an endpoint another node
  // owns) is durable; `done` gets the owner's first attempt as it appears
  // in the log, or Unavailable after attempt_timeout + forward_timeout.
  void AwaitForwarded(const DeliveryId& id, Callback<DeliveryResult> done);
  // Strand: answers every forwarded waiter with `st` (shutdown).
  void FailForwarded(const Status& st);

  // Committer hooks (committer thread).
  void OnAppended(const WriteBatch& merged);
  // For Committer::Hooks::append_mu.
  std::mutex* append_mu() { return &append_mu_; }
  void OnFenced(const std::vector<uint32_t>& partitions);

  void FillStats(EngineStats* s) const;

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct Owned {
    uint64_t epoch = 0;
    SteadyTime valid_until;
  };
  struct Forwarded {
    Callback<DeliveryResult> done;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  // Lease thread.
  void LeaseLoop();
  LeaseSync NextSync(bool leaving);
  // Returns when the next sync should start.
  SteadyTime OnView(const LeaseView& view, const LeaseSync& sent,
                    SteadyTime started);
  void ScanReplayJobs();

  // Follower thread.
  void FollowLoop(uint64_t next);
  // Drops from `events` this node's own (and superseded endpoint) events.
  void DropOwn(std::vector<Event>* events);

  // Strand.
  void Mirror(std::map<uint32_t, uint64_t> held, SteadyTime valid_until);
  void AdoptPartition(uint32_t p, uint64_t epoch);
  void LoadPartition(uint32_t p, uint64_t epoch);
  void DropPartition(uint32_t p);
  void OnForeign(std::vector<Event> events);
  void ApplyEndpoint(const Endpoint& ep);
  void AdoptForeign(
      std::vector<std::pair<DeliveryId, MessageId>> ids,
      std::shared_ptr<std::unordered_map<MessageId, Message, IdHash>> messages);
  void Answer(const DeliveryId& id, Result<DeliveryResult> r);

  EngineContext* const ctx_;
  boost::asio::io_context* const io_;
  Storage* const storage_;
  Attempts* const attempts_;
  Admission* const admission_;
  Metrics* const metrics_;
  ReplayJobs* const jobs_;
  const ClusterOptions& opts_;
  const std::chrono::microseconds renew_every_;

  // Strand.
  std::map<uint32_t, Owned> owned_;
  std::unordered_map<DeliveryId, Forwarded, IdHash> forwarded_;

  // The lease thread's own view of what it holds (partition -> epoch), and
  // what it decided to release and acquire at the next sync. Guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::map<uint32_t, uint64_t> held_;
  std::vector<LeaseFence> to_release_;
  std::vector<uint32_t> to_acquire_;
  SteadyTime valid_until_;  // of the leases renewed at the last sync

  // Own writes, so that the follower skips them: sequence ranges, and per
  // endpoint the last own endpoint event (a foreign change older than it is
  // superseded). Guarded by own_mu_. append_mu_ is held by the Committer
  // across each Append and OnAppended (Committer::Hooks::append_mu), and
  // by DropOwn before own_mu_: events the follower read are then always
  // registered before it looks them up, or they would be taken for
  // another node's and adopted a second time (a double attempt).
  std::mutex append_mu_;
  std::mutex own_mu_;
  std::deque<std::pair<uint64_t, uint64_t>> own_ranges_;
  std::unordered_map<EndpointId, uint64_t, IdHash> own_endpoint_seq_;

  std::atomic<bool> follow_stop_{false};
  std::thread lease_thread_;
  std::thread follow_thread_;

  std::atomic<uint64_t> owned_count_{0};
  std::atomic<uint64_t> nodes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> sync_failures_{0};
  std::atomic<uint64_t> acquired_{0};
  std::atomic<uint64_t> released_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> fenced_{0};
  std::atomic<uint64_t> followed_{0};
  std::atomic<bool> reachable_{true};
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_CLUSTER_H_
