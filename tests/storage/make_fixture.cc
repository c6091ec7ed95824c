// Writes a small RocksDB data directory with the engine, for a committed
// test fixture (tests/storage/fixtures/): `storage_make_fixture <dir>`.
// Not run by ctest; run once by hand with the build whose store format the
// fixture pins, then commit the directory (fixture_test.cc says which).
//
// What it holds: five endpoints, each ending its deliveries in another
// state — A answers 200 (delivered), B answers 500 (failed, next attempt in
// an hour), R answers 429 (rate_limited), P never answers (pending, the
// attempt still in flight when the engine stops), E answers 500 and is
// then deleted (dead_letter, reason endpoint_deleted). Four publishes of
// order.paid and two of order.refunded (one with idempotency key
// fixture-v2-key); B only takes order.*, R only order.refunded.
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "tests/support/scripted_transport.h"

namespace hooklog {
namespace {

using testing::ScriptedTransport;

uint64_t InState(Engine& engine, DeliveryStatus s) {
  return engine.Stats().deliveries_by_status[static_cast<int>(s)];
}

int Run(const std::string& dir) {
  auto storage = OpenRocksDbStorage(dir);
  if (!storage.ok()) {
    std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
    return 1;
  }
  EngineOptions o;
  o.retry.schedule = {Duration{0}, std::chrono::hours(1),
                      std::chrono::hours(1)};
  o.retry.jitter = 0;
  o.jitter_seed = 1;
  ScriptedTransport* transport = nullptr;
  o.transport_factory = ScriptedTransport::Factory(
      &transport, [](const AttemptRequest& r) -> std::optional<AttemptResult> {
        if (r.url.find("/hooks/a") != std::string::npos) {
          return ScriptedTransport::Http(200);
        }
        if (r.url.find("/hooks/r") != std::string::npos) {
          return ScriptedTransport::Http(429);
        }
        if (r.url.find("/hooks/p") != std::string::npos) return std::nullopt;
        return ScriptedTransport::Http(500);  // B, E
      });
  auto engine = OpenEngine(std::move(*storage), o);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  Engine& e = **engine;
  std::map<char, EndpointId> ids;
  for (char name : std::string("abrpe")) {
    EndpointSpec spec;
    spec.url = std::string("http://127.0.0.1:9/hooks/") + name;
    spec.metadata["name"] = std::string(1, name);
    if (name == 'b') spec.event_types = std::vector<std::string>{"order.*"};
    if (name == 'r') {
      spec.event_types = std::vector<std::string>{"order.refunded"};
    }
    auto ep = e.CreateEndpoint(spec).get();
    if (!ep.ok()) {
      std::fprintf(stderr, "%s\n", ep.status().ToString().c_str());
      return 1;
    }
    ids[name] = ep->id;
  }
  for (int i = 0; i < 6; ++i) {
    PublishRequest p;
    p.event_type = i < 4 ? "order.paid" : "order.refunded";
    p.payload = "{\"order\":" + std::to_string(i) + "}";
    if (i == 5) p.idempotency_key = "fixture-v2-key";
    auto r = e.Publish(p).get();
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  // A: 6 delivered; B: 6 failed; E: 6 failed; R: 2 rate-limited; P: 6 held.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline &&
         (InState(e, DeliveryStatus::kDelivered) < 6 ||
          InState(e, DeliveryStatus::kFailed) < 12 ||
          InState(e, DeliveryStatus::kRateLimited) < 2 ||
          transport->held() < 6)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!e.DeleteEndpoint(ids['e']).get().ok()) return 1;
  while (std::chrono::steady_clock::now() < deadline &&
         InState(e, DeliveryStatus::kDeadLetter) < 6) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int s = 0; s < kDeliveryStatusCount; ++s) {
    std::printf(
        "%s %llu\n",
        std::string(DeliveryStatusName(static_cast<DeliveryStatus>(s))).c_str(),
        static_cast<unsigned long long>(
            InState(e, static_cast<DeliveryStatus>(s))));
  }
  for (const auto& [name, id] : ids) {
    std::printf("%c %s\n", name, id.ToString().c_str());
  }
  e.Shutdown(std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace hooklog

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <new data directory>\n", argv[0]);
    return 2;
  }
  return hooklog::Run(argv[1]);
}
