// Storage benchmarks (results: bench/RESULTS.md, "Storage").
//
//   BM_RocksDbAppend/threads:N    hooklog's RocksDB store, sync=true, one
//                                 200-byte event per Append, N callers
//                                 sharing syncs through group commit
//   BM_RawRocksDbWrite/threads:N  the ceiling: raw RocksDB synced writes of
//                                 the same 200-byte values from N threads
//                                 (RocksDB's own write-group batching)
//   BM_RocksDbAppendDeliveries    the engine's write pattern: each
//                                 iteration appends K new deliveries
//                                 (message + enqueued + rows), then their
//                                 K attempts (attempted + updated rows);
//                                 args: K, sync; items = events;
//                                 keys_per_delivery = RocksDB keys written
//                                 (WriteBatch::Count) per delivery
//   BM_MemoryAppend               the in-memory store
//   BM_GetDelivery                delivery-by-id lookup; p50/p99 counters (ns)
//   BM_ListNewest50               50 newest deliveries of one endpoint among
//                                 HOOKLOG_BENCH_DELIVERIES (default 100000)
//   BM_ListByStatus50/status:S/deep:D  50 newest in one status (1
//                                 delivered, 4 dead_letter), all endpoints;
//                                 D=1: from a cursor half-way down
//   BM_Restart/after_crash:C      open + LoadActive of a store whose log holds
//                                 HOOKLOG_BENCH_RESTART_EVENTS (default
//                                 200000), after a clean close (C=0) or a crash
//                                 (C=1)
//
// Data sets are built once per process in $TMPDIR and removed at exit.

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "hooklog/rocksdb_storage.h"
#include "hooklog/storage.h"
#include "storage/rocksdb/store.h"

namespace hooklog {
namespace {

constexpr Timestamp kT0 = 1'790'000'000LL * kSecond;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string NewDir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("hooklog-bench-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(p);
  return p.string();
}

// An event whose encoding is ~200 bytes.
Event MakeEvent(uint64_t n) {
  Message m;
  m.id = MessageId(Uuid128{n, n + 1});
  m.event_type = "invoice.paid";
  m.payload = "{\"n\":" + std::string(108, 'x') + "}";
  m.created_at = kT0;
  return Event{0, kT0, EventType::kMessageAccepted, m.id.raw(),
               MessageAccepted{m}};
}

Delivery MakeDelivery(uint64_t n, uint64_t endpoints) {
  Delivery d;
  d.id = DeliveryId(Uuid128{n * 0x9E3779B97F4A7C15ULL, n});
  d.message_id = MessageId(Uuid128{n, n});
  d.endpoint_id = EndpointId(Uuid128{1, n % endpoints});
  d.event_type = n % 2 ? "invoice.paid" : "user.created";
  d.status = static_cast<DeliveryStatus>(n % 5);
  d.attempts = 1;
  d.created_at = kT0 + static_cast<Timestamp>(n) * 1000;
  d.next_attempt_at = IsTerminal(d.status) ? 0 : d.created_at + kSecond;
  d.http_status_code = 200;
  d.response_body = "ok";
  return d;
}

// --------------------------------------------------------- append paths

Storage* g_store = nullptr;
std::string g_store_dir;
std::atomic<uint64_t> g_counter{0};

void BM_RocksDbAppend(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_store_dir = NewDir("append");
    auto s = OpenRocksDbStorage(g_store_dir);  // sync = true
    if (!s.ok()) {
      state.SkipWithError(s.status().ToString().c_str());
      return;
    }
    g_store = s->release();
  }
  const Event proto = MakeEvent(state.thread_index());
  const int64_t per_append = state.range(0);
  for (auto _ : state) {
    WriteBatch b;
    b.events.assign(per_append, proto);
    auto r = g_store->Append(&b);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * per_append);
  if (state.thread_index() == 0) {
    delete g_store;
    g_store = nullptr;
    std::filesystem::remove_all(g_store_dir);
  }
}
// Arg: events per Append (1: many callers with one event each; 100: the
// engine batching many deliveries' events into one call).
BENCHMARK(BM_RocksDbAppend)
    ->ArgName("events_per_append")
    ->Arg(1)
    ->Arg(100)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime();

rocksdb::DB* g_raw = nullptr;

void BM_RawRocksDbWrite(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_store_dir = NewDir("raw");
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::Status st = rocksdb::DB::Open(o, g_store_dir, &g_raw);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      return;
    }
  }
  const std::string value = EncodeEvent(MakeEvent(state.thread_index()));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  const int64_t per_write = state.range(0);
  for (auto _ : state) {
    rocksdb::WriteBatch wb;
    for (int64_t k = 0; k < per_write; ++k) {
      const uint64_t seq = g_counter.fetch_add(1);
      char key[8];
      for (int i = 0; i < 8; ++i) {
        key[i] = static_cast<char>(seq >> (56 - 8 * i));
      }
      wb.Put(rocksdb::Slice(key, 8), value);
    }
    rocksdb::Status st = g_raw->Write(wo, &wb);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * per_write);
  if (state.thread_index() == 0) {
    delete g_raw;
    g_raw = nullptr;
    std::filesystem::remove_all(g_store_dir);
  }
}
BENCHMARK(BM_RawRocksDbWrite)
    ->ArgName("events_per_write")
    ->Arg(1)
    ->Arg(100)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime();

// The engine's pattern: new deliveries (whose previous row cannot exist)
// then an update of each (previous row needed for index maintenance).
void BM_RocksDbAppendDeliveries(benchmark::State& state) {
  const int64_t k = state.range(0);
  const std::string dir = NewDir("append-deliveries");
  RocksDbOptions o;
  o.sync = state.range(1) != 0;
  o.retention = Duration(0);
  auto s = OpenRocksDbStorage(dir, o);
  if (!s.ok()) {
    state.SkipWithError(s.status().ToString().c_str());
    return;
  }
  Storage& store = **s;
  const auto* rocks = *rocksdb_internal::RocksDbStorage::From(&store);
  const uint64_t keys_before = rocks->KeysWritten();
  std::mt19937_64 rng(7);
  const std::string payload = "{\"n\":" + std::string(108, 'x') + "}";
  std::vector<Delivery> rows(static_cast<size_t>(k));
  uint64_t events = 0;
  for (auto _ : state) {
    WriteBatch create;
    for (Delivery& d : rows) {
      Message m;
      m.id = MessageId(Uuid128{rng(), rng()});
      m.event_type = "invoice.paid";
      m.payload = payload;
      m.created_at = kT0;
      d = Delivery{};
      d.id = DeliveryId(Uuid128{rng(), rng()});
      d.message_id = m.id;
      d.endpoint_id = EndpointId(Uuid128{1, rng() % 16});
      d.event_type = m.event_type;
      d.status = DeliveryStatus::kPending;
      d.created_at = kT0;
      d.next_attempt_at = kT0;
      create.events.push_back(Event{0, kT0, EventType::kMessageAccepted,
                                    m.id.raw(), MessageAccepted{m}});
      create.events.push_back(
          Event{0, kT0, EventType::kEnqueued, d.id.raw(),
                DeliveryCreated{m.id, d.endpoint_id, m.event_type, kT0,
                                std::nullopt, false}});
      create.messages.push_back(std::move(m));
      create.deliveries.push_back(d);
    }
    WriteBatch attempt;
    for (Delivery& d : rows) {
      Attempted a;
      a.record.at = kT0;
      a.record.http_status_code = 200;
      a.record.response_body = "ok";
      a.status_after = DeliveryStatus::kDelivered;
      attempt.events.push_back(
          Event{0, kT0, EventType::kAttempted, d.id.raw(), a});
      d.status = DeliveryStatus::kDelivered;
      d.attempts = 1;
      d.last_attempted_at = kT0;
      d.next_attempt_at = 0;
      d.http_status_code = 200;
      d.response_body = "ok";
      d.attempts_log = {a.record};
      attempt.deliveries.push_back(d);
    }
    events += create.events.size() + attempt.events.size();
    if (!store.Append(&create).ok() || !store.Append(&attempt).ok()) {
      state.SkipWithError("append failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["keys_per_delivery"] =
      static_cast<double>(rocks->KeysWritten() - keys_before) /
      static_cast<double>(state.iterations() * static_cast<uint64_t>(k));
  s->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RocksDbAppendDeliveries)
    ->ArgNames({"deliveries", "sync"})
    ->Args({100, 1})
    ->Args({1000, 0})
    ->Args({10000, 0})
    ->UseRealTime();

void BM_MemoryAppend(benchmark::State& state) {
  auto s = NewMemoryStorage();
  const Event proto = MakeEvent(1);
  for (auto _ : state) {
    WriteBatch b;
    b.events.push_back(proto);
    benchmark::DoNotOptimize(s->Append(&b));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryAppend);

// ------------------------------------------------------------ read paths

// A store with `n` deliveries over 100 endpoints, built once (sync off,
// 1000 rows per batch) and shared by the read benchmarks.
struct Dataset {
  std::string dir;
  std::unique_ptr<Storage> store;
  uint64_t n = 0;
  ~Dataset() {
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

Dataset* GetDataset() {
  static Dataset* ds = [] {
    auto* d = new Dataset;
    d->n = EnvOr("HOOKLOG_BENCH_DELIVERIES", 100'000);
    d->dir = NewDir("reads");
    RocksDbOptions o;
    o.sync = false;
    o.retention = Duration(0);  // the synthetic rows are "old"
    auto s = OpenRocksDbStorage(d->dir, o);
    if (!s.ok()) std::abort();
    d->store = std::move(*s);
    for (uint64_t i = 0; i < d->n;) {
      WriteBatch b;
      for (int k = 0; k < 1000 && i < d->n; ++k, ++i) {
        b.deliveries.push_back(MakeDelivery(i, 100));
        b.events.push_back(Event{0, kT0, EventType::kEnqueued,
                                 b.deliveries.back().id.raw(),
                                 DeliveryCreated{}});
      }
      if (!d->store->Append(&b).ok()) std::abort();
    }
    std::atexit([] { delete GetDataset(); });
    return d;
  }();
  return ds;
}

void ReportPercentiles(benchmark::State& state, std::vector<double>& ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = ns[ns.size() / 2];
  state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
}

void BM_GetDelivery(benchmark::State& state) {
  Dataset* ds = GetDataset();
  std::mt19937_64 rng(1);
  std::vector<double> ns;
  ns.reserve(1 << 20);
  for (auto _ : state) {
    const DeliveryId id = MakeDelivery(rng() % ds->n, 100).id;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = ds->store->GetDelivery(id);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    if (ns.size() < ns.capacity()) {
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
  }
  ReportPercentiles(state, ns);
  state.counters["deliveries"] = static_cast<double>(ds->n);
}
BENCHMARK(BM_GetDelivery);

void BM_ListNewest50(benchmark::State& state) {
  Dataset* ds = GetDataset();
  std::mt19937_64 rng(2);
  std::vector<double> ns;
  for (auto _ : state) {
    DeliveryQuery q;
    q.endpoint_id = EndpointId(Uuid128{1, rng() % 100});
    q.page_size = 50;
    q.count_total = state.range(0) != 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = ds->store->ListDeliveries(q);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok() || r->items.size() != 50) state.SkipWithError("list failed");
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  ReportPercentiles(state, ns);
  state.counters["deliveries"] = static_cast<double>(ds->n);
}
BENCHMARK(BM_ListNewest50)->Arg(0)->Arg(1)->ArgName("count_total");

// The 50 newest deliveries in one status, all endpoints (the data set has
// each status on a fifth of the rows): format 4 answers `delivered` by
// walking the all-deliveries index and reading rows (≈ 5 × 50 here: a
// store where only a fifth is delivered), the other statuses from their
// status index. Arg 2: the page starts at a cursor half-way down.
void BM_ListByStatus50(benchmark::State& state) {
  Dataset* ds = GetDataset();
  std::mt19937_64 rng(3);
  std::vector<double> ns;
  for (auto _ : state) {
    DeliveryQuery q;
    q.status = static_cast<DeliveryStatus>(state.range(0));
    q.page_size = 50;
    q.count_total = false;
    if (state.range(1) != 0) {
      const Delivery middle = MakeDelivery(ds->n / 2 + rng() % 100, 100);
      q.cursor = EncodeListCursor(middle.created_at, middle.id.raw());
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto r = ds->store->ListDeliveries(q);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok() || r->items.size() != 50) state.SkipWithError("list failed");
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  ReportPercentiles(state, ns);
}
BENCHMARK(BM_ListByStatus50)
    ->ArgNames({"status", "deep"})
    ->Args({static_cast<int>(DeliveryStatus::kDelivered), 0})
    ->Args({static_cast<int>(DeliveryStatus::kDelivered), 1})
    ->Args({static_cast<int>(DeliveryStatus::kDeadLetter), 0})
    ->Args({static_cast<int>(DeliveryStatus::kDeadLetter), 1});

// --------------------------------------------------------------- restart

// Fills `dir` with `events` log events: 1 delivery row per 5 events, 1 in 5
// of them non-terminal. With `crash`, the filling process ends without
// closing the store (like kill -9 after the last write(2)): no flush, so
// the next open replays whatever WAL is left.
bool FillRestartStore(const std::string& dir, uint64_t events, bool crash) {
  const pid_t pid = crash ? fork() : 0;
  if (pid < 0) return false;
  if (pid > 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  RocksDbOptions o;
  o.sync = false;
  o.retention = Duration(0);
  auto s = OpenRocksDbStorage(dir, o);
  if (!s.ok()) std::abort();
  for (uint64_t i = 0; i < events;) {
    WriteBatch b;
    for (int k = 0; k < 5000 && i < events; ++k, ++i) {
      b.events.push_back(MakeEvent(i));
      if (i % 5 == 0) b.deliveries.push_back(MakeDelivery(i, 100));
    }
    if (!(*s)->Append(&b).ok()) std::abort();
  }
  if (crash) _exit(0);  // no close, no flush
  return true;
}

// Arg 0: after a clean close (mean of 3 opens). Arg 1: after a crash (the
// first open only: it replays the WAL left behind).
void BM_Restart(benchmark::State& state) {
  const uint64_t events = EnvOr("HOOKLOG_BENCH_RESTART_EVENTS", 200'000);
  const std::string dir = NewDir("restart");
  if (!FillRestartStore(dir, events, state.range(0) != 0)) {
    state.SkipWithError("fill failed");
    return;
  }
  uint64_t active = 0;
  for (auto _ : state) {
    active = 0;
    RocksDbOptions o;
    o.retention = Duration(0);
    auto s = OpenRocksDbStorage(dir, o);
    if (!s.ok()) {
      state.SkipWithError(s.status().ToString().c_str());
      break;
    }
    Status st = (*s)->LoadActive([](const Endpoint&) {},
                                 [&](const Delivery&) { ++active; });
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    state.PauseTiming();  // closing (a flush) is not part of the restart
    s->reset();
    state.ResumeTiming();
  }
  state.counters["log_events"] = static_cast<double>(events);
  state.counters["active_loaded"] = static_cast<double>(active);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Restart)
    ->ArgName("after_crash")
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_Restart)
    ->ArgName("after_crash")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
}  // namespace hooklog
