// The RocksDB storage adapter: hooklog's default, embedded, durable store.
//
// Events and the projection rows they produce are written in one RocksDB
// WriteBatch; an Append is acknowledged only after its WAL bytes are synced
// (unless RocksDbOptions::sync is false). Concurrent Appends share one sync
// (group commit). Start-up reads metadata and the index of non-terminal
// deliveries only, never the whole log. See docs/storage.md.
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
};

// Opens (creating if allowed) the store in directory `path`. Errors:
// FailedPrecondition for a directory written by a newer format version,
// Corruption for damaged data, Unavailable when another process holds it;
// each message names the path and the reason.
Result<std::unique_ptr<Storage>> OpenRocksDbStorage(const std::string& path,
                                                    RocksDbOptions options = {});

}  // namespace hooklog

#endif  // HOOKLOG_ROCKSDB_STORAGE_H_
