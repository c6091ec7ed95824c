// The RocksDB info LOG writer the store installs instead of RocksDB's own.
//
// Why: RocksDB's EnvLogger must never be written to again after one failed
// write. Debian's librocksdb keeps assertions on, and logging the
// background error of a full disk into a LOG file whose previous append
// failed aborts the process ("Assertion `sync_without_flush_called_'
// failed" in WritableFileWriter). This logger appends to the same `LOG`
// file with stdio and ignores write errors: on a full disk, log lines are
// lost, the process is not (FullDiskTest, tests/webhookd/disk_fault_test.cc).
//
// Thread-safety: the logger may be called from any RocksDB thread (lines
// are serialised by a mutex). Ownership: the logger owns the FILE.
#ifndef HOOKLOG_STORAGE_ROCKSDB_INFO_LOG_H_
#define HOOKLOG_STORAGE_ROCKSDB_INFO_LOG_H_

#include <rocksdb/env.h>

#include <memory>
#include <string>

namespace hooklog::rocksdb_internal {

// Opens `path` for appending (close-on-exec). Null when it cannot be
// opened; RocksDB then uses its default logger.
std::shared_ptr<rocksdb::Logger> OpenTolerantLogger(
    const std::string& path, rocksdb::InfoLogLevel level);

}  // namespace hooklog::rocksdb_internal

#endif  // HOOKLOG_STORAGE_ROCKSDB_INFO_LOG_H_
