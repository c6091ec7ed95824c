// Retention for the PostgreSQL adapter: removes terminal deliveries
// (delivered, dead_letter) whose last activity — max(created_at,
// last_attempted_at), as the RocksDB store — is older than a cutoff, with
// their contribution to the counters and, once no delivery row refers to it,
// their message; then stats buckets older than the cutoff. The log is never
// touched. See docs/postgres.md, "Retention and pruning".
//
// Each chunk (at most kPruneChunk rows) is ONE short transaction whose rows
// are picked FOR UPDATE SKIP LOCKED, so a pass never waits on an Append or
// on another node's pass for a row, and an Append never waits on a pass for
// longer than one chunk. The chunk also raises the schema's watermark
// (retention.pruned_before, schema v5) that Storage::PrunedBefore reports.
//
// Thread-safety: uses the given connection only (one thread at a time).
// Several passes, in this process or on other nodes, may run at once.
#ifndef HOOKLOG_STORAGE_POSTGRES_PG_RETENTION_H_
#define HOOKLOG_STORAGE_POSTGRES_PG_RETENTION_H_

#include <cstdint>

#include "hooklog/clock.h"
#include "hooklog/status.h"
#include "storage/postgres/pg_conn.h"

namespace hooklog::pg {

// Rows per chunk transaction (deliveries and stats buckets alike).
inline constexpr int64_t kPruneChunk = 1000;

// One pass: every prunable delivery (rows locked by someone else are left
// for the next pass) and every stats bucket before `cutoff`. Returns how
// many deliveries it removed. `conn`'s search_path must be the schema.
// A failure leaves the chunks committed so far in place (each is
// consistent on its own).
Result<uint64_t> PruneBefore(Conn* conn, Timestamp cutoff);

// The schema's watermark: terminal deliveries created before it may have
// been pruned (0: never).
Result<Timestamp> ReadPrunedBefore(Conn* conn);

}  // namespace hooklog::pg

#endif  // HOOKLOG_STORAGE_POSTGRES_PG_RETENTION_H_
