// The RocksDB storage adapter: hooklog's default, embedded, durable store.
//
// Events and the projection rows they produce are written in one RocksDB
// WriteBatch; an Append is acknowledged only after its WAL bytes are synced
// (unless RocksDbOptions::sync is false): one sync per Append. Group commit
// is the engine Committer's (engine/committer.h); concurrent Appends from
// elsewhere take turns. Start-up reads metadata and the index of
// non-terminal deliveries only, never the whole log. See docs/storage.md;
// the code is in storage/rocksdb/.
//
// Thread-safety: as Storage. Ownership: the returned Storage owns the DB;
// one process at a time may open a data directory (Unavailable otherwise).
#ifndef HOOKLOG_ROCKSDB_STORAGE_H_
#define HOOKLOG_ROCKSDB_STORAGE_H_

#include <chrono>
#include <memory>
#include <string>

#include "hooklog/clock.h"
#include "hooklog/status.h"
#include "hooklog/storage.h"

namespace hooklog {

struct RocksDbOptions {
  // true: an acknowledged Append survives power loss (WAL fsync).
  // false: survives a process crash (kill -9) but the last moments may be
  // lost on power loss or an OS crash.
  bool sync = true;
  bool create_if_missing = true;
  // Terminal deliveries older than this are pruned in the background
  // (rows and payloads); 0 disables pruning.
  Duration retention = std::chrono::hours(24 * 30);
  size_t block_cache_bytes = 64 << 20;
  // Non-terminal deliveries whose index-relevant fields (~150 bytes each)
  // are kept in memory so that updating them needs no read; beyond this
  // many, updates read the previous row (correct, slower).
  size_t active_row_cache_entries = 256 * 1024;
  // Bound on the WAL that an open after a crash has to replay (RocksDB's
  // max_total_wal_size): larger means fewer, bigger flushes; smaller means
  // faster recovery. A clean close flushes, leaving nothing to replay.
  uint64_t max_total_wal_bytes = 64 << 20;
  // Opens without the directory lock (e.g. hooklog-admin verify next to a
  // running daemon): reads see the data as of opening; Append fails with
  // FailedPrecondition.
  bool read_only = false;
  // The clock retention measures age with; null means SystemClock(). Tests
  // inject a FakeClock.
  std::shared_ptr<Clock> clock;
  // How often the background pruner runs when retention > 0; 0 disables the
  // background thread (PruneRocksDbStorage still prunes on demand).
  Duration prune_interval = std::chrono::minutes(1);
};

// Opens (creating if allowed) the store in directory `path`. Errors:
// FailedPrecondition for a directory written by a newer format version,
// Corruption for damaged data, Unavailable when another process holds it;
// each message names the path and the reason.
Result<std::unique_ptr<Storage>> OpenRocksDbStorage(
    const std::string& path, RocksDbOptions options = {});

// Runs one retention pass now, on the calling thread, and returns how many
// deliveries it pruned (hooklog-admin, tests). InvalidArgument when `storage`
// is not a RocksDB storage returned by OpenRocksDbStorage.
Result<uint64_t> PruneRocksDbStorage(Storage* storage);

// Figures for hooklog-admin stats. Thread-safe.
struct RocksDbStats {
  uint64_t last_sequence = 0;
  uint64_t pruned_deliveries = 0;  // total ever pruned by retention
  uint32_t format_version = 0;
  std::string rocksdb_stats;  // RocksDB's own "rocksdb.stats" text
};
Result<RocksDbStats> GetRocksDbStats(Storage* storage);

}  // namespace hooklog

#endif  // HOOKLOG_ROCKSDB_STORAGE_H_
