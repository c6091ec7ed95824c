// hooklog-load: the end-to-end load tool. It runs the engine embedded over
// the RocksDB store (temporary directory, sync on) against the test
// receiver on loopback, publishes N events at full speed (or at --rate) to K
// endpoints, waits until every acknowledged delivery is terminal, and
// reports deliveries/s, publish→delivered latency, peak RSS and CPU. In the
// same run it measures the ceilings against the same receiver: wrk and a
// bare libcurl-multi loop at the same concurrency, with the same POST.
//
//   hooklog-load --scenario throughput|slow|faulty|restart [--events N]
//       [--endpoints K] [--concurrency C] [--payload-bytes B] [--rate R]
//       [--ceiling-seconds S] [--receiver child|inproc] [--receiver-threads T]
//       [--engine-threads T] [--timeout S] [--restart-events N]
//       [--restart-active N] [--max-connections N] [--dir D] [--smoke]
//       [--json]
//
// Traffic goes to 127.0.0.1 only. Every phase has a time limit. See
// bench/RESULTS.md for the figures and how they were produced.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <semaphore>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tools/load/ceilings.h"
#include "tools/load/receiver_process.h"
#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/signing.h"
#include "hooklog/storage.h"

namespace hooklog::load {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// ------------------------------------------------------------------ flags

struct Flags {
  std::string scenario = "throughput";
  int64_t events = -1;  // per scenario default
  int endpoints = -1;
  int concurrency = -1;
  size_t payload_bytes = 100;
  double rate = 0;  // events/s; 0 = as fast as the engine acknowledges
  double ceiling_seconds = -1;
  std::string receiver = "auto";  // child | inproc | auto
  std::string receiver_bin;
  int receiver_threads = 1;
  int engine_threads = 2;
  double timeout_s = 600;
  int64_t restart_events = 1'000'000;
  int64_t restart_active = 10'000;
  std::string dir;
  bool fanout_all = false;
  bool smoke = false;
  bool json = false;
  bool no_ceilings = false;
  long max_connections = 0;  // TransportOptions::max_connections; 0: default
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(
      stderr,
      "hooklog-load: %s\n"
      "usage: hooklog-load --scenario throughput|slow|faulty|restart\n"
      "  [--events N] [--endpoints K] [--concurrency C] [--payload-bytes B]\n"
      "  [--rate EVENTS_PER_S] [--fanout-all] [--ceiling-seconds S]\n"
      "  [--no-ceilings] [--max-connections N] [--receiver child|inproc]\n"
      "  [--receiver-bin PATH]\n"
      "  [--receiver-threads T] [--engine-threads T] [--timeout S]\n"
      "  [--restart-events N] [--restart-active N] [--dir D] [--smoke]\n"
      "  [--json]\n",
      why);
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage("missing value");
      return argv[++i];
    };
    auto num = [&]() { return std::strtod(next().c_str(), nullptr); };
    if (a == "--scenario") {
      f.scenario = next();
    } else if (a == "--events") {
      f.events = int64_t(num());
    } else if (a == "--endpoints") {
      f.endpoints = int(num());
    } else if (a == "--concurrency") {
      f.concurrency = int(num());
    } else if (a == "--payload-bytes") {
      f.payload_bytes = size_t(num());
    } else if (a == "--rate") {
      f.rate = num();
    } else if (a == "--ceiling-seconds") {
      f.ceiling_seconds = num();
    } else if (a == "--receiver") {
      f.receiver = next();
    } else if (a == "--receiver-bin") {
      f.receiver_bin = next();
    } else if (a == "--receiver-threads") {
      f.receiver_threads = int(num());
    } else if (a == "--engine-threads") {
      f.engine_threads = int(num());
    } else if (a == "--timeout") {
      f.timeout_s = num();
    } else if (a == "--restart-events") {
      f.restart_events = int64_t(num());
    } else if (a == "--restart-active") {
      f.restart_active = int64_t(num());
    } else if (a == "--dir") {
      f.dir = next();
    } else if (a == "--fanout-all") {
      f.fanout_all = true;
    } else if (a == "--smoke") {
      f.smoke = true;
    } else if (a == "--json") {
      f.json = true;
    } else if (a == "--max-connections") {
      f.max_connections = long(num());
    } else if (a == "--no-ceilings") {
      f.no_ceilings = true;
    } else {
      Usage(("unknown flag " + std::string(a)).c_str());
    }
  }
  const std::string& s = f.scenario;
  if (s != "throughput" && s != "slow" && s != "faulty" && s != "restart") {
    Usage("unknown scenario");
  }
  // Scenario defaults.
  if (f.events < 0) {
    f.events = s == "slow" ? 100'000 : s == "faulty" ? 20'000 : 100'000;
    if (f.smoke) f.events = 2000;
  }
  if (f.endpoints < 0) f.endpoints = s == "slow" ? 10 : 4;
  if (f.concurrency < 0) f.concurrency = s == "slow" ? 10'000 : 64;
  if (f.ceiling_seconds < 0) {
    f.ceiling_seconds = f.smoke ? 1 : s == "slow" ? 10 : 5;
  }
  if (f.smoke) {
    f.timeout_s = std::min(f.timeout_s, 25.0);
    if (s == "restart")
      f.restart_events = std::min<int64_t>(f.restart_events, 30'000);
    if (s == "restart")
      f.restart_active = std::min<int64_t>(f.restart_active, 100);
  }
  if (f.endpoints < 1 || f.concurrency < 1 || f.events < 1) {
    Usage("--events, --endpoints and --concurrency must be positive");
  }
  return f;
}

// ------------------------------------------------------------- measuring

double PeakRssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = size_t(
      std::min<double>(double(v.size() - 1), std::floor(p * double(v.size()))));
  std::nth_element(v.begin(), v.begin() + ptrdiff_t(i), v.end());
  return v[i];
}

int64_t NowNs(SteadyClock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now() - t0)
      .count();
}

std::string MachineLine() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model = "?";
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return "nproc " + std::to_string(std::thread::hardware_concurrency()) + ", " +
         model;
}

// Records when each terminal delivery row became durable: the engine hands
// its rows to Storage::Append, so this sees the moment Append returned for
// the batch holding a delivery's terminal state.
class ObservedStorage : public ForwardingStorage {
 public:
  ObservedStorage(std::unique_ptr<Storage> target, SteadyClock::time_point t0)
      : ForwardingStorage(std::move(target)), t0_(t0) {}

  Result<uint64_t> Append(WriteBatch* batch) override {
    Result<uint64_t> r = ForwardingStorage::Append(batch);
    if (!r.ok()) return r;
    const int64_t now = NowNs(t0_);
    uint64_t delivered = 0, dead = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Delivery& d : batch->deliveries) {
        if (!IsTerminal(d.status)) continue;
        terminal_.push_back({d.id, now});
        (d.status == DeliveryStatus::kDelivered ? delivered : dead)++;
      }
    }
    if (delivered + dead > 0) {
      last_terminal_ns_ = now;
      delivered_ += delivered;
      dead_ += dead;
    }
    return r;
  }

  uint64_t delivered() const { return delivered_; }
  uint64_t dead() const { return dead_; }
  int64_t last_terminal_ns() const { return last_terminal_ns_; }
  std::vector<std::pair<DeliveryId, int64_t>> TakeTerminal() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(terminal_);
  }

 private:
  const SteadyClock::time_point t0_;
  std::mutex mu_;
  std::vector<std::pair<DeliveryId, int64_t>> terminal_;
  std::atomic<uint64_t> delivered_{0}, dead_{0};
  std::atomic<int64_t> last_terminal_ns_{0};
};

// ---------------------------------------------------------------- report

struct Report {
  std::string scenario;
  std::string receiver_mode;
  std::string machine;
  int64_t events = 0;
  int endpoints = 0;
  int concurrency = 0;
  uint64_t deliveries = 0;  // acknowledged deliveries
  uint64_t delivered = 0;
  uint64_t dead_letter = 0;
  uint64_t lost = 0;
  uint64_t publish_errors = 0;
  double elapsed_s = 0;
  double deliveries_per_s = 0;
  double publish_per_s = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  double publish_ack_p50_ms = 0, publish_ack_p99_ms = 0;
  double peak_rss_mb = 0;
  double receiver_rss_mb = 0;
  double cpu_s = 0;
  double receiver_cpu_s = 0;
  uint64_t max_in_flight = 0;
  uint64_t attempts_ok = 0, attempts_failed = 0, attempts_rate_limited = 0;
  CeilingResult wrk, curl;
  std::string receiver_counters;
  // restart
  int64_t restart_events = 0;
  int64_t restart_active = 0;
  double fill_s = 0;
  double restart_s = 0;
  double restart_again_s = 0;
  double store_mb = 0;
  std::string note;
};

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      o += ' ';
    } else {
      o += c;
    }
  }
  return o;
}

void PrintReport(const Report& r, bool json) {
  auto row = [](const char* k, const std::string& v) {
    std::printf("  %-34s %s\n", k, v.c_str());
  };
  auto f = [](double v, int prec = 1) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return std::string(b);
  };
  auto u = [](uint64_t v) { return std::to_string(v); };
  std::printf("hooklog-load  scenario=%s  %s  receiver=%s\n",
              r.scenario.c_str(), r.machine.c_str(), r.receiver_mode.c_str());
  if (r.scenario == "restart") {
    row("log events", u(uint64_t(r.restart_events)));
    row("non-terminal deliveries", u(uint64_t(r.restart_active)));
    row("store size (MiB)", f(r.store_mb));
    row("fill time (s, sync off)", f(r.fill_s, 2));
    row("restart: open→publish acked (s)", f(r.restart_s, 3));
    row("second restart (s)", f(r.restart_again_s, 3));
    row("fill rate (events/s)",
        f(r.fill_s > 0 ? double(r.restart_events) / r.fill_s : 0, 0));
    row("peak RSS (MiB, this process)", f(r.peak_rss_mb));
  } else {
    row("events published", u(uint64_t(r.events)));
    row("endpoints / concurrency",
        std::to_string(r.endpoints) + " / " + std::to_string(r.concurrency));
    row("deliveries acknowledged", u(r.deliveries));
    row("delivered / dead_letter / lost",
        u(r.delivered) + " / " + u(r.dead_letter) + " / " + u(r.lost));
    row("publish errors", u(r.publish_errors));
    row("attempts ok / failed / 429", u(r.attempts_ok) + " / " +
                                          u(r.attempts_failed) + " / " +
                                          u(r.attempts_rate_limited));
    row("elapsed (s)", f(r.elapsed_s, 2));
    row("publish acks/s", f(r.publish_per_s, 0));
    row("END TO END deliveries/s", f(r.deliveries_per_s, 0));
    row("ack→delivered p50/p99/p99.9 (ms)",
        f(r.p50_ms) + " / " + f(r.p99_ms) + " / " + f(r.p999_ms));
    row("publish call→ack p50/p99 (ms)",
        f(r.publish_ack_p50_ms, 2) + " / " + f(r.publish_ack_p99_ms, 2));
    row("max in flight seen (engine)", u(r.max_in_flight));
    row("peak RSS (MiB, engine proc)", f(r.peak_rss_mb));
    row("CPU seconds (engine proc)", f(r.cpu_s, 2));
    if (r.receiver_rss_mb > 0) {
      row("receiver RSS (MiB) / CPU s",
          f(r.receiver_rss_mb) + " / " + f(r.receiver_cpu_s, 2));
    }
    row("wrk req/s (same receiver)",
        r.wrk.ran ? f(r.wrk.per_s, 0) + "  (p50 " + f(r.wrk.p50_ms, 2) +
                        " ms, p99 " + f(r.wrk.p99_ms, 2) + " ms, non-2xx " +
                        u(r.wrk.non_2xx) + ", errors " + u(r.wrk.errors) + ")"
                  : "not run: " + r.wrk.note);
    row("bare curl-multi loop req/s",
        r.curl.ran ? f(r.curl.per_s, 0) + "  (p50 " + f(r.curl.p50_ms, 2) +
                         " ms, p99 " + f(r.curl.p99_ms, 2) + " ms, errors " +
                         u(r.curl.errors) + ")"
                   : "not run");
    row("ratio engine / wrk", f(Ratio(r.deliveries_per_s, r.wrk.per_s), 2));
    row("ratio engine / curl loop",
        f(Ratio(r.deliveries_per_s, r.curl.per_s), 2));
    if (!r.receiver_counters.empty()) row("receiver", r.receiver_counters);
  }
  if (!r.note.empty()) row("note", r.note);
  if (json) {
    std::printf(
        "{\"scenario\":\"%s\",\"receiver\":\"%s\",\"machine\":\"%s\","
        "\"events\":%" PRId64
        ",\"endpoints\":%d,\"concurrency\":%d,"
        "\"deliveries\":%" PRIu64 ",\"delivered\":%" PRIu64
        ",\"dead_letter\":%" PRIu64 ",\"lost\":%" PRIu64
        ",\"publish_errors\":%" PRIu64
        ",\"elapsed_s\":%.3f,\"deliveries_per_s\":%.1f,"
        "\"publish_per_s\":%.1f,\"wrk_per_s\":%.1f,\"curl_loop_per_s\":%.1f,"
        "\"ratio_wrk\":%.3f,\"ratio_curl\":%.3f,\"p50_ms\":%.2f,"
        "\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"peak_rss_mb\":%.1f,"
        "\"receiver_rss_mb\":%.1f,\"cpu_s\":%.2f,\"receiver_cpu_s\":%.2f,"
        "\"max_in_flight\":%" PRIu64 ",\"restart_events\":%" PRId64
        ",\"restart_s\":%.3f,\"restart_again_s\":%.3f,\"fill_s\":%.2f}\n",
        r.scenario.c_str(), r.receiver_mode.c_str(),
        JsonEscape(r.machine).c_str(), r.events, r.endpoints, r.concurrency,
        r.deliveries, r.delivered, r.dead_letter, r.lost, r.publish_errors,
        r.elapsed_s, r.deliveries_per_s, r.publish_per_s, r.wrk.per_s,
        r.curl.per_s, Ratio(r.deliveries_per_s, r.wrk.per_s),
        Ratio(r.deliveries_per_s, r.curl.per_s), r.p50_ms, r.p99_ms, r.p999_ms,
        r.peak_rss_mb, r.receiver_rss_mb, r.cpu_s, r.receiver_cpu_s,
        r.max_in_flight, r.restart_events, r.restart_s, r.restart_again_s,
        r.fill_s);
  }
  std::fflush(stdout);
}

// ------------------------------------------------------------- the run

std::string Payload(size_t bytes) {
  std::string s = R"({"order":12345,"items":[)";
  while (s.size() + 30 < bytes) s += R"({"sku":"A-1","qty":2},)";
  s += R"({"sku":"Z"}]})";
  return s;
}

std::string NewTempDir(const Flags& flags, const std::string& what) {
  fs::path base =
      flags.dir.empty() ? fs::temp_directory_path() : fs::path(flags.dir);
  fs::path p = base / ("hooklog-load-" + what + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

double DirSizeMb(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return double(total) / (1024.0 * 1024.0);
}

ReceiverConfig ReceiverFor(const Flags& flags) {
  ReceiverConfig c;
  c.threads = flags.receiver_threads;
  if (flags.scenario == "slow") c.delay = std::chrono::seconds(1);
  if (flags.scenario == "faulty") {
    c.fail_rate = 0.10;
    c.rate_limit_rate = 0.05;
  }
  c.binary =
      flags.receiver_bin.empty() ? FindReceiverBinary() : flags.receiver_bin;
  c.child = flags.receiver == "child" ||
            (flags.receiver == "auto" && !c.binary.empty());
  if (c.child && c.binary.empty()) {
    std::fprintf(stderr, "hooklog-load: hooklog-receiver not found\n");
    std::exit(1);
  }
  return c;
}

EngineOptions EngineOptionsFor(const Flags& flags) {
  EngineOptions o;
  o.threads = flags.engine_threads;
  o.transport.allow_private_targets = true;
  o.transport.max_connections = flags.max_connections;
  o.global_max_in_flight = uint32_t(flags.concurrency);
  o.default_max_in_flight =
      uint32_t((flags.concurrency + flags.endpoints - 1) / flags.endpoints);
  if (flags.scenario == "faulty") {
    // Short schedule: 0, 100 ms, 200 ms, 400 ms, 800 ms, then 1 s; 25
    // attempts so that 10 % failures cannot exhaust it (0.1^25).
    using std::chrono::milliseconds;
    std::vector<Duration> s = {Duration(0), milliseconds(100),
                               milliseconds(200), milliseconds(400),
                               milliseconds(800)};
    while (s.size() < 25) s.push_back(std::chrono::seconds(1));
    o.retry.schedule = s;
    o.retry.min_retry_after = std::chrono::seconds(1);
  }
  return o;
}

// The body the engine sends for one event (same shape and size), and its
// headers, for the ceilings.
CeilingRequest CeilingRequestFor(const std::string& url,
                                 const std::string& payload) {
  CeilingRequest req;
  req.url = url;
  MessageId mid = MessageId::NewRandom();
  const std::string id = EventIdString(mid);
  req.body = R"({"id":")" + id + R"(","type":"load.0","created_at":")" +
             FormatIso8601(SystemClock()->Now()) + R"(","data":)" + payload +
             "}";
  const int64_t now = SystemClock()->Now() / kSecond;
  auto sig = StandardWebhooksSignature({NewSigningSecret()}, id, now, req.body);
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", std::string("hooklog/") + Version()},
                 {"webhook-id", id},
                 {"webhook-timestamp", std::to_string(now)},
                 {"webhook-signature", sig.ok() ? *sig : "v1,x"}};
  return req;
}

void RaiseFdLimit() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
  }
}

int RunDelivery(const Flags& flags) {
  Report rep;
  rep.scenario = flags.scenario;
  rep.machine = MachineLine();
  rep.events = flags.events;
  rep.endpoints = flags.endpoints;
  rep.concurrency = flags.concurrency;

  ReceiverConfig rc = ReceiverFor(flags);
  rep.receiver_mode = rc.child ? "child process" : "in-process";
  auto rx = LoadReceiver::Start(rc);
  if (!rx) return 1;

  const std::string dir = NewTempDir(flags, flags.scenario);
  const auto t0 = SteadyClock::now();
  auto store = OpenRocksDbStorage(dir, RocksDbOptions{.sync = true});
  if (!store.ok()) {
    std::fprintf(stderr, "hooklog-load: %s\n",
                 store.status().ToString().c_str());
    return 1;
  }
  auto observed_owned =
      std::make_unique<ObservedStorage>(std::move(*store), t0);
  ObservedStorage* observed = observed_owned.get();
  auto opened = OpenEngine(std::move(observed_owned), EngineOptionsFor(flags));
  if (!opened.ok()) {
    std::fprintf(stderr, "hooklog-load: %s\n",
                 opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Engine> engine = std::move(*opened);
  for (int k = 0; k < flags.endpoints; ++k) {
    EndpointSpec spec;
    spec.url = rx->Url("/load/" + std::to_string(k));
    spec.event_types =
        std::vector<std::string>{"load." + std::to_string(k), "load.all"};
    auto ep = engine->CreateEndpoint(spec).get();
    if (!ep.ok()) {
      std::fprintf(stderr, "hooklog-load: endpoint: %s\n",
                   ep.status().ToString().c_str());
      return 1;
    }
  }

  const std::string payload = Payload(flags.payload_bytes);
  std::mutex ack_mu;
  std::vector<std::pair<DeliveryId, int64_t>> acks;
  acks.reserve(size_t(flags.events) *
               (flags.fanout_all ? size_t(flags.endpoints) : 1));
  std::vector<double> ack_ms;
  ack_ms.reserve(size_t(flags.events));
  std::atomic<uint64_t> acked_events{0}, acked_deliveries{0}, errors{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::atomic<int64_t> published{0};
  std::counting_semaphore<> window(4096);
  const auto deadline =
      t0 + std::chrono::milliseconds(int64_t(flags.timeout_s * 1000));
  const double cpu0 = CpuSeconds();
  const double rx_cpu0 = rx->CpuSeconds();
  const int64_t start_ns = NowNs(t0);

  std::thread publisher([&] {
    for (int64_t i = 0; i < flags.events; ++i) {
      if (flags.rate > 0) {
        std::this_thread::sleep_until(
            t0 + std::chrono::nanoseconds(
                     start_ns + int64_t(double(i) * 1e9 / flags.rate)));
      }
      while (!window.try_acquire_for(std::chrono::milliseconds(100))) {
        if (SteadyClock::now() > deadline) return;
      }
      if (SteadyClock::now() > deadline) return;
      PublishRequest req;
      req.event_type = flags.fanout_all
                           ? std::string("load.all")
                           : "load." + std::to_string(i % flags.endpoints);
      req.payload = payload;
      const int64_t called = NowNs(t0);
      published++;
      engine->Publish(std::move(req), [&, called](Result<PublishResult> r) {
        const int64_t now = NowNs(t0);
        if (r.ok()) {
          std::lock_guard<std::mutex> lock(ack_mu);
          for (const DeliveryId& d : r->deliveries) acks.push_back({d, now});
          ack_ms.push_back(double(now - called) / 1e6);
          acked_deliveries += r->deliveries.size();
          acked_events++;
          last_ack_ns = now;
        } else {
          errors++;
        }
        window.release();
      });
    }
  });

  // Wait until every acknowledged delivery is terminal (or the deadline).
  uint64_t max_in_flight = 0;
  auto next_progress = SteadyClock::now();
  const bool tty = isatty(2);
  bool timed_out = false;
  for (;;) {
    EngineStats st = engine->Stats();
    max_in_flight = std::max(max_in_flight, st.in_flight);
    const uint64_t done_events = acked_events + errors;
    const uint64_t terminal = observed->delivered() + observed->dead();
    const bool all_published = done_events >= uint64_t(flags.events);
    if (all_published && terminal >= acked_deliveries) break;
    const auto now = SteadyClock::now();
    if (now > deadline) {
      timed_out = true;
      break;
    }
    if (now >= next_progress) {
      const double el = std::chrono::duration<double>(now - t0).count();
      std::fprintf(
          stderr,
          "%s[%s] %5.1fs published %" PRIu64 "/%" PRId64 " delivered %" PRIu64
          " in_flight %" PRIu64 " due %" PRIu64 " %.0f/s%s",
          tty ? "\r" : "", flags.scenario.c_str(), el, done_events,
          flags.events, observed->delivered(), st.in_flight, st.due_queue_depth,
          el > 0 ? double(observed->delivered()) / el : 0.0,
          tty ? "   " : "\n");
      next_progress = now + std::chrono::seconds(tty ? 1 : 5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (tty) std::fprintf(stderr, "\n");
  publisher.join();
  const int64_t end_ns = observed->last_terminal_ns();
  EngineStats st = engine->Stats();
  rep.cpu_s = CpuSeconds() - cpu0;
  rep.receiver_cpu_s = rx->CpuSeconds() - rx_cpu0;
  rep.attempts_ok = st.attempts_ok;
  rep.attempts_failed = st.attempts_failed;
  rep.attempts_rate_limited = st.attempts_rate_limited;
  rep.max_in_flight = max_in_flight;
  engine->Shutdown(std::chrono::milliseconds(500));
  rep.peak_rss_mb = PeakRssMb();
  rep.receiver_rss_mb = rx->PeakRssMb();

  rep.deliveries = acked_deliveries;
  rep.delivered = observed->delivered();
  rep.dead_letter = observed->dead();
  rep.publish_errors = errors;
  rep.events = int64_t(acked_events.load());
  auto terminal = observed->TakeTerminal();
  {
    std::unordered_map<DeliveryId, int64_t, IdHash> ack_at;
    std::lock_guard<std::mutex> lock(ack_mu);
    ack_at.reserve(acks.size());
    for (auto& [id, t] : acks) ack_at.emplace(id, t);
    std::vector<double> lat;
    lat.reserve(terminal.size());
    uint64_t matched = 0;
    for (auto& [id, t] : terminal) {
      auto it = ack_at.find(id);
      if (it == ack_at.end()) continue;
      ++matched;
      lat.push_back(double(t - it->second) / 1e6);
    }
    rep.lost = acked_deliveries > matched ? acked_deliveries - matched : 0;
    rep.p50_ms = Percentile(lat, 0.50);
    rep.p99_ms = Percentile(lat, 0.99);
    rep.p999_ms = Percentile(lat, 0.999);
    rep.publish_ack_p50_ms = Percentile(ack_ms, 0.50);
    rep.publish_ack_p99_ms = Percentile(ack_ms, 0.99);
  }
  rep.elapsed_s = double(end_ns - start_ns) / 1e9;
  rep.deliveries_per_s =
      rep.elapsed_s > 0 ? double(rep.delivered) / rep.elapsed_s : 0;
  rep.publish_per_s =
      last_ack_ns > start_ns
          ? double(acked_events) / (double(last_ack_ns - start_ns) / 1e9)
          : 0;
  if (timed_out) {
    rep.note = "stopped by --timeout before every delivery was terminal";
  }
  engine.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);

  if (!flags.no_ceilings) {
    std::fprintf(stderr, "[%s] ceilings: wrk %.0fs...\n",
                 flags.scenario.c_str(), flags.ceiling_seconds);
    CeilingRequest req = CeilingRequestFor(rx->Url("/load/0"), payload);
    rep.wrk = RunWrk(req, flags.concurrency,
                     std::max(1, int(std::lround(flags.ceiling_seconds))));
    std::fprintf(stderr, "[%s] ceilings: bare curl-multi loop %.0fs...\n",
                 flags.scenario.c_str(), flags.ceiling_seconds);
    rep.curl = RunCurlLoop(req, flags.concurrency, flags.ceiling_seconds);
  }
  if (rep.receiver_rss_mb > 0) {
    rep.receiver_rss_mb = std::max(rep.receiver_rss_mb, 0.0);
  }
  rep.receiver_counters = rx->Stop();
  PrintReport(rep, flags.json);
  return rep.lost == 0 && !timed_out ? 0 : 3;
}

// ----------------------------------------------------------------- restart

// Writes `events` log events (3 per delivered message: accepted, enqueued,
// attempted) plus `active` pending deliveries, with sync off, in big
// batches. Runs in a forked child so that its memory does not count.
int FillStore(const std::string& dir, int64_t events, int64_t active,
              int endpoints, const std::string& url_base,
              size_t payload_bytes) {
  RocksDbOptions o;
  o.sync = false;
  auto s = OpenRocksDbStorage(dir, o);
  if (!s.ok()) {
    std::fprintf(stderr, "fill: %s\n", s.status().ToString().c_str());
    return 1;
  }
  Storage& store = **s;
  const Timestamp now = SystemClock()->Now();
  std::vector<EndpointId> eps;
  {
    WriteBatch b;
    for (int k = 0; k < endpoints; ++k) {
      Endpoint ep;
      ep.id = EndpointId::NewRandom();
      ep.url = url_base + "/load/" + std::to_string(k);
      ep.secrets = {SigningSecret{NewSigningSecret(), 0}};
      ep.created_at = ep.updated_at = now;
      b.events.push_back(Event{0, now, EventType::kEndpointCreated, ep.id.raw(),
                               EndpointSnapshot{ep}});
      b.endpoints.push_back(ep);
      eps.push_back(ep.id);
    }
    if (!store.Append(&b).ok()) return 1;
  }
  const std::string payload = Payload(payload_bytes);
  const int64_t messages = std::max<int64_t>(1, (events - active * 2) / 3);
  const int64_t total = messages + active;
  const auto t0 = SteadyClock::now();
  auto next_progress = t0;
  WriteBatch b;
  for (int64_t i = 0; i < total; ++i) {
    const bool pending = i >= messages;
    Message m;
    m.id = MessageId::NewRandom();
    m.event_type = "load.0";
    m.payload = payload;
    m.created_at = now;
    const EndpointId eid = eps[size_t(i) % eps.size()];
    Delivery d;
    d.id = DeliveryId::NewRandom();
    d.message_id = m.id;
    d.endpoint_id = eid;
    d.event_type = m.event_type;
    d.created_at = now;
    b.events.push_back(Event{0, now, EventType::kMessageAccepted, m.id.raw(),
                             MessageAccepted{m}});
    b.events.push_back(Event{
        0, now, EventType::kEnqueued, d.id.raw(),
        DeliveryCreated{m.id, eid, m.event_type, now, std::nullopt, false}});
    if (pending) {
      d.status = DeliveryStatus::kPending;
      d.next_attempt_at = now;
    } else {
      Attempted a;
      a.record.at = now;
      a.record.http_status_code = 200;
      a.record.response_body = "ok";
      a.record.latency_ms = 1;
      a.status_after = DeliveryStatus::kDelivered;
      b.events.push_back(Event{0, now, EventType::kAttempted, d.id.raw(), a});
      d.status = DeliveryStatus::kDelivered;
      d.attempts = 1;
      d.last_attempted_at = now;
      d.http_status_code = 200;
      d.response_body = "ok";
      d.attempts_log = {a.record};
    }
    b.messages.push_back(std::move(m));
    b.deliveries.push_back(std::move(d));
    if (b.events.size() >= 30'000 || i + 1 == total) {
      auto r = store.Append(&b);
      if (!r.ok()) {
        std::fprintf(stderr, "fill: %s\n", r.status().ToString().c_str());
        return 1;
      }
      b = WriteBatch{};
      const auto t = SteadyClock::now();
      if (t >= next_progress) {
        const double el = std::chrono::duration<double>(t - t0).count();
        std::fprintf(stderr, "[restart] filling: %" PRIu64 " events, %.0f/s\n",
                     store.LastSequence(),
                     el > 0 ? double(store.LastSequence()) / el : 0.0);
        next_progress = t + std::chrono::seconds(5);
      }
    }
  }
  return 0;
}

// One restart: open the store (sync on) and the engine, publish one event
// and wait for its acknowledgement. Returns seconds, or -1.
double TimeRestart(const std::string& dir, const Flags& flags,
                   std::string* breakdown) {
  const auto t0 = SteadyClock::now();
  auto since = [&t0] {
    return std::chrono::duration<double>(SteadyClock::now() - t0).count();
  };
  auto s = OpenRocksDbStorage(dir, RocksDbOptions{.sync = true});
  if (!s.ok()) {
    std::fprintf(stderr, "restart: %s\n", s.status().ToString().c_str());
    return -1;
  }
  const double t_storage = since();
  EngineOptions o = EngineOptionsFor(flags);
  auto e = OpenEngine(std::move(*s), o);
  const double t_engine = since();
  if (!e.ok()) {
    std::fprintf(stderr, "restart: %s\n", e.status().ToString().c_str());
    return -1;
  }
  auto fut = (*e)->Publish({"load.0", Payload(flags.payload_bytes), ""});
  if (fut.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    return -1;
  }
  auto r = fut.get();
  const double secs =
      std::chrono::duration<double>(SteadyClock::now() - t0).count();
  if (!r.ok()) {
    std::fprintf(stderr, "restart publish: %s\n",
                 r.status().ToString().c_str());
    return -1;
  }
  char b[160];
  std::snprintf(b, sizeof b,
                "open storage %.3f s + OpenEngine %.3f s + first publish "
                "%.3f s",
                t_storage, t_engine - t_storage, secs - t_engine);
  *breakdown = b;
  (*e)->Shutdown(std::chrono::milliseconds(2000));
  return secs;
}

int RunRestart(const Flags& flags) {
  Report rep;
  rep.scenario = "restart";
  rep.machine = MachineLine();
  rep.restart_events = flags.restart_events;
  rep.restart_active = flags.restart_active;
  const std::string dir = NewTempDir(flags, "restart");

  // The receiver's URL must be known before filling (endpoint rows), and
  // the fill must run before this process starts any thread (fork): use a
  // child-process receiver, or a fixed in-process one started afterwards on
  // an address the fill cannot know — so the restart scenario always uses
  // the child receiver when available.
  ReceiverConfig rc = ReceiverFor(flags);
  std::unique_ptr<LoadReceiver> rx;
  std::string base = "http://127.0.0.1:9";  // discard port: attempts fail
  if (rc.child) {
    rx = LoadReceiver::Start(rc);
    if (!rx) return 1;
    base = rx->Url("");
  }
  rep.receiver_mode = rc.child ? "child process" : "none (port 9)";
  const auto f0 = SteadyClock::now();
  pid_t pid = fork();
  if (pid == 0) {
    _exit(FillStore(dir, flags.restart_events, flags.restart_active,
                    flags.endpoints, base, flags.payload_bytes));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "hooklog-load: fill failed\n");
    return 1;
  }
  rep.fill_s = std::chrono::duration<double>(SteadyClock::now() - f0).count();
  rep.store_mb = DirSizeMb(dir);
  std::fprintf(stderr, "[restart] filled in %.1fs (%.0f MiB); restarting\n",
               rep.fill_s, rep.store_mb);
  std::string first, again;
  rep.restart_s = TimeRestart(dir, flags, &first);
  rep.restart_again_s = TimeRestart(dir, flags, &again);
  rep.note = "first: " + first + "; again: " + again;
  rep.peak_rss_mb = PeakRssMb();
  if (rx) rep.receiver_counters = rx->Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
  PrintReport(rep, flags.json);
  return rep.restart_s >= 0 ? 0 : 1;
}

}  // namespace
}  // namespace hooklog::load

int main(int argc, char** argv) {
  using namespace hooklog::load;
  Flags flags = ParseFlags(argc, argv);
  RaiseFdLimit();
  if (flags.scenario == "restart") return RunRestart(flags);
  return RunDelivery(flags);
}
