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

  Storage* target() const { return target_; }

 private:
  Storage* target_;
  std::unique_ptr<Storage> owned_;
};

// A Storage held in memory: nothing survives the process. For tests and
// ephemeral embedding.
std::unique_ptr<Storage> NewMemoryStorage();

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
