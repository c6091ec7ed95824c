// RocksDbStorage, the class behind OpenRocksDbStorage
// (include/hooklog/rocksdb_storage.h): the declaration its pieces share.
// Private to storage/rocksdb/.
//
//   key_layout.{h,cc}  what the keys' bytes are
//   info_log.{h,cc}    the RocksDB info LOG writer
//   open.cc            options, open, format/recovery checks, close
//   write.cc           Append: one batch -> one synced rocksdb::WriteBatch
//   queries.cc         Get*, List*, counters, ReadLog, LoadActive, stats
//   retention.cc       pruning of old terminal deliveries
//
// Write path: Append holds write_mu_ while it assigns the batch's
// sequences, reads the previous rows it replaces, builds ONE
// rocksdb::WriteBatch (events, rows, index maintenance, counters, last
// sequence) and writes it with one synced WAL write. Group commit is the
// engine Committer's job (one Append per merged batch), so the store keeps
// no queue of its own; concurrent Appends (tests, tools) simply take turns,
// which keeps every Append atomic and the log gapless. The pruner writes
// through the same lock, one short chunk at a time.
//
// Read path: plain Gets and iterators, no lock; list queries use a snapshot
// so that index entries and rows agree.
//
// Thread-safety: as Storage. The members below say which lock guards them.
// Ownership: owns the rocksdb::DB, its column family handles and the pruner
// thread; the destructor stops the pruner, syncs, flushes and closes.
#ifndef HOOKLOG_STORAGE_ROCKSDB_STORE_H_
#define HOOKLOG_STORAGE_ROCKSDB_STORE_H_

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hooklog/rocksdb_storage.h"
#include "hooklog/storage.h"
#include "storage/rocksdb/key_layout.h"

namespace hooklog::rocksdb_internal {

// Maps a RocksDB status onto hooklog's, prefixed with `what`.
inline Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  // A failed write (disk full, I/O error, DB in background-error read-only
  // mode) means "cannot accept writes now": the caller may retry later.
  return Status::Unavailable(std::move(msg));
}

// Decodes a fixed64 count value (last_seq, pruned, reference counts); a
// malformed one reads as 0, like a missing one. For ReadRow.
inline Status DecodeCount(std::string_view value, uint64_t* count) {
  *count = ParseFixed64Value(value);
  return Status::Ok();
}

// One pending write to a sorted column family (rows, index).
struct KeyOp {
  std::string key;
  std::string value;
  bool put;
};

class RocksDbStorage : public Storage {
 public:
  RocksDbStorage(std::string path, RocksDbOptions options);
  ~RocksDbStorage() override;

  // The store behind `storage` (as returned by OpenRocksDbStorage), or
  // InvalidArgument.
  static Result<RocksDbStorage*> From(Storage* storage);

  Status Open();

  Result<uint64_t> Append(WriteBatch* batch) override;
  uint64_t LastSequence() const override { return last_seq_.load(); }
  Status ReadLog(uint64_t from_seq, size_t max_events,
                 std::vector<Event>* out) override;
  Result<Endpoint> GetEndpoint(const EndpointId& id) override;
  Result<Page<Endpoint>> ListEndpoints(const EndpointQuery& query) override;
  Result<Message> GetMessage(const MessageId& id) override;
  Result<Delivery> GetDelivery(const DeliveryId& id) override;
  Result<Page<Delivery>> ListDeliveries(const DeliveryQuery& query) override;
  Result<EndpointCounters> GetCounters(const EndpointId& id) override;
  Result<EndpointCounters> GetTotals() override;
  Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) override;
  Result<std::vector<StatsBucket>> ReadStats(const StatsQuery& query) override;
  Result<ReplayJob> GetReplayJob(const ReplayJobId& id) override;
  Result<std::vector<ReplayJob>> ListReplayJobs(bool running_only) override;
  Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) override;

  Timestamp PrunedBefore() const override { return pruned_before_.load(); }

  Result<uint64_t> PruneOnce();
  Result<RocksDbStats> Stats();
  // Keys (puts and deletes, all families) of every rocksdb::WriteBatch
  // committed through Append or pruning since open: WriteBatch::Count()
  // summed. For tests and benchmarks (keys written per delivery).
  uint64_t KeysWritten() const {
    return keys_written_.load(std::memory_order_relaxed);
  }

 private:
  // What the write path needs of a non-terminal delivery's current row to
  // replace it: the fields its index and counter keys derive from.
  struct ActiveRow {
    MessageId message_id;
    EndpointId endpoint_id;
    std::string event_type;
    DeliveryStatus status = DeliveryStatus::kPending;
    uint32_t attempts = 0;
    Timestamp created_at = 0;
  };
  static ActiveRow ToActiveRow(const Delivery& d);
  // A Delivery holding only ActiveRow's fields (enough for PutDelivery).
  static Delivery FromActiveRow(const DeliveryId& id, const ActiveRow& r);

  // The rows of one write (an Append, or a pruning chunk) as they will be
  // after it, and the counters it touched. Published into the caches only
  // when the write succeeded. Starts from the committed sequence and totals
  // (REQUIRES: write_mu_ held for its whole life).
  struct WriteState {
    WriteState(uint64_t committed_seq, const EndpointCounters& committed_totals)
        : totals(committed_totals), seq(committed_seq) {}

    rocksdb::WriteBatch wb;  // log and meta families
    // Writes to the sorted families, emitted in key order by Commit.
    std::vector<KeyOp> row_ops, index_ops;
    std::unordered_map<DeliveryId, std::optional<Delivery>, IdHash> deliveries;
    // Previous rows read ahead with one MultiGet (ids not in the cache).
    std::unordered_map<DeliveryId, std::optional<Delivery>, IdHash> prefetched;
    std::unordered_map<EndpointId, std::optional<Endpoint>, IdHash> endpoints;
    std::unordered_map<EndpointId, EndpointCounters, IdHash> counters;
    EndpointCounters totals;
    uint64_t seq = 0;
    uint64_t pruned = 0;
    Timestamp pruned_before = 0;
  };

  rocksdb::ColumnFamilyHandle* log_cf() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* rows_cf() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* index_cf() const { return handles_[2]; }
  // Formats 1 and 2 only: the upgrade to format 4 empties it (the 'T'
  // index holds the non-terminal deliveries now); read only by LoadActive
  // of an old directory opened read-only.
  rocksdb::ColumnFamilyHandle* due_cf() const { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* meta_cf() const { return handles_[4]; }

  // open.cc
  Status MapOpenError(const rocksdb::Status& s) const;
  Status CheckMeta();
  // Format 1 or 2 -> 4: writes the entries format 4 adds for every
  // delivery row ('M' from format 1, 'T'), then, in one synced batch,
  // deletes the old status masks of 'D' and records format 4 (open.cc).
  Status UpgradeToFormat4(uint32_t from_version);

  // write.cc. REQUIRES: write_mu_ held.
  Status BuildWrite(WriteBatch* batch, WriteState* w);
  Status Prefetch(const WriteBatch& batch, WriteState* w);
  // Adds the batch's stats buckets to the stored ones.
  Status AddStats(const std::vector<StatsBucket>& stats, WriteState* w);
  // The delivery's current row as of this write. With `use_cache` a
  // non-terminal row may come back reduced to ActiveRow's fields.
  Status LoadDelivery(WriteState* w, const DeliveryId& id, bool use_cache,
                      std::optional<Delivery>* out);
  Status LoadEndpoint(WriteState* w, const EndpointId& id,
                      std::optional<Endpoint>* out);
  Status CountersFor(WriteState* w, const EndpointId& id,
                     EndpointCounters** out);
  // Whether a delivery row of `message` remains after `w` (its 'M'
  // entries, less those `w` deletes). For retention.
  Status MessageHasDeliveries(WriteState* w, const MessageId& message,
                              bool* out);
  // Replaces old_row by new_row (either may be null) in the rows, the list
  // indexes and the counters.
  Status PutDelivery(WriteState* w, const Delivery* old_row,
                     const Delivery* new_row);
  // Writes `w` with one (synced) DB::Write and publishes it into the caches.
  Status Commit(WriteState* w);
  // After a failed write (e.g. ENOSPC), RocksDB refuses every write until
  // DB::Resume() succeeds: try it before writing.
  Status ResumeIfNeeded();
  // `row` is committed (null: no row any more).
  void CacheActive(const DeliveryId& id, const Delivery* row);

  // Shared by reads and the write path. Reads `key` of `cf` and decodes it
  // with `decode` (Status(std::string_view, T*)); a missing key leaves *out
  // empty. Errors say "reading <what>".
  template <typename T, typename Decode>
  Status ReadRow(const rocksdb::ReadOptions& ro,
                 rocksdb::ColumnFamilyHandle* cf, const std::string& key,
                 Decode decode, std::string_view what, std::optional<T>* out);
  // One MultiGet of `keys` from the rows family; values and statuses are
  // resized to match.
  void MultiGetRows(const rocksdb::ReadOptions& ro,
                    const std::vector<std::string>& keys, bool sorted_input,
                    std::vector<rocksdb::PinnableSlice>* values,
                    std::vector<rocksdb::Status>* statuses);

  // queries.cc
  template <typename T>
  Result<T> GetRow(const std::string& key, const char* what,
                   Status (*decode)(std::string_view, T*),
                   const rocksdb::Snapshot* snapshot = nullptr);
  // The delivery rows named by `ids`, in order; a missing one means that
  // `index` (the index that named it) is damaged.
  Status MultiGetDeliveries(const rocksdb::ReadOptions& ro,
                            const std::vector<Uuid128>& ids, const char* index,
                            std::vector<Delivery>* out);

  // The page of a DeliveryQuery with message_id, from the 'M' index.
  Result<Page<Delivery>> ListMessageDeliveries(const DeliveryQuery& q);

  // retention.cc
  void PrunerLoop();
  // Removes stats buckets of minutes before `cutoff`, every series.
  Status PruneStats(Timestamp cutoff);

  const std::string path_;
  RocksDbOptions options_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // ours first, in order
  rocksdb::WriteOptions write_options_;

  std::atomic<uint64_t> last_seq_{0};
  std::atomic<uint64_t> keys_written_{0};

  // Held by Append while it builds and writes a batch, and by the pruner
  // for one chunk: the state below is only touched under it.
  std::mutex write_mu_;
  uint64_t committed_seq_ = 0;
  EndpointCounters totals_;
  uint64_t pruned_total_ = 0;
  std::unordered_map<EndpointId, EndpointCounters, IdHash> counters_cache_;
  // Non-terminal deliveries' ActiveRow (bounded by
  // RocksDbOptions::active_row_cache_entries), so that updating them needs
  // no read. Invariant: an entry equals the committed row's fields; a
  // missing entry says nothing (read the row).
  std::unordered_map<DeliveryId, ActiveRow, IdHash> active_cache_;
  uint64_t commit_generation_ = 0;  // bumped by every successful commit
  // A write failed; the next writer calls DB::Resume() first.
  bool needs_resume_ = false;
  std::atomic<Timestamp> pruned_before_{0};
  // False only for a format 1 directory opened read-only (not upgraded).
  bool has_message_index_ = true;
  // True only for a format 1/2 directory opened read-only (not upgraded):
  // status queries read the old 'D' masks with kByStatus, not 'T'.
  bool legacy_status_index_ = false;

  std::mutex prune_mu_;
  std::condition_variable prune_cv_;
  bool stopping_ = false;  // guarded by prune_mu_
  std::thread pruner_;
};

template <typename T, typename Decode>
Status RocksDbStorage::ReadRow(const rocksdb::ReadOptions& ro,
                               rocksdb::ColumnFamilyHandle* cf,
                               const std::string& key, Decode decode,
                               std::string_view what, std::optional<T>* out) {
  out->reset();
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(ro, cf, key, &value);
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return FromRocks(s, "reading " + std::string(what));
  T row;
  HOOKLOG_RETURN_IF_ERROR(decode(value.ToStringView(), &row));
  *out = std::move(row);
  return Status::Ok();
}

}  // namespace hooklog::rocksdb_internal

#endif  // HOOKLOG_STORAGE_ROCKSDB_STORE_H_
