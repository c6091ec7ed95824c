// postgres_append_bench: append throughput of the PostgreSQL adapter against
// a raw batched INSERT ceiling on the same server, in the same run.
//
//   eval "$(scripts/postgres.sh start)"
//   build/tests/postgres/postgres_append_bench [--batches N] [--async]
//       [--raw-indexes] [--fences N]
//
// Both sides write the same batches, shaped like the engine's merged
// commits: 64 deliveries x 3 events (half new deliveries with their
// message, half updates of the previous batch's), encoded the same way
// (EncodeEvent, the adapter's delivery blob) inside the timed loop. The
// adapter does everything its contract needs (sequence row, upserts,
// counters, the list indexes); the ceiling is one pipelined transaction of
// three plain multi-row INSERTs into tables with primary keys only. --async
// runs both with synchronous_commit=off, which takes the disk's fsync out
// and leaves the CPU cost of the statements. --fences N acquires N
// partition leases first and fences every adapter Append with all N (the
// cost of cluster mode's check), and also times SyncLeases (a heartbeat
// renewing those N leases). A program, not a test: ctest does not run it.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "hooklog/event.h"
#include "hooklog/postgres_storage.h"
#include "hooklog/storage.h"
#include "storage/postgres/pg_conn.h"
#include "storage/postgres/pg_rows.h"

namespace hooklog {
namespace {

constexpr int kDeliveries = 64;
constexpr int kEventsPerDelivery = 3;
constexpr int kEndpoints = 8;
constexpr Timestamp kStart = 1'790'000'000LL * kSecond;

// Deterministic batches: each creates 32 deliveries and updates the 32 the
// batch before created (the first batch "updates" rows not yet there).
class Workload {
 public:
  Workload() {
    for (int i = 0; i < kDeliveries / 2; ++i) prev_.push_back(next_id_++);
  }

  WriteBatch Next() {
    WriteBatch w;
    const Timestamp now = kStart + static_cast<Timestamp>(batch_) * 1000;
    for (int i = 0; i < kDeliveries; ++i) {
      const bool fresh = i % 2 == 0;
      const uint64_t n = fresh ? next_id_++ : prev_[static_cast<size_t>(i / 2)];
      Delivery d;
      d.id = DeliveryId(Uuid128{0xD0000000 + n, n * 0x9E3779B97F4A7C15ULL});
      d.message_id = MessageId(Uuid128{0xA0000000 + n, n});
      d.endpoint_id = EndpointId(Uuid128{0xE0000000, n % kEndpoints + 1});
      d.event_type = "invoice.paid";
      d.created_at = now;
      d.attempts = fresh ? 1 : 2;
      d.failed_attempts = 1;
      d.status = fresh ? DeliveryStatus::kFailed : DeliveryStatus::kDelivered;
      d.next_attempt_at = fresh ? now + 60 * kSecond : 0;
      d.last_attempted_at = now;
      d.http_status_code = fresh ? 500 : 200;
      d.response_body = fresh ? "upstream timeout" : "ok";
      d.attempts_log.push_back(
          {now, 500, "upstream timeout", ErrorClass::kNone, 120});
      if (!fresh)
        d.attempts_log.push_back({now, 200, "ok", ErrorClass::kNone, 35});
      if (fresh) {
        Message m{d.message_id, d.event_type,
                  "{\"invoice\":\"in_" + std::to_string(n) +
                      "\",\"amount\":4200,\"currency\":\"eur\"}",
                  "", now};
        w.events.push_back(Event{0, now, EventType::kMessageAccepted,
                                 m.id.raw(), MessageAccepted{m}});
        w.events.push_back(
            Event{0, now, EventType::kEnqueued, d.id.raw(),
                  DeliveryCreated{m.id, d.endpoint_id, d.event_type, now,
                                  std::nullopt, false}});
        w.messages.push_back(std::move(m));
        next_prev_.push_back(n);
      } else {
        w.events.push_back(Event{0, now, EventType::kRateLimited, d.id.raw(),
                                 RateLimited{now + kSecond, now}});
        w.events.push_back(Event{
            0, now, EventType::kAttempted, d.id.raw(),
            Attempted{d.attempts_log[0], DeliveryStatus::kFailed, now, true}});
      }
      w.events.push_back(Event{
          0, now, EventType::kAttempted, d.id.raw(),
          Attempted{d.attempts_log.back(), d.status, d.next_attempt_at, true}});
      w.deliveries.push_back(std::move(d));
    }
    prev_.swap(next_prev_);
    next_prev_.clear();
    ++batch_;
    return w;
  }

 private:
  uint64_t batch_ = 0;
  uint64_t next_id_ = 1;
  std::vector<uint64_t> prev_, next_prev_;
};

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The ceiling: plain multi-row INSERTs of the same bytes, one pipeline.
class RawWriter {
 public:
  RawWriter(const std::string& conninfo, const std::string& schema)
      : conn_(conninfo,
              "SET client_min_messages = warning; SET search_path "
              "TO " +
                  pg::QuoteIdent(schema)) {}

  Status Open(const std::string& schema, bool indexes) {
    HOOKLOG_RETURN_IF_ERROR(conn_.Ensure());
    const std::string s = pg::QuoteIdent(schema);
    HOOKLOG_RETURN_IF_ERROR(conn_.ExecScript(
        "CREATE SCHEMA " + s + "; CREATE TABLE " + s +
            ".raw_log (seq bigint PRIMARY KEY, event bytea NOT NULL); "
            "CREATE TABLE " +
            s +
            ".raw_messages (id uuid PRIMARY KEY, created_at bigint NOT NULL, "
            "event bytea NOT NULL); CREATE TABLE " +
            s +
            ".raw_deliveries (id uuid PRIMARY KEY, message_id uuid NOT NULL, "
            "endpoint_id uuid NOT NULL, event_type bytea NOT NULL, status "
            "smallint NOT NULL, attempts bigint NOT NULL, created_at bigint "
            "NOT NULL, next_attempt_at bigint NOT NULL, body bytea NOT NULL)",
        "raw schema"));
    if (indexes) {
      // The adapter's list indexes (pg_schema.cc), to tell their cost from
      // the rest of the adapter's work.
      HOOKLOG_RETURN_IF_ERROR(conn_.ExecScript(
          "CREATE INDEX ON " + s +
              ".raw_deliveries (status, created_at, id); " +
              "CREATE INDEX ON " + s +
              ".raw_deliveries (endpoint_id, status, created_at, id); " +
              "CREATE INDEX ON " + s +
              ".raw_deliveries (event_type, created_at, id); " +
              "CREATE INDEX ON " + s +
              ".raw_deliveries (id) WHERE status NOT IN (1, 4)",
          "raw indexes"));
    }
    log_sql_ = Values("raw_log", 2, kDeliveries * kEventsPerDelivery);
    msg_sql_ = Values("raw_messages", 3, kDeliveries / 2);
    del_sql_ = Values("raw_deliveries", 9, kDeliveries);
    return Status::Ok();
  }

  // Every delivery row as a new one (a plain INSERT has no upsert).
  Status Write(WriteBatch* b) {
    std::vector<pg::Query> qs(3);
    qs[0].sql = &log_sql_;
    for (Event& e : b->events) {
      e.seq = ++seq_;
      qs[0].params.Int8(static_cast<int64_t>(e.seq)).Bytea(EncodeEvent(e));
    }
    qs[1].sql = &msg_sql_;
    for (const Message& m : b->messages) {
      qs[1]
          .params.Uuid(m.id.raw())
          .Int8(m.created_at)
          .Bytea(pg::EncodeMessageBlob(m));
    }
    qs[2].sql = &del_sql_;
    for (const Delivery& d : b->deliveries) {
      qs[2]
          .params.Uuid(Uuid128{++row_, d.id.raw().lo})
          .Uuid(d.message_id.raw())
          .Uuid(d.endpoint_id.raw())
          .Bytea(d.event_type)
          .Int2(static_cast<int16_t>(d.status))
          .Int8(d.attempts)
          .Int8(d.created_at)
          .Int8(d.next_attempt_at)
          .Bytea(pg::EncodeDeliveryBlob(d));
    }
    return conn_.Pipeline(qs, "raw insert").status();
  }

 private:
  static std::string Values(const std::string& table, int columns, int rows) {
    std::string sql = "INSERT INTO " + table + " VALUES ";
    int p = 0;
    for (int r = 0; r < rows; ++r) {
      sql += r ? ",(" : "(";
      for (int c = 0; c < columns; ++c) {
        sql += (c ? ",$" : "$") + std::to_string(++p);
      }
      sql += ")";
    }
    return sql;
  }

  pg::Conn conn_;
  std::string log_sql_, msg_sql_, del_sql_;
  uint64_t seq_ = 0;
  uint64_t row_ = 0;
};

// Acquires `n` leases for this bench's node and times heartbeats that
// renew them; returns the fences, or nothing on error (printed).
std::optional<std::vector<LeaseFence>> TakeLeases(Storage* s, int n) {
  LeaseSync sync;
  sync.node_id = "bench";
  sync.partitions = static_cast<uint32_t>(std::max(n, 1));
  sync.ttl = std::chrono::hours(1);
  for (int p = 0; p < n; ++p) sync.acquire.push_back(static_cast<uint32_t>(p));
  auto v = s->SyncLeases(sync);
  if (!v.ok()) {
    std::fprintf(stderr, "sync: %s\n", v.status().ToString().c_str());
    return std::nullopt;
  }
  std::vector<LeaseFence> fences;
  for (const PartitionLease& l : v->leases) {
    fences.push_back({l.partition, l.epoch});
  }
  sync.acquire.clear();
  sync.renew = fences;
  std::vector<double> took;
  for (int i = 0; i < 200; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = s->SyncLeases(sync);
    took.push_back(Seconds(std::chrono::steady_clock::now() - t0));
    if (!r.ok()) {
      std::fprintf(stderr, "sync: %s\n", r.status().ToString().c_str());
      return std::nullopt;
    }
  }
  std::sort(took.begin(), took.end());
  std::printf(
      "  SyncLeases renewing %d leases: median %.3f ms, p90 %.3f ms "
      "(200 calls)\n",
      n, 1000 * took[took.size() / 2], 1000 * took[took.size() * 9 / 10]);
  return fences;
}

int Run(int batches, bool async, bool raw_indexes, int fence_count) {
  const char* env = std::getenv("HOOKLOG_TEST_POSTGRES");
  if (env == nullptr || *env == '\0') {
    std::fprintf(stderr,
                 "HOOKLOG_TEST_POSTGRES is not set (eval \"$(scripts/"
                 "postgres.sh start)\")\n");
    return 2;
  }
  std::string conninfo = env;
  if (async) conninfo += " options='-c synchronous_commit=off'";
  const std::string tag = std::to_string(getpid());
  const std::string adapter_schema = "bench_adapter_" + tag;
  const std::string raw_schema = "bench_raw_" + tag;

  PostgresOptions options;
  options.schema = adapter_schema;
  auto store = OpenPostgresStorage(conninfo, options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  // The endpoints the deliveries name.
  WriteBatch setup;
  for (int i = 1; i <= kEndpoints; ++i) {
    Endpoint e;
    e.id = EndpointId(Uuid128{0xE0000000, static_cast<uint64_t>(i)});
    e.url = "https://example.com/hook/" + std::to_string(i);
    e.created_at = kStart;
    setup.endpoints.push_back(e);
  }
  if (!(*store)->Append(&setup).ok()) return 1;
  std::vector<LeaseFence> fences;
  if (fence_count > 0) {
    auto f = TakeLeases(store->get(), fence_count);
    if (!f) return 1;
    fences = std::move(*f);
  }
  RawWriter raw(conninfo, raw_schema);
  Status st = raw.Open(raw_schema, raw_indexes);
  if (!st.ok()) {
    std::fprintf(stderr, "raw: %s\n", st.ToString().c_str());
    return 1;
  }

  // Alternate rounds (and which side goes first) so that both sides see
  // the same server and disk state; the machine is shared, so the median of
  // the per-round ratios is the figure that load bursts move least. The
  // first round of each side warms up and is not counted.
  Workload adapter_load, raw_load;
  constexpr int kRound = 10;
  const int rounds = (batches + kRound - 1) / kRound;
  double adapter_s = 0, raw_s = 0;
  std::vector<double> ratios;
  for (int round = -1; round < rounds; ++round) {
    double took[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const int side = (k + round + 1) % 2;  // 0: adapter, 1: raw
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < kRound; ++i) {
        WriteBatch b = side == 0 ? adapter_load.Next() : raw_load.Next();
        if (side == 0) {
          b.fences = fences;
          auto r = (*store)->Append(&b);
          if (!r.ok()) {
            std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
            return 1;
          }
        } else {
          st = raw.Write(&b);
          if (!st.ok()) {
            std::fprintf(stderr, "raw: %s\n", st.ToString().c_str());
            return 1;
          }
        }
      }
      took[side] = Seconds(std::chrono::steady_clock::now() - t0);
    }
    if (round < 0) continue;
    adapter_s += took[0];
    raw_s += took[1];
    ratios.push_back(took[1] / took[0]);
  }
  std::sort(ratios.begin(), ratios.end());
  const int timed = rounds * kRound;
  const double events = double(timed) * kDeliveries * kEventsPerDelivery;
  std::printf(
      "postgres_append_bench: %d batches of %d deliveries x %d events, "
      "synchronous_commit=%s%s, %d fences per Append\n",
      timed, kDeliveries, kEventsPerDelivery, async ? "off" : "on",
      raw_indexes ? ", raw table with the adapter's indexes" : "", fence_count);
  std::printf("  adapter   %10.0f events/s  (%.2f ms per Append)\n",
              events / adapter_s, 1000 * adapter_s / timed);
  std::printf("  raw INSERT%10.0f events/s  (%.2f ms per batch)\n",
              events / raw_s, 1000 * raw_s / timed);
  std::printf(
      "  ratio     %10.2f of the raw ceiling (totals); per-round median "
      "%.2f, quartiles %.2f..%.2f\n",
      raw_s / adapter_s, ratios[ratios.size() / 2], ratios[ratios.size() / 4],
      ratios[ratios.size() * 3 / 4]);

  store->reset();
  pg::Conn admin(env, "SET client_min_messages = warning");
  if (admin.Ensure().ok()) {
    (void)admin.ExecScript("DROP SCHEMA " + pg::QuoteIdent(adapter_schema) +
                               " CASCADE; DROP SCHEMA " +
                               pg::QuoteIdent(raw_schema) + " CASCADE",
                           "cleanup");
  }
  return 0;
}

}  // namespace
}  // namespace hooklog

int main(int argc, char** argv) {
  int batches = 200;
  bool async = false;
  bool raw_indexes = false;
  int fences = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--batches" && i + 1 < argc) {
      batches = std::atoi(argv[++i]);
    } else if (a == "--async") {
      async = true;
    } else if (a == "--raw-indexes") {
      raw_indexes = true;
    } else if (a == "--fences" && i + 1 < argc) {
      fences = std::clamp(std::atoi(argv[++i]), 0, 4096);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--batches N] [--async] [--raw-indexes] "
                   "[--fences N]\n",
                   argv[0]);
      return 2;
    }
  }
  return hooklog::Run(batches < 1 ? 1 : batches, async, raw_indexes, fences);
}
