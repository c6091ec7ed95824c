// SqliteStorage: a complete hooklog Storage adapter on SQLite, written only
// against hooklog's public headers. It is the worked example of
// docs/storage.md ("Writing an adapter") and passes the conformance suite
// (sqlite_storage_test.cc).
//
// Design: one connection in WAL mode with synchronous=FULL, guarded by a
// mutex; every Append is one IMMEDIATE transaction (events + rows), so it is
// atomic and durable when it returns. Projection rows are ordinary tables
// with the columns that queries filter on, and indexes that serve the
// newest-first listings. Counters are computed with GROUP BY over the
// endpoint index (simple; a high-volume adapter would keep counter rows).
//
// Thread-safety: every method may be called from any thread (serialized).
// Ownership: owns its connection.
#ifndef HOOKLOG_EXAMPLES_SQLITE_STORAGE_H_
#define HOOKLOG_EXAMPLES_SQLITE_STORAGE_H_

#include <memory>
#include <string>

#include "hooklog/storage.h"

namespace hooklog_example {

// Opens (creating) the SQLite database file at `path`.
hooklog::Result<std::unique_ptr<hooklog::Storage>> OpenSqliteStorage(
    const std::string& path);

}  // namespace hooklog_example

#endif  // HOOKLOG_EXAMPLES_SQLITE_STORAGE_H_
