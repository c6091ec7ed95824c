// The write path: Append turns one WriteBatch into ONE rocksdb::WriteBatch
// (events under their new sequence numbers, rows, index maintenance,
// counters, totals, last_seq) and writes it with one synced WAL write
// (docs/storage.md, "Write path").
//
// Why no queue here: the engine's Committer already merges every decision
// since its last write into one Append, from one thread. A second
// leader/follower queue in the adapter only added a hand-off per publish.
// Appends from elsewhere (tests, tools) take turns on write_mu_; that alone
// gives what the contract asks:
//   - atomicity: a batch is one rocksdb::WriteBatch, all or nothing;
//   - gapless sequences: assigned under the lock that commits, so seq N+1
//     can never be durable without seq N;
//   - index maintenance reads the previous rows without racing a writer.
#include <rocksdb/perf_level.h>
#include <rocksdb/slice.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "base/coding.h"
#include "storage/rocksdb/key_layout.h"
#include "storage/rocksdb/store.h"
#include "storage/row_codec.h"

namespace hooklog::rocksdb_internal {
namespace {

using storage_internal::BiasTimestamp;

// Emits `ops` into `wb` in key order, keeping only the last op per key (the
// result is what applying them in order would give). Why sorted: RocksDB's
// skiplist memtable reuses its insert "splice" between consecutive inserts,
// so keys that arrive in order are inserted near each other instead of
// searching the whole memtable from the top for every random key (which
// was 2/3 of the commit path's CPU; docs/storage.md, "Write path").
// The ops themselves stay put: an index of them is sorted (by key, then by
// position, so equal keys keep their order), which moves 4-byte numbers
// instead of two strings per op.
void EmitSorted(std::vector<KeyOp>* ops, rocksdb::ColumnFamilyHandle* cf,
                rocksdb::WriteBatch* wb) {
  const std::vector<KeyOp>& v = *ops;
  std::vector<uint32_t> order(v.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&v](uint32_t a, uint32_t b) {
    const int c = v[a].key.compare(v[b].key);
    return c < 0 || (c == 0 && a < b);
  });
  for (size_t i = 0; i < order.size(); ++i) {
    const KeyOp& op = v[order[i]];
    if (i + 1 < order.size() && v[order[i + 1]].key == op.key) continue;
    if (op.put) {
      wb->Put(cf, op.key, op.value);
    } else {
      wb->Delete(cf, op.key);
    }
  }
  ops->clear();
}

// The index family entries of a delivery row (format 4): its four 'D'
// keys, its 'M' key and its 'T' keys (valued with the event type, so that
// a status query filters by type without reading rows).
void IndexEntries(const Delivery& d, std::vector<KeyOp>* out) {
  for (std::string& k : DeliveryIndexKeys(d)) {
    out->push_back({std::move(k), {}, true});
  }
  out->push_back({MessageIndexKey(d), {}, true});
  for (std::string& k : StatusIndexKeys(d)) {
    out->push_back({std::move(k), d.event_type, true});
  }
}

void AddToCounters(EndpointCounters* c, const Delivery& d, int sign) {
  c->by_status[static_cast<int>(d.status)] += static_cast<uint64_t>(sign);
  c->attempts += static_cast<uint64_t>(sign) * d.attempts;
}

}  // namespace

RocksDbStorage::ActiveRow RocksDbStorage::ToActiveRow(const Delivery& d) {
  return ActiveRow{d.message_id, d.endpoint_id, d.event_type,
                   d.status,     d.attempts,    d.created_at};
}

Delivery RocksDbStorage::FromActiveRow(const DeliveryId& id,
                                       const ActiveRow& r) {
  Delivery d;
  d.id = id;
  d.message_id = r.message_id;
  d.endpoint_id = r.endpoint_id;
  d.event_type = r.event_type;
  d.status = r.status;
  d.attempts = r.attempts;
  d.created_at = r.created_at;
  return d;
}

Result<uint64_t> RocksDbStorage::Append(WriteBatch* batch) {
  if (options_.read_only) {
    return Status::FailedPrecondition("store " + path_ + " is open read-only");
  }
  // RocksDB's per-thread perf counters (PerfLevel::kEnableCount by
  // default) cost a thread-local lookup through __tls_get_addr on every
  // memtable key comparison: 9 % of the commit path's instructions under
  // callgrind (bench/RESULTS.md). Nothing reads them; turn them off for
  // the thread that appends.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::lock_guard<std::mutex> lock(write_mu_);
  WriteState w(committed_seq_, totals_);
  HOOKLOG_RETURN_IF_ERROR(BuildWrite(batch, &w));
  HOOKLOG_RETURN_IF_ERROR(Commit(&w));
  return w.seq;
}

void RocksDbStorage::MultiGetRows(const rocksdb::ReadOptions& ro,
                                  const std::vector<std::string>& keys,
                                  bool sorted_input,
                                  std::vector<rocksdb::PinnableSlice>* values,
                                  std::vector<rocksdb::Status>* statuses) {
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  values->clear();
  values->resize(keys.size());
  statuses->assign(keys.size(), rocksdb::Status());
  db_->MultiGet(ro, rows_cf(), keys.size(), slices.data(), values->data(),
                statuses->data(), sorted_input);
}

Status RocksDbStorage::LoadDelivery(WriteState* w, const DeliveryId& id,
                                    bool use_cache,
                                    std::optional<Delivery>* out) {
  if (auto it = w->deliveries.find(id); it != w->deliveries.end()) {
    *out = it->second;
    return Status::Ok();
  }
  if (use_cache) {
    if (auto it = active_cache_.find(id); it != active_cache_.end()) {
      *out = FromActiveRow(id, it->second);
      return Status::Ok();
    }
    if (auto it = w->prefetched.find(id); it != w->prefetched.end()) {
      *out = it->second;
      return Status::Ok();
    }
  }
  return ReadRow(rocksdb::ReadOptions(), rows_cf(), RowKey(kRowDelivery, id),
                 storage_internal::DecodeDeliveryRow,
                 "delivery " + id.ToString(), out);
}

Status RocksDbStorage::LoadEndpoint(WriteState* w, const EndpointId& id,
                                    std::optional<Endpoint>* out) {
  if (auto it = w->endpoints.find(id); it != w->endpoints.end()) {
    *out = it->second;
    return Status::Ok();
  }
  return ReadRow(rocksdb::ReadOptions(), rows_cf(), RowKey(kRowEndpoint, id),
                 storage_internal::DecodeEndpointRow,
                 "endpoint " + id.ToString(), out);
}

// Reads ahead, with one MultiGet, the previous rows of the batch's
// deliveries that the cache does not hold. New deliveries are misses
// answered by the Bloom filters. (The adapter does not interpret events, so
// "new" is found out by looking, not by the event type.)
Status RocksDbStorage::Prefetch(const WriteBatch& batch, WriteState* w) {
  std::vector<DeliveryId> ids;
  for (const Delivery& d : batch.deliveries) {
    if (active_cache_.count(d.id) || w->prefetched.count(d.id)) continue;
    w->prefetched.emplace(d.id, std::nullopt);
    ids.push_back(d.id);
  }
  // MultiGet wants its keys sorted; ids and their big-endian keys sort alike.
  std::sort(ids.begin(), ids.end());
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  if (!ids.empty()) {
    MultiGetRows(rocksdb::ReadOptions(), RowKeys(kRowDelivery, ids),
                 /*sorted_input=*/true, &values, &statuses);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      if (!statuses[i].ok()) {
        return FromRocks(statuses[i], "reading delivery " + ids[i].ToString());
      }
      Delivery d;
      HOOKLOG_RETURN_IF_ERROR(
          storage_internal::DecodeDeliveryRow(values[i].ToStringView(), &d));
      w->prefetched[ids[i]] = std::move(d);
    }
  }
  return Status::Ok();
}

Status RocksDbStorage::CountersFor(WriteState* w, const EndpointId& id,
                                   EndpointCounters** out) {
  auto it = w->counters.find(id);
  if (it == w->counters.end()) {
    EndpointCounters c;
    if (auto cached = counters_cache_.find(id);
        cached != counters_cache_.end()) {
      c = cached->second;
    } else {
      std::optional<EndpointCounters> stored;
      HOOKLOG_RETURN_IF_ERROR(ReadRow(rocksdb::ReadOptions(), rows_cf(),
                                      RowKey(kRowCounters, id),
                                      storage_internal::DecodeCounters,
                                      "counters of " + id.ToString(), &stored));
      if (stored) c = *stored;
    }
    it = w->counters.emplace(id, c).first;
  }
  *out = &it->second;
  return Status::Ok();
}

Status RocksDbStorage::PutDelivery(WriteState* w, const Delivery* old_row,
                                   const Delivery* new_row) {
  // Every index entry of the old row that the new row does not have (same
  // key and value) is deleted, every new one written; the rest stay put.
  // In format 4 the 'D' and 'M' entries only change when the row is first
  // stored or removed, and a status change touches at most the two 'T'
  // entries of each status (none for `delivered`).
  std::vector<KeyOp> old_entries, new_entries;
  if (old_row != nullptr && new_row != nullptr &&
      old_row->message_id == new_row->message_id &&
      old_row->endpoint_id == new_row->endpoint_id &&
      old_row->event_type == new_row->event_type &&
      old_row->created_at == new_row->created_at) {
    // The common update (a status change, another attempt): the 'D' and
    // 'M' keys derive only from these fields, so they are the same and
    // need not be built to be compared; only the 'T' entries can differ.
    if (old_row->status != new_row->status) {
      for (std::string& k : StatusIndexKeys(*old_row)) {
        old_entries.push_back({std::move(k), old_row->event_type, true});
      }
      for (std::string& k : StatusIndexKeys(*new_row)) {
        new_entries.push_back({std::move(k), new_row->event_type, true});
      }
    }
  } else {
    if (old_row != nullptr) IndexEntries(*old_row, &old_entries);
    if (new_row != nullptr) IndexEntries(*new_row, &new_entries);
  }
  auto contains = [](const std::vector<KeyOp>& entries, const KeyOp& e,
                     bool same_value) {
    return std::any_of(entries.begin(), entries.end(), [&](const KeyOp& o) {
      return o.key == e.key && (!same_value || o.value == e.value);
    });
  };
  for (KeyOp& e : old_entries) {
    if (!contains(new_entries, e, /*same_value=*/false)) {
      w->index_ops.push_back({std::move(e.key), {}, false});
    }
  }
  for (KeyOp& e : new_entries) {
    if (!contains(old_entries, e, /*same_value=*/true)) {
      w->index_ops.push_back(std::move(e));
    }
  }
  EndpointCounters* c = nullptr;
  if (old_row != nullptr) {
    HOOKLOG_RETURN_IF_ERROR(CountersFor(w, old_row->endpoint_id, &c));
    AddToCounters(c, *old_row, -1);
    AddToCounters(&w->totals, *old_row, -1);
  }
  if (new_row != nullptr) {
    HOOKLOG_RETURN_IF_ERROR(CountersFor(w, new_row->endpoint_id, &c));
    AddToCounters(c, *new_row, +1);
    AddToCounters(&w->totals, *new_row, +1);
  }
  if (new_row != nullptr) {
    w->row_ops.push_back({RowKey(kRowDelivery, new_row->id),
                          storage_internal::EncodeDeliveryRow(*new_row), true});
    w->deliveries[new_row->id] = *new_row;
  } else if (old_row != nullptr) {
    w->row_ops.push_back({RowKey(kRowDelivery, old_row->id), {}, false});
    w->deliveries[old_row->id] = std::nullopt;
  }
  return Status::Ok();
}

Status RocksDbStorage::BuildWrite(WriteBatch* batch, WriteState* w) {
  HOOKLOG_RETURN_IF_ERROR(Prefetch(*batch, w));
  for (Event& e : batch->events) {
    e.seq = ++w->seq;
    w->wb.Put(log_cf(), SeqKey(e.seq), EncodeEvent(e));
  }
  for (const Endpoint& e : batch->endpoints) {
    std::optional<Endpoint> old;
    HOOKLOG_RETURN_IF_ERROR(LoadEndpoint(w, e.id, &old));
    const std::string new_key = EndpointIndexKey(e);
    if (old) {
      const std::string old_key = EndpointIndexKey(*old);
      if (old_key != new_key) w->index_ops.push_back({old_key, {}, false});
    }
    w->index_ops.push_back({new_key, {}, true});
    w->row_ops.push_back({RowKey(kRowEndpoint, e.id),
                          storage_internal::EncodeEndpointRow(e), true});
    w->endpoints[e.id] = e;
  }
  for (const Message& m : batch->messages) {
    w->row_ops.push_back({RowKey(kRowMessage, m.id),
                          storage_internal::EncodeMessageRow(m), true});
  }
  for (const Delivery& d : batch->deliveries) {
    std::optional<Delivery> old;
    HOOKLOG_RETURN_IF_ERROR(LoadDelivery(w, d.id, /*use_cache=*/true, &old));
    HOOKLOG_RETURN_IF_ERROR(PutDelivery(w, old ? &*old : nullptr, &d));
  }
  for (const IdempotencyRecord& rec : batch->idempotency) {
    w->row_ops.push_back({IdempotencyKey(rec.key),
                          storage_internal::EncodeIdempotencyRow(rec), true});
  }
  for (const ReplayJob& j : batch->replay_jobs) {
    w->row_ops.push_back(
        {RowKey(kRowReplayJob, j.id.raw()), EncodeReplayJob(j), true});
  }
  return AddStats(batch->stats, w);
}

// Read-modify-write of the batch's buckets, under write_mu_ like every
// other row of the batch. Why not a merge operator: the store would need it
// registered before any open (also by older tools reading the directory),
// reads would have to merge operands, and the engine already sums a batch's
// attempts per (endpoint, minute), so a batch touches a handful of buckets:
// one MultiGet of those keys (nearly always in the memtable or block cache,
// since they are the current minute's) is cheap.
Status RocksDbStorage::AddStats(const std::vector<StatsBucket>& stats,
                                WriteState* w) {
  if (stats.empty()) return Status::Ok();
  std::map<std::string, StatsCounts> sums;  // sorted keys for MultiGet
  for (const StatsBucket& b : stats) {
    sums[StatsKey(b.endpoint_id, b.minute)].Add(b.counts);
  }
  std::vector<std::string> keys;
  keys.reserve(sums.size());
  for (const auto& [k, c] : sums) keys.push_back(k);
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  MultiGetRows(rocksdb::ReadOptions(), keys, /*sorted_input=*/true, &values,
               &statuses);
  size_t i = 0;
  for (auto& [k, c] : sums) {
    if (statuses[i].ok()) {
      StatsCounts stored;
      HOOKLOG_RETURN_IF_ERROR(
          storage_internal::DecodeStatsRow(values[i].ToStringView(), &stored));
      c.Add(stored);
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks(statuses[i], "reading stats");
    }
    w->row_ops.push_back({k, storage_internal::EncodeStatsRow(c), true});
    ++i;
  }
  return Status::Ok();
}

Status RocksDbStorage::Commit(WriteState* w) {
  for (const auto& [id, c] : w->counters) {
    w->row_ops.push_back(
        {RowKey(kRowCounters, id), storage_internal::EncodeCounters(c), true});
  }
  EmitSorted(&w->row_ops, rows_cf(), &w->wb);
  EmitSorted(&w->index_ops, index_cf(), &w->wb);
  w->wb.Put(meta_cf(), kMetaTotals,
            storage_internal::EncodeCounters(w->totals));
  if (w->seq != committed_seq_) {
    w->wb.Put(meta_cf(), kMetaLastSeq, Fixed64Value(w->seq));
  }
  if (w->pruned > 0) {
    w->wb.Put(meta_cf(), kMetaPruned, Fixed64Value(pruned_total_ + w->pruned));
  }
  const Timestamp pruned_before = std::max(w->pruned_before, PrunedBefore());
  if (pruned_before != PrunedBefore()) {
    w->wb.Put(meta_cf(), kMetaPrunedBefore,
              Fixed64Value(BiasTimestamp(pruned_before)));
  }
  HOOKLOG_RETURN_IF_ERROR(ResumeIfNeeded());
  rocksdb::Status s = db_->Write(write_options_, &w->wb);
  if (!s.ok()) {
    // Nothing of this batch is visible (RocksDB inserts into the memtables
    // only after the WAL write succeeded); the caches stay as they were.
    needs_resume_ = true;
    return FromRocks(s, "appending to " + path_);
  }
  // Durable: publish the new state.
  keys_written_.fetch_add(w->wb.Count(), std::memory_order_relaxed);
  ++commit_generation_;
  for (auto& [id, c] : w->counters) counters_cache_[id] = c;
  for (const auto& [id, row] : w->deliveries) {
    CacheActive(id, row ? &*row : nullptr);
  }
  pruned_before_ = pruned_before;
  totals_ = w->totals;
  pruned_total_ += w->pruned;
  committed_seq_ = w->seq;
  last_seq_.store(w->seq);
  return Status::Ok();
}

Status RocksDbStorage::ResumeIfNeeded() {
  if (!needs_resume_) return Status::Ok();
  // Resume() flushes the memtables (the WAL after a failed write cannot be
  // trusted) and clears the background error; on a disk that is still
  // full it fails again and the store stays read-only until the next try.
  rocksdb::Status s = db_->Resume();
  if (!s.ok()) {
    return FromRocks(
        s, "storage " + path_ + " is read-only after a failed write; resuming");
  }
  needs_resume_ = false;
  return Status::Ok();
}

void RocksDbStorage::CacheActive(const DeliveryId& id, const Delivery* row) {
  if (row == nullptr || IsTerminal(row->status)) {
    active_cache_.erase(id);
    return;
  }
  if (auto it = active_cache_.find(id); it != active_cache_.end()) {
    it->second = ToActiveRow(*row);
  } else if (active_cache_.size() < options_.active_row_cache_entries) {
    active_cache_.emplace(id, ToActiveRow(*row));
  }
}

}  // namespace hooklog::rocksdb_internal
