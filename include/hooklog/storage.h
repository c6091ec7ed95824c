// Storage: the adapter interface behind the engine (in the spirit of
// leveldb::Env), a forwarding wrapper for fault injection, and the built-in
// adapters (in-memory; RocksDB in rocksdb_storage.h).
//
// The engine decides what happened (events) and what the projection rows
// become; an adapter makes both durable in ONE atomic step (Append), assigns
// the events their gapless sequence numbers, and answers queries from the
// rows. Adapters never interpret events: every row they store is given to
// them. An adapter proves itself with the conformance suite in
// include/hooklog/testing/storage_conformance.h.
//
// Group commit lives in exactly one layer, the engine's Committer
// (engine/committer.h): it merges every decision made since its last write
// into ONE Append call, made from its one thread. An adapter therefore needs
// no queue of its own; one durable sync per Append is what is asked.
//
// Validation lives in the engine too: queries reach an adapter already
// checked (see the REQUIRES on ListEndpoints / ListDeliveries), so adapters
// hold no policy of their own.
//
// Thread-safety: every method may be called concurrently from any thread
// (reads run on host threads while the Committer appends); Append calls may
// also overlap when several engines or tools share one store, and must then
// stay atomic and gapless.
#ifndef HOOKLOG_STORAGE_H_
#define HOOKLOG_STORAGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hooklog/clock.h"
#include "hooklog/event.h"
#include "hooklog/status.h"
#include "hooklog/types.h"

namespace hooklog {

// What a publish with an idempotency key answered, kept for the window.
struct IdempotencyRecord {
  std::string key;
  MessageId message_id;
  std::vector<DeliveryId> deliveries;
  Timestamp created_at = 0;
  friend bool operator==(const IdempotencyRecord&,
                         const IdempotencyRecord&) = default;
};

// ---- Partition leases: several engines (nodes) sharing one store ----------
//
// In cluster mode (EngineOptions::cluster) endpoints are hashed into a fixed
// number of partitions and each node attempts only the deliveries of the
// partitions it leases. A lease is granted for a TTL on the STORE's clock
// and carries an epoch, bumped every time it is granted, so that
// (partition, epoch) names one grant. Writes a node makes as a partition's
// owner carry that fence and are refused once the grant has lapsed or
// passed to another node (docs/scale-out.md).

// One grant: the partition and the epoch it was granted at.
struct LeaseFence {
  uint32_t partition = 0;
  uint64_t epoch = 0;
  friend bool operator==(const LeaseFence&, const LeaseFence&) = default;
};

struct PartitionLease {
  uint32_t partition = 0;
  std::string owner;         // node id; "" when never granted
  uint64_t epoch = 0;        // 0 when never granted
  Timestamp expires_at = 0;  // store clock; held while now < expires_at
  friend bool operator==(const PartitionLease&,
                         const PartitionLease&) = default;
};

// One node's heartbeat and lease requests, applied in one atomic step.
struct LeaseSync {
  std::string node_id;      // 1..128 bytes
  uint32_t partitions = 0;  // the cluster's count (1..4096); the first sync
                            // of a store fixes it, another count is refused
  Duration ttl{0};          // > 0: a granted or renewed lease lasts this long
  // Extended to now + ttl when still held by node_id at that epoch and not
  // lapsed; otherwise left alone (the view shows the lease is gone).
  std::vector<LeaseFence> renew;
  // Lapse now (expires_at = now) when held by node_id at that epoch, so
  // another node may take it at once.
  std::vector<LeaseFence> release;
  // Granted to node_id (epoch + 1, expires now + ttl) when lapsed or never
  // granted; left alone when held by anyone, node_id included.
  std::vector<uint32_t> acquire;
  // The node stops: after the releases it is forgotten at once instead of
  // after its ttl, so the others rebalance without waiting.
  bool leaving = false;
};

struct LeaseView {
  Timestamp now = 0;                   // the store clock at the sync
  std::vector<PartitionLease> leases;  // every partition, by number
  // Nodes whose last sync is younger than their ttl, sorted; node_id among
  // them unless leaving.
  std::vector<std::string> nodes;
};

// One atomic unit: events plus the rows they produce.
struct WriteBatch {
  std::vector<Event> events;         // seq assigned by Append, in order
  std::vector<Endpoint> endpoints;   // upserted by id
  std::vector<Message> messages;     // upserted by id
  std::vector<Delivery> deliveries;  // upserted by id
  std::vector<IdempotencyRecord> idempotency;  // upserted by key
  // ADDED to the stored bucket of (endpoint_id, minute), which starts at
  // zero; the same bucket may appear more than once.
  std::vector<StatsBucket> stats;
  std::vector<ReplayJob> replay_jobs;  // upserted by id
  // Cluster mode: the batch is stored only if every fence's partition is
  // held at that epoch and not lapsed (store clock) when the adapter checks,
  // inside the write's atomic step, and no other node can be granted it
  // between that check and the commit (PostgreSQL: the lease rows are share
  // locked until commit; a commit may thus end just after the lease ran
  // out on the clock, but never after another node got it). Otherwise NOTHING
  // is stored, Append answers FailedPrecondition and `fenced` lists the
  // partitions that failed. Only engines in cluster mode set fences, over
  // adapters that implement SyncLeases. Duplicates are allowed.
  std::vector<LeaseFence> fences;
  std::vector<uint32_t> fenced;  // out: set by a refused Append

  bool empty() const {
    return events.empty() && endpoints.empty() && messages.empty() &&
           deliveries.empty() && idempotency.empty() && stats.empty() &&
           replay_jobs.empty();
  }
  // Appends everything of `other` (events stay in order).
  void Merge(WriteBatch&& other);
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Makes the batch durable atomically: either every event and row is stored
  // or none is. Assigns batch->events[i].seq = LastSequence()+1+i. Returns
  // the last assigned sequence (LastSequence() for a batch without events).
  // Unavailable (nothing written) when storage cannot accept writes.
  virtual Result<uint64_t> Append(WriteBatch* batch) = 0;

  // The highest sequence stored (0 for an empty log).
  virtual uint64_t LastSequence() const = 0;

  // Appends to *out up to `max_events` events with seq >= from_seq, in
  // order (existing elements are kept).
  virtual Status ReadLog(uint64_t from_seq, size_t max_events,
                         std::vector<Event>* out) = 0;

  virtual Result<Endpoint> GetEndpoint(const EndpointId& id) = 0;
  // Newest first (created_at, then id, descending); deleted endpoints only
  // when query.include_deleted. REQUIRES: query.page >= 1, 1 <=
  // query.page_size <= kMaxPageSize, query.cursor empty or accepted by
  // DecodeListCursor (the engine checks; ValidateEndpointQuery).
  virtual Result<Page<Endpoint>> ListEndpoints(const EndpointQuery& query) = 0;
  virtual Result<Message> GetMessage(const MessageId& id) = 0;
  virtual Result<Delivery> GetDelivery(const DeliveryId& id) = 0;
  // Newest first (created_at, then id, descending), filters ANDed. Cursor
  // pages must cost the same at any depth. REQUIRES: as ListEndpoints.
  virtual Result<Page<Delivery>> ListDeliveries(const DeliveryQuery& query) = 0;
  // Per-endpoint delivery counts by status and attempts, maintained as rows
  // change. NotFound for an unknown endpoint.
  virtual Result<EndpointCounters> GetCounters(const EndpointId& id) = 0;
  // Counts by status over all endpoints.
  virtual Result<EndpointCounters> GetTotals() = 0;
  virtual Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) = 0;

  // The stored buckets of one series with query.from <= minute < query.to,
  // oldest first; minutes never written are absent. REQUIRES: from and to
  // are multiples of kStatsMinute, from < to.
  virtual Result<std::vector<StatsBucket>> ReadStats(
      const StatsQuery& query) = 0;
  // NotFound for an unknown id.
  virtual Result<ReplayJob> GetReplayJob(const ReplayJobId& id) = 0;
  // Every job, newest first (created_at, then id), or only the running ones.
  virtual Result<std::vector<ReplayJob>> ListReplayJobs(bool running_only) = 0;

  // Start-up: calls on_endpoint for every endpoint (deleted ones included)
  // and on_delivery for every non-terminal delivery. Must not read the log.
  virtual Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) = 0;

  // ---- Cluster mode (see LeaseSync). Adapters one process owns (RocksDB)
  // keep the defaults; an adapter several nodes share implements all three.

  // Heartbeats sync.node_id and applies its renewals, releases and
  // acquisitions in ONE atomic step, then answers the whole table.
  // InvalidArgument for a bad request (empty node id, zero ttl, a
  // partition >= partitions), FailedPrecondition when the store was set up
  // with another partition count, Unavailable when unreachable. Default:
  // FailedPrecondition ("does not support partition leases").
  virtual Result<LeaseView> SyncLeases(const LeaseSync& sync);
  // Blocks until another store sharing this log may have appended
  // (PostgreSQL: LISTEN/NOTIFY) or `timeout` passes; early returns are
  // allowed. Default: sleeps `timeout`. Cluster-mode engines follow other
  // nodes' writes with ReadLog after each return.
  virtual void WaitForAppends(Duration timeout);
  // Every non-terminal delivery of `endpoints` (a partition just leased).
  // Default: through ListDeliveries.
  virtual Status LoadActiveOf(
      const std::vector<EndpointId>& endpoints,
      const std::function<void(const Delivery&)>& on_delivery);

  // Whether the store can be reached now (webhookd's /healthz): a round trip
  // for a server, OK for an embedded store (the default).
  virtual Status CheckHealth() { return Status::Ok(); }

  // Retention watermark: terminal deliveries created before this time may
  // have been removed (with their contributions to the counters and, once
  // no delivery row refers to it, their message). 0 (the default) means
  // nothing was ever removed. Lets VerifyStorage tell pruning from damage.
  virtual Timestamp PrunedBefore() const { return 0; }
};

// Forwards every call to `target` (not owned unless `owned`); override the
// methods a test wants to break. The model for fault injection.
class ForwardingStorage : public Storage {
 public:
  explicit ForwardingStorage(Storage* target) : target_(target) {}
  explicit ForwardingStorage(std::unique_ptr<Storage> owned)
      : target_(owned.get()), owned_(std::move(owned)) {}

  Result<uint64_t> Append(WriteBatch* batch) override {
    return target_->Append(batch);
  }
  uint64_t LastSequence() const override { return target_->LastSequence(); }
  Status ReadLog(uint64_t from_seq, size_t max_events,
                 std::vector<Event>* out) override {
    return target_->ReadLog(from_seq, max_events, out);
  }
  Result<Endpoint> GetEndpoint(const EndpointId& id) override {
    return target_->GetEndpoint(id);
  }
  Result<Page<Endpoint>> ListEndpoints(const EndpointQuery& q) override {
    return target_->ListEndpoints(q);
  }
  Result<Message> GetMessage(const MessageId& id) override {
    return target_->GetMessage(id);
  }
  Result<Delivery> GetDelivery(const DeliveryId& id) override {
    return target_->GetDelivery(id);
  }
  Result<Page<Delivery>> ListDeliveries(const DeliveryQuery& q) override {
    return target_->ListDeliveries(q);
  }
  Result<EndpointCounters> GetCounters(const EndpointId& id) override {
    return target_->GetCounters(id);
  }
  Result<EndpointCounters> GetTotals() override { return target_->GetTotals(); }
  Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) override {
    return target_->GetIdempotency(key);
  }
  Result<std::vector<StatsBucket>> ReadStats(const StatsQuery& q) override {
    return target_->ReadStats(q);
  }
  Result<ReplayJob> GetReplayJob(const ReplayJobId& id) override {
    return target_->GetReplayJob(id);
  }
  Result<std::vector<ReplayJob>> ListReplayJobs(bool running_only) override {
    return target_->ListReplayJobs(running_only);
  }
  Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) override {
    return target_->LoadActive(on_endpoint, on_delivery);
  }
  Timestamp PrunedBefore() const override { return target_->PrunedBefore(); }
  Result<LeaseView> SyncLeases(const LeaseSync& sync) override {
    return target_->SyncLeases(sync);
  }
  void WaitForAppends(Duration timeout) override {
    target_->WaitForAppends(timeout);
  }
  Status LoadActiveOf(
      const std::vector<EndpointId>& endpoints,
      const std::function<void(const Delivery&)>& on_delivery) override {
    return target_->LoadActiveOf(endpoints, on_delivery);
  }
  Status CheckHealth() override { return target_->CheckHealth(); }

  Storage* target() const { return target_; }

 private:
  Storage* target_;
  std::unique_ptr<Storage> owned_;
};

// A Storage held in memory: nothing survives the process. For tests and
// ephemeral embedding. It implements partition leases too (on `clock`,
// SystemClock() when null), so that several engines in one process can
// share it as a cluster (tests of cluster mode).
std::unique_ptr<Storage> NewMemoryStorage(std::shared_ptr<Clock> clock = {});

// A versioned binary encoding of a ReplayJob (every field), for adapters
// that keep the job as one value. Decode gives Corruption (never a crash)
// for truncated or malformed bytes.
std::string EncodeReplayJob(const ReplayJob& job);
Result<ReplayJob> DecodeReplayJob(std::string_view bytes);

// Opaque list cursors shared by adapters: (created_at, id) of the last row
// returned. Decode gives InvalidArgument for anything not produced by Encode.
std::string EncodeListCursor(Timestamp created_at, const Uuid128& id);
Status DecodeListCursor(std::string_view cursor, Timestamp* created_at,
                        Uuid128* id);

}  // namespace hooklog

#endif  // HOOKLOG_STORAGE_H_
