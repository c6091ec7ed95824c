// The RocksDB Storage adapter (docs/storage.md has the layout and the
// reasons behind every setting).
//
// Write path: a leader/follower queue in the manner of LevelDB's
// DBImpl::Write. Callers enqueue their WriteBatch; the caller at the head of
// the queue becomes the leader, takes every batch queued so far, turns them
// into ONE rocksdb::WriteBatch (events + rows + index maintenance + counters +
// last sequence) and writes it with one synced WAL write. The followers sleep
// meanwhile and are woken with their result. Hence:
//   - group commit: every batch that queued while the previous sync ran
//     shares the next sync;
//   - sequence numbers are assigned by exactly one thread, in commit order,
//     so a crash can never leave seq N+1 durable without seq N;
//   - index maintenance reads old rows without racing another writer.
//
// Read path: plain Gets and iterators; list queries use a snapshot so that
// index entries and rows agree.

#include "hooklog/rocksdb_storage.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/coding.h"
#include "storage/row_codec.h"

namespace hooklog {
namespace {

using storage_internal::BiasTimestamp;
using storage_internal::GetBigEndian64;
using storage_internal::PutBigEndian64;
using storage_internal::UnbiasTimestamp;

// Bumped when the key layout changes incompatibly. Stored in meta.
constexpr uint32_t kStoreFormatVersion = 1;

constexpr char kCfLog[] = "log";
constexpr char kCfRows[] = "rows";
constexpr char kCfIndex[] = "index";
constexpr char kCfDue[] = "due";
constexpr char kCfMeta[] = "meta";

constexpr char kMetaFormatVersion[] = "format_version";
constexpr char kMetaLastSeq[] = "last_seq";
constexpr char kMetaTotals[] = "totals";
constexpr char kMetaPruned[] = "pruned";
constexpr char kMetaPrunedBefore[] = "pruned_before";

// Row key prefixes (rows column family).
constexpr char kRowEndpoint = 'e';
constexpr char kRowMessage = 'm';
constexpr char kRowDelivery = 'd';
constexpr char kRowIdempotency = 'i';
constexpr char kRowCounters = 'c';
constexpr char kRowMessageRefs = 'r';  // live delivery rows per message
// Index key prefixes (index column family).
constexpr char kIdxEndpoints = 'N';
constexpr char kIdxDeliveries = 'D';

constexpr size_t kIdBytes = 16;
constexpr size_t kOrderSuffixBytes = 8 + kIdBytes;  // inverted (ts, id)

void PutId(std::string* out, const Uuid128& id) {
  PutBigEndian64(out, id.hi);
  PutBigEndian64(out, id.lo);
}

// Newest-first ordering: bytewise ascending keys must list larger
// (created_at, id) first, so both are stored bit-inverted.
void PutOrderSuffix(std::string* out, Timestamp created_at, const Uuid128& id) {
  PutBigEndian64(out, ~BiasTimestamp(created_at));
  PutBigEndian64(out, ~id.hi);
  PutBigEndian64(out, ~id.lo);
}
void ParseOrderSuffix(std::string_view key, Timestamp* created_at,
                      Uuid128* id) {
  const char* p = key.data() + key.size() - kOrderSuffixBytes;
  *created_at = UnbiasTimestamp(~GetBigEndian64(p));
  id->hi = ~GetBigEndian64(p + 8);
  id->lo = ~GetBigEndian64(p + 16);
}

std::string RowKey(char prefix, const Uuid128& id) {
  std::string k(1, prefix);
  PutId(&k, id);
  return k;
}
std::string IdempotencyKey(std::string_view key) {
  std::string k(1, kRowIdempotency);
  k.append(key);
  return k;
}
std::string SeqKey(uint64_t seq) {
  std::string k;
  PutBigEndian64(&k, seq);
  return k;
}
std::string DueKey(const Delivery& d) {
  std::string k;
  PutBigEndian64(&k, BiasTimestamp(d.next_attempt_at));
  PutId(&k, d.id.raw());
  return k;
}

// Delivery list indexes: one per combination of the equality filters
// (endpoint, status, event type), so that every DeliveryQuery is a range scan
// of exactly the matching rows. Key: 'D' mask [endpoint] [status]
// [len-prefixed type] inverted(created_at, id).
enum FilterMask : uint8_t { kByEndpoint = 1, kByStatus = 2, kByType = 4 };

std::string DeliveryIndexPrefix(uint8_t mask, const EndpointId* endpoint,
                                const DeliveryStatus* status,
                                const std::string* type) {
  std::string k(1, kIdxDeliveries);
  k.push_back(static_cast<char>(mask));
  if (mask & kByEndpoint) PutId(&k, endpoint->raw());
  if (mask & kByStatus) k.push_back(static_cast<char>(*status));
  if (mask & kByType) {
    storage_internal::Writer w(&k);
    w.Str(*type);
  }
  return k;
}

std::vector<std::string> DeliveryIndexKeys(const Delivery& d) {
  std::vector<std::string> keys;
  keys.reserve(8);
  for (uint8_t mask = 0; mask < 8; ++mask) {
    std::string k =
        DeliveryIndexPrefix(mask, &d.endpoint_id, &d.status, &d.event_type);
    PutOrderSuffix(&k, d.created_at, d.id.raw());
    keys.push_back(std::move(k));
  }
  return keys;
}

std::string EndpointIndexKey(const Endpoint& e) {
  std::string k(1, kIdxEndpoints);
  PutOrderSuffix(&k, e.created_at, e.id.raw());
  return k;
}

// The smallest key greater than every key starting with `prefix`.
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xFF) {
    prefix.pop_back();
  }
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string Fixed64Value(uint64_t v) {
  std::string s;
  storage_internal::Writer(&s).Fixed64(v);
  return s;
}
uint64_t ParseFixed64Value(std::string_view s) {
  uint64_t v = 0;
  storage_internal::Reader r(s);
  (void)r.Fixed64(&v);
  return v;
}

// One pending write to a sorted column family (rows, index, due) of a group.
struct KeyOp {
  std::string key;
  std::string value;
  bool put;
};

// Emits `ops` into `wb` in key order, keeping only the last op per key (the
// result is what applying them in order would give). Why sorted: RocksDB's
// skiplist memtable reuses its insert "splice" between consecutive inserts,
// so keys that arrive in order are inserted near each other instead of
// searching the whole memtable from the top for every random key (which
// was 2/3 of the commit path's CPU; docs/storage.md, "Write path").
void EmitSorted(std::vector<KeyOp>* ops, rocksdb::ColumnFamilyHandle* cf,
                rocksdb::WriteBatch* wb) {
  std::stable_sort(
      ops->begin(), ops->end(),
      [](const KeyOp& a, const KeyOp& b) { return a.key < b.key; });
  for (size_t i = 0; i < ops->size(); ++i) {
    if (i + 1 < ops->size() && (*ops)[i + 1].key == (*ops)[i].key) continue;
    const KeyOp& op = (*ops)[i];
    if (op.put) {
      wb->Put(cf, op.key, op.value);
    } else {
      wb->Delete(cf, op.key);
    }
  }
  ops->clear();
}

void AddToCounters(EndpointCounters* c, const Delivery& d, int sign) {
  c->by_status[static_cast<int>(d.status)] += static_cast<uint64_t>(sign);
  c->attempts += static_cast<uint64_t>(sign) * d.attempts;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  // A failed write (disk full, I/O error, DB in background-error read-only
  // mode) means "cannot accept writes now": the caller may retry later.
  return Status::Unavailable(std::move(msg));
}

// RocksDB's own recovery from a full disk (an SstFileManager polling for
// free space) waits for head-room of several write buffers — far more than
// a small volume may ever have — and while it is "in progress" DB::Resume()
// answers Busy. hooklog resumes explicitly instead, on the next write after
// a failed one (RocksDbStorage::ResumeIfNeeded), so the store is writable
// again as soon as the disk has room for that write.
class ManualRecoveryListener : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/,
                            rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

// RocksDB's own info LOG writer (EnvLogger) must never be written to again
// after one failed write: Debian's librocksdb keeps assertions on, and
// logging the background error of a full disk into a LOG file whose
// previous append failed aborts the process ("Assertion
// `sync_without_flush_called_' failed" in WritableFileWriter). This logger
// appends to the same `LOG` file with stdio and ignores write errors: on a
// full disk, log lines are lost, the process is not.
class TolerantLogger : public rocksdb::Logger {
 public:
  TolerantLogger(FILE* f, rocksdb::InfoLogLevel level)
      : rocksdb::Logger(level), f_(f) {}
  ~TolerantLogger() override {
    if (f_ != nullptr) fclose(f_);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char when[32];
    time_t now = time(nullptr);
    tm t{};
    gmtime_r(&now, &t);
    strftime(when, sizeof(when), "%Y/%m/%d-%H:%M:%S ", &t);
    std::lock_guard<std::mutex> l(mu_);
    fputs(when, f_);
    vfprintf(f_, format, ap);
    fputc('\n', f_);
    fflush(f_);  // a failure (ENOSPC) is ignored on purpose
    clearerr(f_);
  }

 private:
  std::mutex mu_;
  FILE* f_;
};

class RocksDbStorage : public Storage {
 public:
  RocksDbStorage(std::string path, RocksDbOptions options)
      : path_(std::move(path)), options_(std::move(options)) {
    if (!options_.clock) options_.clock = SystemClock();
  }

  ~RocksDbStorage() override {
    {
      std::lock_guard<std::mutex> lock(prune_mu_);
      stopping_ = true;
    }
    prune_cv_.notify_all();
    if (pruner_.joinable()) pruner_.join();
    if (db_ == nullptr) return;
    // DB::Close does not sync the WAL: with sync=false the last writes would
    // only be in the OS page cache. Sync them so a clean shutdown is durable.
    if (!options_.read_only) {
      (void)db_->SyncWAL();
      // Then flush the memtables, so that the next open has no WAL to
      // replay (it would otherwise replay everything written since the
      // last flush: ~10 s after 1 M events). A failure only costs replay.
      rocksdb::FlushOptions fo;
      fo.wait = true;
      fo.allow_write_stall = true;
      (void)db_->Flush(fo, handles_);
    }
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    (void)db_->Close();
    delete db_;
  }

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
  Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) override;

  Timestamp PrunedBefore() const override { return pruned_before_.load(); }

  Result<uint64_t> PruneOnce();
  Result<RocksDbStats> Stats();

 private:
  // One queued Append.
  struct PendingWrite {
    WriteBatch* batch;
    bool done = false;
    Status status;
    uint64_t last_seq = 0;
    std::condition_variable cv;
  };

  // What the write path needs of a non-terminal delivery's current row to
  // replace it: the fields its index, due and counter keys derive from.
  struct ActiveRow {
    MessageId message_id;
    EndpointId endpoint_id;
    std::string event_type;
    DeliveryStatus status = DeliveryStatus::kPending;
    uint32_t attempts = 0;
    Timestamp created_at = 0;
    Timestamp next_attempt_at = 0;
  };
  static ActiveRow ToActiveRow(const Delivery& d) {
    return ActiveRow{d.message_id, d.endpoint_id, d.event_type,     d.status,
                     d.attempts,   d.created_at,  d.next_attempt_at};
  }
  // A Delivery holding only ActiveRow's fields (enough for PutDelivery).
  static Delivery FromActiveRow(const DeliveryId& id, const ActiveRow& r) {
    Delivery d;
    d.id = id;
    d.message_id = r.message_id;
    d.endpoint_id = r.endpoint_id;
    d.event_type = r.event_type;
    d.status = r.status;
    d.attempts = r.attempts;
    d.created_at = r.created_at;
    d.next_attempt_at = r.next_attempt_at;
    return d;
  }

  // The rows of one group commit as they will be after it, and the counters
  // it touched. Committed into the caches only when the write succeeded.
  struct GroupState {
    rocksdb::WriteBatch wb;  // log and meta families
    // Writes to the sorted families, emitted in key order by CommitGroup.
    std::vector<KeyOp> row_ops, index_ops, due_ops;
    std::unordered_map<DeliveryId, std::optional<Delivery>, IdHash> deliveries;
    // Previous rows read ahead with one MultiGet (ids not in the cache).
    std::unordered_map<DeliveryId, std::optional<Delivery>, IdHash> prefetched;
    std::unordered_map<EndpointId, std::optional<Endpoint>, IdHash> endpoints;
    std::unordered_map<EndpointId, EndpointCounters, IdHash> counters;
    std::unordered_map<MessageId, uint64_t, IdHash> message_refs;
    EndpointCounters totals;
    uint64_t seq = 0;
    uint64_t pruned = 0;
    Timestamp pruned_before = 0;
  };

  rocksdb::ColumnFamilyHandle* log_cf() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* rows_cf() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* index_cf() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* due_cf() const { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* meta_cf() const { return handles_[4]; }

  Status MapOpenError(const rocksdb::Status& s) const;
  Status CheckMeta();

  // Leader-only (REQUIRES: write_mu_ held).
  Status BuildGroup(const std::vector<PendingWrite*>& group, GroupState* g);
  Status Prefetch(const std::vector<PendingWrite*>& group, GroupState* g);
  // The delivery's current row as of this group. With `use_cache` a
  // non-terminal row may come back reduced to ActiveRow's fields.
  Status LoadDelivery(GroupState* g, const DeliveryId& id, bool use_cache,
                      std::optional<Delivery>* out);
  Status LoadEndpoint(GroupState* g, const EndpointId& id,
                      std::optional<Endpoint>* out);
  Status CountersFor(GroupState* g, const EndpointId& id,
                     EndpointCounters** out);
  Status MessageRefsFor(GroupState* g, const MessageId& id, uint64_t** out);
  Status PutDelivery(GroupState* g, const Delivery* old_row,
                     const Delivery* new_row);
  Status CommitGroup(GroupState* g);
  // REQUIRES: write_mu_ held. After a failed write (e.g. ENOSPC), RocksDB
  // refuses every write until DB::Resume() succeeds: try it before writing.
  Status ResumeIfNeeded();
  void CacheActive(const DeliveryId& id, const Delivery* row);

  template <typename T>
  Result<T> GetRow(const std::string& key, const char* what,
                   Status (*decode)(std::string_view, T*),
                   const rocksdb::Snapshot* snapshot = nullptr);

  void PrunerLoop();

  const std::string path_;
  RocksDbOptions options_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // ours first, in order
  rocksdb::WriteOptions write_options_;

  std::atomic<uint64_t> last_seq_{0};

  std::mutex queue_mu_;
  std::deque<PendingWrite*> queue_;

  // Held by the leader while it builds and writes a group, and by the pruner
  // for one chunk: the caches below are only touched under it.
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
  // A write failed; the next writer calls DB::Resume() first. Guarded by
  // write_mu_.
  bool needs_resume_ = false;
  std::atomic<Timestamp> pruned_before_{0};

  std::mutex prune_mu_;
  std::condition_variable prune_cv_;
  bool stopping_ = false;
  std::thread pruner_;
};

Status RocksDbStorage::MapOpenError(const rocksdb::Status& s) const {
  const std::string msg = s.ToString();
  std::string lower = msg;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (s.IsIOError() && lower.find("lock") != std::string::npos) {
    return Status::Unavailable("cannot open " + path_ +
                               ": the data directory is locked by another "
                               "process or another open store (" +
                               msg + ")");
  }
  if (s.IsCorruption()) {
    return Status::Corruption("cannot open " + path_ + ": data is corrupted (" +
                              msg + ")");
  }
  if (s.IsInvalidArgument() &&
      lower.find("does not exist") != std::string::npos) {
    return Status::NotFound("cannot open " + path_ +
                            ": no store there and create_if_missing is "
                            "false (" +
                            msg + ")");
  }
  return Status::IOError("cannot open " + path_ + ": " + msg);
}

Status RocksDbStorage::Open() {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options_.create_if_missing;
  db_options.create_missing_column_families = options_.create_if_missing;
  // Recovery settings (docs/storage.md, "Recovery"): replay the WAL up to
  // the first damaged record and stop there, never skipping over a hole;
  // verify checksums everywhere; make a missing or truncated WAL file a
  // hard error instead of silent data loss.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.paranoid_checks = true;
  db_options.track_and_verify_wals_in_manifest = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  // Bounds the WAL that a crash leaves to replay: past this size RocksDB
  // flushes the families still holding the oldest WAL file (the small
  // `meta` and `due` families would otherwise pin every WAL file until
  // their 64 MiB memtables fill, i.e. forever). docs/storage.md, "Restart".
  db_options.max_total_wal_size = options_.max_total_wal_bytes;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.listeners.push_back(std::make_shared<ManualRecoveryListener>());
  if (!options_.read_only) {
    std::error_code ec;
    if (options_.create_if_missing)
      std::filesystem::create_directories(path_, ec);
    if (FILE* f = fopen((path_ + "/LOG").c_str(), "ae")) {
      db_options.info_log =
          std::make_shared<TolerantLogger>(f, db_options.info_log_level);
    }
  }

  auto cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  auto make_cf = [&](bool bloom) {
    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    if (bloom) {
      // Point lookups by id dominate the rows family, and the write path
      // looks up ids that mostly do not exist yet (new deliveries): Bloom
      // filters in the SST files and in the memtable answer those without
      // searching. A hash index inside data blocks shortens hits.
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.data_block_index_type =
          rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
      cf.memtable_prefix_bloom_size_ratio = 0.02;
      cf.memtable_whole_key_filtering = true;
    }
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf.compression = rocksdb::kNoCompression;
    return cf;
  };

  std::vector<std::string> existing;
  rocksdb::Status ls =
      rocksdb::DB::ListColumnFamilies(db_options, path_, &existing);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {kCfLog, make_cf(false)},
      {kCfRows, make_cf(true)},
      {kCfIndex, make_cf(false)},
      {kCfDue, make_cf(false)},
      {kCfMeta, make_cf(false)},
      {rocksdb::kDefaultColumnFamilyName, make_cf(false)}};
  if (ls.ok()) {
    // A newer version may have added families: they must all be opened,
    // and the format version check below then decides.
    for (const auto& name : existing) {
      bool known = std::any_of(descriptors.begin(), descriptors.end(),
                               [&](const auto& d) { return d.name == name; });
      if (!known) descriptors.push_back({name, make_cf(false)});
    }
    if (options_.read_only) {
      for (size_t i = 0; i < 5; ++i) {
        if (std::find(existing.begin(), existing.end(), descriptors[i].name) ==
            existing.end()) {
          return Status::FailedPrecondition(
              "cannot open " + path_ + " read-only: not a hooklog store (no '" +
              descriptors[i].name + "' column family)");
        }
      }
    }
  }
  rocksdb::Status s;
  if (options_.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &handles_,
                                     &db_);
  } else {
    s = rocksdb::DB::Open(db_options, path_, descriptors, &handles_, &db_);
  }
  if (!s.ok()) {
    db_ = nullptr;
    return MapOpenError(s);
  }
  write_options_.sync = options_.sync;
  HOOKLOG_RETURN_IF_ERROR(CheckMeta());
  if (!options_.read_only && options_.retention.count() > 0 &&
      options_.prune_interval.count() > 0) {
    pruner_ = std::thread([this] { PrunerLoop(); });
  }
  return Status::Ok();
}

Status RocksDbStorage::CheckMeta() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaFormatVersion, &value);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), log_cf()));
  it->SeekToLast();
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "reading " + path_));
  const bool log_empty = !it->Valid();
  if (s.IsNotFound()) {
    if (!log_empty) {
      return Status::Corruption("cannot open " + path_ +
                                ": the store has events but no format "
                                "version in its metadata");
    }
    if (options_.read_only) return Status::Ok();
    std::string v;
    storage_internal::Writer(&v).Fixed32(kStoreFormatVersion);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Put(wo, meta_cf(), kMetaFormatVersion, v),
                     "initializing " + path_);
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(s, "reading metadata of " + path_));
  uint32_t version = 0;
  storage_internal::Reader r(value);
  if (!r.Fixed32(&version) || !r.done()) {
    return Status::Corruption("cannot open " + path_ +
                              ": malformed format version in metadata");
  }
  if (version > kStoreFormatVersion) {
    return Status::FailedPrecondition(
        "cannot open " + path_ + ": written by a newer hooklog (store format " +
        std::to_string(version) + ", this build reads up to " +
        std::to_string(kStoreFormatVersion) + ")");
  }
  uint64_t meta_seq = 0;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaLastSeq, &value);
  if (s.ok()) {
    meta_seq = ParseFixed64Value(value);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading metadata of " + path_);
  }
  const uint64_t log_seq =
      log_empty || it->key().size() != 8 ? 0 : GetBigEndian64(it->key().data());
  // Both are written by the same atomic batch: disagreement means damage.
  if (log_seq != meta_seq) {
    return Status::Corruption(
        "cannot open " + path_ + ": last sequence in metadata (" +
        std::to_string(meta_seq) + ") disagrees with the log (" +
        std::to_string(log_seq) + ")");
  }
  last_seq_ = meta_seq;
  committed_seq_ = meta_seq;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaTotals, &value);
  if (s.ok()) {
    HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeCounters(value, &totals_));
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading metadata of " + path_);
  }
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaPruned, &value);
  if (s.ok()) pruned_total_ = ParseFixed64Value(value);
  s = db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaPrunedBefore, &value);
  if (s.ok()) {
    pruned_before_ = UnbiasTimestamp(ParseFixed64Value(value));
  } else if (pruned_total_ > 0) {
    // Pruned by a build that did not record the watermark: any terminal
    // delivery may be gone.
    pruned_before_ = std::numeric_limits<Timestamp>::max();
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- writes

Result<uint64_t> RocksDbStorage::Append(WriteBatch* batch) {
  if (options_.read_only) {
    return Status::FailedPrecondition("store " + path_ + " is open read-only");
  }
  PendingWrite w{batch};
  std::unique_lock<std::mutex> lock(queue_mu_);
  queue_.push_back(&w);
  while (!w.done && queue_.front() != &w) w.cv.wait(lock);
  if (w.done) {
    if (!w.status.ok()) return w.status;
    return w.last_seq;
  }
  // Leader: take everything queued so far (bounded so that one group's
  // latency stays reasonable).
  std::vector<PendingWrite*> group;
  size_t events = 0;
  for (PendingWrite* p : queue_) {
    if (!group.empty() && events + p->batch->events.size() > 50'000) break;
    group.push_back(p);
    events += p->batch->events.size();
  }
  lock.unlock();

  Status status;
  std::vector<uint64_t> last_seqs(group.size());
  {
    std::lock_guard<std::mutex> wl(write_mu_);
    GroupState g;
    g.seq = committed_seq_;
    g.totals = totals_;
    status = BuildGroup(group, &g);
    if (status.ok()) {
      // Recompute each member's last sequence from the batch sizes.
      uint64_t seq = committed_seq_;
      for (size_t i = 0; i < group.size(); ++i) {
        seq += group[i]->batch->events.size();
        last_seqs[i] = seq;
      }
      status = CommitGroup(&g);
    }
  }

  lock.lock();
  for (size_t i = 0; i < group.size(); ++i) {
    PendingWrite* p = queue_.front();
    queue_.pop_front();
    p->status = status;
    p->last_seq = last_seqs[i];
    p->done = true;
    if (p != &w) p->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  if (!status.ok()) return status;
  return w.last_seq;
}

Status RocksDbStorage::LoadDelivery(GroupState* g, const DeliveryId& id,
                                    bool use_cache,
                                    std::optional<Delivery>* out) {
  if (auto it = g->deliveries.find(id); it != g->deliveries.end()) {
    *out = it->second;
    return Status::Ok();
  }
  if (use_cache) {
    if (auto it = active_cache_.find(id); it != active_cache_.end()) {
      *out = FromActiveRow(id, it->second);
      return Status::Ok();
    }
    if (auto it = g->prefetched.find(id); it != g->prefetched.end()) {
      *out = it->second;
      return Status::Ok();
    }
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rows_cf(),
                               RowKey(kRowDelivery, id.raw()), &value);
  out->reset();
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return FromRocks(s, "reading delivery " + id.ToString());
  Delivery d;
  HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeDeliveryRow(value, &d));
  *out = std::move(d);
  return Status::Ok();
}

Status RocksDbStorage::LoadEndpoint(GroupState* g, const EndpointId& id,
                                    std::optional<Endpoint>* out) {
  if (auto it = g->endpoints.find(id); it != g->endpoints.end()) {
    *out = it->second;
    return Status::Ok();
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rows_cf(),
                               RowKey(kRowEndpoint, id.raw()), &value);
  out->reset();
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return FromRocks(s, "reading endpoint " + id.ToString());
  Endpoint e;
  HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeEndpointRow(value, &e));
  *out = std::move(e);
  return Status::Ok();
}

// Reads ahead, with one MultiGet each, the previous rows of the group's
// deliveries that the cache does not hold, then the reference counts of the
// messages those deliveries start referring to. New deliveries are misses
// answered by the Bloom filters. (The adapter does not interpret events, so
// "new" is found out by looking, not by the event type.)
Status RocksDbStorage::Prefetch(const std::vector<PendingWrite*>& group,
                                GroupState* g) {
  std::vector<DeliveryId> ids;
  for (const PendingWrite* p : group) {
    for (const Delivery& d : p->batch->deliveries) {
      if (active_cache_.count(d.id) || g->prefetched.count(d.id)) continue;
      g->prefetched.emplace(d.id, std::nullopt);
      ids.push_back(d.id);
    }
  }
  auto multi_get = [this](const std::vector<std::string>& keys,
                          std::vector<rocksdb::PinnableSlice>* values,
                          std::vector<rocksdb::Status>* statuses) {
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    values->resize(keys.size());
    statuses->resize(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), rows_cf(), keys.size(), slices.data(),
                  values->data(), statuses->data(),
                  /*sorted_input=*/true);
  };
  // MultiGet wants its keys sorted; ids and keys sort alike.
  std::sort(ids.begin(), ids.end(),
            [](const DeliveryId& a, const DeliveryId& b) {
              return a.raw().hi != b.raw().hi ? a.raw().hi < b.raw().hi
                                              : a.raw().lo < b.raw().lo;
            });
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  if (!ids.empty()) {
    std::vector<std::string> keys;
    keys.reserve(ids.size());
    for (const DeliveryId& id : ids)
      keys.push_back(RowKey(kRowDelivery, id.raw()));
    multi_get(keys, &values, &statuses);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      if (!statuses[i].ok()) {
        return FromRocks(statuses[i], "reading delivery " + ids[i].ToString());
      }
      Delivery d;
      HOOKLOG_RETURN_IF_ERROR(
          storage_internal::DecodeDeliveryRow(values[i].ToStringView(), &d));
      g->prefetched[ids[i]] = std::move(d);
    }
  }
  std::vector<std::string> ref_keys;
  std::vector<MessageId> msgs;
  std::unordered_set<MessageId, IdHash> seen;
  for (const PendingWrite* p : group) {
    for (const Delivery& d : p->batch->deliveries) {
      const MessageId* old_msg = nullptr;
      if (auto it = active_cache_.find(d.id); it != active_cache_.end()) {
        old_msg = &it->second.message_id;
      } else if (auto pf = g->prefetched.find(d.id);
                 pf != g->prefetched.end() && pf->second) {
        old_msg = &pf->second->message_id;
      }
      if (old_msg != nullptr && *old_msg == d.message_id) continue;
      if (seen.insert(d.message_id).second) msgs.push_back(d.message_id);
    }
  }
  if (msgs.empty()) return Status::Ok();
  std::sort(msgs.begin(), msgs.end(),
            [](const MessageId& a, const MessageId& b) {
              return a.raw().hi != b.raw().hi ? a.raw().hi < b.raw().hi
                                              : a.raw().lo < b.raw().lo;
            });
  ref_keys.reserve(msgs.size());
  for (const MessageId& m : msgs)
    ref_keys.push_back(RowKey(kRowMessageRefs, m.raw()));
  multi_get(ref_keys, &values, &statuses);
  for (size_t i = 0; i < msgs.size(); ++i) {
    uint64_t refs = 0;
    if (statuses[i].ok()) {
      refs = ParseFixed64Value(values[i].ToStringView());
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks(statuses[i], "reading message " + msgs[i].ToString());
    }
    g->message_refs.emplace(msgs[i], refs);
  }
  return Status::Ok();
}

Status RocksDbStorage::CountersFor(GroupState* g, const EndpointId& id,
                                   EndpointCounters** out) {
  auto it = g->counters.find(id);
  if (it == g->counters.end()) {
    EndpointCounters c;
    if (auto cached = counters_cache_.find(id);
        cached != counters_cache_.end()) {
      c = cached->second;
    } else {
      std::string value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rows_cf(),
                                   RowKey(kRowCounters, id.raw()), &value);
      if (s.ok()) {
        HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeCounters(value, &c));
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "reading counters of " + id.ToString());
      }
    }
    it = g->counters.emplace(id, c).first;
  }
  *out = &it->second;
  return Status::Ok();
}

Status RocksDbStorage::MessageRefsFor(GroupState* g, const MessageId& id,
                                      uint64_t** out) {
  auto it = g->message_refs.find(id);
  if (it == g->message_refs.end()) {
    uint64_t refs = 0;
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rows_cf(),
                                 RowKey(kRowMessageRefs, id.raw()), &value);
    if (s.ok()) {
      refs = ParseFixed64Value(value);
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "reading message " + id.ToString());
    }
    it = g->message_refs.emplace(id, refs).first;
  }
  *out = &it->second;
  return Status::Ok();
}

// Replaces old_row by new_row (either may be null) in the rows, the list
// indexes, the due index and the counters.
Status RocksDbStorage::PutDelivery(GroupState* g, const Delivery* old_row,
                                   const Delivery* new_row) {
  std::vector<std::string> old_keys, new_keys;
  if (old_row != nullptr) old_keys = DeliveryIndexKeys(*old_row);
  if (new_row != nullptr) new_keys = DeliveryIndexKeys(*new_row);
  // Keys that did not change (same endpoint/type/created_at) stay put.
  for (auto& k : old_keys) {
    if (std::find(new_keys.begin(), new_keys.end(), k) == new_keys.end()) {
      g->index_ops.push_back({std::move(k), {}, false});
    }
  }
  for (auto& k : new_keys) {
    if (std::find(old_keys.begin(), old_keys.end(), k) == old_keys.end()) {
      g->index_ops.push_back({std::move(k), {}, true});
    }
  }
  std::string old_due, new_due;
  if (old_row != nullptr && !IsTerminal(old_row->status)) {
    old_due = DueKey(*old_row);
  }
  if (new_row != nullptr && !IsTerminal(new_row->status)) {
    new_due = DueKey(*new_row);
  }
  if (old_due != new_due) {
    if (!old_due.empty()) g->due_ops.push_back({std::move(old_due), {}, false});
    if (!new_due.empty()) g->due_ops.push_back({std::move(new_due), {}, true});
  }
  EndpointCounters* c = nullptr;
  if (old_row != nullptr) {
    HOOKLOG_RETURN_IF_ERROR(CountersFor(g, old_row->endpoint_id, &c));
    AddToCounters(c, *old_row, -1);
    AddToCounters(&g->totals, *old_row, -1);
  }
  if (new_row != nullptr) {
    HOOKLOG_RETURN_IF_ERROR(CountersFor(g, new_row->endpoint_id, &c));
    AddToCounters(c, *new_row, +1);
    AddToCounters(&g->totals, *new_row, +1);
  }
  // Message reference counts let retention drop a message's payload once
  // its last delivery row is gone.
  const MessageId* old_msg = old_row ? &old_row->message_id : nullptr;
  const MessageId* new_msg = new_row ? &new_row->message_id : nullptr;
  if (old_msg == nullptr || new_msg == nullptr || *old_msg != *new_msg) {
    uint64_t* refs = nullptr;
    if (old_msg != nullptr) {
      HOOKLOG_RETURN_IF_ERROR(MessageRefsFor(g, *old_msg, &refs));
      if (*refs > 0) --*refs;
    }
    if (new_msg != nullptr) {
      HOOKLOG_RETURN_IF_ERROR(MessageRefsFor(g, *new_msg, &refs));
      ++*refs;
    }
  }
  if (new_row != nullptr) {
    g->row_ops.push_back({RowKey(kRowDelivery, new_row->id.raw()),
                          storage_internal::EncodeDeliveryRow(*new_row), true});
    g->deliveries[new_row->id] = *new_row;
  } else if (old_row != nullptr) {
    g->row_ops.push_back({RowKey(kRowDelivery, old_row->id.raw()), {}, false});
    g->deliveries[old_row->id] = std::nullopt;
  }
  return Status::Ok();
}

Status RocksDbStorage::BuildGroup(const std::vector<PendingWrite*>& group,
                                  GroupState* g) {
  HOOKLOG_RETURN_IF_ERROR(Prefetch(group, g));
  for (PendingWrite* p : group) {
    WriteBatch* b = p->batch;
    for (Event& e : b->events) {
      e.seq = ++g->seq;
      g->wb.Put(log_cf(), SeqKey(e.seq), EncodeEvent(e));
    }
    for (const Endpoint& e : b->endpoints) {
      std::optional<Endpoint> old;
      HOOKLOG_RETURN_IF_ERROR(LoadEndpoint(g, e.id, &old));
      const std::string new_key = EndpointIndexKey(e);
      if (old) {
        const std::string old_key = EndpointIndexKey(*old);
        if (old_key != new_key) g->index_ops.push_back({old_key, {}, false});
      }
      g->index_ops.push_back({new_key, {}, true});
      g->row_ops.push_back({RowKey(kRowEndpoint, e.id.raw()),
                            storage_internal::EncodeEndpointRow(e), true});
      g->endpoints[e.id] = e;
    }
    for (const Message& m : b->messages) {
      g->row_ops.push_back({RowKey(kRowMessage, m.id.raw()),
                            storage_internal::EncodeMessageRow(m), true});
    }
    for (const Delivery& d : b->deliveries) {
      std::optional<Delivery> old;
      HOOKLOG_RETURN_IF_ERROR(LoadDelivery(g, d.id, /*use_cache=*/true, &old));
      HOOKLOG_RETURN_IF_ERROR(PutDelivery(g, old ? &*old : nullptr, &d));
    }
    for (const IdempotencyRecord& rec : b->idempotency) {
      g->row_ops.push_back({IdempotencyKey(rec.key),
                            storage_internal::EncodeIdempotencyRow(rec), true});
    }
  }
  return Status::Ok();
}

Status RocksDbStorage::CommitGroup(GroupState* g) {
  for (const auto& [id, c] : g->counters) {
    g->row_ops.push_back({RowKey(kRowCounters, id.raw()),
                          storage_internal::EncodeCounters(c), true});
  }
  for (const auto& [id, refs] : g->message_refs) {
    if (refs == 0) {
      g->row_ops.push_back({RowKey(kRowMessageRefs, id.raw()), {}, false});
    } else {
      g->row_ops.push_back(
          {RowKey(kRowMessageRefs, id.raw()), Fixed64Value(refs), true});
    }
  }
  EmitSorted(&g->row_ops, rows_cf(), &g->wb);
  EmitSorted(&g->index_ops, index_cf(), &g->wb);
  EmitSorted(&g->due_ops, due_cf(), &g->wb);
  g->wb.Put(meta_cf(), kMetaTotals,
            storage_internal::EncodeCounters(g->totals));
  if (g->seq != committed_seq_) {
    g->wb.Put(meta_cf(), kMetaLastSeq, Fixed64Value(g->seq));
  }
  if (g->pruned > 0) {
    g->wb.Put(meta_cf(), kMetaPruned, Fixed64Value(pruned_total_ + g->pruned));
  }
  const Timestamp pruned_before = std::max(g->pruned_before, PrunedBefore());
  if (pruned_before != PrunedBefore()) {
    g->wb.Put(meta_cf(), kMetaPrunedBefore,
              Fixed64Value(BiasTimestamp(pruned_before)));
  }
  HOOKLOG_RETURN_IF_ERROR(ResumeIfNeeded());
  rocksdb::Status s = db_->Write(write_options_, &g->wb);
  if (!s.ok()) {
    // Nothing of this batch is visible (RocksDB inserts into the memtables
    // only after the WAL write succeeded); the caches stay as they were.
    needs_resume_ = true;
    return FromRocks(s, "appending to " + path_);
  }
  // Durable: publish the new state.
  ++commit_generation_;
  for (auto& [id, c] : g->counters) counters_cache_[id] = c;
  for (const auto& [id, row] : g->deliveries) {
    CacheActive(id, row ? &*row : nullptr);
  }
  pruned_before_ = pruned_before;
  totals_ = g->totals;
  pruned_total_ += g->pruned;
  committed_seq_ = g->seq;
  last_seq_.store(g->seq);
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

// REQUIRES: write_mu_ held; `row` is committed (null: no row any more).
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

// ----------------------------------------------------------------- reads

template <typename T>
Result<T> RocksDbStorage::GetRow(const std::string& key, const char* what,
                                 Status (*decode)(std::string_view, T*),
                                 const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(ro, rows_cf(), key, &value);
  if (s.IsNotFound()) return Status::NotFound(std::string(what) + " not found");
  if (!s.ok()) return FromRocks(s, std::string("reading ") + what);
  T row;
  HOOKLOG_RETURN_IF_ERROR(decode(value.ToStringView(), &row));
  return row;
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
    const uint64_t seq =
        it->key().size() == 8 ? GetBigEndian64(it->key().data()) : 0;
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
  return GetRow<Endpoint>(RowKey(kRowEndpoint, id.raw()), "endpoint",
                          storage_internal::DecodeEndpointRow);
}
Result<Message> RocksDbStorage::GetMessage(const MessageId& id) {
  return GetRow<Message>(RowKey(kRowMessage, id.raw()), "message",
                         storage_internal::DecodeMessageRow);
}
Result<Delivery> RocksDbStorage::GetDelivery(const DeliveryId& id) {
  return GetRow<Delivery>(RowKey(kRowDelivery, id.raw()), "delivery",
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
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string value;
  rocksdb::Status s =
      db_->Get(ro, rows_cf(), RowKey(kRowEndpoint, id.raw()), &value);
  EndpointCounters c;
  if (s.ok()) {
    s = db_->Get(ro, rows_cf(), RowKey(kRowCounters, id.raw()), &value);
    if (s.ok()) {
      Status d = storage_internal::DecodeCounters(value, &c);
      if (!d.ok()) s = rocksdb::Status::Corruption(d.message());
    } else if (s.IsNotFound()) {
      s = rocksdb::Status::OK();
    }
  } else if (s.IsNotFound()) {
    db_->ReleaseSnapshot(snap);
    return Status::NotFound("endpoint " + id.ToString() + " not found");
  }
  db_->ReleaseSnapshot(snap);
  if (!s.ok()) return FromRocks(s, "reading counters");
  return c;
}

Result<EndpointCounters> RocksDbStorage::GetTotals() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), meta_cf(), kMetaTotals, &value);
  EndpointCounters c;
  if (s.IsNotFound()) return c;
  if (!s.ok()) return FromRocks(s, "reading totals");
  HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeCounters(value, &c));
  return c;
}

// RAII snapshot.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), s_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(s_); }
  const rocksdb::Snapshot* get() const { return s_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* s_;
};

Result<Page<Delivery>> RocksDbStorage::ListDeliveries(const DeliveryQuery& q) {
  Timestamp cursor_ts = 0;
  Uuid128 cursor_id;
  if (!q.cursor.empty()) {
    HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cursor_ts, &cursor_id));
  }
  uint8_t mask = 0;
  if (q.endpoint_id) mask |= kByEndpoint;
  if (q.status) mask |= kByStatus;
  if (q.event_type) mask |= kByType;
  const std::string prefix = DeliveryIndexPrefix(
      mask, q.endpoint_id ? &*q.endpoint_id : nullptr,
      q.status ? &*q.status : nullptr, q.event_type ? &*q.event_type : nullptr);
  const std::string upper = PrefixSuccessor(prefix);
  ScopedSnapshot snap(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;

  // The newest key that can match: created_before (inclusive) bounds it.
  std::string range_start = prefix;
  if (q.created_before) {
    PutBigEndian64(&range_start, ~BiasTimestamp(*q.created_before));
  }
  auto in_range = [&](Timestamp ts) {
    return !q.created_after || ts >= *q.created_after;
  };

  Page<Delivery> page;
  std::vector<std::string> keys;  // row keys of the page
  std::vector<Timestamp> key_ts;
  std::vector<Uuid128> key_ids;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_cf()));
    std::string start = range_start;
    bool skip_equal = false;
    if (!q.cursor.empty()) {
      std::string cursor_key = prefix;
      PutOrderSuffix(&cursor_key, cursor_ts, cursor_id);
      // Resume strictly after the cursor, but never before created_before.
      if (cursor_key > start) {
        start = cursor_key;
        skip_equal = true;
      }
    }
    it->Seek(start);
    if (skip_equal && it->Valid() && it->key().ToStringView() == start) {
      it->Next();
    }
    uint64_t to_skip =
        q.cursor.empty() ? uint64_t{q.page - 1} * q.page_size : 0;
    for (; it->Valid(); it->Next()) {
      Timestamp ts;
      Uuid128 id;
      if (it->key().size() < prefix.size() + kOrderSuffixBytes) {
        return Status::Corruption("malformed index key in " + path_);
      }
      ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
      if (!in_range(ts)) break;
      if (to_skip > 0) {
        --to_skip;
        continue;
      }
      if (keys.size() == q.page_size) {
        // One more exists: the page gets a cursor.
        page.next_cursor = EncodeListCursor(key_ts.back(), key_ids.back());
        break;
      }
      keys.push_back(RowKey(kRowDelivery, id));
      key_ts.push_back(ts);
      key_ids.push_back(id);
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "listing deliveries"));
  }
  if (!keys.empty()) {
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(ro, rows_cf(), keys.size(), slices.data(), values.data(),
                  statuses.data());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!statuses[i].ok()) {
        return Status::Corruption("index of " + path_ +
                                  " names a missing delivery " +
                                  key_ids[i].ToString());
      }
      Delivery d;
      HOOKLOG_RETURN_IF_ERROR(
          storage_internal::DecodeDeliveryRow(values[i].ToStringView(), &d));
      page.items.push_back(std::move(d));
    }
  }
  if (q.count_total) {
    if (!q.event_type && !q.created_after && !q.created_before) {
      // Served by the counters, no scan.
      EndpointCounters c;
      if (q.endpoint_id) {
        std::string value;
        rocksdb::Status s = db_->Get(
            ro, rows_cf(), RowKey(kRowCounters, q.endpoint_id->raw()), &value);
        if (s.ok()) {
          HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeCounters(value, &c));
        } else if (!s.IsNotFound()) {
          return FromRocks(s, "reading counters");
        }
      } else {
        std::string value;
        rocksdb::Status s = db_->Get(ro, meta_cf(), kMetaTotals, &value);
        if (s.ok()) {
          HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeCounters(value, &c));
        } else if (!s.IsNotFound()) {
          return FromRocks(s, "reading totals");
        }
      }
      if (q.status) {
        page.total_count = c.by_status[static_cast<int>(*q.status)];
      } else {
        for (uint64_t v : c.by_status) page.total_count += v;
      }
    } else {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_cf()));
      for (it->Seek(range_start); it->Valid(); it->Next()) {
        Timestamp ts;
        Uuid128 id;
        ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
        if (!in_range(ts)) break;
        ++page.total_count;
      }
      HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "counting deliveries"));
    }
  }
  return page;
}

Result<Page<Endpoint>> RocksDbStorage::ListEndpoints(const EndpointQuery& q) {
  Timestamp cursor_ts = 0;
  Uuid128 cursor_id;
  std::string start(1, kIdxEndpoints);
  bool skip_equal = false;
  if (!q.cursor.empty()) {
    HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cursor_ts, &cursor_id));
    PutOrderSuffix(&start, cursor_ts, cursor_id);
    skip_equal = true;
  }
  ScopedSnapshot snap(db_);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  const std::string upper(1, kIdxEndpoints + 1);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, index_cf()));
  it->Seek(start);
  if (skip_equal && it->Valid() && it->key().ToStringView() == start) {
    it->Next();
  }
  Page<Endpoint> page;
  uint64_t to_skip = q.cursor.empty() ? uint64_t{q.page - 1} * q.page_size : 0;
  bool page_full = false;
  for (; it->Valid(); it->Next()) {
    Timestamp ts;
    Uuid128 id;
    ParseOrderSuffix(it->key().ToStringView(), &ts, &id);
    auto row =
        GetRow<Endpoint>(RowKey(kRowEndpoint, id), "endpoint",
                         storage_internal::DecodeEndpointRow, snap.get());
    if (!row.ok()) return row.status();
    const Endpoint& e = *row;
    if (e.deleted && !q.include_deleted) continue;
    bool match = true;
    for (const auto& [k, v] : q.metadata) {
      auto m = e.metadata.find(k);
      if (m == e.metadata.end() || m->second != v) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    ++page.total_count;
    if (to_skip > 0) {
      --to_skip;
      continue;
    }
    if (page_full) {
      if (page.next_cursor.empty()) {
        page.next_cursor = EncodeListCursor(page.items.back().created_at,
                                            page.items.back().id.raw());
      }
      continue;  // keep counting
    }
    page.items.push_back(e);
    page_full = page.items.size() == q.page_size;
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "listing endpoints"));
  if (!q.cursor.empty()) {
    // total_count counts every match, not only those after the cursor.
    EndpointQuery all = q;
    all.cursor.clear();
    all.page = 1;
    all.page_size = 1;
    auto r = ListEndpoints(all);
    if (!r.ok()) return r.status();
    page.total_count = r->total_count;
  }
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
  std::optional<ScopedSnapshot> snap_holder;
  {
    std::lock_guard<std::mutex> wl(write_mu_);
    generation = commit_generation_;
    snap_holder.emplace(db_);
  }
  const ScopedSnapshot& snap = *snap_holder;
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  {
    const std::string lower(1, kRowEndpoint);
    const std::string upper(1, kRowEndpoint + 1);
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, rows_cf()));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      Endpoint e;
      HOOKLOG_RETURN_IF_ERROR(
          storage_internal::DecodeEndpointRow(it->value().ToStringView(), &e));
      on_endpoint(e);
    }
    HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "loading endpoints"));
    ro.iterate_upper_bound = nullptr;
  }
  // The due index holds exactly the non-terminal deliveries; fetch their
  // rows in chunks with MultiGet.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, due_cf()));
  std::vector<std::string> keys;
  auto flush = [&]() -> Status {
    if (keys.empty()) return Status::Ok();
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(ro, rows_cf(), keys.size(), slices.data(), values.data(),
                  statuses.data());
    std::vector<Delivery> rows(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!statuses[i].ok()) {
        return Status::Corruption("due index of " + path_ +
                                  " names a missing delivery");
      }
      HOOKLOG_RETURN_IF_ERROR(storage_internal::DecodeDeliveryRow(
          values[i].ToStringView(), &rows[i]));
    }
    if (!options_.read_only) {
      std::lock_guard<std::mutex> wl(write_mu_);
      if (commit_generation_ == generation) {
        for (const Delivery& d : rows) CacheActive(d.id, &d);
      }
    }
    for (const Delivery& d : rows) on_delivery(d);
    keys.clear();
    return Status::Ok();
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8 + kIdBytes) {
      return Status::Corruption("malformed due index key in " + path_);
    }
    Uuid128 id{GetBigEndian64(it->key().data() + 8),
               GetBigEndian64(it->key().data() + 16)};
    keys.push_back(RowKey(kRowDelivery, id));
    if (keys.size() == 256) HOOKLOG_RETURN_IF_ERROR(flush());
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "loading deliveries"));
  return flush();
}

// ------------------------------------------------------------- retention

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
      // One short critical section per chunk: appends interleave.
      std::lock_guard<std::mutex> wl(write_mu_);
      GroupState g;
      g.seq = committed_seq_;
      g.totals = totals_;
      for (const DeliveryId& id : candidates) {
        std::optional<Delivery> old;
        HOOKLOG_RETURN_IF_ERROR(
            LoadDelivery(&g, id, /*use_cache=*/false, &old));
        if (!old || !IsTerminal(old->status)) continue;
        const Timestamp last_activity =
            std::max(old->created_at, old->last_attempted_at);
        if (last_activity >= cutoff) continue;
        HOOKLOG_RETURN_IF_ERROR(PutDelivery(&g, &*old, nullptr));
        ++g.pruned;
        uint64_t* refs = nullptr;
        HOOKLOG_RETURN_IF_ERROR(MessageRefsFor(&g, old->message_id, &refs));
        if (*refs == 0) {
          // The message's payload goes with its last delivery row.
          g.row_ops.push_back(
              {RowKey(kRowMessage, old->message_id.raw()), {}, false});
        }
      }
      // Pruned rows were created before `cutoff` (their last activity is).
      g.pruned_before = cutoff;
      if (g.pruned > 0) {
        HOOKLOG_RETURN_IF_ERROR(CommitGroup(&g));
        pruned += g.pruned;
      }
    }
    if (candidates.size() < kChunk) break;
  }
  return pruned;
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

}  // namespace

Result<std::unique_ptr<Storage>> OpenRocksDbStorage(const std::string& path,
                                                    RocksDbOptions options) {
  auto store = std::make_unique<RocksDbStorage>(path, std::move(options));
  HOOKLOG_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Storage>(std::move(store));
}

Result<uint64_t> PruneRocksDbStorage(Storage* storage) {
  auto* s = dynamic_cast<RocksDbStorage*>(storage);
  if (s == nullptr) {
    return Status::InvalidArgument("not a RocksDB storage");
  }
  return s->PruneOnce();
}

Result<RocksDbStats> GetRocksDbStats(Storage* storage) {
  auto* s = dynamic_cast<RocksDbStorage*>(storage);
  if (s == nullptr) {
    return Status::InvalidArgument("not a RocksDB storage");
  }
  return s->Stats();
}

}  // namespace hooklog
