#include "tools/load/restart_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/signing.h"
#include "tools/load/measure.h"
#include "tools/load/report.h"
#include "tools/load/scenarios.h"

namespace hooklog::load {
namespace {

namespace fs = std::filesystem;

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
    m.id = MessageId::NewTimeOrdered();
    m.event_type = "load.0";
    m.payload = payload;
    m.created_at = now;
    const EndpointId eid = eps[size_t(i) % eps.size()];
    Delivery d;
    d.id = DeliveryId::NewTimeOrdered();
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
double TimeRestart(const std::string& dir, const LoadFlags& flags,
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
  auto fut =
      (*e)->Publish({"load.0", Payload(size_t(flags.payload_bytes)), ""});
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

}  // namespace

int RunRestart(const LoadFlags& flags) {
  Report rep;
  rep.scenario = "restart";
  rep.machine = MachineLine();
  rep.allocator = AllocatorName();
  rep.restart_events = uint64_t(flags.restart_events);
  rep.restart_active = uint64_t(flags.restart_active);
  rep.endpoints = uint64_t(flags.endpoints);
  const std::string dir = NewTempDir(flags, "restart");

  // The receiver's URL must be known before filling (endpoint rows), and
  // the fill must run before this process starts any thread (fork): use a
  // child-process receiver; with --receiver inproc there is none (an
  // in-process one would start threads before the fork), and the endpoints
  // point at the discard port, where attempts fail.
  std::string error;
  std::optional<ReceiverConfig> rc = ReceiverFor(flags, &error);
  if (!rc) {
    std::fprintf(stderr, "hooklog-load: %s\n", error.c_str());
    return 1;
  }
  std::unique_ptr<LoadReceiver> rx;
  std::string base = "http://127.0.0.1:9";  // discard port: attempts fail
  if (rc->child) {
    rx = LoadReceiver::Start(*rc);
    if (!rx) return 1;
    base = rx->Url("");
    rep.receiver_binary = rc->binary;
  }
  rep.receiver = rc->child ? "child process" : "none (port 9)";
  const auto f0 = SteadyClock::now();
  pid_t pid = fork();
  if (pid == 0) {
    _exit(FillStore(dir, flags.restart_events, flags.restart_active,
                    flags.endpoints, base, size_t(flags.payload_bytes)));
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
               *rep.fill_s, *rep.store_mb);
  std::string first, again;
  const double first_s = TimeRestart(dir, flags, &first);
  const double again_s = TimeRestart(dir, flags, &again);
  if (first_s >= 0) rep.restart_s = first_s;
  if (again_s >= 0) rep.restart_again_s = again_s;
  rep.note = "first: " + first + "; again: " + again;
  rep.peak_rss_mb = PeakRssMb();
  if (rx) rep.receiver_counters = rx->Stop();
  std::error_code ec;
  fs::remove_all(dir, ec);
  PrintReport(rep, flags.json);
  return first_s >= 0 && again_s >= 0 ? 0 : 1;
}

}  // namespace hooklog::load
