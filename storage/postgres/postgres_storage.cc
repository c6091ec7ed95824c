// The PostgreSQL Storage adapter (include/hooklog/postgres_storage.h).
//
// One cohesive thing (~850 lines): the Storage methods of one adapter class
// over the pieces beside it — connections and pipelines (pg_conn), the
// schema and its migrations (pg_schema), row encoding (pg_rows). What is
// left here is the write transaction and the queries, which share the
// statement names and the writer's sequence state.
//
// What every adapter must get right, and how this one does it:
//   - atomicity: one Append is ONE pipeline of prepared statements that
//     PostgreSQL runs as one implicit transaction, committed at the Sync:
//     events, rows and counters together or nothing, in one round trip;
//   - gapless sequences: the adapter numbers events from its last_seq under
//     the writer mutex, and the transaction's first statement
//     (hooklog_advance) locks the meta row, checks that number and moves it.
//     A rolled-back transaction moves nothing (no PostgreSQL SEQUENCE, whose
//     values are lost on rollback);
//   - batches: each table gets one multi-row statement over binary arrays
//     (INSERT ... SELECT FROM unnest ... ON CONFLICT DO UPDATE), whatever the
//     batch size; rows repeated in a merged batch are reduced to the last;
//   - counters: maintained by the deliveries statement itself, from the
//     previous rows it reads in the same snapshot;
//   - reads: a pool of connections separate from the writer's, so queries
//     never wait behind a commit; list pages are one statement (count and
//     keyset page together, one snapshot);
//   - connection loss: Unavailable, and the connection is re-established on
//     the next call. An Append whose connection died may have committed at
//     the server: the adapter reconnects at once and "fences" the meta row
//     (which waits for, or forbids, that transaction) to report the truth.
#include "hooklog/postgres_storage.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/lease_table.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_listener.h"
#include "storage/postgres/pg_retention.h"
#include "storage/postgres/pg_rows.h"
#include "storage/postgres/pg_schema.h"

namespace hooklog {
namespace {

using pg::ArrayBuilder;
using pg::Conn;
using pg::Params;
using pg::PgResult;

// Statements of the write path (prepared once per connection).
const std::string kAdvance = "SELECT hooklog_advance($1, $2, $3, $4)";
const std::string kInsertLog =
    "INSERT INTO log (seq, event) SELECT * FROM unnest($1::int8[], "
    "$2::bytea[])";
const std::string kUpsertEndpoints =
    "INSERT INTO endpoints (id, created_at, deleted, snapshot) "
    "SELECT * FROM unnest($1::uuid[], $2::int8[], $3::bool[], $4::bytea[]) "
    "ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, "
    "deleted = excluded.deleted, snapshot = excluded.snapshot";
const std::string kDeleteMetadata =
    "DELETE FROM endpoint_metadata WHERE endpoint_id = ANY($1::uuid[])";
const std::string kInsertMetadata =
    "INSERT INTO endpoint_metadata (endpoint_id, key, value) "
    "SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::bytea[])";
const std::string kUpsertMessages =
    "INSERT INTO messages (id, created_at, event) "
    "SELECT * FROM unnest($1::uuid[], $2::int8[], $3::bytea[]) "
    "ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, "
    "event = excluded.event";
// The rows and the counters in one statement: `old` reads the previous rows
// in the statement's snapshot (it does not see `up`'s changes), so the
// delta is new minus old per (endpoint, status). `old` locks them FOR
// UPDATE: should a retention pass (pg_retention.cc) hold one, the statement
// waits for it and then reads the row as deleted, instead of subtracting a
// row the pass already subtracted; and it takes every row lock before the
// counters', which it adds to in (endpoint_id, status) order, the pass's
// order, so the two never wait on each other in a cycle.
const std::string kUpsertDeliveries =
    "WITH input AS MATERIALIZED (SELECT * FROM unnest($1::uuid[], "
    "$2::uuid[], $3::uuid[], $4::bytea[], $5::int2[], $6::int8[], "
    "$7::int8[], $8::int8[], $9::bytea[]) AS t(id, message_id, endpoint_id, "
    "event_type, status, attempts, created_at, next_attempt_at, body)), "
    "old AS (SELECT endpoint_id, status, attempts FROM deliveries "
    "WHERE id = ANY($1::uuid[]) FOR UPDATE), "
    "up AS (INSERT INTO deliveries (id, message_id, endpoint_id, event_type, "
    "status, attempts, created_at, next_attempt_at, body) SELECT * FROM input "
    "ON CONFLICT (id) DO UPDATE SET message_id = excluded.message_id, "
    "endpoint_id = excluded.endpoint_id, event_type = excluded.event_type, "
    "status = excluded.status, attempts = excluded.attempts, "
    "created_at = excluded.created_at, "
    "next_attempt_at = excluded.next_attempt_at, body = excluded.body), "
    "delta AS (SELECT endpoint_id, status, sum(n)::int8 AS n, "
    "sum(a)::int8 AS a FROM (SELECT endpoint_id, status, 1 AS n, "
    "attempts AS a FROM input UNION ALL SELECT endpoint_id, status, -1, "
    "-attempts FROM old) x GROUP BY endpoint_id, status) "
    "INSERT INTO counters AS c (endpoint_id, status, deliveries, attempts) "
    "SELECT endpoint_id, status, n, a FROM delta WHERE n <> 0 OR a <> 0 "
    "ORDER BY endpoint_id, status ON CONFLICT (endpoint_id, status) DO UPDATE "
    "SET "
    "deliveries = c.deliveries + excluded.deliveries, "
    "attempts = c.attempts + excluded.attempts";
const std::string kUpsertIdempotency =
    "INSERT INTO idempotency (key, message_id, deliveries, created_at) "
    "SELECT * FROM unnest($1::bytea[], $2::uuid[], $3::bytea[], $4::int8[]) "
    "ON CONFLICT (key) DO UPDATE SET message_id = excluded.message_id, "
    "deliveries = excluded.deliveries, created_at = excluded.created_at";
// Stats buckets: the 22 count columns, in StatsCounts order.
std::vector<std::string> StatsColumns() {
  std::vector<std::string> cols = {"delivered",   "failed",   "rate_limited",
                                   "dead_letter", "attempts", "latency_sum_ms"};
  for (int i = 0; i < kStatsLatencyBuckets; ++i) {
    cols.push_back("l" + std::to_string(i));
  }
  return cols;
}
// Several nodes (and several buckets of one merged batch, summed first by
// the adapter, as one statement may not touch a row twice) add to the same
// bucket: ON CONFLICT adds instead of replacing.
std::string UpsertStatsSql() {
  const auto cols = StatsColumns();
  std::string names, arrays = "$1::uuid[], $2::int8[]", sets;
  for (size_t i = 0; i < cols.size(); ++i) {
    names += ", " + cols[i];
    arrays += ", $" + std::to_string(i + 3) + "::int8[]";
    sets += std::string(i ? ", " : "") + cols[i] + " = t." + cols[i] +
            " + excluded." + cols[i];
  }
  return "INSERT INTO stats AS t (endpoint_id, minute" + names +
         ") SELECT * FROM unnest(" + arrays +
         ") ON CONFLICT (endpoint_id, minute) DO UPDATE SET " + sets;
}
std::string ReadStatsSql() {
  std::string names;
  for (const auto& c : StatsColumns()) names += ", " + c;
  return "SELECT minute" + names +
         " FROM stats WHERE endpoint_id = $1 AND minute >= $2 AND minute < $3 "
         "ORDER BY minute";
}
const std::string kUpsertStats = UpsertStatsSql();
const std::string kReadStats = ReadStatsSql();
const std::string kUpsertReplayJobs =
    "INSERT INTO replay_jobs (id, created_at, running, body) "
    "SELECT * FROM unnest($1::uuid[], $2::int8[], $3::bool[], $4::bytea[]) "
    "ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, "
    "running = excluded.running, body = excluded.body";
const std::string kGetReplayJob = "SELECT body FROM replay_jobs WHERE id = $1";
const std::string kListReplayJobs =
    "SELECT body FROM replay_jobs WHERE running OR NOT $1 "
    "ORDER BY created_at DESC, id DESC";
// The all-endpoints series' key in the stats table.
constexpr Uuid128 kAllEndpointsSeries{0, 0};
const std::string kTryLock = "SELECT pg_try_advisory_lock($1)";
const std::string kUnlock = "SELECT pg_advisory_unlock($1)";
const std::string kReadMeta = "SELECT last_seq, appends FROM meta WHERE id = 1";
const std::string kLockMeta =
    "SELECT last_seq, appends FROM meta WHERE id = 1 FOR UPDATE";
// hooklog_advance's message when the meta row is not where we numbered from.
constexpr std::string_view kLogMoved = "hooklog: the log moved";
// Bumping `appends` waits for a transaction holding the meta row and makes
// one that has not reached hooklog_advance yet fail its check.
const std::string kFence =
    "UPDATE meta SET appends = appends + 1 WHERE id = 1 "
    "RETURNING last_seq, appends, last_token";

// Cluster mode (schema v4): the lease table's rules are these functions
// (pg_schema.cc, storage/lease_table.cc).
const std::string kSyncLeases =
    "SELECT r_kind, r_part, r_owner, r_epoch, r_time FROM "
    "hooklog_sync_leases($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const std::string kCheckFences = "SELECT hooklog_check_fences($1, $2)";
// hooklog_check_fences' message, followed by the failing partitions.
constexpr std::string_view kFencedMarker = "hooklog: fenced partitions: ";
const std::string kActiveOf =
    "SELECT body FROM deliveries WHERE endpoint_id = ANY($1::uuid[]) "
    "AND status NOT IN (1, 4) ORDER BY id";
const std::string kPing = "SELECT 1::int8";

// The partitions hooklog_check_fences names in `message` ("1,5;"), in the
// order of `fences`, each once (as LeaseTable::CheckFences lists them).
std::vector<uint32_t> FencedPartitions(std::string_view message,
                                       const std::vector<LeaseFence>& fences) {
  std::unordered_set<uint32_t> named;
  const size_t at = message.find(kFencedMarker);
  if (at != std::string_view::npos) {
    uint64_t v = 0;
    bool digits = false;
    for (size_t i = at + kFencedMarker.size(); i < message.size(); ++i) {
      const char c = message[i];
      if (c >= '0' && c <= '9') {
        v = v * 10 + static_cast<uint64_t>(c - '0');
        digits = true;
        continue;
      }
      if (digits) named.insert(static_cast<uint32_t>(v));
      v = 0;
      digits = false;
      if (c != ',') break;
    }
  }
  std::vector<uint32_t> out;
  for (const LeaseFence& f : fences) {
    if (named.count(f.partition) != 0 &&
        std::find(out.begin(), out.end(), f.partition) == out.end()) {
      out.push_back(f.partition);
    }
  }
  return out;
}

// The NOTIFY channel of a schema: named after it when that fits in an
// identifier (63 bytes), else after its FNV-1a hash.
std::string ChannelOf(const std::string& schema) {
  std::string c = "hooklog:" + schema;
  if (c.size() <= 63) return c;
  uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : schema) h = (h ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "hooklog:" + std::string(hex);
}

// A SQL string literal (standard_conforming_strings: only quotes double).
std::string QuoteLiteral(std::string_view v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

const std::string kGetEndpoint = "SELECT snapshot FROM endpoints WHERE id = $1";
const std::string kGetMessage = "SELECT event FROM messages WHERE id = $1";
const std::string kGetDelivery = "SELECT body FROM deliveries WHERE id = $1";
const std::string kGetIdempotency =
    "SELECT message_id, deliveries, created_at FROM idempotency "
    "WHERE key = $1";
const std::string kGetCounters =
    "SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1), c.status, "
    "c.deliveries, c.attempts FROM (SELECT 1) one "
    "LEFT JOIN counters c ON c.endpoint_id = $1";
const std::string kGetTotals =
    "SELECT status, sum(deliveries)::int8, sum(attempts)::int8 "
    "FROM counters GROUP BY status";
const std::string kReadLog =
    "SELECT event FROM log WHERE seq >= $1 ORDER BY seq LIMIT $2";
const std::string kActiveEndpoints =
    "SELECT id, snapshot FROM endpoints WHERE id >= $1 ORDER BY id LIMIT $2";
const std::string kActiveDeliveries =
    "SELECT id, body FROM deliveries WHERE status NOT IN (1, 4) AND id >= $1 "
    "ORDER BY id LIMIT $2";
constexpr int64_t kLoadChunk = 1000;

// The smallest id after `id`; false when there is none.
bool NextId(Uuid128* id) {
  if (++id->lo != 0) return true;
  return ++id->hi != 0;
}

// The last row per key: a merged batch may upsert the same row twice, and
// one INSERT ... ON CONFLICT may not touch a row twice. Order is irrelevant
// within one statement.
template <typename T, typename Key, typename Hash, typename KeyFn>
std::vector<const T*> LastPerKey(const std::vector<T>& rows, KeyFn key) {
  std::vector<const T*> out;
  if (rows.size() == 1) {
    out.push_back(&rows[0]);
    return out;
  }
  std::unordered_set<Key, Hash> seen;
  seen.reserve(rows.size());
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (seen.insert(key(*it)).second) out.push_back(&*it);
  }
  return out;
}

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

class PostgresStorage : public Storage {
 public:
  PostgresStorage(std::string conninfo, PostgresOptions options)
      : conninfo_(std::move(conninfo)),
        options_(std::move(options)),
        clock_(options_.clock ? options_.clock : SystemClock()),
        rng_(std::random_device{}()) {
    // application_name names the schema, so that an operator (or a test)
    // can tell this store's sessions apart in pg_stat_activity.
    std::string app = ("hooklog:" + options_.schema).substr(0, 63);
    std::string quoted_app;
    for (char c : app)
      quoted_app += c == '\'' ? std::string("''") : std::string(1, c);
    setup_ =
        "SET search_path TO " + pg::QuoteIdent(options_.schema) +
        "; SET application_name = '" + quoted_app +
        "'; SET client_min_messages = warning; SET statement_timeout = " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                           options_.statement_timeout)
                           .count());
    // Every read the writer's statements make is a key probe (the previous
    // deliveries, the conflict checks, the meta row). A generic plan made
    // while a table was small may scan it instead, and keep doing so as it
    // grows (the deliveries statement did); without sequential scans the
    // cached plans stay probes, with no planning per Append.
    writer_ = std::make_unique<Conn>(
        conninfo_, setup_ + "; SET enable_seqscan = off", ConnectTimeout());
    // Every Append notifies the schema's channel with this store's token,
    // so that its own listener can tell its appends from other stores'.
    char token[17];
    std::snprintf(token, sizeof token, "%016llx",
                  static_cast<unsigned long long>(rng_()));
    const std::string channel = ChannelOf(options_.schema);
    notify_sql_ = "SELECT pg_notify(" + QuoteLiteral(channel) + ", " +
                  QuoteLiteral(token) + ")";
    listener_ =
        std::make_unique<pg::Listener>(conninfo_, setup_, channel, token);
  }

  // Frees the schema's writer lock before the session ends, so that a store
  // opened right after this one closed finds it free (the server would free
  // it too, but only once it notices the session is gone).
  ~PostgresStorage() override {
    if (pruner_thread_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(prune_mu_);
        stopping_ = true;
      }
      prune_cv_.notify_all();
      pruner_thread_.join();
    }
    std::lock_guard<std::mutex> lock(write_mu_);
    if (!options_.exclusive || writer_->broken() ||
        locked_session_ != writer_->sessions()) {
      return;
    }
    Params p;
    p.Int8(LockKey());
    (void)writer_->Exec(kUnlock, p, "freeing the schema's writer lock");
  }

  Status Open() {
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      Status st = EnsureWriter();
      if (!st.ok() && lock_refused_) {
        return Status::FailedPrecondition(
            "schema " + options_.schema +
            " is held by another exclusive hooklog store (several nodes "
            "share a schema in cluster mode, without `exclusive`)");
      }
      HOOKLOG_RETURN_IF_ERROR(st);
    }
    if (options_.create_if_missing) {
      HOOKLOG_RETURN_IF_ERROR(
          pg::Migrate(writer_.get(), options_.schema, kPostgresSchemaVersion));
    } else {
      auto version = pg::SchemaVersion(writer_.get(), options_.schema);
      if (!version.ok()) return version.status();
      if (*version == 0) {
        return Status::NotFound("postgres schema " + options_.schema +
                                " holds no hooklog tables");
      }
      if (*version != kPostgresSchemaVersion) {
        return Status::FailedPrecondition(
            "postgres schema " + options_.schema + " is at version " +
            std::to_string(*version) + "; this build serves version " +
            std::to_string(kPostgresSchemaVersion) +
            (*version < kPostgresSchemaVersion
                 ? " (start webhookd once to migrate it)"
                 : " (upgrade hooklog)"));
      }
    }
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      HOOKLOG_RETURN_IF_ERROR(Resync());
      auto mark = pg::ReadPrunedBefore(writer_.get());
      if (!mark.ok()) return mark.status();
      pruned_before_ = *mark;
    }
    if (options_.retention.count() > 0 && options_.prune_interval.count() > 0) {
      pruner_thread_ = std::thread([this] { PrunerLoop(); });
    }
    return Status::Ok();
  }

  // One retention pass on the pass's own connection (pg_retention.h), so
  // that neither Appends nor reads queue behind it; passes of one store
  // take turns.
  Result<uint64_t> PruneOnce() {
    if (options_.retention.count() <= 0) return uint64_t{0};
    std::lock_guard<std::mutex> lock(prune_run_mu_);
    if (!pruner_) {
      pruner_ = std::make_unique<Conn>(conninfo_, setup_, ConnectTimeout());
    }
    HOOKLOG_RETURN_IF_ERROR(pruner_->Ensure());
    const Timestamp cutoff = clock_->Now() - options_.retention.count();
    auto pruned = pg::PruneBefore(pruner_.get(), cutoff);
    // Chunks committed before a failure did raise the watermark.
    if (!pruner_->broken()) {
      auto mark = pg::ReadPrunedBefore(pruner_.get());
      if (mark.ok()) RaiseCachedWatermark(*mark);
    }
    return pruned;
  }

  // The schema's watermark, read at the server (another node may have
  // pruned); the last one seen when the server cannot be reached.
  Timestamp PrunedBefore() const override {
    auto mark = WithReader(true, [](Conn* c) -> Result<Timestamp> {
      return pg::ReadPrunedBefore(c);
    });
    if (mark.ok()) RaiseCachedWatermark(*mark);
    return pruned_before_.load();
  }

  Result<uint64_t> Append(WriteBatch* batch) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    batch->fenced.clear();
    if (batch->empty()) return last_seq_.load();
    HOOKLOG_RETURN_IF_ERROR(EnsureWriter());
    if (need_resync_) HOOKLOG_RETURN_IF_ERROR(Resync());
    auto r = AppendOnce(batch, /*locked=*/false);
    if (!r.ok() && !writer_->broken() &&
        r.status().message().find(kLogMoved) != std::string::npos) {
      // Another store appended since we last looked; nothing was written.
      // Lock the meta row before numbering this time, so that the retry
      // cannot lose the race again.
      r = AppendOnce(batch, /*locked=*/true);
    }
    if (!r.ok() && !writer_->broken() &&
        r.status().message().find(kFencedMarker) != std::string::npos) {
      // hooklog_check_fences refused: the transaction rolled back.
      batch->fenced = FencedPartitions(r.status().message(), batch->fences);
      std::string parts;
      for (uint32_t p : batch->fenced) {
        parts += (parts.empty() ? "" : ", ") + std::to_string(p);
      }
      return Status::FailedPrecondition(
          "the batch's partition lease was lost (lapsed or passed to another "
          "node) for partition(s) " +
          parts + "; nothing was written");
    }
    return r;
  }

  uint64_t LastSequence() const override { return last_seq_.load(); }

  Status ReadLog(uint64_t from_seq, size_t max_events,
                 std::vector<Event>* out) override {
    if (max_events == 0) return Status::Ok();
    const int64_t limit = static_cast<int64_t>(std::min<uint64_t>(
        max_events, uint64_t{std::numeric_limits<int64_t>::max()}));
    const int64_t from = static_cast<int64_t>(std::min<uint64_t>(
        from_seq, uint64_t{std::numeric_limits<int64_t>::max()}));
    return WithReader(true, [&](Conn* c) -> Status {
      Params p;
      p.Int8(from).Int8(limit);
      auto r = c->Exec(kReadLog, p, "reading the log");
      if (!r.ok()) return r.status();
      std::vector<Event> events;
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        auto e = DecodeEvent(pg::GetBytes(r->get(), i, 0));
        if (!e.ok()) return e.status();
        events.push_back(std::move(*e));
      }
      // Appended only when complete, so a retried read adds nothing twice.
      out->insert(out->end(), std::make_move_iterator(events.begin()),
                  std::make_move_iterator(events.end()));
      return Status::Ok();
    });
  }

  Result<Endpoint> GetEndpoint(const EndpointId& id) override {
    return GetOne<Endpoint>(kGetEndpoint, id.raw(), "endpoint",
                            pg::DecodeEndpointBlob);
  }

  Result<Message> GetMessage(const MessageId& id) override {
    return GetOne<Message>(kGetMessage, id.raw(), "message",
                           pg::DecodeMessageBlob);
  }

  Result<Delivery> GetDelivery(const DeliveryId& id) override {
    return GetOne<Delivery>(kGetDelivery, id.raw(), "delivery",
                            pg::DecodeDeliveryBlob);
  }

  Result<Page<Endpoint>> ListEndpoints(const EndpointQuery& q) override {
    Timestamp cts = 0;
    Uuid128 cid;
    if (!q.cursor.empty()) {
      HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cts, &cid));
    }
    Params p;
    std::string where = "TRUE";
    if (!q.include_deleted) where += " AND NOT deleted";
    for (const auto& [k, v] : q.metadata) {
      p.Bytea(k).Bytea(v);
      where +=
          " AND EXISTS (SELECT 1 FROM endpoint_metadata m WHERE "
          "m.endpoint_id = e.id AND m.key = $" +
          std::to_string(p.size() - 1) + " AND m.value = $" +
          std::to_string(p.size()) + ")";
    }
    const std::string sql =
        PageSql("endpoints", "snapshot", where, true, !q.cursor.empty(), q.page,
                q.page_size, &p, cts, cid);
    return WithReader(true, [&](Conn* c) -> Result<Page<Endpoint>> {
      auto r = c->Exec(sql, p, "listing endpoints");
      if (!r.ok()) return r.status();
      return ReadPage<Endpoint>(r->get(), q.page_size, pg::DecodeEndpointBlob);
    });
  }

  Result<Page<Delivery>> ListDeliveries(const DeliveryQuery& q) override {
    Timestamp cts = 0;
    Uuid128 cid;
    if (!q.cursor.empty()) {
      HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(q.cursor, &cts, &cid));
    }
    Params p;
    std::string where = "TRUE";
    auto next = [&] { return "$" + std::to_string(p.size()); };
    if (q.endpoint_id) {
      p.Uuid(q.endpoint_id->raw());
      where += " AND endpoint_id = " + next();
    }
    if (q.status) {
      p.Int2(static_cast<int16_t>(*q.status));
      where += " AND status = " + next();
    }
    // Only the endpoint and status are filtered: the counter rows already
    // hold the total (a few rows, not a count over the deliveries).
    std::string counted;
    if (q.count_total && !q.event_type && !q.created_after &&
        !q.created_before && !q.message_id) {
      counted =
          "(SELECT coalesce(sum(deliveries), 0)::int8 AS total FROM counters "
          "e WHERE " +
          where + ")";
    }
    if (q.event_type) {
      p.Bytea(*q.event_type);
      where += " AND event_type = " + next();
    }
    if (q.created_after) {
      p.Int8(*q.created_after);
      where += " AND created_at >= " + next();
    }
    if (q.created_before) {
      p.Int8(*q.created_before);
      where += " AND created_at <= " + next();
    }
    if (q.message_id) {
      // deliveries_message: a message has few rows, read them all.
      p.Uuid(q.message_id->raw());
      where += " AND message_id = " + next();
    }
    const std::string sql =
        PageSql("deliveries", "body", where, q.count_total, !q.cursor.empty(),
                q.page, q.page_size, &p, cts, cid,
                /*split_by_status=*/!q.status && !q.event_type && !q.message_id,
                counted);
    return WithReader(true, [&](Conn* c) -> Result<Page<Delivery>> {
      auto r = c->Exec(sql, p, "listing deliveries");
      if (!r.ok()) return r.status();
      return ReadPage<Delivery>(r->get(), q.page_size, pg::DecodeDeliveryBlob);
    });
  }

  Result<EndpointCounters> GetCounters(const EndpointId& id) override {
    return WithReader(true, [&](Conn* c) -> Result<EndpointCounters> {
      Params p;
      p.Uuid(id.raw());
      auto r = c->Exec(kGetCounters, p, "reading counters");
      if (!r.ok()) return r.status();
      EndpointCounters out;
      bool any_row = false;
      HOOKLOG_RETURN_IF_ERROR(AddCounters(r->get(), 1, &out, &any_row));
      // An endpoint is known by its row or, like the in-memory store, by
      // deliveries that name it.
      if (!pg::GetBool(r->get(), 0, 0) && !any_row) {
        return Status::NotFound("endpoint " + id.ToString() + " not found");
      }
      return out;
    });
  }

  Result<EndpointCounters> GetTotals() override {
    return WithReader(true, [&](Conn* c) -> Result<EndpointCounters> {
      auto r = c->Exec(kGetTotals, Params(), "reading totals");
      if (!r.ok()) return r.status();
      EndpointCounters out;
      bool any_row = false;
      HOOKLOG_RETURN_IF_ERROR(AddCounters(r->get(), 0, &out, &any_row));
      return out;
    });
  }

  Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) override {
    return WithReader(
        true, [&](Conn* c) -> Result<std::optional<IdempotencyRecord>> {
          Params p;
          p.Bytea(key);
          auto r = c->Exec(kGetIdempotency, p, "reading an idempotency key");
          if (!r.ok()) return r.status();
          if (PQntuples(r->get()) == 0) {
            return std::optional<IdempotencyRecord>();
          }
          IdempotencyRecord rec;
          rec.key = std::string(key);
          rec.message_id = MessageId(pg::GetUuid(r->get(), 0, 0));
          auto ids = pg::DecodeIdList(pg::GetBytes(r->get(), 0, 1));
          if (!ids.ok()) return ids.status();
          rec.deliveries = std::move(*ids);
          rec.created_at = pg::GetInt8(r->get(), 0, 2);
          return std::optional<IdempotencyRecord>(std::move(rec));
        });
  }

  Result<std::vector<StatsBucket>> ReadStats(const StatsQuery& q) override {
    return WithReader(true, [&](Conn* c) -> Result<std::vector<StatsBucket>> {
      Params p;
      p.Uuid(q.endpoint_id ? q.endpoint_id->raw() : kAllEndpointsSeries)
          .Int8(q.from)
          .Int8(q.to);
      auto r = c->Exec(kReadStats, p, "reading stats");
      if (!r.ok()) return r.status();
      std::vector<StatsBucket> out;
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        StatsBucket b;
        b.endpoint_id = q.endpoint_id;
        b.minute = pg::GetInt8(r->get(), i, 0);
        uint64_t* fixed[] = {&b.counts.delivered,    &b.counts.failed,
                             &b.counts.rate_limited, &b.counts.dead_letter,
                             &b.counts.attempts,     &b.counts.latency_sum_ms};
        for (int k = 0; k < 6; ++k) {
          *fixed[k] = static_cast<uint64_t>(pg::GetInt8(r->get(), i, 1 + k));
        }
        for (int k = 0; k < kStatsLatencyBuckets; ++k) {
          b.counts.latency[k] =
              static_cast<uint64_t>(pg::GetInt8(r->get(), i, 7 + k));
        }
        out.push_back(std::move(b));
      }
      return out;
    });
  }

  Result<ReplayJob> GetReplayJob(const ReplayJobId& id) override {
    return GetOne<ReplayJob>(kGetReplayJob, id.raw(), "replay job",
                             DecodeReplayJob);
  }

  Result<std::vector<ReplayJob>> ListReplayJobs(bool running_only) override {
    return WithReader(true, [&](Conn* c) -> Result<std::vector<ReplayJob>> {
      Params p;
      p.Bool(running_only);
      auto r = c->Exec(kListReplayJobs, p, "listing replay jobs");
      if (!r.ok()) return r.status();
      std::vector<ReplayJob> out;
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        auto j = DecodeReplayJob(pg::GetBytes(r->get(), i, 0));
        if (!j.ok()) return j.status();
        out.push_back(std::move(*j));
      }
      return out;
    });
  }

  // One REPEATABLE READ transaction, so the rows are one snapshot; read in
  // keyset chunks so that memory stays bounded. Not retried after a lost
  // connection: the callbacks have already seen part of the rows.
  Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) override {
    return WithReader(false, [&](Conn* c) -> Status {
      HOOKLOG_RETURN_IF_ERROR(c->ExecScript(
          "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "LoadActive"));
      Status st = LoadChunks(c, kActiveEndpoints, [&](std::string_view b) {
        auto e = pg::DecodeEndpointBlob(b);
        if (!e.ok()) return e.status();
        on_endpoint(*e);
        return Status::Ok();
      });
      if (st.ok()) {
        st = LoadChunks(c, kActiveDeliveries, [&](std::string_view b) {
          auto d = pg::DecodeDeliveryBlob(b);
          if (!d.ok()) return d.status();
          on_delivery(*d);
          return Status::Ok();
        });
      }
      if (c->broken()) return st;
      Status end = c->ExecScript(st.ok() ? "COMMIT" : "ROLLBACK", "LoadActive");
      return st.ok() ? end : st;
    });
  }

  // One statement (hooklog_sync_leases), so one transaction and one round
  // trip, on a read connection: heartbeats never queue behind an Append.
  // Retrying it after a lost connection is safe: a sync that did commit is
  // answered again by the current table (renew and acquire of a lease the
  // node already holds leave it as it is).
  Result<LeaseView> SyncLeases(const LeaseSync& sync) override {
    HOOKLOG_RETURN_IF_ERROR(ValidateLeaseSync(sync));
    ArrayBuilder renew_p(pg::kInt8Oid), renew_e(pg::kInt8Oid),
        release_p(pg::kInt8Oid), release_e(pg::kInt8Oid),
        acquire_p(pg::kInt8Oid);
    for (const LeaseFence& f : sync.renew) {
      renew_p.Int8(f.partition);
      renew_e.Int8(static_cast<int64_t>(f.epoch));
    }
    for (const LeaseFence& f : sync.release) {
      release_p.Int8(f.partition);
      release_e.Int8(static_cast<int64_t>(f.epoch));
    }
    for (uint32_t p : sync.acquire) acquire_p.Int8(p);
    Params p;
    p.Bytea(sync.node_id)
        .Int8(sync.partitions)
        .Int8(sync.ttl.count())
        .Array(pg::kInt8ArrayOid, renew_p)
        .Array(pg::kInt8ArrayOid, renew_e)
        .Array(pg::kInt8ArrayOid, release_p)
        .Array(pg::kInt8ArrayOid, release_e)
        .Array(pg::kInt8ArrayOid, acquire_p)
        .Bool(sync.leaving);
    return WithReader(true, [&](Conn* c) -> Result<LeaseView> {
      auto r = c->Exec(kSyncLeases, p, "syncing partition leases");
      if (!r.ok()) return r.status();
      const PGresult* res = r->get();
      const int rows = PQntuples(res);
      if (rows == 0 || pg::GetInt8(res, 0, 0) != 0) {
        return Status::Corruption(
            "postgres: hooklog_sync_leases answered no header row");
      }
      const int64_t partitions = pg::GetInt8(res, 0, 1);
      if (partitions != sync.partitions) {
        return Status::FailedPrecondition(
            "this store's cluster has " + std::to_string(partitions) +
            " partitions, not " + std::to_string(sync.partitions));
      }
      LeaseView v;
      v.now = pg::GetInt8(res, 0, 4);
      for (int i = 1; i < rows; ++i) {
        if (pg::GetInt8(res, i, 0) == 1) {
          PartitionLease l;
          l.partition = static_cast<uint32_t>(pg::GetInt8(res, i, 1));
          l.owner = std::string(pg::GetBytes(res, i, 2));
          l.epoch = static_cast<uint64_t>(pg::GetInt8(res, i, 3));
          l.expires_at = pg::GetInt8(res, i, 4);
          v.leases.push_back(std::move(l));
        } else {
          v.nodes.emplace_back(pg::GetBytes(res, i, 2));
        }
      }
      if (v.leases.size() != static_cast<size_t>(partitions)) {
        return Status::Corruption("postgres schema " + options_.schema + ": " +
                                  std::to_string(v.leases.size()) +
                                  " lease rows for " +
                                  std::to_string(partitions) + " partitions");
      }
      std::sort(v.nodes.begin(), v.nodes.end());
      return v;
    });
  }

  // On the listener's own session (pg_listener.h). One waiter at a time;
  // another caller waits for the session at most `timeout`, which is an
  // early return at worst.
  // (A flag and a condition variable rather than a timed mutex: TSan does
  // not intercept pthread_mutex_clocklock and would report every unlock.)
  void WaitForAppends(Duration timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    {
      std::unique_lock<std::mutex> lock(listen_mu_);
      if (!listen_cv_.wait_until(lock, deadline, [&] { return !listening_; })) {
        return;
      }
      listening_ = true;
    }
    const auto left = std::chrono::duration_cast<Duration>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() > 0) listener_->Wait(left);
    {
      std::lock_guard<std::mutex> lock(listen_mu_);
      listening_ = false;
    }
    listen_cv_.notify_one();
  }

  // One statement over the (endpoint_id, status, ...) index. The whole
  // answer is read before the first callback, so a lost connection can be
  // retried without repeating rows.
  Status LoadActiveOf(
      const std::vector<EndpointId>& endpoints,
      const std::function<void(const Delivery&)>& on_delivery) override {
    if (endpoints.empty()) return Status::Ok();
    ArrayBuilder ids(pg::kUuidOid);
    for (const EndpointId& id : endpoints) ids.Uuid(id.raw());
    Params p;
    p.Array(pg::kUuidArrayOid, ids);
    std::vector<Delivery> rows;
    Status st = WithReader(true, [&](Conn* c) -> Status {
      rows.clear();
      auto r = c->Exec(kActiveOf, p, "LoadActiveOf");
      if (!r.ok()) return r.status();
      for (int i = 0; i < PQntuples(r->get()); ++i) {
        auto d = pg::DecodeDeliveryBlob(pg::GetBytes(r->get(), i, 0));
        if (!d.ok()) return d.status();
        rows.push_back(std::move(*d));
      }
      return Status::Ok();
    });
    if (!st.ok()) return st;
    for (const Delivery& d : rows) on_delivery(d);
    return Status::Ok();
  }

  // A round trip on a read connection (retried once on a fresh one, so a
  // connection that went stale while the server restarted is not a
  // failure); any failure is Unavailable.
  Status CheckHealth() override {
    Status st = WithReader(true, [&](Conn* c) -> Status {
      return StatusOf(c->Exec(kPing, Params(), "health check"));
    });
    if (st.ok() || st.IsUnavailable()) return st;
    return Status::Unavailable("postgres: health check failed: " +
                               st.message());
  }

 private:
  void RaiseCachedWatermark(Timestamp mark) const {
    Timestamp cur = pruned_before_.load();
    while (cur < mark && !pruned_before_.compare_exchange_weak(cur, mark)) {
    }
  }

  void PrunerLoop() {
    std::unique_lock<std::mutex> lock(prune_mu_);
    while (!stopping_) {
      prune_cv_.wait_for(lock, options_.prune_interval,
                         [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      // Errors are retried on the next pass; the store keeps serving.
      (void)PruneOnce();
      lock.lock();
    }
  }

  // REQUIRES: write_mu_ held, writer_ connected. With `lock`, inside a
  // transaction: also locks the meta row until it ends.
  Status Resync(bool lock = false) {
    auto r = writer_->Exec(lock ? kLockMeta : kReadMeta, Params(),
                           "reading the last sequence");
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) != 1) {
      return Status::Corruption("postgres schema " + options_.schema +
                                ": the meta row is missing");
    }
    last_seq_ = static_cast<uint64_t>(pg::GetInt8(r->get(), 0, 0));
    appends_ = pg::GetInt8(r->get(), 0, 1);
    need_resync_ = false;
    return Status::Ok();
  }

  // Optimistic (`locked` false): one pipeline, whose first statement checks
  // that the log is where the caches say. Locked: an explicit transaction
  // that locks the meta row and reloads the caches first (one more round
  // trip, but no other store can move the log meanwhile).
  // REQUIRES: write_mu_ held, writer_ connected, caches in sync.
  Result<uint64_t> AppendOnce(WriteBatch* b, bool locked) {
    // The fence check locks the lease rows, so it comes before anything
    // that locks the meta row (hooklog_advance, Resync(lock)): leases
    // first, then the sequence row, as in every transaction of the schema.
    std::optional<Params> fences;
    if (!b->fences.empty()) {
      ArrayBuilder parts(pg::kInt8Oid), epochs(pg::kInt8Oid);
      for (const LeaseFence& f : b->fences) {
        parts.Int8(f.partition);
        epochs.Int8(static_cast<int64_t>(f.epoch));
      }
      fences.emplace();
      fences->Array(pg::kInt8ArrayOid, parts).Array(pg::kInt8ArrayOid, epochs);
    }
    if (locked) {
      HOOKLOG_RETURN_IF_ERROR(writer_->ExecScript("BEGIN", "append"));
      Status st;
      if (fences) {
        st = StatusOf(
            writer_->Exec(kCheckFences, *fences, "checking the lease fences"));
      }
      if (st.ok()) st = Resync(/*lock=*/true);
      if (!st.ok()) {
        if (!writer_->broken()) (void)writer_->ExecScript("ROLLBACK", "append");
        return st;
      }
      fences.reset();  // checked, and held until the commit
    }
    const uint64_t base = last_seq_.load();
    const uint64_t n = b->events.size();
    int64_t token = 0;
    while (token == 0) token = static_cast<int64_t>(rng_());

    std::vector<pg::Query> qs;
    if (fences) qs.push_back({&kCheckFences, std::move(*fences)});
    Params advance;
    advance.Int8(static_cast<int64_t>(base))
        .Int8(appends_)
        .Int8(static_cast<int64_t>(n))
        .Int8(token);
    qs.push_back({&kAdvance, std::move(advance)});

    if (n > 0) {
      ArrayBuilder seqs(pg::kInt8Oid), events(pg::kByteaOid);
      for (size_t i = 0; i < n; ++i) {
        Event& e = b->events[i];
        e.seq = base + 1 + i;
        seqs.Int8(static_cast<int64_t>(e.seq));
        events.Bytea(EncodeEvent(e));
      }
      Params p;
      p.Array(pg::kInt8ArrayOid, seqs).Array(pg::kByteaArrayOid, events);
      qs.push_back({&kInsertLog, std::move(p)});
    }

    if (!b->endpoints.empty()) {
      auto rows = LastPerKey<Endpoint, Uuid128, Uuid128Hash>(
          b->endpoints, [](const Endpoint& e) { return e.id.raw(); });
      ArrayBuilder ids(pg::kUuidOid), created(pg::kInt8Oid),
          deleted(pg::kBoolOid), snaps(pg::kByteaOid);
      ArrayBuilder m_ids(pg::kUuidOid), m_keys(pg::kByteaOid),
          m_values(pg::kByteaOid);
      for (const Endpoint* e : rows) {
        ids.Uuid(e->id.raw());
        created.Int8(e->created_at);
        deleted.Bool(e->deleted);
        snaps.Bytea(pg::EncodeEndpointBlob(*e));
        for (const auto& [k, v] : e->metadata) {
          m_ids.Uuid(e->id.raw());
          m_keys.Bytea(k);
          m_values.Bytea(v);
        }
      }
      Params up;
      up.Array(pg::kUuidArrayOid, ids)
          .Array(pg::kInt8ArrayOid, created)
          .Array(pg::kBoolArrayOid, deleted)
          .Array(pg::kByteaArrayOid, snaps);
      qs.push_back({&kUpsertEndpoints, std::move(up)});
      Params del;
      del.Array(pg::kUuidArrayOid, ids);
      qs.push_back({&kDeleteMetadata, std::move(del)});
      if (m_ids.size() > 0) {
        Params meta;
        meta.Array(pg::kUuidArrayOid, m_ids)
            .Array(pg::kByteaArrayOid, m_keys)
            .Array(pg::kByteaArrayOid, m_values);
        qs.push_back({&kInsertMetadata, std::move(meta)});
      }
    }

    if (!b->messages.empty()) {
      auto rows = LastPerKey<Message, Uuid128, Uuid128Hash>(
          b->messages, [](const Message& m) { return m.id.raw(); });
      ArrayBuilder ids(pg::kUuidOid), created(pg::kInt8Oid),
          blobs(pg::kByteaOid);
      for (const Message* m : rows) {
        ids.Uuid(m->id.raw());
        created.Int8(m->created_at);
        blobs.Bytea(pg::EncodeMessageBlob(*m));
      }
      Params p;
      p.Array(pg::kUuidArrayOid, ids)
          .Array(pg::kInt8ArrayOid, created)
          .Array(pg::kByteaArrayOid, blobs);
      qs.push_back({&kUpsertMessages, std::move(p)});
    }

    if (!b->deliveries.empty()) {
      auto rows = LastPerKey<Delivery, Uuid128, Uuid128Hash>(
          b->deliveries, [](const Delivery& d) { return d.id.raw(); });
      ArrayBuilder ids(pg::kUuidOid), messages(pg::kUuidOid),
          endpoints(pg::kUuidOid), types(pg::kByteaOid), statuses(pg::kInt2Oid),
          attempts(pg::kInt8Oid), created(pg::kInt8Oid), next(pg::kInt8Oid),
          blobs(pg::kByteaOid);
      for (const Delivery* d : rows) {
        ids.Uuid(d->id.raw());
        messages.Uuid(d->message_id.raw());
        endpoints.Uuid(d->endpoint_id.raw());
        types.Bytea(d->event_type);
        statuses.Int2(static_cast<int16_t>(d->status));
        attempts.Int8(d->attempts);
        created.Int8(d->created_at);
        next.Int8(d->next_attempt_at);
        blobs.Bytea(pg::EncodeDeliveryBlob(*d));
      }
      Params p;
      p.Array(pg::kUuidArrayOid, ids)
          .Array(pg::kUuidArrayOid, messages)
          .Array(pg::kUuidArrayOid, endpoints)
          .Array(pg::kByteaArrayOid, types)
          .Array(pg::kInt2ArrayOid, statuses)
          .Array(pg::kInt8ArrayOid, attempts)
          .Array(pg::kInt8ArrayOid, created)
          .Array(pg::kInt8ArrayOid, next)
          .Array(pg::kByteaArrayOid, blobs);
      qs.push_back({&kUpsertDeliveries, std::move(p)});
    }

    if (!b->idempotency.empty()) {
      auto rows =
          LastPerKey<IdempotencyRecord, std::string, std::hash<std::string>>(
              b->idempotency, [](const IdempotencyRecord& r) { return r.key; });
      ArrayBuilder keys(pg::kByteaOid), messages(pg::kUuidOid),
          lists(pg::kByteaOid), created(pg::kInt8Oid);
      for (const IdempotencyRecord* r : rows) {
        keys.Bytea(r->key);
        messages.Uuid(r->message_id.raw());
        lists.Bytea(pg::EncodeIdList(r->deliveries));
        created.Int8(r->created_at);
      }
      Params p;
      p.Array(pg::kByteaArrayOid, keys)
          .Array(pg::kUuidArrayOid, messages)
          .Array(pg::kByteaArrayOid, lists)
          .Array(pg::kInt8ArrayOid, created);
      qs.push_back({&kUpsertIdempotency, std::move(p)});
    }

    if (!b->stats.empty()) {
      // Summed per bucket first: one statement may not touch a row twice.
      std::map<std::pair<Uuid128, Timestamp>, StatsCounts> sums;
      for (const StatsBucket& sb : b->stats) {
        sums[{sb.endpoint_id ? sb.endpoint_id->raw() : kAllEndpointsSeries,
              sb.minute}]
            .Add(sb.counts);
      }
      ArrayBuilder series(pg::kUuidOid), minutes(pg::kInt8Oid);
      std::vector<ArrayBuilder> cols(6 + kStatsLatencyBuckets,
                                     ArrayBuilder(pg::kInt8Oid));
      for (const auto& [key, c] : sums) {
        series.Uuid(key.first);
        minutes.Int8(key.second);
        const uint64_t fixed[] = {c.delivered,   c.failed,   c.rate_limited,
                                  c.dead_letter, c.attempts, c.latency_sum_ms};
        for (int i = 0; i < 6; ++i)
          cols[i].Int8(static_cast<int64_t>(fixed[i]));
        for (int i = 0; i < kStatsLatencyBuckets; ++i) {
          cols[6 + i].Int8(static_cast<int64_t>(c.latency[i]));
        }
      }
      Params p;
      p.Array(pg::kUuidArrayOid, series).Array(pg::kInt8ArrayOid, minutes);
      for (const ArrayBuilder& col : cols) p.Array(pg::kInt8ArrayOid, col);
      qs.push_back({&kUpsertStats, std::move(p)});
    }

    if (!b->replay_jobs.empty()) {
      auto rows = LastPerKey<ReplayJob, Uuid128, Uuid128Hash>(
          b->replay_jobs, [](const ReplayJob& j) { return j.id.raw(); });
      ArrayBuilder ids(pg::kUuidOid), created(pg::kInt8Oid),
          running(pg::kBoolOid), bodies(pg::kByteaOid);
      for (const ReplayJob* j : rows) {
        ids.Uuid(j->id.raw());
        created.Int8(j->created_at);
        running.Bool(j->state == ReplayJobState::kRunning);
        bodies.Bytea(EncodeReplayJob(*j));
      }
      Params p;
      p.Array(pg::kUuidArrayOid, ids)
          .Array(pg::kInt8ArrayOid, created)
          .Array(pg::kBoolArrayOid, running)
          .Array(pg::kByteaArrayOid, bodies);
      qs.push_back({&kUpsertReplayJobs, std::move(p)});
    }

    // Delivered to the listeners at commit, and only then.
    qs.push_back({&notify_sql_, Params()});

    auto res = writer_->Pipeline(qs, "append");
    if (locked && !writer_->broken()) {
      // Inside BEGIN the Sync committed nothing: end the transaction here.
      Status st = writer_->ExecScript(res.ok() ? "COMMIT" : "ROLLBACK",
                                      "append commit");
      if (res.ok() && !st.ok()) res = st;
    }
    if (res.ok()) {
      last_seq_ = base + n;
      ++appends_;
      return base + n;
    }
    if (writer_->broken()) return Resolve(res.status(), token, base + n);
    return res.status();  // the server rolled the transaction back
  }

  // After the connection died during an Append: did it commit? Reconnect
  // and fence; the token in the meta row says whose append came last.
  // REQUIRES: write_mu_ held.
  Result<uint64_t> Resolve(const Status& lost, int64_t token, uint64_t last) {
    need_resync_ = true;
    Status st = EnsureWriter();
    if (!st.ok()) {
      return Status::Unavailable(
          lost.message() +
          "; cannot reconnect, so whether this append committed is known "
          "only after reconnecting (" +
          st.message() + ")");
    }
    auto r = writer_->Exec(kFence, Params(), "fencing after a lost append");
    if (!r.ok() || PQntuples(r->get()) != 1) {
      return Status::Unavailable(
          lost.message() + "; whether this append committed is unknown (" +
          (r.ok() ? std::string("no meta row") : r.status().message()) + ")");
    }
    last_seq_ = static_cast<uint64_t>(pg::GetInt8(r->get(), 0, 0));
    appends_ = pg::GetInt8(r->get(), 0, 1);
    need_resync_ = false;
    if (pg::GetInt8(r->get(), 0, 2) == token && last_seq_.load() == last) {
      return last;  // it did commit before the connection went
    }
    return Status::Unavailable(lost.message() + " (nothing written)");
  }

  // SELECT total, blob FROM (count) LEFT JOIN LATERAL (page): one
  // statement, so the count and the page come from one snapshot. Adds the
  // page parameters to *p. `total_sql`, when given, replaces the count. With
  // `split_by_status`, the page is the merge of one ordered scan per status
  // (each served by an index that starts with [endpoint_id,] status): the
  // deliveries table then needs no (created_at, id) or (endpoint_id,
  // created_at, id) index of its own, two fewer indexes for every Append to
  // maintain. Each branch stops after limit + offset rows, so a cursor page
  // still reads a bounded number of index entries at any depth.
  static std::string PageSql(const std::string& table, const std::string& blob,
                             const std::string& where, bool count,
                             bool has_cursor, uint32_t page, uint32_t page_size,
                             Params* p, Timestamp cts, const Uuid128& cid,
                             bool split_by_status = false,
                             const std::string& total_sql = "") {
    std::string page_where = where;
    if (has_cursor) {
      p->Int8(cts).Uuid(cid);
      page_where += " AND (created_at, id) < ($" +
                    std::to_string(p->size() - 1) + ", $" +
                    std::to_string(p->size()) + ")";
    }
    p->Int8(int64_t{page_size} + 1);
    const std::string limit = "$" + std::to_string(p->size());
    p->Int8(has_cursor ? 0 : int64_t{page - 1} * page_size);
    const std::string offset = "$" + std::to_string(p->size());
    const std::string order = " ORDER BY created_at DESC, id DESC LIMIT ";
    const std::string columns = "SELECT " + blob + ", created_at, id FROM ";
    std::string rows;
    if (split_by_status) {
      std::string branches;
      for (int st = 0; st < kDeliveryStatusCount; ++st) {
        if (st > 0) branches += " UNION ALL ";
        branches += "(" + columns + table + " e WHERE " + page_where +
                    " AND status = " + std::to_string(st) + order + "(" +
                    limit + " + " + offset + "))";
      }
      rows = columns + "(" + branches + ") u" + order + limit + " OFFSET " +
             offset;
    } else {
      rows = columns + table + " e WHERE " + page_where + order + limit +
             " OFFSET " + offset;
    }
    std::string total = total_sql;
    if (total.empty()) {
      total = count ? "(SELECT count(*) AS total FROM " + table + " e WHERE " +
                          where + ")"
                    : "(SELECT 0::int8 AS total)";
    }
    return "SELECT t.total, p." + blob + " FROM " + total +
           " t LEFT JOIN LATERAL (" + rows +
           ") p ON TRUE ORDER BY p.created_at DESC, p.id DESC";
  }

  template <typename Row, typename Decode>
  static Result<Page<Row>> ReadPage(const PGresult* r, uint32_t page_size,
                                    Decode decode) {
    Page<Row> page;
    const int rows = PQntuples(r);
    if (rows > 0)
      page.total_count = static_cast<uint64_t>(pg::GetInt8(r, 0, 0));
    for (int i = 0; i < rows; ++i) {
      if (pg::IsNull(r, i, 1)) continue;  // the count without a page
      if (page.items.size() == page_size) {
        const Row& last = page.items.back();
        page.next_cursor = EncodeListCursor(last.created_at, last.id.raw());
        break;
      }
      auto row = decode(pg::GetBytes(r, i, 1));
      if (!row.ok()) return row.status();
      page.items.push_back(std::move(*row));
    }
    return page;
  }

  // Rows of (status, deliveries, attempts) starting at column `col`.
  static Status AddCounters(const PGresult* r, int col, EndpointCounters* out,
                            bool* any_row) {
    for (int i = 0; i < PQntuples(r); ++i) {
      if (pg::IsNull(r, i, col)) continue;
      const int16_t status = pg::GetInt2(r, i, col);
      if (status < 0 || status >= kDeliveryStatusCount) {
        return Status::Corruption("postgres: bad delivery status " +
                                  std::to_string(status) + " in counters");
      }
      out->by_status[status] +=
          static_cast<uint64_t>(pg::GetInt8(r, i, col + 1));
      out->attempts += static_cast<uint64_t>(pg::GetInt8(r, i, col + 2));
      *any_row = true;
    }
    return Status::Ok();
  }

  template <typename Row, typename Decode>
  Result<Row> GetOne(const std::string& sql, const Uuid128& id,
                     const char* what, Decode decode) {
    return WithReader(true, [&](Conn* c) -> Result<Row> {
      Params p;
      p.Uuid(id);
      auto r = c->Exec(sql, p, std::string("reading a ") + what);
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) == 0) {
        return Status::NotFound(std::string(what) + " " + id.ToString() +
                                " not found");
      }
      return decode(pg::GetBytes(r->get(), 0, 0));
    });
  }

  // Reads (id, blob) rows of `sql` in id order, kLoadChunk at a time.
  template <typename OnRow>
  static Status LoadChunks(Conn* c, const std::string& sql, OnRow on_row) {
    Uuid128 from;
    for (;;) {
      Params p;
      p.Uuid(from).Int8(kLoadChunk);
      auto r = c->Exec(sql, p, "LoadActive");
      if (!r.ok()) return r.status();
      const int rows = PQntuples(r->get());
      for (int i = 0; i < rows; ++i) {
        HOOKLOG_RETURN_IF_ERROR(on_row(pg::GetBytes(r->get(), i, 1)));
      }
      if (rows < kLoadChunk) return Status::Ok();
      from = pg::GetUuid(r->get(), rows - 1, 0);
      if (!NextId(&from)) return Status::Ok();
    }
  }

  // Runs `f` on a leased read connection. Reads are idempotent, so when
  // `retry` and the connection turns out to be lost (e.g. the server
  // restarted while it was idle), it reconnects and runs `f` once more.
  template <typename F>
  auto WithReader(bool retry, F&& f) const -> decltype(f(nullptr)) {
    std::unique_ptr<Conn> c = Acquire();
    for (int attempt = 0;; ++attempt) {
      Status st = c->Ensure();
      if (!st.ok()) {
        Release(std::move(c));
        return st;
      }
      auto r = f(c.get());
      if (StatusOf(r).ok() || !c->broken() || !retry || attempt > 0) {
        Release(std::move(c));
        return r;
      }
    }
  }

  // Connects the writer when needed and, with options_.exclusive, holds the
  // schema's advisory lock on its current session (a new session after a
  // reconnect takes it again). Sets lock_refused_ when another session holds
  // it. REQUIRES: write_mu_ held (or no other thread yet: Open).
  Status EnsureWriter() {
    lock_refused_ = false;
    HOOKLOG_RETURN_IF_ERROR(writer_->Ensure());
    if (!options_.exclusive || locked_session_ == writer_->sessions()) {
      return Status::Ok();
    }
    Params p;
    p.Int8(LockKey());
    auto r = writer_->Exec(kTryLock, p, "taking the schema's writer lock");
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) != 1 || !pg::GetBool(r->get(), 0, 0)) {
      lock_refused_ = true;
      return Status::Unavailable(
          "postgres: schema " + options_.schema +
          " is locked by another hooklog node (pg_try_advisory_lock); not "
          "writing");
    }
    locked_session_ = writer_->sessions();
    return Status::Ok();
  }

  // The advisory lock key: FNV-1a (64 bits) of "hooklog:" + schema, so that
  // every build and every node derive the same key for one schema.
  int64_t LockKey() const {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : "hooklog:" + options_.schema) {
      h = (h ^ c) * 1099511628211ull;
    }
    return static_cast<int64_t>(h);
  }

  int ConnectTimeout() const {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(
        options_.connect_timeout);
    // libpq's unit is whole seconds; a positive sub-second value means 1.
    return options_.connect_timeout.count() <= 0
               ? 0
               : std::max<int>(1, static_cast<int>(s.count()));
  }

  std::unique_ptr<Conn> Acquire() const {
    std::unique_lock<std::mutex> lock(pool_mu_);
    const int max = std::max(1, options_.read_connections);
    pool_cv_.wait(lock, [&] { return !free_.empty() || created_ < max; });
    if (!free_.empty()) {
      std::unique_ptr<Conn> c = std::move(free_.back());
      free_.pop_back();
      return c;
    }
    ++created_;
    return std::make_unique<Conn>(conninfo_, setup_, ConnectTimeout());
  }

  void Release(std::unique_ptr<Conn> c) const {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      free_.push_back(std::move(c));
    }
    pool_cv_.notify_one();
  }

  const std::string conninfo_;
  const PostgresOptions options_;
  const std::shared_ptr<Clock> clock_;  // retention's
  std::string setup_;
  std::string notify_sql_;  // pg_notify(channel, this store's token)

  std::mutex listen_mu_;
  std::condition_variable listen_cv_;
  bool listening_ = false;  // guarded by listen_mu_: a thread owns listener_
  std::unique_ptr<pg::Listener> listener_;  // used by the listening_ owner

  std::mutex write_mu_;
  std::unique_ptr<Conn> writer_;       // guarded by write_mu_
  int64_t appends_ = 0;                // guarded by write_mu_
  bool need_resync_ = false;           // guarded by write_mu_
  uint64_t locked_session_ = 0;        // guarded by write_mu_; 0: none
  bool lock_refused_ = false;          // guarded by write_mu_
  std::mt19937_64 rng_;                // guarded by write_mu_
  std::atomic<uint64_t> last_seq_{0};  // written under write_mu_

  // Mutable: the pool is a cache of sessions, leased by const reads too.
  mutable std::mutex pool_mu_;
  mutable std::condition_variable pool_cv_;
  mutable std::vector<std::unique_ptr<Conn>> free_;  // guarded by pool_mu_
  mutable int created_ = 0;                          // guarded by pool_mu_

  std::mutex prune_run_mu_;                          // held for a whole pass
  std::unique_ptr<Conn> pruner_;                     // guarded by prune_run_mu_
  mutable std::atomic<Timestamp> pruned_before_{0};  // only ever raised
  std::mutex prune_mu_;
  std::condition_variable prune_cv_;
  bool stopping_ = false;  // guarded by prune_mu_
  std::thread pruner_thread_;
};

Status ValidateOptions(const PostgresOptions& options) {
  if (options.schema.empty()) {
    return Status::InvalidArgument("postgres schema name is empty", "schema");
  }
  if (options.schema.find('\0') != std::string::npos) {
    return Status::InvalidArgument("postgres schema name holds a NUL",
                                   "schema");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Storage>> OpenPostgresStorage(std::string conninfo,
                                                     PostgresOptions options) {
  HOOKLOG_RETURN_IF_ERROR(ValidateOptions(options));
  auto s = std::make_unique<PostgresStorage>(std::move(conninfo),
                                             std::move(options));
  HOOKLOG_RETURN_IF_ERROR(s->Open());
  return std::unique_ptr<Storage>(std::move(s));
}

Result<uint64_t> PrunePostgresStorage(Storage* storage) {
  auto* s = dynamic_cast<PostgresStorage*>(storage);
  if (s == nullptr) {
    return Status::InvalidArgument(
        "not a PostgreSQL storage (PrunePostgresStorage needs a store from "
        "OpenPostgresStorage)",
        "storage");
  }
  return s->PruneOnce();
}

Status MigratePostgresSchema(const std::string& conninfo,
                             const PostgresOptions& options, int version) {
  HOOKLOG_RETURN_IF_ERROR(ValidateOptions(options));
  Conn conn(conninfo,
            "SET application_name = 'hooklog-migrate'; "
            "SET client_min_messages = warning",
            static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                                 options.connect_timeout)
                                 .count()));
  HOOKLOG_RETURN_IF_ERROR(conn.Ensure());
  return pg::Migrate(&conn, options.schema, version);
}

}  // namespace hooklog
