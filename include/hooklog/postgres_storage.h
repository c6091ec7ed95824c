// The PostgreSQL storage adapter: the log and the projection rows in tables
// of one PostgreSQL schema, so that the store outlives any one machine's
// disk and several nodes can share it (cluster mode: partition leases on
// the server's clock, fenced Appends, LISTEN/NOTIFY for WaitForAppends).
//
// Every Append is ONE PostgreSQL transaction (events, rows, counters and the
// sequence together, or nothing), acknowledged after PostgreSQL's commit
// (durable as the server's synchronous_commit says). Sequences are assigned
// by the adapter from a one-row table updated in the same transaction, so
// they stay gapless even when a transaction rolls back. Open creates or
// migrates the schema (a versioned `schema_version` table) and refuses a
// schema newer than this build. An Append with fences checks them in its
// own transaction (the lease rows locked FOR SHARE, so no grant can change
// hands before it commits) and stores nothing when one fails. See
// docs/postgres.md.
//
// Thread-safety: as Storage (every method from any thread). Appends are
// serialized on one writer connection; reads and SyncLeases use a small
// pool of other connections so they never wait behind an append;
// WaitForAppends has a LISTEN connection of its own (one waiter at a time);
// retention passes have one more connection of their own (one pass at a
// time per store; several nodes may prune one schema at once).
// Ownership: the returned Storage owns its connections; the database is the
// caller's (the adapter only touches its own schema).
#ifndef HOOKLOG_POSTGRES_STORAGE_H_
#define HOOKLOG_POSTGRES_STORAGE_H_

#include <chrono>
#include <memory>
#include <string>

#include "hooklog/clock.h"
#include "hooklog/status.h"
#include "hooklog/storage.h"

namespace hooklog {

// The schema version this build creates and serves (docs/postgres.md lists
// what each version added).
inline constexpr int kPostgresSchemaVersion = 5;

struct PostgresOptions {
  // The PostgreSQL schema (namespace) holding hooklog's tables; created when
  // missing. Several stores can share a database under different schemas.
  std::string schema = "hooklog";
  // Connections used for reads (the writer has one more of its own). Reads
  // beyond this many wait for a free connection.
  int read_connections = 4;
  // Server-side statement_timeout for every statement; a statement running
  // longer fails with Unavailable. 0: no timeout.
  Duration statement_timeout = std::chrono::seconds(30);
  // libpq connect_timeout for (re)connecting, in whole seconds (a
  // connect_timeout in the conninfo wins); 0: wait as long as the OS does.
  Duration connect_timeout = std::chrono::seconds(10);
  // One writer per schema: Open takes a session-level advisory lock (its key
  // derived from the schema name) on the writer connection and fails with
  // FailedPrecondition when another store holds it. The lock lives as long
  // as the writer's session; it is re-taken on reconnect, and while it
  // cannot be, Append fails with Unavailable. For callers that must not
  // share a schema; cluster mode (webhookd --storage) shares it through
  // partition leases instead.
  bool exclusive = false;
  // false: never create or migrate. Open fails with NotFound when the schema
  // holds no hooklog tables and with FailedPrecondition when it is older
  // than this build (for tools that must not change what they inspect:
  // hooklog-admin verify / stats).
  bool create_if_missing = true;
  // Terminal deliveries (delivered, dead_letter) whose last activity
  // (max of created_at and last_attempted_at) is older than this are pruned
  // with their counters and, once no row refers to it, their message; stats
  // buckets older than it go too; the log is kept. 0 (the default): keep
  // everything forever, as before retention existed. Unlike RocksDbOptions,
  // whose default is 30 days, because a shared database is the operator's
  // to clean (docs/postgres.md, "Retention and pruning").
  Duration retention = Duration(0);
  // How often a background thread runs a pass when retention > 0; 0: no
  // thread (PrunePostgresStorage still prunes on demand).
  Duration prune_interval = Duration(0);
  // The clock retention measures age with; null means SystemClock(). Tests
  // inject a FakeClock.
  std::shared_ptr<Clock> clock;
};

// Connects with the libpq connection string `conninfo` ("host=... dbname=..."
// or a postgresql:// URI), creates or migrates the schema to
// kPostgresSchemaVersion and loads the last sequence. Errors: Unavailable
// when the server cannot be reached; FailedPrecondition for a schema written
// by a newer build (the message names both versions), or with
// options.exclusive when another exclusive store holds the schema; others
// name the statement that failed.
Result<std::unique_ptr<Storage>> OpenPostgresStorage(
    std::string conninfo, PostgresOptions options = {});

// Creates or migrates the schema to `version` (1..kPostgresSchemaVersion)
// and returns, without opening a Storage: staged upgrades and migration
// tests. Refuses a newer schema exactly as OpenPostgresStorage does; never
// downgrades (a schema already past `version` is left as it is).
Status MigratePostgresSchema(const std::string& conninfo,
                             const PostgresOptions& options,
                             int version = kPostgresSchemaVersion);

// Runs one retention pass now, on the calling thread, and returns how many
// deliveries it pruned (0 when options.retention is 0). Rows an Append or
// another pass holds are skipped, not waited for, and are left for a later
// pass. InvalidArgument when `storage` is not a store returned by
// OpenPostgresStorage; other errors name the statement that failed (the
// chunks committed before it stay pruned, each consistent).
Result<uint64_t> PrunePostgresStorage(Storage* storage);

}  // namespace hooklog

#endif  // HOOKLOG_POSTGRES_STORAGE_H_
