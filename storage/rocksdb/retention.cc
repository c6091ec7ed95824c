// Retention: removes terminal deliveries whose last activity is older than
// RocksDbOptions::retention, with their index entries, their contribution
// to the counters and, once no delivery row refers to it, their message
// (docs/storage.md, "Retention").
//
// Why in chunks: each chunk of candidates is one short critical section on
// write_mu_ and one atomic write (through the same Commit as Append), so
// appends interleave with a long pass instead of waiting for it, and a
// crash mid-pass leaves a consistent store. The log is never rewritten;
// each chunk records the watermark that tells VerifyStorage pruning from
// damage (Storage::PrunedBefore).
#include <rocksdb/db.h>

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "storage/rocksdb/key_layout.h"
#include "storage/rocksdb/store.h"

namespace hooklog {
namespace rocksdb_internal {

// The 'M' index names every delivery row of a message, so it is also the
// reference count that tells when the payload may go (format 4; formats
// 1-2 kept a count row per message, written with every new delivery).
// Under write_mu_ the store holds exactly the committed state; the
// entries this chunk deletes are still pending in `w`.
Status RocksDbStorage::MessageHasDeliveries(WriteState* w,
                                            const MessageId& message,
                                            bool* out) {
  std::unordered_set<std::string_view> deleted;
  for (const KeyOp& op : w->index_ops) {
    if (!op.put) deleted.insert(op.key);
  }
  const std::string prefix = MessageIndexPrefix(message);
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_cf()));
  *out = false;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    if (!deleted.count(it->key().ToStringView())) {
      *out = true;
      break;
    }
  }
  return FromRocks(it->status(), "pruning");
}

Result<uint64_t> RocksDbStorage::PruneOnce() {
  if (options_.read_only) {
    return Status::FailedPrecondition("store " + path_ + " is open read-only");
  }
  if (options_.retention.count() <= 0) return uint64_t{0};
  const Timestamp cutoff = options_.clock->Now() - options_.retention.count();
  // Walk the all-deliveries index from the oldest end. Rows created at or
  // after the cutoff cannot be old enough, so the walk stops there.
  const std::string prefix = DeliveryIndexPrefix(0, nullptr, nullptr, nullptr);
  const std::string upper = PrefixSuccessor(prefix);
  uint64_t pruned = 0;
  std::string resume = upper;  // exclusive upper end of the next chunk
  constexpr size_t kChunk = 256;
  for (;;) {
    std::vector<DeliveryId> candidates;
    {
      rocksdb::ReadOptions ro;
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_cf()));
      it->SeekForPrev(resume);
      if (it->Valid() && it->key().ToStringView() == resume) it->Prev();
      for (; it->Valid() && candidates.size() < kChunk; it->Prev()) {
        std::string_view key = it->key().ToStringView();
        if (key.compare(0, prefix.size(), prefix) != 0 ||
            key.size() != prefix.size() + kOrderSuffixBytes) {
          break;
        }
        Timestamp ts;
        Uuid128 id;
        ParseOrderSuffix(key, &ts, &id);
        if (ts >= cutoff) break;
        candidates.push_back(DeliveryId(id));
        resume.assign(key);
      }
      HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "pruning"));
    }
    if (candidates.empty()) break;
    {
      std::lock_guard<std::mutex> wl(write_mu_);
      WriteState w(committed_seq_, totals_);
      std::vector<MessageId> messages;  // of the pruned rows
      for (const DeliveryId& id : candidates) {
        // The index was read without the lock: decide on the current row.
        std::optional<Delivery> old;
        HOOKLOG_RETURN_IF_ERROR(
            LoadDelivery(&w, id, /*use_cache=*/false, &old));
        if (!old || !IsTerminal(old->status)) continue;
        const Timestamp last_activity =
            std::max(old->created_at, old->last_attempted_at);
        if (last_activity >= cutoff) continue;
        HOOKLOG_RETURN_IF_ERROR(PutDelivery(&w, &*old, nullptr));
        ++w.pruned;
        messages.push_back(old->message_id);
      }
      // A message's payload goes with its last delivery row.
      std::sort(messages.begin(), messages.end());
      messages.erase(std::unique(messages.begin(), messages.end()),
                     messages.end());
      for (const MessageId& m : messages) {
        bool remains = false;
        HOOKLOG_RETURN_IF_ERROR(MessageHasDeliveries(&w, m, &remains));
        if (!remains) w.row_ops.push_back({RowKey(kRowMessage, m), {}, false});
      }
      // Pruned rows were created before `cutoff` (their last activity is).
      w.pruned_before = cutoff;
      if (w.pruned > 0) {
        HOOKLOG_RETURN_IF_ERROR(Commit(&w));
        pruned += w.pruned;
      }
    }
    if (candidates.size() < kChunk) break;
  }
  HOOKLOG_RETURN_IF_ERROR(PruneStats(cutoff));
  return pruned;
}

// Stats buckets older than the retention window go too (a chart never
// reaches further back than the deliveries it counts). Each series' buckets
// are contiguous and oldest first, so the walk deletes a series' old
// prefix and then seeks straight to the next series.
Status RocksDbStorage::PruneStats(Timestamp cutoff) {
  const std::string prefix(1, kRowStats);
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, rows_cf()));
  std::vector<std::string> doomed;
  auto flush = [&]() -> Status {
    if (doomed.empty()) return Status::Ok();
    rocksdb::WriteBatch wb;
    for (const std::string& k : doomed) wb.Delete(rows_cf(), k);
    doomed.clear();
    // The write lock orders this after any Append that adds to a bucket.
    std::lock_guard<std::mutex> wl(write_mu_);
    HOOKLOG_RETURN_IF_ERROR(ResumeIfNeeded());
    rocksdb::Status st = db_->Write(write_options_, &wb);
    if (!st.ok()) needs_resume_ = true;
    return FromRocks(st, "pruning stats of " + path_);
  };
  it->Seek(prefix);
  while (it->Valid()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() < 2 + 8) {
      return Status::Corruption("malformed stats key in " + path_);
    }
    if (ParseStatsKeyMinute(key) < cutoff) {
      doomed.emplace_back(key);
      if (doomed.size() >= 1024) HOOKLOG_RETURN_IF_ERROR(flush());
      it->Next();
      continue;
    }
    it->Seek(PrefixSuccessor(std::string(key.substr(0, key.size() - 8))));
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "pruning stats"));
  return flush();
}

void RocksDbStorage::PrunerLoop() {
  std::unique_lock<std::mutex> lock(prune_mu_);
  while (!stopping_) {
    prune_cv_.wait_for(lock, options_.prune_interval,
                       [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // Errors are retried on the next pass; the store keeps serving.
    (void)PruneOnce();
    lock.lock();
  }
}

}  // namespace rocksdb_internal

Result<uint64_t> PruneRocksDbStorage(Storage* storage) {
  auto s = rocksdb_internal::RocksDbStorage::From(storage);
  if (!s.ok()) return s.status();
  return (*s)->PruneOnce();
}

}  // namespace hooklog
