// A hooklog Storage adapter on SQLite (see sqlite_storage.h).
//
// Things every adapter must get right, and how this one does:
//   - atomicity: events and rows of a batch in ONE transaction;
//   - gapless sequences: assigned under the same lock that commits;
//   - ordering: (created_at DESC, id DESC), ids stored as 16-byte big-endian
//     blobs so that SQLite's memcmp order is the id order;
//   - cursors: hooklog::EncodeListCursor of the last row, resumed with a
//     keyset predicate (not OFFSET) so that deep pages cost the same;
//   - LoadActive: a partial index of the non-terminal deliveries.
// And nothing more: queries arrive validated and appends arrive batched by
// the engine, so there is no validation and no group commit here.

#include "examples/sqlite_storage/sqlite_storage.h"

#include <sqlite3.h>

#include <atomic>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hooklog_example {
namespace {

using hooklog::Delivery;
using hooklog::DeliveryId;
using hooklog::DeliveryQuery;
using hooklog::Endpoint;
using hooklog::EndpointCounters;
using hooklog::EndpointId;
using hooklog::EndpointQuery;
using hooklog::Event;
using hooklog::IdempotencyRecord;
using hooklog::Message;
using hooklog::MessageId;
using hooklog::Result;
using hooklog::Status;
using hooklog::Uuid128;

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, event BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
  id BLOB PRIMARY KEY, created_at INTEGER NOT NULL, deleted INTEGER NOT NULL,
  snapshot BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS endpoints_newest ON endpoints (created_at, id);
CREATE TABLE IF NOT EXISTS endpoint_metadata (
  endpoint_id BLOB NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (endpoint_id, key));
CREATE TABLE IF NOT EXISTS messages (id BLOB PRIMARY KEY, event BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  id BLOB PRIMARY KEY, message_id BLOB NOT NULL, endpoint_id BLOB NOT NULL,
  event_type TEXT NOT NULL, status INTEGER NOT NULL, attempts INTEGER NOT NULL,
  failed_attempts INTEGER NOT NULL, created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL, last_attempted_at INTEGER NOT NULL,
  rate_limited_since INTEGER NOT NULL, http_status_code INTEGER,
  response_body TEXT, last_error INTEGER NOT NULL, replay_of BLOB,
  dead_letter_reason INTEGER, is_test INTEGER NOT NULL,
  terminal INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS d_all ON deliveries (created_at, id);
CREATE INDEX IF NOT EXISTS d_ep ON deliveries (endpoint_id, created_at, id);
CREATE INDEX IF NOT EXISTS d_st ON deliveries (status, created_at, id);
CREATE INDEX IF NOT EXISTS d_ty ON deliveries (event_type, created_at, id);
CREATE INDEX IF NOT EXISTS d_ep_st
  ON deliveries (endpoint_id, status, created_at, id);
CREATE INDEX IF NOT EXISTS d_active ON deliveries (next_attempt_at)
  WHERE terminal = 0;
CREATE TABLE IF NOT EXISTS attempts (
  delivery_id BLOB NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL,
  http_status_code INTEGER, response_body TEXT, error INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL, PRIMARY KEY (delivery_id, n));
CREATE TABLE IF NOT EXISTS idempotency (
  key BLOB PRIMARY KEY, message_id BLOB NOT NULL, deliveries BLOB NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS d_msg ON deliveries (message_id, created_at, id);
CREATE TABLE IF NOT EXISTS stats (
  endpoint_id BLOB NOT NULL, minute INTEGER NOT NULL, counts BLOB NOT NULL,
  PRIMARY KEY (endpoint_id, minute));
CREATE TABLE IF NOT EXISTS replay_jobs (
  id BLOB PRIMARY KEY, created_at INTEGER NOT NULL, running INTEGER NOT NULL,
  body BLOB NOT NULL);
)sql";

// Stats counts as 22 little-endian u64 (StatsCounts order). An example
// adapter keeps it simple: Append reads, adds and rewrites the bucket in
// its transaction.
std::string EncodeCounts(const hooklog::StatsCounts& c) {
  std::vector<uint64_t> v = {c.delivered,   c.failed,   c.rate_limited,
                             c.dead_letter, c.attempts, c.latency_sum_ms};
  v.insert(v.end(), std::begin(c.latency), std::end(c.latency));
  std::string out;
  for (uint64_t x : v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(x >> (8 * i)));
  }
  return out;
}
bool DecodeCounts(const std::string& in, hooklog::StatsCounts* c) {
  std::vector<uint64_t*> v = {&c->delivered,    &c->failed,
                              &c->rate_limited, &c->dead_letter,
                              &c->attempts,     &c->latency_sum_ms};
  for (uint64_t& l : c->latency) v.push_back(&l);
  if (in.size() != v.size() * 8) return false;
  for (size_t k = 0; k < v.size(); ++k) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; --i) {
      x = (x << 8) | static_cast<unsigned char>(in[k * 8 + i]);
    }
    *v[k] = x;
  }
  return true;
}

std::string IdBlob(const Uuid128& id) {
  std::string b(16, '\0');
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<char>(id.hi >> (56 - 8 * i));
    b[8 + i] = static_cast<char>(id.lo >> (56 - 8 * i));
  }
  return b;
}
Uuid128 BlobId(const void* p, int n) {
  Uuid128 id;
  if (n != 16) return id;
  const auto* b = static_cast<const unsigned char*>(p);
  for (int i = 0; i < 8; ++i) {
    id.hi = (id.hi << 8) | b[i];
    id.lo = (id.lo << 8) | b[8 + i];
  }
  return id;
}

// A prepared statement with positional binding helpers.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Int(int64_t v) {
    sqlite3_bind_int64(s_, ++n_, v);
    return *this;
  }
  Stmt& Text(const std::string& v) {
    sqlite3_bind_text(s_, ++n_, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Blob(const std::string& v) {
    sqlite3_bind_blob(s_, ++n_, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Null() {
    sqlite3_bind_null(s_, ++n_);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(s_); }

  int64_t ColInt(int i) { return sqlite3_column_int64(s_, i); }
  bool IsNull(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::string ColText(int i) {
    const auto* p = sqlite3_column_blob(s_, i);
    return std::string(static_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(s_, i)));
  }
  Uuid128 ColId(int i) {
    return BlobId(sqlite3_column_blob(s_, i), sqlite3_column_bytes(s_, i));
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
  int n_ = 0;
};

constexpr const char* kDeliveryColumns =
    "id, message_id, endpoint_id, event_type, status, attempts, "
    "failed_attempts, created_at, next_attempt_at, last_attempted_at, "
    "rate_limited_since, http_status_code, response_body, last_error, "
    "replay_of, dead_letter_reason, is_test";

class SqliteStorage : public hooklog::Storage {
 public:
  explicit SqliteStorage(std::string path) : path_(std::move(path)) {}
  ~SqliteStorage() override { sqlite3_close(db_); }

  Status Open() {
    if (sqlite3_open(path_.c_str(), &db_) != SQLITE_OK) {
      return Status::IOError("sqlite open " + path_ + ": " + Error());
    }
    sqlite3_busy_timeout(db_, 5000);
    if (sqlite3_exec(db_, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Status::IOError("sqlite schema " + path_ + ": " + Error());
    }
    Stmt s(db_, "SELECT COALESCE(MAX(seq), 0) FROM log");
    if (!s.ok() || s.Step() != SQLITE_ROW) return Fail("reading last seq");
    last_seq_ = static_cast<uint64_t>(s.ColInt(0));
    return Status::Ok();
  }

  Result<uint64_t> Append(hooklog::WriteBatch* batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!Exec("BEGIN IMMEDIATE")) return Status::Unavailable(Error());
    uint64_t seq = last_seq_;
    Status st = WriteAll(batch, &seq);
    if (!st.ok() || !Exec("COMMIT")) {
      Exec("ROLLBACK");
      return st.ok() ? Status::Unavailable("sqlite commit: " + Error()) : st;
    }
    last_seq_ = seq;
    return seq;
  }

  uint64_t LastSequence() const override { return last_seq_.load(); }

  Status ReadLog(uint64_t from_seq, size_t max_events,
                 std::vector<Event>* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT event FROM log WHERE seq >= ? ORDER BY seq LIMIT ?");
    s.Int(static_cast<int64_t>(from_seq)).Int(static_cast<int64_t>(max_events));
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      auto e = hooklog::DecodeEvent(s.ColText(0));
      if (!e.ok()) return e.status();
      out->push_back(std::move(*e));
    }
    return rc == SQLITE_DONE ? Status::Ok() : Fail("reading the log");
  }

  Result<Endpoint> GetEndpoint(const EndpointId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return LoadEndpoint(id.raw());
  }

  Result<hooklog::Page<Endpoint>> ListEndpoints(
      const EndpointQuery& q) override {
    hooklog::Timestamp cts = 0;
    Uuid128 cid;
    if (!q.cursor.empty()) {
      HOOKLOG_RETURN_IF_ERROR(hooklog::DecodeListCursor(q.cursor, &cts, &cid));
    }
    std::lock_guard<std::mutex> lock(mu_);
    // Filters in SQL: deleted flag and one EXISTS per metadata pair (AND).
    std::string where = "WHERE 1";
    if (!q.include_deleted) where += " AND deleted = 0";
    for (size_t i = 0; i < q.metadata.size(); ++i) {
      where +=
          " AND EXISTS (SELECT 1 FROM endpoint_metadata m WHERE "
          "m.endpoint_id = endpoints.id AND m.key = ? AND m.value = ?)";
    }
    auto bind_filters = [&](Stmt& s) {
      for (const auto& [k, v] : q.metadata) s.Text(k).Text(v);
    };
    hooklog::Page<Endpoint> page;
    {
      Stmt c(db_, "SELECT COUNT(*) FROM endpoints " + where);
      bind_filters(c);
      if (c.Step() != SQLITE_ROW) return Fail("counting endpoints");
      page.total_count = static_cast<uint64_t>(c.ColInt(0));
    }
    std::string sql = "SELECT snapshot FROM endpoints " + where;
    if (!q.cursor.empty()) {
      sql += " AND (created_at < ? OR (created_at = ? AND id < ?))";
    }
    sql += " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
    Stmt s(db_, sql);
    bind_filters(s);
    if (!q.cursor.empty()) s.Int(cts).Int(cts).Blob(IdBlob(cid));
    s.Int(q.page_size + 1);
    s.Int(q.cursor.empty() ? int64_t{q.page - 1} * q.page_size : 0);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      auto e = DecodeEndpoint(s.ColText(0));
      if (!e.ok()) return e.status();
      if (page.items.size() == q.page_size) {
        const Endpoint& last = page.items.back();
        page.next_cursor =
            hooklog::EncodeListCursor(last.created_at, last.id.raw());
        break;
      }
      page.items.push_back(std::move(*e));
    }
    return page;
  }

  Result<Message> GetMessage(const MessageId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT event FROM messages WHERE id = ?");
    s.Blob(IdBlob(id.raw()));
    if (s.Step() != SQLITE_ROW) {
      return Status::NotFound("message " + id.ToString() + " not found");
    }
    auto e = hooklog::DecodeEvent(s.ColText(0));
    if (!e.ok()) return e.status();
    const auto* body = std::get_if<hooklog::MessageAccepted>(&e->body);
    if (body == nullptr)
      return Status::Corruption("message row holds no message");
    return body->message;
  }

  Result<Delivery> GetDelivery(const DeliveryId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, std::string("SELECT ") + kDeliveryColumns +
                    " FROM deliveries WHERE id = ?");
    s.Blob(IdBlob(id.raw()));
    if (s.Step() != SQLITE_ROW) {
      return Status::NotFound("delivery " + id.ToString() + " not found");
    }
    return ReadDelivery(s);
  }

  Result<hooklog::Page<Delivery>> ListDeliveries(
      const DeliveryQuery& q) override {
    hooklog::Timestamp cts = 0;
    Uuid128 cid;
    if (!q.cursor.empty()) {
      HOOKLOG_RETURN_IF_ERROR(hooklog::DecodeListCursor(q.cursor, &cts, &cid));
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::string where = "WHERE 1";
    if (q.message_id) where += " AND message_id = ?";
    if (q.endpoint_id) where += " AND endpoint_id = ?";
    if (q.status) where += " AND status = ?";
    if (q.event_type) where += " AND event_type = ?";
    if (q.created_after) where += " AND created_at >= ?";
    if (q.created_before) where += " AND created_at <= ?";
    auto bind_filters = [&](Stmt& s) {
      if (q.message_id) s.Blob(IdBlob(q.message_id->raw()));
      if (q.endpoint_id) s.Blob(IdBlob(q.endpoint_id->raw()));
      if (q.status) s.Int(static_cast<int>(*q.status));
      if (q.event_type) s.Text(*q.event_type);
      if (q.created_after) s.Int(*q.created_after);
      if (q.created_before) s.Int(*q.created_before);
    };
    hooklog::Page<Delivery> page;
    if (q.count_total) {
      Stmt c(db_, "SELECT COUNT(*) FROM deliveries " + where);
      bind_filters(c);
      if (c.Step() != SQLITE_ROW) return Fail("counting deliveries");
      page.total_count = static_cast<uint64_t>(c.ColInt(0));
    }
    std::string sql =
        std::string("SELECT ") + kDeliveryColumns + " FROM deliveries " + where;
    if (!q.cursor.empty()) {
      sql += " AND (created_at < ? OR (created_at = ? AND id < ?))";
    }
    sql += " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";
    Stmt s(db_, sql);
    bind_filters(s);
    if (!q.cursor.empty()) s.Int(cts).Int(cts).Blob(IdBlob(cid));
    s.Int(q.page_size + 1);
    s.Int(q.cursor.empty() ? int64_t{q.page - 1} * q.page_size : 0);
    std::vector<Delivery> rows;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      if (rows.size() == q.page_size) {
        page.next_cursor = hooklog::EncodeListCursor(rows.back().created_at,
                                                     rows.back().id.raw());
        break;
      }
      auto d = ReadDelivery(s);
      if (!d.ok()) return d.status();
      rows.push_back(std::move(*d));
    }
    page.items = std::move(rows);
    return page;
  }

  Result<EndpointCounters> GetCounters(const EndpointId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt e(db_, "SELECT 1 FROM endpoints WHERE id = ?");
    e.Blob(IdBlob(id.raw()));
    if (e.Step() != SQLITE_ROW) {
      return Status::NotFound("endpoint " + id.ToString() + " not found");
    }
    return Count("WHERE endpoint_id = ?", IdBlob(id.raw()));
  }

  Result<EndpointCounters> GetTotals() override {
    std::lock_guard<std::mutex> lock(mu_);
    return Count("", "");
  }

  Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT message_id, deliveries, created_at FROM idempotency "
           "WHERE key = ?");
    s.Blob(std::string(key));
    if (s.Step() != SQLITE_ROW) return std::optional<IdempotencyRecord>();
    IdempotencyRecord rec;
    rec.key = std::string(key);
    rec.message_id = MessageId(s.ColId(0));
    const std::string ids = s.ColText(1);
    for (size_t i = 0; i + 16 <= ids.size(); i += 16) {
      rec.deliveries.push_back(DeliveryId(BlobId(ids.data() + i, 16)));
    }
    rec.created_at = s.ColInt(2);
    return std::optional<IdempotencyRecord>(std::move(rec));
  }

  Result<std::vector<hooklog::StatsBucket>> ReadStats(
      const hooklog::StatsQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT minute, counts FROM stats WHERE endpoint_id = ? AND "
           "minute >= ? AND minute < ? ORDER BY minute");
    s.Blob(SeriesBlob(q.endpoint_id)).Int(q.from).Int(q.to);
    std::vector<hooklog::StatsBucket> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      hooklog::StatsBucket b;
      b.endpoint_id = q.endpoint_id;
      b.minute = s.ColInt(0);
      if (!DecodeCounts(s.ColText(1), &b.counts)) {
        return Status::Corruption("sqlite stats row malformed");
      }
      out.push_back(std::move(b));
    }
    if (rc != SQLITE_DONE) return Fail("reading stats");
    return out;
  }

  Result<hooklog::ReplayJob> GetReplayJob(
      const hooklog::ReplayJobId& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT body FROM replay_jobs WHERE id = ?");
    s.Blob(IdBlob(id.raw()));
    if (s.Step() != SQLITE_ROW) {
      return Status::NotFound("replay job " + id.ToString() + " not found");
    }
    return hooklog::DecodeReplayJob(s.ColText(0));
  }

  Result<std::vector<hooklog::ReplayJob>> ListReplayJobs(
      bool running_only) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "SELECT body FROM replay_jobs WHERE running OR NOT ? "
           "ORDER BY created_at DESC, id DESC");
    s.Int(running_only);
    std::vector<hooklog::ReplayJob> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      auto j = hooklog::DecodeReplayJob(s.ColText(0));
      if (!j.ok()) return j.status();
      out.push_back(std::move(*j));
    }
    if (rc != SQLITE_DONE) return Fail("listing replay jobs");
    return out;
  }

  Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt e(db_, "SELECT snapshot FROM endpoints");
    while (e.Step() == SQLITE_ROW) {
      auto ep = DecodeEndpoint(e.ColText(0));
      if (!ep.ok()) return ep.status();
      on_endpoint(*ep);
    }
    Stmt d(db_, std::string("SELECT ") + kDeliveryColumns +
                    " FROM deliveries WHERE terminal = 0");
    while (d.Step() == SQLITE_ROW) {
      auto row = ReadDelivery(d);
      if (!row.ok()) return row.status();
      on_delivery(*row);
    }
    return Status::Ok();
  }

 private:
  std::string Error() const { return sqlite3_errmsg(db_); }
  Status Fail(const std::string& what) const {
    return Status::IOError("sqlite " + what + ": " + Error());
  }
  bool Exec(const char* sql) {
    return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }

  // Endpoints are kept as an encoded endpoint event: the public codec
  // already serializes every field, with a checksum.
  static std::string EncodeEndpoint(const Endpoint& e) {
    return hooklog::EncodeEvent(
        Event{0, 0, hooklog::EventType::kEndpointUpdated, e.id.raw(),
              hooklog::EndpointSnapshot{e}});
  }
  static Result<Endpoint> DecodeEndpoint(const std::string& bytes) {
    auto e = hooklog::DecodeEvent(bytes);
    if (!e.ok()) return e.status();
    const auto* snap = std::get_if<hooklog::EndpointSnapshot>(&e->body);
    if (snap == nullptr) return Status::Corruption("endpoint row malformed");
    return snap->endpoint;
  }

  Result<Endpoint> LoadEndpoint(const Uuid128& id) {
    Stmt s(db_, "SELECT snapshot FROM endpoints WHERE id = ?");
    s.Blob(IdBlob(id));
    if (s.Step() != SQLITE_ROW) {
      return Status::NotFound("endpoint " + id.ToString() + " not found");
    }
    return DecodeEndpoint(s.ColText(0));
  }

  Result<Delivery> ReadDelivery(Stmt& s) {
    Delivery d;
    d.id = DeliveryId(s.ColId(0));
    d.message_id = MessageId(s.ColId(1));
    d.endpoint_id = EndpointId(s.ColId(2));
    d.event_type = s.ColText(3);
    d.status = static_cast<hooklog::DeliveryStatus>(s.ColInt(4));
    d.attempts = static_cast<uint32_t>(s.ColInt(5));
    d.failed_attempts = static_cast<uint32_t>(s.ColInt(6));
    d.created_at = s.ColInt(7);
    d.next_attempt_at = s.ColInt(8);
    d.last_attempted_at = s.ColInt(9);
    d.rate_limited_since = s.ColInt(10);
    if (!s.IsNull(11)) d.http_status_code = static_cast<int>(s.ColInt(11));
    if (!s.IsNull(12)) d.response_body = s.ColText(12);
    d.last_error = static_cast<hooklog::ErrorClass>(s.ColInt(13));
    if (!s.IsNull(14)) d.replay_of = DeliveryId(s.ColId(14));
    if (!s.IsNull(15)) {
      d.dead_letter_reason =
          static_cast<hooklog::DeadLetterReason>(s.ColInt(15));
    }
    d.is_test = s.ColInt(16) != 0;
    Stmt a(db_,
           "SELECT at, http_status_code, response_body, error, latency_ms "
           "FROM attempts WHERE delivery_id = ? ORDER BY n");
    a.Blob(IdBlob(d.id.raw()));
    while (a.Step() == SQLITE_ROW) {
      hooklog::AttemptRecord r;
      r.at = a.ColInt(0);
      if (!a.IsNull(1)) r.http_status_code = static_cast<int>(a.ColInt(1));
      if (!a.IsNull(2)) r.response_body = a.ColText(2);
      r.error = static_cast<hooklog::ErrorClass>(a.ColInt(3));
      r.latency_ms = static_cast<uint32_t>(a.ColInt(4));
      d.attempts_log.push_back(std::move(r));
    }
    return d;
  }

  Result<EndpointCounters> Count(const std::string& where,
                                 const std::string& endpoint_blob) {
    Stmt s(db_, "SELECT status, COUNT(*), SUM(attempts) FROM deliveries " +
                    where + " GROUP BY status");
    if (!where.empty()) s.Blob(endpoint_blob);
    EndpointCounters c;
    while (s.Step() == SQLITE_ROW) {
      const int64_t st = s.ColInt(0);
      if (st < 0 || st >= hooklog::kDeliveryStatusCount) {
        return Status::Corruption("bad delivery status in sqlite");
      }
      c.by_status[st] = static_cast<uint64_t>(s.ColInt(1));
      c.attempts += static_cast<uint64_t>(s.ColInt(2));
    }
    return c;
  }

  // The stats table's series key: the endpoint id, or empty for all.
  static std::string SeriesBlob(const std::optional<EndpointId>& endpoint) {
    return endpoint ? IdBlob(endpoint->raw()) : std::string();
  }

  // REQUIRES: inside the Append transaction.
  Status AddStats(const hooklog::StatsBucket& b) {
    const std::string series = SeriesBlob(b.endpoint_id);
    hooklog::StatsCounts sum = b.counts;
    Stmt r(db_,
           "SELECT counts FROM stats WHERE endpoint_id = ? AND minute = ?");
    r.Blob(series).Int(b.minute);
    if (r.Step() == SQLITE_ROW) {
      hooklog::StatsCounts stored;
      if (!DecodeCounts(r.ColText(0), &stored)) {
        return Status::Corruption("sqlite stats row malformed");
      }
      sum.Add(stored);
    }
    Stmt w(db_, "INSERT OR REPLACE INTO stats VALUES (?, ?, ?)");
    w.Blob(series).Int(b.minute).Blob(EncodeCounts(sum));
    if (w.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    return Status::Ok();
  }

  // REQUIRES: inside the Append transaction.
  Status WriteAll(hooklog::WriteBatch* b, uint64_t* seq) {
    for (Event& e : b->events) {
      e.seq = ++*seq;
      Stmt s(db_, "INSERT INTO log (seq, event) VALUES (?, ?)");
      s.Int(static_cast<int64_t>(e.seq)).Blob(hooklog::EncodeEvent(e));
      if (s.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    }
    for (const Endpoint& e : b->endpoints) {
      const std::string id = IdBlob(e.id.raw());
      Stmt s(db_,
             "INSERT OR REPLACE INTO endpoints (id, created_at, deleted, "
             "snapshot) VALUES (?, ?, ?, ?)");
      s.Blob(id).Int(e.created_at).Int(e.deleted).Blob(EncodeEndpoint(e));
      if (s.Step() != SQLITE_DONE) return Status::Unavailable(Error());
      Stmt del(db_, "DELETE FROM endpoint_metadata WHERE endpoint_id = ?");
      del.Blob(id);
      if (del.Step() != SQLITE_DONE) return Status::Unavailable(Error());
      for (const auto& [k, v] : e.metadata) {
        Stmt m(db_, "INSERT INTO endpoint_metadata VALUES (?, ?, ?)");
        m.Blob(id).Text(k).Text(v);
        if (m.Step() != SQLITE_DONE) return Status::Unavailable(Error());
      }
    }
    for (const Message& m : b->messages) {
      Stmt s(db_, "INSERT OR REPLACE INTO messages (id, event) VALUES (?, ?)");
      s.Blob(IdBlob(m.id.raw()))
          .Blob(hooklog::EncodeEvent(
              Event{0, 0, hooklog::EventType::kMessageAccepted, m.id.raw(),
                    hooklog::MessageAccepted{m}}));
      if (s.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    }
    for (const Delivery& d : b->deliveries) {
      HOOKLOG_RETURN_IF_ERROR(WriteDelivery(d));
    }
    for (const IdempotencyRecord& r : b->idempotency) {
      std::string ids;
      for (const auto& d : r.deliveries) ids += IdBlob(d.raw());
      Stmt s(db_, "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?)");
      s.Blob(r.key)
          .Blob(IdBlob(r.message_id.raw()))
          .Blob(ids)
          .Int(r.created_at);
      if (s.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    }
    for (const hooklog::StatsBucket& sb : b->stats) {
      HOOKLOG_RETURN_IF_ERROR(AddStats(sb));
    }
    for (const hooklog::ReplayJob& j : b->replay_jobs) {
      Stmt s(db_, "INSERT OR REPLACE INTO replay_jobs VALUES (?, ?, ?, ?)");
      s.Blob(IdBlob(j.id.raw()))
          .Int(j.created_at)
          .Int(j.state == hooklog::ReplayJobState::kRunning)
          .Blob(hooklog::EncodeReplayJob(j));
      if (s.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    }
    return Status::Ok();
  }

  Status WriteDelivery(const Delivery& d) {
    const std::string id = IdBlob(d.id.raw());
    Stmt s(db_, std::string("INSERT OR REPLACE INTO deliveries (") +
                    kDeliveryColumns +
                    ", terminal) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.Blob(id)
        .Blob(IdBlob(d.message_id.raw()))
        .Blob(IdBlob(d.endpoint_id.raw()))
        .Text(d.event_type)
        .Int(static_cast<int>(d.status))
        .Int(d.attempts)
        .Int(d.failed_attempts)
        .Int(d.created_at)
        .Int(d.next_attempt_at)
        .Int(d.last_attempted_at)
        .Int(d.rate_limited_since);
    if (d.http_status_code) {
      s.Int(*d.http_status_code);
    } else {
      s.Null();
    }
    if (d.response_body) {
      s.Text(*d.response_body);
    } else {
      s.Null();
    }
    s.Int(static_cast<int>(d.last_error));
    if (d.replay_of) {
      s.Blob(IdBlob(d.replay_of->raw()));
    } else {
      s.Null();
    }
    if (d.dead_letter_reason) {
      s.Int(static_cast<int>(*d.dead_letter_reason));
    } else {
      s.Null();
    }
    s.Int(d.is_test);
    // Which statuses are terminal is hooklog's to say, not the schema's.
    s.Int(hooklog::IsTerminal(d.status));
    if (s.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    Stmt del(db_, "DELETE FROM attempts WHERE delivery_id = ?");
    del.Blob(id);
    if (del.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    for (size_t n = 0; n < d.attempts_log.size(); ++n) {
      const auto& r = d.attempts_log[n];
      Stmt a(db_, "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?)");
      a.Blob(id).Int(static_cast<int64_t>(n)).Int(r.at);
      if (r.http_status_code) {
        a.Int(*r.http_status_code);
      } else {
        a.Null();
      }
      if (r.response_body) {
        a.Text(*r.response_body);
      } else {
        a.Null();
      }
      a.Int(static_cast<int>(r.error)).Int(r.latency_ms);
      if (a.Step() != SQLITE_DONE) return Status::Unavailable(Error());
    }
    return Status::Ok();
  }

  const std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;
  std::atomic<uint64_t> last_seq_{0};
};

}  // namespace

Result<std::unique_ptr<hooklog::Storage>> OpenSqliteStorage(
    const std::string& path) {
  auto s = std::make_unique<SqliteStorage>(path);
  HOOKLOG_RETURN_IF_ERROR(s->Open());
  return std::unique_ptr<hooklog::Storage>(std::move(s));
}

}  // namespace hooklog_example
