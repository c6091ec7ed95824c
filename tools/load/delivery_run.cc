#include "tools/load/delivery_run.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "tools/load/load_schema.h"
#include "tools/load/measure.h"
#include "tools/load/report.h"
#include "tools/load/scenarios.h"

namespace hooklog::load {
namespace {

namespace fs = std::filesystem;

// The engines under load: one over RocksDB in `dir`, or (--storage) N
// cluster nodes over one throw-away PostgreSQL schema; each store observed.
struct EngineUnderLoad {
  std::string dir;
  // Declared before the engines, so destroyed after them: the schema is
  // dropped once every store on it is closed.
  std::unique_ptr<LoadSchema> schema;
  std::vector<ObservedStorage*> observed;
  std::vector<std::unique_ptr<Engine>> engines;

  uint64_t delivered() const {
    uint64_t n = 0;
    for (const ObservedStorage* o : observed) n += o->delivered();
    return n;
  }
  uint64_t dead() const {
    uint64_t n = 0;
    for (const ObservedStorage* o : observed) n += o->dead();
    return n;
  }
  int64_t last_terminal_ns() const {
    int64_t t = 0;
    for (const ObservedStorage* o : observed) {
      t = std::max(t, o->last_terminal_ns());
    }
    return t;
  }
  std::vector<std::pair<DeliveryId, int64_t>> TakeTerminal() {
    std::vector<std::pair<DeliveryId, int64_t>> all;
    for (ObservedStorage* o : observed) {
      auto part = o->TakeTerminal();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }
  EngineStats Stats() const {
    EngineStats sum;
    for (const auto& e : engines) {
      EngineStats s = e->Stats();
      sum.in_flight += s.in_flight;
      sum.due_queue_depth += s.due_queue_depth;
      sum.attempts_ok += s.attempts_ok;
      sum.attempts_failed += s.attempts_failed;
      sum.attempts_rate_limited += s.attempts_rate_limited;
      sum.partitions_owned += s.partitions_owned;
    }
    return sum;
  }
};

// The stores, one per engine.
std::optional<std::vector<std::unique_ptr<Storage>>> OpenStores(
    const LoadFlags& flags, EngineUnderLoad* e) {
  std::vector<std::unique_ptr<Storage>> out;
  if (flags.storage.empty()) {
    e->dir = NewTempDir(flags, flags.scenario);
    auto store = OpenRocksDbStorage(e->dir, RocksDbOptions{.sync = true});
    if (!store.ok()) {
      std::fprintf(stderr, "hooklog-load: %s\n",
                   store.status().ToString().c_str());
      return std::nullopt;
    }
    out.push_back(std::move(*store));
    return out;
  }
  auto schema = LoadSchema::Create(flags.storage);
  if (!schema.ok()) {
    std::fprintf(stderr, "hooklog-load: %s\n",
                 schema.status().ToString().c_str());
    return std::nullopt;
  }
  e->schema = std::move(*schema);
  for (int i = 0; i < flags.nodes; ++i) {
    auto store = e->schema->Open();
    if (!store.ok()) {
      std::fprintf(stderr, "hooklog-load: %s\n",
                   store.status().ToString().c_str());
      return std::nullopt;
    }
    out.push_back(std::move(*store));
  }
  return out;
}

// Cluster mode: every node knows every endpoint and the partitions are all
// owned, spread over the nodes, before the first publish.
bool WaitForCluster(const LoadFlags& flags, const EngineUnderLoad& e) {
  const auto until = SteadyClock::now() + std::chrono::seconds(60);
  while (SteadyClock::now() < until) {
    bool ready = true;
    uint64_t owned = 0;
    for (const auto& engine : e.engines) {
      EngineStats s = engine->Stats();
      ready = ready && s.endpoints == uint64_t(flags.endpoints) &&
              s.partitions_owned > 0;
      owned += s.partitions_owned;
    }
    if (ready && owned == uint64_t(flags.partitions)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "hooklog-load: the cluster did not settle in 60 s\n");
  return false;
}

std::optional<EngineUnderLoad> OpenEngineUnderLoad(const LoadFlags& flags,
                                                   const LoadReceiver& rx,
                                                   SteadyClock::time_point t0) {
  EngineUnderLoad e;
  auto stores = OpenStores(flags, &e);
  if (!stores) return std::nullopt;
  for (size_t i = 0; i < stores->size(); ++i) {
    auto observed =
        std::make_unique<ObservedStorage>(std::move((*stores)[i]), t0);
    e.observed.push_back(observed.get());
    EngineOptions o = EngineOptionsFor(flags);
    if (!flags.storage.empty()) {
      o.cluster.node_id = "load-" + std::to_string(i + 1);
      o.cluster.partitions = uint32_t(flags.partitions);
      // Each node carries its share of the connections.
      o.global_max_in_flight =
          std::max<uint32_t>(1, o.global_max_in_flight / uint32_t(flags.nodes));
    }
    auto opened = OpenEngine(std::move(observed), o);
    if (!opened.ok()) {
      std::fprintf(stderr, "hooklog-load: %s\n",
                   opened.status().ToString().c_str());
      return std::nullopt;
    }
    e.engines.push_back(std::move(*opened));
  }
  for (int k = 0; k < flags.endpoints; ++k) {
    EndpointSpec spec;
    spec.url = rx.Url("/load/" + std::to_string(k));
    spec.event_types =
        std::vector<std::string>{"load." + std::to_string(k), "load.all"};
    auto ep =
        e.engines[size_t(k) % e.engines.size()]->CreateEndpoint(spec).get();
    if (!ep.ok()) {
      std::fprintf(stderr, "hooklog-load: endpoint: %s\n",
                   ep.status().ToString().c_str());
      return std::nullopt;
    }
  }
  if (!flags.storage.empty() && !WaitForCluster(flags, e)) return std::nullopt;
  return e;
}

// What the publisher's acknowledgements recorded.
struct Acks {
  std::mutex mu;
  std::vector<std::pair<DeliveryId, int64_t>> deliveries;  // id, acked at
  std::vector<double> ack_ms;  // publish call → acknowledgement
  std::atomic<uint64_t> events{0}, delivery_count{0}, errors{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::counting_semaphore<> window{4096};  // publishes outstanding
};

// Publishes flags.events events (at flags.rate when set) until done or the
// deadline.
void Publish(const LoadFlags& flags,
             const std::vector<std::unique_ptr<Engine>>& engines,
             const std::string& payload, SteadyClock::time_point t0,
             int64_t start_ns, SteadyClock::time_point deadline, Acks* acks) {
  for (int64_t i = 0; i < flags.events; ++i) {
    if (flags.rate > 0) {
      std::this_thread::sleep_until(
          t0 + std::chrono::nanoseconds(start_ns +
                                        int64_t(double(i) * 1e9 / flags.rate)));
    }
    while (!acks->window.try_acquire_for(std::chrono::milliseconds(100))) {
      if (SteadyClock::now() > deadline) return;
    }
    if (SteadyClock::now() > deadline) return;
    PublishRequest req;
    req.event_type = flags.fanout_all
                         ? std::string("load.all")
                         : "load." + std::to_string(i % flags.endpoints);
    req.payload = payload;
    const int64_t called = NowNs(t0);
    engines[size_t(i) % engines.size()]->Publish(
        std::move(req), [acks, t0, called](Result<PublishResult> r) {
          const int64_t now = NowNs(t0);
          if (r.ok()) {
            std::lock_guard<std::mutex> lock(acks->mu);
            for (const DeliveryId& d : r->deliveries) {
              acks->deliveries.push_back({d, now});
            }
            acks->ack_ms.push_back(double(now - called) / 1e6);
            acks->delivery_count += r->deliveries.size();
            acks->events++;
            acks->last_ack_ns = now;
          } else {
            acks->errors++;
          }
          acks->window.release();
        });
  }
}

struct Waited {
  uint64_t max_in_flight = 0;
  bool timed_out = false;
};

// Waits until every event was answered and every acknowledged delivery is
// terminal (or the deadline), printing progress on stderr.
Waited WaitUntilTerminal(const LoadFlags& flags, const EngineUnderLoad& e,
                         const Acks& acks, SteadyClock::time_point t0,
                         SteadyClock::time_point deadline) {
  Waited w;
  auto next_progress = SteadyClock::now();
  const bool tty = isatty(2);
  for (;;) {
    EngineStats st = e.Stats();
    w.max_in_flight = std::max(w.max_in_flight, st.in_flight);
    const uint64_t done_events = acks.events + acks.errors;
    const uint64_t terminal = e.delivered() + e.dead();
    if (done_events >= uint64_t(flags.events) &&
        terminal >= acks.delivery_count) {
      break;
    }
    const auto now = SteadyClock::now();
    if (now > deadline) {
      w.timed_out = true;
      break;
    }
    if (now >= next_progress) {
      const double el = std::chrono::duration<double>(now - t0).count();
      std::fprintf(
          stderr,
          "%s[%s] %5.1fs published %" PRIu64 "/%" PRId64 " delivered %" PRIu64
          " in_flight %" PRIu64 " due %" PRIu64 " %.0f/s%s",
          tty ? "\r" : "", flags.scenario.c_str(), el, done_events,
          flags.events, e.delivered(), st.in_flight, st.due_queue_depth,
          el > 0 ? double(e.delivered()) / el : 0.0, tty ? "   " : "\n");
      next_progress = now + std::chrono::seconds(tty ? 1 : 5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (tty) std::fprintf(stderr, "\n");
  return w;
}

// Latency (ack → terminal row durable) of every matched delivery, and the
// acknowledged deliveries that never became terminal (lost).
void AddLatencies(Acks* acks,
                  const std::vector<std::pair<DeliveryId, int64_t>>& terminal,
                  Report* rep) {
  std::unordered_map<DeliveryId, int64_t, IdHash> ack_at;
  std::lock_guard<std::mutex> lock(acks->mu);
  ack_at.reserve(acks->deliveries.size());
  for (auto& [id, t] : acks->deliveries) ack_at.emplace(id, t);
  std::vector<double> lat;
  lat.reserve(terminal.size());
  uint64_t matched = 0;
  for (auto& [id, t] : terminal) {
    auto it = ack_at.find(id);
    if (it == ack_at.end()) continue;
    ++matched;
    lat.push_back(double(t - it->second) / 1e6);
  }
  const uint64_t acked = acks->delivery_count;
  rep->lost = acked > matched ? acked - matched : 0;
  if (!lat.empty()) {
    rep->p50_ms = Percentile(lat, 0.50);
    rep->p99_ms = Percentile(lat, 0.99);
    rep->p999_ms = Percentile(lat, 0.999);
  }
  if (!acks->ack_ms.empty()) {
    rep->publish_ack_p50_ms = Percentile(acks->ack_ms, 0.50);
    rep->publish_ack_p99_ms = Percentile(acks->ack_ms, 0.99);
  }
}

// wrk and the bare curl loop against the same receiver, with the engine
// shut down.
void MeasureCeilings(const LoadFlags& flags, const LoadReceiver& rx,
                     const std::string& payload, Report* rep) {
  if (flags.no_ceilings) {
    rep->ceilings_note = flags.smoke ? "--smoke" : "--no-ceilings";
    return;
  }
  std::fprintf(stderr, "[%s] ceilings: wrk %.0fs...\n", flags.scenario.c_str(),
               flags.ceiling_seconds);
  CeilingRequest req = CeilingRequestFor(rx.Url("/load/0"), payload);
  rep->wrk = RunWrk(req, flags.concurrency,
                    std::max(1, int(std::lround(flags.ceiling_seconds))));
  std::fprintf(stderr, "[%s] ceilings: bare curl-multi loop %.0fs...\n",
               flags.scenario.c_str(), flags.ceiling_seconds);
  // As many handles as the transport spreads this concurrency over
  // (TransportOptions::transfers_per_handle / max_handles).
  const TransportOptions t;
  const size_t per = size_t(flags.transfers_per_handle);
  const int handles =
      per == 0
          ? 1
          : int(std::clamp<size_t>((size_t(flags.concurrency) + per - 1) / per,
                                   1, std::max<size_t>(1, t.max_handles)));
  rep->curl_handles = uint64_t(handles);
  rep->curl =
      RunCurlLoop(req, flags.concurrency, flags.ceiling_seconds, handles);
  if (handles > 1) {
    std::fprintf(stderr, "[%s] ceilings: bare curl loop, one handle %.0fs...\n",
                 flags.scenario.c_str(), flags.ceiling_seconds);
    rep->curl_one_handle =
        RunCurlLoop(req, flags.concurrency, flags.ceiling_seconds, 1);
  }
}

}  // namespace

int RunDelivery(const LoadFlags& flags) {
  Report rep;
  rep.scenario = flags.scenario;
  rep.machine = MachineLine();
  rep.allocator = AllocatorName();
  rep.endpoints = uint64_t(flags.endpoints);
  rep.concurrency = uint64_t(flags.concurrency);
  rep.storage = flags.storage.empty() ? "rocksdb" : "postgresql";
  rep.nodes = uint64_t(flags.nodes);

  std::string error;
  std::optional<ReceiverConfig> rc = ReceiverFor(flags, &error);
  if (!rc) {
    std::fprintf(stderr, "hooklog-load: %s\n", error.c_str());
    return 1;
  }
  auto rx = LoadReceiver::Start(*rc);
  if (!rx) return 1;
  rep.receiver = rx->placement();
  if (rc->child) rep.receiver_binary = rc->binary;

  const auto t0 = SteadyClock::now();
  std::optional<EngineUnderLoad> e = OpenEngineUnderLoad(flags, *rx, t0);
  if (!e) return 1;

  // The engine phase: first publish → last terminal row. CPU is this
  // process's (the engine, the publisher, this loop) minus the receiver's
  // threads when it runs in here; a child receiver is never counted.
  const std::string payload = Payload(size_t(flags.payload_bytes));
  Acks acks;
  acks.deliveries.reserve(size_t(flags.events) *
                          (flags.fanout_all ? size_t(flags.endpoints) : 1));
  acks.ack_ms.reserve(size_t(flags.events));
  const auto deadline =
      t0 + std::chrono::milliseconds(int64_t(flags.timeout_s * 1000));
  const double cpu0 = ProcessCpuSeconds();
  const double rx_cpu0 = rx->CpuSeconds();
  const int64_t start_ns = NowNs(t0);
  std::thread publisher([&] {
    Publish(flags, e->engines, payload, t0, start_ns, deadline, &acks);
  });
  const Waited waited = WaitUntilTerminal(flags, *e, acks, t0, deadline);
  publisher.join();
  const double rx_cpu = rx->CpuSeconds() - rx_cpu0;
  const double process_cpu = ProcessCpuSeconds() - cpu0;
  rep.cpu_s = rx->child() ? process_cpu : process_cpu - rx_cpu;
  rep.receiver_cpu_s = rx_cpu;
  const int64_t end_ns = e->last_terminal_ns();
  const EngineStats st = e->Stats();
  rep.attempts_ok = st.attempts_ok;
  rep.attempts_failed = st.attempts_failed;
  rep.attempts_rate_limited = st.attempts_rate_limited;
  rep.max_in_flight = waited.max_in_flight;
  for (auto& engine : e->engines) {
    engine->Shutdown(std::chrono::milliseconds(500));
  }
  rep.peak_rss_mb = PeakRssMb();
  if (auto rss = rx->PeakRssMb()) rep.receiver_rss_mb = *rss;

  rep.deliveries = acks.delivery_count.load();
  rep.delivered = e->delivered();
  rep.dead_letter = e->dead();
  rep.publish_errors = acks.errors.load();
  rep.events = acks.events.load();
  AddLatencies(&acks, e->TakeTerminal(), &rep);
  if (end_ns > start_ns) {
    rep.elapsed_s = double(end_ns - start_ns) / 1e9;
    rep.deliveries_per_s = double(*rep.delivered) / *rep.elapsed_s;
  }
  if (acks.last_ack_ns > start_ns) {
    rep.publish_per_s =
        double(acks.events) / (double(acks.last_ack_ns - start_ns) / 1e9);
  }
  if (*rep.delivered > 0) {
    rep.cpu_us_per_delivery = *rep.cpu_s * 1e6 / double(*rep.delivered);
  }
  if (waited.timed_out) {
    rep.note = "stopped by --timeout before every delivery was terminal";
  }
  const std::string dir = e->dir;
  e.reset();
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);

  MeasureCeilings(flags, *rx, payload, &rep);
  rep.receiver_counters = rx->Stop();
  PrintReport(rep, flags.json);
  return *rep.lost == 0 && !waited.timed_out ? 0 : 3;
}

}  // namespace hooklog::load
