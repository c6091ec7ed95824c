// Versioned schema migrations of the PostgreSQL adapter.
//
// The schema's `schema_version` table holds one row: the version the schema
// is at. Migrate() takes a transaction-scoped advisory lock (concurrent
// opens queue), creates the schema when missing, refuses a version newer
// than this build knows, and applies each missing step in order, all in ONE
// transaction: a failed step leaves the schema as it was.
//
// Thread-safety: uses the given connection only.
#ifndef HOOKLOG_STORAGE_POSTGRES_PG_SCHEMA_H_
#define HOOKLOG_STORAGE_POSTGRES_PG_SCHEMA_H_

#include <string>

#include "hooklog/status.h"
#include "storage/postgres/pg_conn.h"

namespace hooklog::pg {

// Brings `schema` to `target` (1..kPostgresSchemaVersion); a schema already
// at or past it is left alone. FailedPrecondition, naming both versions, for
// a schema newer than kPostgresSchemaVersion.
Status Migrate(Conn* conn, const std::string& schema, int target);

// The version `schema` is at, changing nothing: 0 when it has no
// schema_version table (no hooklog schema there).
Result<int> SchemaVersion(Conn* conn, const std::string& schema);

}  // namespace hooklog::pg

#endif  // HOOKLOG_STORAGE_POSTGRES_PG_SCHEMA_H_
