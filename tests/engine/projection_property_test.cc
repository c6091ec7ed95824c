// Property test: thousands of random command / attempt-result sequences.
// Afterwards the rows maintained incrementally must equal the rows rebuilt
// from the log, and every status change in the log must follow an edge of
// the state diagram.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "engine/delivery_machine.h"
#include "engine/projection.h"
#include "hooklog/engine.h"
#include "hooklog/testing/fake_clock.h"
#include "tests/support/scripted_transport.h"

namespace hooklog {
namespace {

using testing::ScriptedTransport;

AttemptResult RandomResult(std::mt19937_64& rng) {
  static const int kCodes[] = {200, 201, 204, 301, 400, 404,
                               410, 429, 500, 502, 503, 504};
  std::uniform_int_distribution<int> pick(0, 15);
  int k = pick(rng);
  if (k < 12) {
    AttemptResult r = ScriptedTransport::Http(kCodes[k], "b");
    if (k >= 7 && rng() % 2) r.retry_after = std::chrono::seconds(rng() % 5);
    return r;
  }
  static const ErrorClass kErrors[] = {ErrorClass::kDns, ErrorClass::kConnect,
                                       ErrorClass::kTimeout,
                                       ErrorClass::kReset};
  return ScriptedTransport::Error(kErrors[k - 12]);
}

void CheckTransitions(Storage* storage) {
  Projection p;
  std::vector<Event> events;
  ASSERT_TRUE(storage->ReadLog(1, SIZE_MAX, &events).ok());
  for (const Event& e : events) {
    auto it = p.deliveries().find(DeliveryId(e.aggregate));
    bool existed = it != p.deliveries().end();
    DeliveryStatus before =
        existed ? it->second.status : DeliveryStatus::kPending;
    ASSERT_TRUE(p.Apply(e).ok());
    if (!existed) continue;
    DeliveryStatus after = p.deliveries().at(DeliveryId(e.aggregate)).status;
    if (before != after || e.type == EventType::kAttempted) {
      EXPECT_TRUE(IsAllowedTransition(before, after))
          << "seq " << e.seq << ": " << DeliveryStatusName(before) << " -> "
          << DeliveryStatusName(after);
    }
  }
}

class PropertyTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(PropertyTest, IncrementalEqualsRebuiltAndEdgesHold) {
  const uint64_t seed = GetParam();
  std::mt19937_64 rng(seed);
  auto storage = NewMemoryStorage();
  Storage* raw = storage.get();
  auto clock = std::make_shared<testing::FakeClock>();
  std::mutex rng_mu;
  std::mt19937_64 result_rng(seed * 7919);
  ScriptedTransport* transport = nullptr;
  EngineOptions o;
  o.clock = clock;
  o.jitter_seed = seed;
  o.retry.schedule = {Duration(0), std::chrono::seconds(1),
                      std::chrono::seconds(2), std::chrono::seconds(4)};
  o.retry.rate_limit_budget = std::chrono::seconds(20);
  o.transport_factory =
      ScriptedTransport::Factory(&transport, [&](const AttemptRequest&) {
        std::lock_guard<std::mutex> lock(rng_mu);
        return std::optional<AttemptResult>(RandomResult(result_rng));
      });
  std::unique_ptr<Engine> engine =
      std::move(OpenEngine(std::move(storage), o).value());

  std::vector<EndpointId> endpoints;
  std::vector<DeliveryId> deliveries;
  for (int step = 0; step < 400; ++step) {
    switch (rng() % 10) {
      case 0:
        if (endpoints.size() < 4) {
          auto ep =
              engine
                  ->CreateEndpoint(
                      {.url = "https://e" + std::to_string(step) + ".example/"})
                  .get();
          ASSERT_TRUE(ep.ok());
          endpoints.push_back(ep->id);
        }
        break;
      case 1:
      case 2:
      case 3: {
        auto r = engine
                     ->Publish({rng() % 2 ? "a.b" : "c", "{}",
                                rng() % 4 == 0 ? "k" + std::to_string(rng() % 5)
                                               : ""})
                     .get();
        ASSERT_TRUE(r.ok());
        deliveries.insert(deliveries.end(), r->deliveries.begin(),
                          r->deliveries.end());
        break;
      }
      case 4:
      case 5:
        clock->Advance(std::chrono::milliseconds(rng() % 3000));
        break;
      case 6:
        if (!deliveries.empty()) {
          (void)engine->Replay(deliveries[rng() % deliveries.size()]).get();
        }
        break;
      case 7:
        if (!endpoints.empty()) {
          EndpointUpdate u;
          u.enabled = rng() % 2 == 0;
          (void)engine->UpdateEndpoint(endpoints[rng() % endpoints.size()], u)
              .get();
        }
        break;
      case 8:
        if (!endpoints.empty() && rng() % 8 == 0) {
          (void)engine->DeleteEndpoint(endpoints[rng() % endpoints.size()])
              .get();
        } else if (!endpoints.empty()) {
          (void)engine->SendTest(endpoints[rng() % endpoints.size()]).get();
        }
        break;
      default:
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  for (int i = 0; i < 30; ++i) {
    clock->Advance(std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  engine->Shutdown(std::chrono::seconds(2));
  auto report = VerifyStorage(raw);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok())
      << "seed " << seed << ": "
      << (report->mismatches.empty() ? "gap" : report->mismatches.front());
  EXPECT_GT(report->events, 0u);
  CheckTransitions(raw);
  // `raw` is owned by the engine; destroy it last.
  engine.reset();
}

INSTANTIATE_TEST_SUITE_P(Seeds, PropertyTest,
                         ::testing::Values(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));

}  // namespace
}  // namespace hooklog
