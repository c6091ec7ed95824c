// libpq helpers for the PostgreSQL adapter (see pg_conn.h).
//
// Everything travels in PostgreSQL's binary formats: ids as uuid (16 bytes),
// integers big-endian, bytea raw. Binary arrays let one prepared statement
// insert a batch of any size (INSERT ... SELECT FROM unnest($1, $2, ...)),
// without text escaping or a statement per batch size.
#include "storage/postgres/pg_conn.h"

#include <cstring>

namespace hooklog::pg {
namespace {

void PutBe32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (24 - 8 * i));
  out->append(b, 4);
}

std::string Be(uint64_t v, int bytes) {
  std::string b(static_cast<size_t>(bytes), '\0');
  for (int i = 0; i < bytes; ++i) {
    b[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
  }
  return b;
}

std::string UuidBytes(const Uuid128& v) { return Be(v.hi, 8) + Be(v.lo, 8); }

uint64_t ReadBe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

std::string ErrorText(PGconn* c) {
  std::string m = c != nullptr ? PQerrorMessage(c) : "no connection";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

void ArrayBuilder::Element(const void* data, size_t n) {
  PutBe32(&body_, static_cast<uint32_t>(n));
  body_.append(static_cast<const char*>(data), n);
  ++count_;
}
void ArrayBuilder::Int8(int64_t v) {
  std::string b = Be(static_cast<uint64_t>(v), 8);
  Element(b.data(), b.size());
}
void ArrayBuilder::Int2(int16_t v) {
  std::string b = Be(static_cast<uint16_t>(v), 2);
  Element(b.data(), b.size());
}
void ArrayBuilder::Bool(bool v) {
  const char b = v ? 1 : 0;
  Element(&b, 1);
}
void ArrayBuilder::Bytea(std::string_view v) { Element(v.data(), v.size()); }
void ArrayBuilder::Uuid(const Uuid128& v) {
  std::string b = UuidBytes(v);
  Element(b.data(), b.size());
}

// Binary array: ndim, has-null flag, element type, then per dimension its
// length and lower bound; then each element as length + bytes. An empty
// array has no dimensions.
std::string ArrayBuilder::Finish() const {
  std::string out;
  PutBe32(&out, count_ == 0 ? 0 : 1);
  PutBe32(&out, 0);
  PutBe32(&out, element_oid_);
  if (count_ > 0) {
    PutBe32(&out, static_cast<uint32_t>(count_));
    PutBe32(&out, 1);
  }
  out += body_;
  return out;
}

Params& Params::Add(Oid type, std::string bytes) {
  types_.push_back(type);
  values_.push_back(std::move(bytes));
  return *this;
}
Params& Params::Int8(int64_t v) {
  return Add(kInt8Oid, Be(static_cast<uint64_t>(v), 8));
}
Params& Params::Int2(int16_t v) {
  return Add(kInt2Oid, Be(static_cast<uint16_t>(v), 2));
}
Params& Params::Bool(bool v) { return Add(kBoolOid, std::string(1, v)); }
Params& Params::Bytea(std::string_view v) {
  return Add(kByteaOid, std::string(v));
}
Params& Params::Uuid(const Uuid128& v) { return Add(kUuidOid, UuidBytes(v)); }
Params& Params::Array(Oid array_oid, const ArrayBuilder& a) {
  return Add(array_oid, a.Finish());
}

void Params::Pointers(std::vector<const char*>* values,
                      std::vector<int>* lengths,
                      std::vector<int>* formats) const {
  values->clear();
  lengths->clear();
  formats->assign(values_.size(), 1);
  for (const std::string& v : values_) {
    values->push_back(v.data());
    lengths->push_back(static_cast<int>(v.size()));
  }
}

int64_t GetInt8(const PGresult* r, int row, int col) {
  return static_cast<int64_t>(ReadBe(PQgetvalue(r, row, col), 8));
}
int16_t GetInt2(const PGresult* r, int row, int col) {
  return static_cast<int16_t>(ReadBe(PQgetvalue(r, row, col), 2));
}
bool GetBool(const PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col)[0] != 0;
}
std::string_view GetBytes(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col),
                          static_cast<size_t>(PQgetlength(r, row, col)));
}
Uuid128 GetUuid(const PGresult* r, int row, int col) {
  const char* p = PQgetvalue(r, row, col);
  if (PQgetlength(r, row, col) != 16) return Uuid128{};
  return Uuid128{ReadBe(p, 8), ReadBe(p + 8, 8)};
}

Status StatusFromSqlState(std::string_view state, std::string message) {
  std::string m = "postgres: " + message;
  if (state.size() != 5) return Status::IOError(std::move(m));
  const std::string_view cls = state.substr(0, 2);
  if (cls == "08" || cls == "53" || cls == "57" || cls == "40") {
    return Status::Unavailable(std::move(m));
  }
  if (state == "23505") return Status::AlreadyExists(std::move(m));
  if (cls == "23") return Status::FailedPrecondition(std::move(m));
  if (cls == "22") return Status::InvalidArgument(std::move(m));
  if (state == "XX001" || state == "XX002") {
    return Status::Corruption(std::move(m));
  }
  return Status::IOError(std::move(m));
}

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Conn::~Conn() { Drop(); }

void Conn::Drop() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  // Prepared statements die with the server session.
  prepared_.clear();
}

Status Conn::Ensure() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  Drop();
  // The conninfo is expanded in place of "dbname"; keywords before it are
  // defaults that it may override.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {connect_timeout_.c_str(), conninfo_.c_str(), nullptr};
  conn_ = PQconnectdbParams(connect_timeout_.empty() ? keys + 1 : keys,
                            connect_timeout_.empty() ? values + 1 : values,
                            /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    Status st =
        Status::Unavailable("postgres: cannot connect: " + ErrorText(conn_));
    Drop();
    return st;
  }
  if (!setup_.empty()) {
    Status st = ExecScript(setup_, "session setup");
    if (!st.ok()) {
      Drop();
      return st;
    }
  }
  ++sessions_;
  return Status::Ok();
}

Status Conn::Fail(const PGresult* r, std::string_view what) {
  const char* state =
      r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = ErrorText(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) {
    msg.pop_back();
  }
  msg = std::string(what) + ": " + msg;
  // A lost connection is Unavailable whatever the result says; the next
  // Ensure() reconnects.
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    Drop();
    return Status::Unavailable("postgres: connection lost: " + msg);
  }
  return StatusFromSqlState(state != nullptr ? state : "", std::move(msg));
}

Status Conn::ExecScript(const std::string& sql, std::string_view what) {
  if (conn_ == nullptr) return Status::Unavailable("postgres: not connected");
  PgResult r(PQexec(conn_, sql.c_str()));
  const ExecStatusType st =
      r != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Fail(r.get(), what);
  }
  return Status::Ok();
}

Result<std::string> Conn::Prepare(const std::string& sql, const Params& params,
                                  std::string_view what) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  std::string name = "hl" + std::to_string(prepared_.size());
  PgResult r(PQprepare(conn_, name.c_str(), sql.c_str(), params.size(),
                       params.types().data()));
  if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return Fail(r.get(), std::string(what) + " (prepare)");
  }
  prepared_.emplace(sql, name);
  return name;
}

Result<PgResult> Conn::Exec(const std::string& sql, const Params& params,
                            std::string_view what) {
  if (conn_ == nullptr) return Status::Unavailable("postgres: not connected");
  auto name = Prepare(sql, params, what);
  if (!name.ok()) return name.status();
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  params.Pointers(&values, &lengths, &formats);
  PgResult r(PQexecPrepared(conn_, name->c_str(), params.size(), values.data(),
                            lengths.data(), formats.data(), 1));
  const ExecStatusType st =
      r != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Fail(r.get(), what);
  }
  return r;
}

Result<std::vector<PgResult>> Conn::Pipeline(const std::vector<Query>& queries,
                                             std::string_view what) {
  if (conn_ == nullptr) return Status::Unavailable("postgres: not connected");
  // Prepare outside the pipeline (once per connection): a failed Parse
  // inside it would abort the whole batch for a reason unrelated to data.
  std::vector<std::string> names;
  for (const Query& q : queries) {
    auto name = Prepare(*q.sql, q.params, what);
    if (!name.ok()) return name.status();
    names.push_back(std::move(*name));
  }
  if (PQenterPipelineMode(conn_) != 1) return Fail(nullptr, what);
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  bool sent = true;
  for (size_t i = 0; i < queries.size() && sent; ++i) {
    queries[i].params.Pointers(&values, &lengths, &formats);
    sent = PQsendQueryPrepared(conn_, names[i].c_str(),
                               queries[i].params.size(), values.data(),
                               lengths.data(), formats.data(), 1) == 1;
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  if (!sent) {
    // libpq only fails to queue on a broken or confused session: drop it
    // rather than reuse it half way through a pipeline.
    Status st = Fail(nullptr, what);
    Drop();
    return st.IsUnavailable()
               ? st
               : Status::Unavailable("postgres: connection lost: " +
                                     st.message());
  }

  // Collect: one result (then a NULL separator) per query, then the Sync.
  // After an error the server skips the rest (PGRES_PIPELINE_ABORTED) and
  // rolls the implicit transaction back at the Sync.
  std::vector<PgResult> out;
  Status first_error;
  bool synced = false;
  int nulls = 0;
  while (!synced) {
    PgResult r(PQgetResult(conn_));
    if (r == nullptr) {
      // NULL ends one query's results; several in a row with nothing else
      // means the connection is gone.
      if (PQstatus(conn_) != CONNECTION_OK || ++nulls > 2) break;
      continue;
    }
    nulls = 0;
    switch (PQresultStatus(r.get())) {
      case PGRES_PIPELINE_SYNC:
        synced = true;
        break;
      case PGRES_COMMAND_OK:
      case PGRES_TUPLES_OK:
        out.push_back(std::move(r));
        break;
      case PGRES_PIPELINE_ABORTED:
        break;
      default:
        if (first_error.ok()) first_error = Fail(r.get(), what);
        if (conn_ == nullptr) return first_error;  // lost: Fail dropped it
        break;
    }
  }
  if (!synced) {
    Status st = first_error.ok() ? Fail(nullptr, what) : first_error;
    Drop();  // the protocol state is unknown: never reuse this session
    return st.IsUnavailable() ? st
                              : Status::Unavailable(
                                    "postgres: connection "
                                    "lost: " +
                                    st.message());
  }
  PQexitPipelineMode(conn_);
  if (!first_error.ok()) return first_error;
  if (out.size() != queries.size()) {
    return Status::IOError("postgres: " + std::string(what) +
                           ": pipeline returned " + std::to_string(out.size()) +
                           " results for " + std::to_string(queries.size()));
  }
  return out;
}

}  // namespace hooklog::pg
