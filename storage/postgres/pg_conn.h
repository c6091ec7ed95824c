// A thin layer over libpq for the PostgreSQL adapter: binary parameters
// (scalars and one-dimensional arrays), binary results, per-connection
// prepared statements, pipelines run as one implicit transaction, and the
// mapping of PostgreSQL errors to hooklog Status codes.
//
// Thread-safety: a Conn is used by one thread at a time (the adapter leases
// connections); the free functions are pure.
#ifndef HOOKLOG_STORAGE_POSTGRES_PG_CONN_H_
#define HOOKLOG_STORAGE_POSTGRES_PG_CONN_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hooklog/ids.h"
#include "hooklog/status.h"

namespace hooklog::pg {

// Type OIDs (pg_type.h is a server header; these numbers are fixed).
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt2Oid = 21;
inline constexpr Oid kUuidOid = 2950;
inline constexpr Oid kBoolArrayOid = 1000;
inline constexpr Oid kByteaArrayOid = 1001;
inline constexpr Oid kInt2ArrayOid = 1005;
inline constexpr Oid kInt8ArrayOid = 1016;
inline constexpr Oid kUuidArrayOid = 2951;

// A one-dimensional array in PostgreSQL's binary array format.
class ArrayBuilder {
 public:
  explicit ArrayBuilder(Oid element_oid) : element_oid_(element_oid) {}
  void Int8(int64_t v);
  void Int2(int16_t v);
  void Bool(bool v);
  void Bytea(std::string_view v);
  void Uuid(const Uuid128& v);
  size_t size() const { return count_; }
  // The encoded array (header + elements).
  std::string Finish() const;

 private:
  void Element(const void* data, size_t n);
  Oid element_oid_;
  size_t count_ = 0;
  std::string body_;
};

// Positional binary parameters ($1, $2, ...).
class Params {
 public:
  Params& Int8(int64_t v);
  Params& Int2(int16_t v);
  Params& Bool(bool v);
  Params& Bytea(std::string_view v);
  Params& Uuid(const Uuid128& v);
  Params& Array(Oid array_oid, const ArrayBuilder& a);

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<Oid>& types() const { return types_; }
  // Pointer arrays for libpq; valid while *this is unchanged.
  void Pointers(std::vector<const char*>* values, std::vector<int>* lengths,
                std::vector<int>* formats) const;

 private:
  Params& Add(Oid type, std::string bytes);
  std::vector<Oid> types_;
  std::vector<std::string> values_;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// Readers of binary result columns. REQUIRES: the column has that type and
// the value is not NULL (check IsNull first where NULL is possible).
int64_t GetInt8(const PGresult* r, int row, int col);
int16_t GetInt2(const PGresult* r, int row, int col);
bool GetBool(const PGresult* r, int row, int col);
std::string_view GetBytes(const PGresult* r, int row, int col);
Uuid128 GetUuid(const PGresult* r, int row, int col);
inline bool IsNull(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) != 0;
}

// One statement of a pipeline: SQL text (prepared once per connection) and
// its parameters.
struct Query {
  const std::string* sql;
  Params params;
};

class Conn {
 public:
  // `setup` runs (simple protocol) after every successful connect: session
  // settings such as search_path and statement_timeout. A positive
  // `connect_timeout_s` is libpq's connect_timeout unless the conninfo sets
  // its own.
  Conn(std::string conninfo, std::string setup, int connect_timeout_s = 0)
      : conninfo_(std::move(conninfo)),
        setup_(std::move(setup)),
        connect_timeout_(connect_timeout_s > 0
                             ? std::to_string(connect_timeout_s)
                             : std::string()) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Connects when not connected (or after a loss); Unavailable on failure.
  Status Ensure();
  // True once a call found the connection lost; the next Ensure reconnects.
  bool broken() const { return conn_ == nullptr; }
  // Successful connects so far: a change means a new server session (whose
  // session state, such as advisory locks, starts afresh).
  uint64_t sessions() const { return sessions_; }

  // Simple-protocol statements (may be several); for setup and migrations.
  Status ExecScript(const std::string& sql, std::string_view what);
  // One prepared statement, its own transaction unless inside ExecScript's
  // BEGIN; binary results.
  Result<PgResult> Exec(const std::string& sql, const Params& params,
                        std::string_view what);
  // Sends every query and one Sync: PostgreSQL runs them as ONE implicit
  // transaction, committed at the Sync, in one round trip. Returns each
  // query's result, or the first error (then nothing was committed, unless
  // the connection was lost: see broken()).
  Result<std::vector<PgResult>> Pipeline(const std::vector<Query>& queries,
                                         std::string_view what);

 private:
  // The prepared statement name for `sql` on this connection.
  Result<std::string> Prepare(const std::string& sql, const Params& params,
                              std::string_view what);
  // Maps a failed result (or a NULL one) to a Status; drops the connection
  // when it is gone.
  Status Fail(const PGresult* r, std::string_view what);
  void Drop();

  const std::string conninfo_;
  const std::string setup_;
  const std::string connect_timeout_;
  PGconn* conn_ = nullptr;
  uint64_t sessions_ = 0;
  std::unordered_map<std::string, std::string> prepared_;
};

// The Status for a PostgreSQL error: SQLSTATE classes 08 (connection), 53
// (resources), 57 (operator intervention, timeouts) and 40 (serialization)
// are Unavailable: nothing was written, try again; 23 (constraints) is
// AlreadyExists for unique violations, else FailedPrecondition; 22 (data)
// InvalidArgument; XX001/XX002 Corruption; the rest IOError.
Status StatusFromSqlState(std::string_view sqlstate, std::string message);

// Quotes an identifier for SQL text ("a""b").
std::string QuoteIdent(std::string_view ident);

}  // namespace hooklog::pg

#endif  // HOOKLOG_STORAGE_POSTGRES_PG_CONN_H_
