// The read side of the RocksDB store: point reads, the log, list queries,
// counters, start-up loading and statistics. No lock is taken: RocksDB
// reads are thread-safe, and list queries read under a snapshot so that the
// index entries they scan and the rows they fetch agree.
//
// Lists are range scans of the index family (key_layout.h): the equality
// filters of a DeliveryQuery choose the index (ListDeliveries says which),
// created_before is the seek key, created_after the stop condition, and a
// cursor is a seek to the key after it, so a cursor page costs the same at
// any depth.
#include <rocksdb/slice.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

#include "base/coding.h"
#include "storage/query_match.h"
#include "storage/rocksdb/key_layout.h"
#include "storage/rocksdb/store.h"
#include "storage/row_codec.h"

namespace hooklog {
namespace rocksdb_internal {
namespace {

using storage_internal::BiasTimestamp;
using storage_internal::PutBigEndian64;

// RAII snapshot.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), s_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(s_); }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  const rocksdb::Snapshot* get() const { return s_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* s_;
};

// An iterator over the keys of `cf` that start with `prefix`, as of
// `snapshot`: RocksDB stops at the prefix's end (iterate_upper_bound), so
// no loop has to test the prefix. Not movable: RocksDB keeps a pointer to
// the bound.
class PrefixIterator {
 public:
  PrefixIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                 const rocksdb::Snapshot* snapshot, const std::string& prefix)
      : upper_(PrefixSuccessor(prefix)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
  }
  PrefixIterator(const PrefixIterator&) = delete;
  PrefixIterator& operator=(const PrefixIterator&) = delete;

  rocksdb::Iterator* get() const { return it_.get(); }
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  const std::string upper_;
  const rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Positions `it` on the first index key of a list page: at `start`, or,
// with a cursor, strictly after the cursor's key (which sorts after
// `start` whenever it can match). Keys are newest first.
void SeekPageStart(rocksdb::Iterator* it, const std::string& prefix,
                   const std::string& start, const std::string& cursor,
                   Timestamp cursor_ts, const Uuid128& cursor_id) {
  std::string from = start;
  bool skip_equal = false;
  if (!cursor.empty()) {
    std::string cursor_key = prefix;
    PutOrderSuffix(&cursor_key, cursor_ts, cursor_id);
    // Resume strictly after the cursor, but never before `start`.
    if (cursor_key > from) {
      from = std::move(cursor_key);
      skip_equal = true;
    }
  }
  it->Seek(from);
  if (skip_equal && it->Valid() && it->key().ToStringView() == from) {
    it->Next();
  }
}

}  // namespace

template <typename T>
Result<T> RocksDbStorage::GetRow(const std::string& key, const char* what,
                                 Status (*decode)(std::string_view, T*),
                                 const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::optional<T> row;
  HOOKLOG_RETURN_IF_ERROR(ReadRow(ro, rows_cf(), key, decode, what, &row));
  if (!row) return Status::NotFound(std::string(what) + " not found");
  return std::move(*row);
}

Status RocksDbStorage::MultiGetDeliveries(const rocksdb::ReadOptions& ro,
                                          const std::vector<Uuid128>& ids,
                                          const char* index,
                                          std::vector<Delivery>* out) {
  if (ids.empty()) return Status::Ok();
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  MultiGetRows(ro, RowKeys(kRowDelivery, ids), /*sorted_input=*/false, &values,
               &statuses);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!statuses[i].ok()) {
      return Status::Corruption(std::string(index) + " of " + path_ +
                                " names a missing delivery " +
                                ids[i].ToString());
    }
    Delivery d;
    HOOKLOG_RETURN_IF_ERROR(
        storage_internal::DecodeDeliveryRow(values[i].ToStringView(), &d));
    out->push_back(std::move(d));
  }
  return Status::Ok();
}

Status RocksDbStorage::ReadLog(uint64_t from_seq, size_t max_events,
                               std::vector<Event>* out) {
  // Appends (storage.h): existing elements of *out are kept.
  if (from_seq == 0) from_seq = 1;
  const size_t limit =
      out->size() + std::min(max_events, SIZE_MAX - out->size());
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), log_cf()));
  for (it->Seek(SeqKey(from_seq)); it->Valid() && out->size() < limit;
       it->Next()) {
    const uint64_t seq = ParseSeqKey(it->key().ToStringView());
    auto event = DecodeEvent(it->value().ToStringView());
    if (!event.ok()) {
      return Status::Corruption("log of " + path_ + " at seq " +
                                std::to_string(seq) + ": " +
                                event.status().message());
    }
    if (event->seq != seq) {
      return Status::Corruption("log of " + path_ + ": key seq " +
                                std::to_string(seq) + " holds event seq " +
                                std::to_string(event->seq));
    }
    out->push_back(std::move(*event));
  }
  return FromRocks(it->status(), "reading the log of " + path_);
}

Result<Endpoint> RocksDbStorage::GetEndpoint(const EndpointId& id) {
  return GetRow<Endpoint>(RowKey(kRowEndpoint, id), "endpoint",
                          storage_internal::DecodeEndpointRow);
}

Result<Message> RocksDbStorage::GetMessage(const MessageId& id) {
  return GetRow<Message>(RowKey(kRowMessage, id), "message",
                         storage_internal::DecodeMessageRow);
}

Result<Delivery> RocksDbStorage::GetDelivery(const DeliveryId& id) {
  return GetRow<Delivery>(RowKey(kRowDelivery, id), "delivery",
                          storage_internal::DecodeDeliveryRow);
}

Result<std::optional<IdempotencyRecord>> RocksDbStorage::GetIdempotency(
    std::string_view key) {
  auto r = GetRow<IdempotencyRecord>(IdempotencyKey(key), "idempotency key",
                                     storage_internal::DecodeIdempotencyRow);
  if (r.ok()) return std::optional<IdempotencyRecord>(std::move(*r));
  if (r.status().IsNotFound()) return std::optional<IdempotencyRecord>();
  return r.status();
}

Result<EndpointCounters> RocksDbStorage::GetCounters(const EndpointId& id) {
  // One snapshot: the endpoint and its counters as of the same commit.
  ScopedSnapshot snap(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  rocksdb::PinnableSlice endpoint;
  rocksdb::Status s =
      db_->Get(ro, rows_cf(), RowKey(kRowEndpoint, id), &endpoint);
  if (s.IsNotFound()) {
    return Status::NotFound("endpoint " + id.ToString() + " not found");
  }
  if (!s.ok()) return FromRocks(s, "reading counters");
  std::optional<EndpointCounters> c;
  HOOKLOG_RETURN_IF_ERROR(ReadRow(ro, rows_cf(), RowKey(kRowCounters, id),
                                  storage_internal::DecodeCounters, "counters",
                                  &c));
  return c.value_or(EndpointCounters{});
}

Result<EndpointCounters> RocksDbStorage::GetTotals() {
  std::optional<EndpointCounters> c;
  HOOKLOG_RETURN_IF_ERROR(ReadRow(rocksdb::ReadOptions(), meta_cf(),
                                  kMetaTotals, storage_internal::DecodeCounters,
                                  "totals", &c));
  return c.value_or(EndpointCounters{});
}

// A message has few deliveries (one per endpoint, plus replays): read them
// all from its 'M' index entries and filter, count and page in memory.
Result<Page<Delivery>> RocksDbStorage::ListMessageDeliveries(
    const DeliveryQuery& q) {
  Timestamp cursor_ts = 0;
  Uuid128 cursor_id;
  if (!q.cursor.empty()) {
    HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cursor_ts, &cursor_id));
  }
  if (!has_message_index_) {
    return Status::FailedPrecondition(
        "store " + path_ +
        " (format 1) opened read-only has no message index yet; open it "
        "read-write once to upgrade it");
  }
  ScopedSnapshot snap(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  const std::string prefix = MessageIndexPrefix(*q.message_id);
  std::vector<Uuid128> ids;
  {
    PrefixIterator it(db_, index_cf(), snap.get(), prefix);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (it->key().size() != prefix.size() + kOrderSuffixBytes) {
        return Status::Corruption("malformed message index key in " + path_);
      }
      Timestamp ts;
      Uuid128 id;
      ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
      ids.push_back(id);
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "listing deliveries"));
  }
  std::vector<Delivery> rows;
  HOOKLOG_RETURN_IF_ERROR(MultiGetDeliveries(ro, ids, "message index", &rows));
  Page<Delivery> page;
  uint64_t to_skip = q.cursor.empty() ? uint64_t{q.page - 1} * q.page_size : 0;
  for (Delivery& d : rows) {  // newest first, as the index
    if ((q.endpoint_id && d.endpoint_id != *q.endpoint_id) ||
        (q.status && d.status != *q.status) ||
        (q.event_type && d.event_type != *q.event_type) ||
        (q.created_after && d.created_at < *q.created_after) ||
        (q.created_before && d.created_at > *q.created_before)) {
      continue;
    }
    ++page.total_count;
    if (!q.cursor.empty() && std::make_pair(d.created_at, d.id.raw()) >=
                                 std::make_pair(cursor_ts, cursor_id)) {
      continue;
    }
    if (to_skip > 0) {
      --to_skip;
      continue;
    }
    if (page.items.size() < q.page_size) {
      page.items.push_back(std::move(d));
    } else if (page.next_cursor.empty()) {
      page.next_cursor = EncodeListCursor(page.items.back().created_at,
                                          page.items.back().id.raw());
    }
  }
  if (!q.count_total) page.total_count = 0;
  return page;
}

Result<std::vector<StatsBucket>> RocksDbStorage::ReadStats(
    const StatsQuery& q) {
  const std::string prefix = StatsSeriesPrefix(q.endpoint_id);
  const std::string end = StatsKey(q.endpoint_id, q.to);
  ScopedSnapshot snap(db_);
  PrefixIterator it(db_, rows_cf(), snap.get(), prefix);
  std::vector<StatsBucket> out;
  for (it->Seek(StatsKey(q.endpoint_id, q.from));
       it->Valid() && it->key().ToStringView() < end; it->Next()) {
    if (it->key().size() != prefix.size() + 8) {
      return Status::Corruption("malformed stats key in " + path_);
    }
    StatsBucket b;
    b.endpoint_id = q.endpoint_id;
    b.minute = ParseStatsKeyMinute(it->key().ToStringView());
    HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeStatsRow(
        it->value().ToStringView(), &b.counts));
    out.push_back(std::move(b));
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "reading stats"));
  return out;
}

Result<ReplayJob> RocksDbStorage::GetReplayJob(const ReplayJobId& id) {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rows_cf(),
                               RowKey(kRowReplayJob, id.raw()), &value);
  if (s.IsNotFound()) {
    return Status::NotFound("replay job " + id.ToString() + " not found");
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(s, "reading replay job"));
  return DecodeReplayJob(value.ToStringView());
}

// Jobs are few (an operator starts them): one scan of their rows.
Result<std::vector<ReplayJob>> RocksDbStorage::ListReplayJobs(
    bool running_only) {
  const std::string prefix(1, kRowReplayJob);
  ScopedSnapshot snap(db_);
  PrefixIterator it(db_, rows_cf(), snap.get(), prefix);
  std::vector<ReplayJob> out;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    auto j = DecodeReplayJob(it->value().ToStringView());
    if (!j.ok()) return j.status();
    if (!running_only || j->state == ReplayJobState::kRunning) {
      out.push_back(std::move(*j));
    }
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "listing replay jobs"));
  std::sort(out.begin(), out.end(), [](const ReplayJob& a, const ReplayJob& b) {
    return std::tie(b.created_at, b.id) < std::tie(a.created_at, a.id);
  });
  return out;
}

// Which index a DeliveryQuery walks (format 4; docs/storage.md):
//   - no status: the 'D' index of its endpoint/type filters, exactly the
//     matching entries;
//   - a status with a status index (all but `delivered`): 'T' by status, or
//     by (status, endpoint), skipping entries of another event type by the
//     entry's value (no row read);
//   - `delivered`: the 'D' index of its endpoint/type filters, skipping
//     rows of another status (rows read in chunks with MultiGet). Most
//     deliveries end delivered, so few are skipped;
//   - a format 1/2 directory opened read-only: its 'D' index with the
//     status bit, exactly the matching entries.
// In every case the page starts with a seek (created_before, or the key
// after the cursor), so a cursor page costs the same at any depth.
Result<Page<Delivery>> RocksDbStorage::ListDeliveries(const DeliveryQuery& q) {
  if (q.message_id) return ListMessageDeliveries(q);
  Timestamp cursor_ts = 0;
  Uuid128 cursor_id;
  if (!q.cursor.empty()) {
    HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cursor_ts, &cursor_id));
  }
  const EndpointId* endpoint = q.endpoint_id ? &*q.endpoint_id : nullptr;
  const std::string* type = q.event_type ? &*q.event_type : nullptr;
  std::string prefix;
  const std::string* value_must_equal = nullptr;  // 'T' entries: the type
  std::optional<DeliveryStatus> row_status;       // filter rows by status
  if (q.status && legacy_status_index_) {
    uint8_t mask = kByStatus;
    if (endpoint) mask |= kByEndpoint;
    if (type) mask |= kByType;
    prefix = DeliveryIndexPrefix(mask, endpoint, &*q.status, type);
  } else if (q.status && HasStatusIndex(*q.status)) {
    prefix = StatusIndexPrefix(*q.status, endpoint);
    value_must_equal = type;
  } else {
    uint8_t mask = 0;
    if (endpoint) mask |= kByEndpoint;
    if (type) mask |= kByType;
    prefix = DeliveryIndexPrefix(mask, endpoint, nullptr, type);
    row_status = q.status;
  }
  ScopedSnapshot snap(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();

  // The newest key that can match: created_before (inclusive) bounds it.
  auto range_start = [&](const std::string& pfx) {
    std::string start = pfx;
    if (q.created_before) {
      PutBigEndian64(&start, ~BiasTimestamp(*q.created_before));
    }
    return start;
  };
  auto in_range = [&](Timestamp ts) {
    return !q.created_after || ts >= *q.created_after;
  };

  Page<Delivery> page;
  std::vector<Uuid128> ids;  // of the page, when no row is filtered
  uint64_t to_skip = q.cursor.empty() ? uint64_t{q.page - 1} * q.page_size : 0;
  size_t taken = 0;
  Timestamp last_ts = 0;
  Uuid128 last_id;
  bool full = false;  // the page is complete and one more match exists
  // A match in list order: skipped (an earlier page), taken, or the one
  // after the page (which gives the page its cursor).
  enum class Take { kSkipped, kTaken, kFull };
  auto take = [&](Timestamp ts, const Uuid128& id) {
    if (to_skip > 0) {
      --to_skip;
      return Take::kSkipped;
    }
    if (taken == q.page_size) {
      page.next_cursor = EncodeListCursor(last_ts, last_id);
      full = true;
      return Take::kFull;
    }
    ++taken;
    last_ts = ts;
    last_id = id;
    return Take::kTaken;
  };
  // Entries waiting for their rows (row_status), in list order.
  std::vector<std::pair<Timestamp, Uuid128>> unchecked;
  const size_t chunk = std::max<size_t>(q.page_size + 1, 64);
  auto check_rows = [&]() -> Status {
    std::vector<Uuid128> chunk_ids;
    chunk_ids.reserve(unchecked.size());
    for (const auto& [ts, id] : unchecked) chunk_ids.push_back(id);
    std::vector<Delivery> rows;
    HOOKLOG_RETURN_IF_ERROR(MultiGetDeliveries(ro, chunk_ids, "index", &rows));
    for (size_t i = 0; i < rows.size() && !full; ++i) {
      if (rows[i].status != *row_status) continue;
      if (take(unchecked[i].first, unchecked[i].second) == Take::kTaken) {
        page.items.push_back(std::move(rows[i]));
      }
    }
    unchecked.clear();
    return Status::Ok();
  };
  {
    PrefixIterator it(db_, index_cf(), snap.get(), prefix);
    SeekPageStart(it.get(), prefix, range_start(prefix), q.cursor, cursor_ts,
                  cursor_id);
    for (; it->Valid() && !full; it->Next()) {
      if (it->key().size() != prefix.size() + kOrderSuffixBytes) {
        return Status::Corruption("malformed index key in " + path_);
      }
      Timestamp ts;
      Uuid128 id;
      ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
      if (!in_range(ts)) break;
      if (value_must_equal && it->value().ToStringView() != *value_must_equal) {
        continue;
      }
      if (row_status) {
        unchecked.emplace_back(ts, id);
        if (unchecked.size() >= chunk) HOOKLOG_RETURN_IF_ERROR(check_rows());
        continue;
      }
      if (take(ts, id) == Take::kTaken) ids.push_back(id);
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "listing deliveries"));
  }
  if (row_status) {
    if (!full && !unchecked.empty()) HOOKLOG_RETURN_IF_ERROR(check_rows());
  } else {
    HOOKLOG_RETURN_IF_ERROR(MultiGetDeliveries(ro, ids, "index", &page.items));
  }
  if (!q.count_total) return page;
  if (!q.event_type && !q.created_after && !q.created_before) {
    // Served by the counters, no scan.
    std::optional<EndpointCounters> c;
    if (q.endpoint_id) {
      HOOKLOG_RETURN_IF_ERROR(
          ReadRow(ro, rows_cf(), RowKey(kRowCounters, q.endpoint_id->raw()),
                  storage_internal::DecodeCounters, "counters", &c));
    } else {
      HOOKLOG_RETURN_IF_ERROR(ReadRow(ro, meta_cf(), kMetaTotals,
                                      storage_internal::DecodeCounters,
                                      "totals", &c));
    }
    const EndpointCounters counts = c.value_or(EndpointCounters{});
    if (q.status) {
      page.total_count = counts.by_status[static_cast<int>(*q.status)];
    } else {
      for (uint64_t v : counts.by_status) page.total_count += v;
    }
    return page;
  }
  // Keys-only scans of the range (values only compared, rows never read).
  auto count = [&](const std::string& pfx,
                   const std::string* value_eq) -> Result<uint64_t> {
    PrefixIterator it(db_, index_cf(), snap.get(), pfx);
    uint64_t n = 0;
    for (it->Seek(range_start(pfx)); it->Valid(); it->Next()) {
      if (it->key().size() != pfx.size() + kOrderSuffixBytes) {
        return Status::Corruption("malformed index key in " + path_);
      }
      Timestamp ts;
      Uuid128 id;
      ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
      if (!in_range(ts)) break;
      if (value_eq && it->value().ToStringView() != *value_eq) continue;
      ++n;
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "counting deliveries"));
    return n;
  };
  auto all = count(prefix, value_must_equal);
  if (!all.ok()) return all.status();
  page.total_count = *all;
  if (row_status) {
    // `delivered` has no index of its own: every match of the 'D' index
    // minus those of the statuses that have one.
    for (int s = 0; s < kDeliveryStatusCount; ++s) {
      const auto status = static_cast<DeliveryStatus>(s);
      if (!HasStatusIndex(status)) continue;
      auto other = count(StatusIndexPrefix(status, endpoint), type);
      if (!other.ok()) return other.status();
      if (*other > page.total_count) {
        return Status::Corruption("status index of " + path_ +
                                  " holds more deliveries than the list "
                                  "index");
      }
      page.total_count -= *other;
    }
  }
  return page;
}

// Endpoints are few, and a list always reports total_count: ONE scan of
// the whole endpoint index counts every match and collects the page on the
// way (the entries after the cursor, or after the skipped pages).
Result<Page<Endpoint>> RocksDbStorage::ListEndpoints(const EndpointQuery& q) {
  std::string cursor_key;  // empty: the page starts at the first match
  if (!q.cursor.empty()) {
    Timestamp cursor_ts = 0;
    Uuid128 cursor_id;
    HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cursor_ts, &cursor_id));
    cursor_key.assign(1, kIdxEndpoints);
    PutOrderSuffix(&cursor_key, cursor_ts, cursor_id);
  }
  ScopedSnapshot snap(db_);
  const std::string prefix(1, kIdxEndpoints);
  PrefixIterator it(db_, index_cf(), snap.get(), prefix);
  Page<Endpoint> page;
  uint64_t to_skip = q.cursor.empty() ? uint64_t{q.page - 1} * q.page_size : 0;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != 1 + kOrderSuffixBytes) {
      return Status::Corruption("malformed index key in " + path_);
    }
    Timestamp ts;
    Uuid128 id;
    ParseOrderSuffix(key, &ts, &id);
    auto row =
        GetRow<Endpoint>(RowKey(kRowEndpoint, id), "endpoint",
                         storage_internal::DecodeEndpointRow, snap.get());
    if (!row.ok()) return row.status();
    const Endpoint& e = *row;
    if (!storage_internal::MatchesEndpointQuery(q, e)) continue;
    ++page.total_count;
    // Before the page: at or before the cursor, or in a skipped page.
    if (!cursor_key.empty() && key <= cursor_key) continue;
    if (to_skip > 0) {
      --to_skip;
      continue;
    }
    if (page.items.size() < q.page_size) {
      page.items.push_back(e);
    } else if (page.next_cursor.empty()) {
      // One more match exists: the page gets a cursor.
      page.next_cursor = EncodeListCursor(page.items.back().created_at,
                                          page.items.back().id.raw());
    }
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "listing endpoints"));
  return page;
}

Status RocksDbStorage::LoadActive(
    const std::function<void(const Endpoint&)>& on_endpoint,
    const std::function<void(const Delivery&)>& on_delivery) {
  // The rows loaded here are exactly the ones the write path's cache wants:
  // warm it, but only while no commit has happened since the snapshot (a
  // row of the snapshot could be stale then). At start-up nothing else
  // writes, so the whole cache gets warm.
  uint64_t generation = 0;
  std::optional<ScopedSnapshot> snap;
  {
    std::lock_guard<std::mutex> wl(write_mu_);
    generation = commit_generation_;
    snap.emplace(db_);
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = snap->get();
  {
    const std::string prefix(1, kRowEndpoint);
    PrefixIterator it(db_, rows_cf(), snap->get(), prefix);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      Endpoint e;
      HOOKLOG_RETURN_IF_ERROR(
          storage_internal::DecodeEndpointRow(it->value().ToStringView(), &e));
      on_endpoint(e);
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "loading endpoints"));
  }
  // The by-status entries of the non-terminal statuses (format 4; the due
  // family in a format 1/2 directory opened read-only) are exactly the
  // non-terminal deliveries; fetch their rows in chunks with MultiGet.
  std::vector<Uuid128> ids;
  auto flush = [&]() -> Status {
    std::vector<Delivery> rows;
    HOOKLOG_RETURN_IF_ERROR(MultiGetDeliveries(ro, ids, "status index", &rows));
    ids.clear();
    if (!options_.read_only && !rows.empty()) {
      std::lock_guard<std::mutex> wl(write_mu_);
      if (commit_generation_ == generation) {
        for (const Delivery& d : rows) CacheActive(d.id, &d);
      }
    }
    for (const Delivery& d : rows) on_delivery(d);
    return Status::Ok();
  };
  if (legacy_status_index_) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, due_cf()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() != kDueKeyBytes) {
        return Status::Corruption("malformed due index key in " + path_);
      }
      ids.push_back(ParseDueKeyId(it->key().ToStringView()));
      if (ids.size() == 256) HOOKLOG_RETURN_IF_ERROR(flush());
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "loading deliveries"));
    return flush();
  }
  for (int s = 0; s < kDeliveryStatusCount; ++s) {
    const auto status = static_cast<DeliveryStatus>(s);
    if (IsTerminal(status)) continue;
    const std::string prefix = StatusIndexPrefix(status, nullptr);
    PrefixIterator it(db_, index_cf(), snap->get(), prefix);
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (it->key().size() != prefix.size() + kOrderSuffixBytes) {
        return Status::Corruption("malformed status index key in " + path_);
      }
      Timestamp ts;
      Uuid128 id;
      ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
      ids.push_back(id);
      if (ids.size() == 256) HOOKLOG_RETURN_IF_ERROR(flush());
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "loading deliveries"));
  }
  return flush();
}

Result<RocksDbStats> RocksDbStorage::Stats() {
  RocksDbStats s;
  s.last_sequence = last_seq_.load();
  std::string value;
  if (db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaPruned, &value).ok()) {
    s.pruned_deliveries = ParseFixed64Value(value);
  }
  if (db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaFormatVersion, &value)
          .ok()) {
    storage_internal::Reader r(value);
    (void)r.Fixed32(&s.format_version);
  }
  (void)db_->GetProperty("rocksdb.stats", &s.rocksdb_stats);
  return s;
}

}  // namespace rocksdb_internal

Result<RocksDbStats> GetRocksDbStats(Storage* storage) {
  auto s = rocksdb_internal::RocksDbStorage::From(storage);
  if (!s.ok()) return s.status();
  return (*s)->Stats();
}

}  // namespace hooklog
