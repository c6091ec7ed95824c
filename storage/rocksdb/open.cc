// Opening and closing the RocksDB store: the RocksDB options and why each
// is set (docs/storage.md, "Recovery settings", "Restart", "Tuning"), the
// mapping of open failures onto hooklog statuses, and the checks a store
// must pass before it serves (format version, last sequence vs. log).
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>

#include "base/coding.h"
#include "storage/rocksdb/info_log.h"
#include "storage/rocksdb/insert_hints.h"
#include "storage/rocksdb/key_layout.h"
#include "storage/rocksdb/store.h"
#include "storage/row_codec.h"

namespace hooklog {
namespace rocksdb_internal {
namespace {

using storage_internal::UnbiasTimestamp;

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

rocksdb::DBOptions MakeDbOptions(const RocksDbOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
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
  db_options.max_total_wal_size = options.max_total_wal_bytes;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.listeners.push_back(std::make_shared<ManualRecoveryListener>());
  return db_options;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(
    const std::shared_ptr<rocksdb::Cache>& cache, bool bloom,
    std::shared_ptr<const rocksdb::SliceTransform> insert_hints = nullptr) {
  rocksdb::ColumnFamilyOptions cf;
  cf.memtable_insert_with_hint_prefix_extractor = std::move(insert_hints);
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
}

}  // namespace

RocksDbStorage::RocksDbStorage(std::string path, RocksDbOptions options)
    : path_(std::move(path)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClock();
}

RocksDbStorage::~RocksDbStorage() {
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

Result<RocksDbStorage*> RocksDbStorage::From(Storage* storage) {
  auto* s = dynamic_cast<RocksDbStorage*>(storage);
  if (s == nullptr) return Status::InvalidArgument("not a RocksDB storage");
  return s;
}

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
  rocksdb::DBOptions db_options = MakeDbOptions(options_);
  if (!options_.read_only) {
    std::error_code ec;
    if (options_.create_if_missing) {
      std::filesystem::create_directories(path_, ec);
    }
    // Null (the file cannot be opened) leaves RocksDB's default logger.
    db_options.info_log =
        OpenTolerantLogger(path_ + "/LOG", db_options.info_log_level);
  }

  auto cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  std::vector<std::string> existing;
  rocksdb::Status ls =
      rocksdb::DB::ListColumnFamilies(db_options, path_, &existing);
  // Ours first, in the order of the handle accessors (store.h).
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {kCfLog, MakeCfOptions(cache, false, LogInsertHints())},
      {kCfRows, MakeCfOptions(cache, true, RowInsertHints())},
      {kCfIndex, MakeCfOptions(cache, false, IndexInsertHints())},
      {kCfDue, MakeCfOptions(cache, false)},
      {kCfMeta, MakeCfOptions(cache, false)},
      {rocksdb::kDefaultColumnFamilyName, MakeCfOptions(cache, false)}};
  if (ls.ok()) {
    // A newer version may have added families: they must all be opened,
    // and the format version check below then decides.
    for (const auto& name : existing) {
      bool known = std::any_of(descriptors.begin(), descriptors.end(),
                               [&](const auto& d) { return d.name == name; });
      if (!known) descriptors.push_back({name, MakeCfOptions(cache, false)});
    }
    if (options_.read_only) {
      // Read-only cannot create families: a directory without ours is not
      // a hooklog store, and saying so beats RocksDB's error.
      for (size_t i = 0; i < kOwnColumnFamilies; ++i) {
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
    // A new store: record the format before anything else is written.
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
  if (version < kStoreFormatVersion) {
    if (options_.read_only) {
      has_message_index_ = version >= 2;
      legacy_status_index_ = true;
    } else {
      HOOKLOG_RETURN_IF_ERROR(UpgradeToFormat4(version));
    }
  }
  const rocksdb::ReadOptions ro;
  const std::string what = "metadata of " + path_;
  std::optional<uint64_t> last_seq;
  HOOKLOG_RETURN_IF_ERROR(
      ReadRow(ro, meta_cf(), kMetaLastSeq, DecodeCount, what, &last_seq));
  const uint64_t meta_seq = last_seq.value_or(0);
  const uint64_t log_seq =
      log_empty ? 0 : ParseSeqKey(it->key().ToStringView());
  // Both are written by the same atomic batch: disagreement means damage.
  if (log_seq != meta_seq) {
    return Status::Corruption(
        "cannot open " + path_ + ": last sequence in metadata (" +
        std::to_string(meta_seq) + ") disagrees with the log (" +
        std::to_string(log_seq) + ")");
  }
  last_seq_ = meta_seq;
  committed_seq_ = meta_seq;
  std::optional<EndpointCounters> totals;
  HOOKLOG_RETURN_IF_ERROR(ReadRow(ro, meta_cf(), kMetaTotals,
                                  storage_internal::DecodeCounters, what,
                                  &totals));
  totals_ = totals.value_or(EndpointCounters{});
  std::optional<uint64_t> pruned, pruned_before;
  HOOKLOG_RETURN_IF_ERROR(
      ReadRow(ro, meta_cf(), kMetaPruned, DecodeCount, what, &pruned));
  HOOKLOG_RETURN_IF_ERROR(ReadRow(ro, meta_cf(), kMetaPrunedBefore, DecodeCount,
                                  what, &pruned_before));
  pruned_total_ = pruned.value_or(0);
  if (pruned_before) {
    pruned_before_ = UnbiasTimestamp(*pruned_before);
  } else if (pruned_total_ > 0) {
    // Pruned by a build that did not record the watermark: any terminal
    // delivery may be gone.
    pruned_before_ = std::numeric_limits<Timestamp>::max();
  }
  return Status::Ok();
}

// One scan of the delivery rows writes, in unsynced chunks, what format 4
// has and the old format lacks: the 'T' status entries (and, from format
// 1, the 'M' entries). Then ONE synced batch deletes the old status masks
// of 'D', the due family and the message reference counts (range
// deletions, not a key per row) and records format 4,
// which also makes the chunks durable. Until that batch the directory is a
// complete format 1/2 store with some extra 'T' keys that nothing reads,
// so a crash midway (or an older build opening it) finds it intact, and
// the next open redoes the upgrade (the entries are idempotent).
Status RocksDbStorage::UpgradeToFormat4(uint32_t from_version) {
  const std::string prefix(1, kRowDelivery);
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, rows_cf()));
  rocksdb::WriteBatch wb;
  rocksdb::WriteOptions unsynced;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    Delivery d;
    HOOKLOG_RETURN_IF_ERROR(
        storage_internal::DecodeDeliveryRow(it->value().ToStringView(), &d));
    if (from_version < 2) {
      wb.Put(index_cf(), MessageIndexKey(d), rocksdb::Slice());
    }
    for (const std::string& k : StatusIndexKeys(d)) {
      wb.Put(index_cf(), k, d.event_type);
    }
    if (wb.Count() >= 1024) {
      HOOKLOG_RETURN_IF_ERROR(
          FromRocks(db_->Write(unsynced, &wb), "upgrading " + path_));
      wb.Clear();
    }
  }
  HOOKLOG_RETURN_IF_ERROR(FromRocks(it->status(), "upgrading " + path_));
  for (const auto& [from, to] : LegacyStatusIndexRanges()) {
    wb.DeleteRange(index_cf(), from, to);
  }
  // Message reference counts: the 'M' entries count a message's rows now.
  wb.DeleteRange(rows_cf(), std::string(1, kRowMessageRefs),
                 std::string(1, kRowMessageRefs + 1));
  // The due family's keys are kDueKeyBytes long: this range is all of them.
  wb.DeleteRange(due_cf(), std::string(),
                 std::string(kDueKeyBytes + 1, '\xff'));
  std::string v;
  storage_internal::Writer(&v).Fixed32(kStoreFormatVersion);
  wb.Put(meta_cf(), kMetaFormatVersion, v);
  rocksdb::WriteOptions synced;
  synced.sync = true;
  return FromRocks(db_->Write(synced, &wb), "upgrading " + path_);
}

}  // namespace rocksdb_internal

Result<std::unique_ptr<Storage>> OpenRocksDbStorage(const std::string& path,
                                                    RocksDbOptions options) {
  auto store = std::make_unique<rocksdb_internal::RocksDbStorage>(
      path, std::move(options));
  HOOKLOG_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Storage>(std::move(store));
}

}  // namespace hooklog
