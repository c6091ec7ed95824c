// Endpoint protection through the engine: in-flight caps, rate limit,
// endpoint-wide backoff, circuit breaker, auto-disable, FIFO order and
// operational events. Fake clock + scripted transport: deterministic.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/testing/fake_clock.h"
#include "tests/storage/temp_dir.h"
#include "tests/support/scripted_transport.h"

namespace hooklog {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::ScriptedTransport;
using Kind = OperationalEvent::Kind;

class ProtectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.clock = clock_;
    options_.jitter_seed = 3;
    options_.retry.jitter = 0;
    options_.retry.schedule = {Duration(0), seconds(1), seconds(1), seconds(1),
                               seconds(1)};
    options_.circuit_breaker.consecutive_failures = 3;
    options_.circuit_breaker.open_for = seconds(30);
    options_.on_operational_event = [this](const OperationalEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      ops_.push_back(e);
    };
  }

  // Opens (or reopens, after engine_.reset()) the engine on the same store:
  // the memory store by default, RocksDB in rocksdb_dir_ when it is set.
  void Open() {
    EngineOptions o = options_;
    o.transport_factory = ScriptedTransport::Factory(&transport_);
    std::unique_ptr<Storage> storage;
    if (!rocksdb_dir_.empty()) {
      storage = std::move(OpenRocksDbStorage(rocksdb_dir_, {}).value());
    } else {
      if (!memory_) memory_ = NewMemoryStorage();
      storage = std::make_unique<ForwardingStorage>(memory_.get());
    }
    engine_ = std::move(OpenEngine(std::move(storage), o).value());
  }

  Endpoint MakeEndpoint(EndpointSpec spec) {
    if (spec.url.empty()) spec.url = "https://example.com/h";
    return engine_->CreateEndpoint(spec).get().value();
  }

  DeliveryId Publish() {
    auto r = engine_->Publish({"order.paid", "{}", ""}).get();
    return r.value().deliveries.at(0);
  }

  Delivery Get(const DeliveryId& id) {
    return engine_->GetDelivery(id).get().value();
  }

  Delivery WaitFor(const DeliveryId& id, DeliveryStatus s, uint32_t n = 0) {
    for (int i = 0; i < 2000; ++i) {
      Delivery d = Get(id);
      if (d.status == s && d.attempts >= n) return d;
      std::this_thread::sleep_for(milliseconds(2));
    }
    ADD_FAILURE() << "never reached " << DeliveryStatusName(s);
    return Get(id);
  }

  // For the auto-disable tests: many retries, 5 s apart, and no breaker to
  // hold them.
  void RetryEvery5sWithoutBreaker() {
    options_.circuit_breaker.enabled = false;
    options_.retry.schedule = std::vector<Duration>(50, seconds(5));
    options_.retry.schedule[0] = Duration(0);
  }

  // Fails `n` attempts of `id` with a connect error, 6 s apart.
  void FailToConnect(const DeliveryId& id, int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(transport_->WaitForHeld(1));
      transport_->CompleteNext(ScriptedTransport::Error(ErrorClass::kConnect));
      WaitFor(id, DeliveryStatus::kFailed, i + 1);
      clock_->Advance(seconds(6));
    }
  }

  // Gives the engine time to act on what it was told (it is asynchronous);
  // used only to show that something does NOT happen.
  static void Settle() { std::this_thread::sleep_for(milliseconds(60)); }

  std::vector<OperationalEvent> Ops(Kind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<OperationalEvent> out;
    for (const auto& e : ops_) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  // The engine may still report operational events while it shuts down:
  // stop it before the members its callback uses are destroyed.
  void TearDown() override { engine_.reset(); }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  EngineOptions options_;
  std::mutex mu_;
  std::vector<OperationalEvent> ops_;
  std::unique_ptr<Storage> memory_;
  std::string rocksdb_dir_;
  ScriptedTransport* transport_ = nullptr;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ProtectionTest, PerEndpointInFlightCapIsNeverExceeded) {
  Open();
  Endpoint capped = MakeEndpoint({.max_in_flight = 2});
  Endpoint other = MakeEndpoint({.url = "https://other.example/"});
  for (int i = 0; i < 10; ++i) Publish();  // 10 to each endpoint
  ASSERT_TRUE(transport_->WaitForHeld(12));
  Settle();
  auto count = [&](const Endpoint& ep) {
    size_t n = 0;
    for (const auto& r : transport_->requests()) n += r.url == ep.url;
    return n;
  };
  EXPECT_EQ(count(capped), 2u);
  EXPECT_EQ(count(other), 10u);  // default cap 32: not held back
  // Each completion lets exactly one more start.
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(transport_->CompleteNext(ScriptedTransport::Http(200)));
  }
  ASSERT_TRUE(transport_->WaitForHeld(2));
  Settle();
  EXPECT_EQ(transport_->held(), 2u);
  EXPECT_EQ(count(capped), 4u);
}

TEST_F(ProtectionTest, GlobalCapHoldsEveryoneAndSharesFairly) {
  options_.global_max_in_flight = 4;
  Open();
  Endpoint a = MakeEndpoint({.url = "https://a.example/"});
  Endpoint b = MakeEndpoint({.url = "https://b.example/"});
  for (int i = 0; i < 20; ++i) Publish();
  ASSERT_TRUE(transport_->WaitForHeld(4));
  Settle();
  EXPECT_EQ(transport_->held(), 4u);
  // Completing drains both endpoints, neither starves.
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    ASSERT_TRUE(transport_->CompleteNext(ScriptedTransport::Http(200)));
  }
  auto reqs = transport_->requests();
  size_t to_a = 0;
  for (size_t i = 0; i < 20 && i < reqs.size(); ++i)
    to_a += reqs[i].url == a.url;
  EXPECT_GE(to_a, 8u);
  EXPECT_LE(to_a, 12u);
  (void)b;
}

TEST_F(ProtectionTest, RateLimitDefersWithoutSpendingAttempts) {
  Open();
  MakeEndpoint({.rate_limit_per_s = 2});  // burst 2
  std::vector<DeliveryId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Publish());
  ASSERT_TRUE(transport_->WaitForHeld(2));
  Settle();
  EXPECT_EQ(transport_->requests().size(), 2u);
  for (const DeliveryId& id : ids) EXPECT_EQ(Get(id).attempts, 0u);
  clock_->Advance(milliseconds(500));  // one token
  ASSERT_TRUE(transport_->WaitForRequests(3));
  Settle();
  EXPECT_EQ(transport_->requests().size(), 3u);
  clock_->Advance(seconds(2));  // refills to the burst of 2
  ASSERT_TRUE(transport_->WaitForRequests(5));
  Settle();
  EXPECT_EQ(transport_->requests().size(), 5u);
}

TEST_F(ProtectionTest, RetryAfterBacksOffTheWholeEndpoint) {
  Open();
  MakeEndpoint({.max_in_flight = 1});
  DeliveryId a = Publish();
  DeliveryId b = Publish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  // Both are due at once; whichever went first gets the 429.
  const bool a_first = transport_->requests()[0].delivery_id == a.ToString();
  const DeliveryId first = a_first ? a : b;
  const DeliveryId second = a_first ? b : a;
  AttemptResult r = ScriptedTransport::Http(429, "slow down");
  r.retry_after = seconds(30);
  transport_->CompleteNext(r);
  WaitFor(first, DeliveryStatus::kRateLimited, 1);
  clock_->Advance(seconds(10));
  Settle();
  // `second` was due long ago but the endpoint is paused.
  EXPECT_EQ(transport_->requests().size(), 1u);
  EXPECT_EQ(Get(second).attempts, 0u);
  clock_->Advance(seconds(21));
  ASSERT_TRUE(transport_->WaitForHeld(1));
}

TEST_F(ProtectionTest, CircuitOpensDefersThenProbeCloses) {
  Open();
  Endpoint ep = MakeEndpoint({.max_in_flight = 1});
  std::vector<DeliveryId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Publish());
  // Three failures in a row open the breaker.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Http(500));
    Settle();
  }
  auto row = engine_->GetEndpoint(ep.id).get().value();
  EXPECT_NE(row.circuit_open_until, 0);
  EXPECT_NE(row.failing_since, 0);
  EXPECT_EQ(Ops(Kind::kCircuitOpened).size(), 1u);
  size_t sent = transport_->requests().size();
  EXPECT_EQ(sent, 3u);
  // Retries fall due (1 s) but the breaker holds them, spending nothing.
  clock_->Advance(seconds(5));
  Settle();
  EXPECT_EQ(transport_->requests().size(), sent);
  uint32_t attempts = 0;
  for (const auto& id : ids) attempts += Get(id).attempts;
  EXPECT_EQ(attempts, 3u);
  // After the open period, exactly one probe.
  clock_->Advance(seconds(30));
  ASSERT_TRUE(transport_->WaitForHeld(1));
  Settle();
  EXPECT_EQ(transport_->held(), 1u);
  transport_->CompleteNext(ScriptedTransport::Http(200));
  Settle();
  EXPECT_EQ(Ops(Kind::kCircuitClosed).size(), 1u);
  row = engine_->GetEndpoint(ep.id).get().value();
  EXPECT_EQ(row.circuit_open_until, 0);
  // Closed: the rest flow again.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Http(200));
  }
  for (const auto& id : ids) WaitFor(id, DeliveryStatus::kDelivered);
  EXPECT_EQ(Ops(Kind::kCircuitOpened).size(), 1u);  // exactly once each
  EXPECT_EQ(Ops(Kind::kCircuitClosed).size(), 1u);
  EXPECT_GE(Ops(Kind::kDeliveryRecovered).size(), 1u);
}

TEST_F(ProtectionTest, OpenCircuitSurvivesRestart) {
  Open();
  Endpoint ep = MakeEndpoint({});
  Publish();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Http(503));
    Settle();
    clock_->Advance(seconds(1));
  }
  ASSERT_NE(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  engine_.reset();
  Open();
  clock_->Advance(seconds(5));
  Settle();
  EXPECT_EQ(transport_->requests().size(), 0u);  // still open after restart
  clock_->Advance(seconds(30));
  ASSERT_TRUE(transport_->WaitForHeld(1));
}

TEST_F(ProtectionTest, FailingForTooLongDisablesTheEndpoint) {
  options_.auto_disable_after = seconds(20);
  RetryEvery5sWithoutBreaker();
  Open();
  Endpoint ep = MakeEndpoint({});
  DeliveryId id = Publish();
  FailToConnect(id, 5);
  Settle();
  auto row = engine_->GetEndpoint(ep.id).get().value();
  EXPECT_FALSE(row.enabled);
  EXPECT_EQ(row.disabled_reason, "failing");
  auto disabled = Ops(Kind::kEndpointDisabled);
  ASSERT_EQ(disabled.size(), 1u);
  EXPECT_EQ(disabled[0].reason, "failing");
  // Disabled: the failing delivery waits. Re-enabling resumes it.
  size_t sent = transport_->requests().size();
  clock_->Advance(seconds(30));
  Settle();
  EXPECT_EQ(transport_->requests().size(), sent);
  EndpointUpdate on;
  on.enabled = true;
  ASSERT_TRUE(engine_->UpdateEndpoint(ep.id, on).get().ok());
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(200));
  WaitFor(id, DeliveryStatus::kDelivered);
}

TEST_F(ProtectionTest, FifoAttemptsInPublishOrderUnderRetries) {
  Open();
  MakeEndpoint({.fifo = true});
  std::vector<DeliveryId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Publish());
  ASSERT_TRUE(transport_->WaitForHeld(1));
  Settle();
  EXPECT_EQ(transport_->requests().size(), 1u);  // only the oldest
  // The head fails twice; nobody overtakes it.
  for (int i = 0; i < 2; ++i) {
    transport_->CompleteNext(ScriptedTransport::Http(500));
    WaitFor(ids[0], DeliveryStatus::kFailed, i + 1);
    clock_->Advance(seconds(2));
    ASSERT_TRUE(transport_->WaitForHeld(1));
  }
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      ASSERT_TRUE(transport_->WaitForHeld(1));
    }
    Settle();
    EXPECT_EQ(transport_->held(), 1u);
    transport_->CompleteNext(ScriptedTransport::Http(200));
    WaitFor(ids[i], DeliveryStatus::kDelivered);
  }
  // Requests went out strictly in publish order.
  std::vector<std::string> order;
  for (const auto& r : transport_->requests()) {
    if (order.empty() || order.back() != r.delivery_id) {
      order.push_back(r.delivery_id);
    }
  }
  ASSERT_EQ(order.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(order[i], ids[i].ToString());
}

TEST_F(ProtectionTest, FifoHeadDeadLetteredReleasesTheNext) {
  options_.retry.schedule = {Duration(0)};  // one attempt
  Open();
  MakeEndpoint({.fifo = true});
  DeliveryId a = Publish();
  DeliveryId b = Publish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(500));
  WaitFor(a, DeliveryStatus::kDeadLetter);
  ASSERT_TRUE(transport_->WaitForHeld(1));
  EXPECT_EQ(transport_->requests().back().delivery_id, b.ToString());
  auto dead = Ops(Kind::kDeliveryDeadLettered);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "attempts_exhausted");
  EXPECT_EQ(dead[0].delivery_id, a);
}

// --- per-endpoint settings ---------------------------------------------------

CircuitBreakerOptions TripAfter(uint32_t failures, Duration open_for) {
  CircuitBreakerOptions b;
  b.consecutive_failures = failures;
  b.open_for = open_for;
  return b;
}

// Fails `n` attempts of the endpoint's (single, max_in_flight 1) stream,
// letting the 1 s retries fall due in between.
void FailAttempts(ScriptedTransport* t, FakeClock* clock, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(t->WaitForHeld(1));
    t->CompleteNext(ScriptedTransport::Http(500));
    std::this_thread::sleep_for(milliseconds(60));
    clock->Advance(seconds(1));
  }
}

TEST_F(ProtectionTest, EndpointBreakerSettingsOverrideTheEngineDefault) {
  Open();  // engine default: opens after 3 failures
  EndpointSpec eager{.max_in_flight = 1};
  eager.protection.circuit_breaker = TripAfter(1, seconds(10));
  Endpoint ep = MakeEndpoint(eager);
  EXPECT_EQ(ep.protection.circuit_breaker, TripAfter(1, seconds(10)));
  Publish();
  FailAttempts(transport_, clock_.get(), 1);
  auto row = engine_->GetEndpoint(ep.id).get().value();
  ASSERT_NE(row.circuit_open_until, 0) << "one failure opens this endpoint";
  // Its own open period (10 s), not the default 30 s.
  EXPECT_LE(row.circuit_open_until, clock_->Now() + 10 * kSecond);
  ASSERT_EQ(Ops(Kind::kCircuitOpened).size(), 1u);
  EXPECT_EQ(Ops(Kind::kCircuitOpened)[0].endpoint_id, ep.id);
}

TEST_F(ProtectionTest, EndpointCanSwitchItsBreakerOff) {
  Open();
  EndpointSpec spec{.max_in_flight = 1};
  spec.protection.circuit_breaker = CircuitBreakerOptions{.enabled = false};
  Endpoint ep = MakeEndpoint(spec);
  DeliveryId id = Publish();
  FailAttempts(transport_, clock_.get(), 5);  // more than the default 3
  WaitFor(id, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  EXPECT_TRUE(Ops(Kind::kCircuitOpened).empty());
}

TEST_F(ProtectionTest, SwitchingAnOpenBreakerOffLetsDeliveriesThrough) {
  Open();
  Endpoint ep = MakeEndpoint({.max_in_flight = 1});
  Publish();
  FailAttempts(transport_, clock_.get(), 3);  // the default opens it
  ASSERT_NE(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  const size_t sent = transport_->requests().size();
  EndpointUpdate off;
  off.circuit_breaker = CircuitBreakerOptions{.enabled = false};
  ASSERT_TRUE(engine_->UpdateEndpoint(ep.id, off).get().ok());
  clock_->Advance(seconds(1));
  ASSERT_TRUE(transport_->WaitForHeld(1)) << "no longer held by the breaker";
  EXPECT_EQ(transport_->requests().size(), sent + 1);
  transport_->CompleteNext(ScriptedTransport::Http(200));
  Settle();
  // The success records that the circuit closed.
  EXPECT_EQ(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  EXPECT_EQ(Ops(Kind::kCircuitClosed).size(), 1u);
}

TEST_F(ProtectionTest, EndpointAutoDisableOverridesTheEngineDefault) {
  options_.auto_disable_after = Duration(0);  // engine: never
  RetryEvery5sWithoutBreaker();
  Open();
  EndpointSpec spec;
  spec.url = "https://example.com/disable-me";
  spec.protection.auto_disable_after = seconds(12);
  Endpoint quick = MakeEndpoint(spec);
  DeliveryId id = Publish();
  FailToConnect(id, 3);  // at 0 s, 6 s and 12 s: 12 s into the run
  Settle();
  auto row = engine_->GetEndpoint(quick.id).get().value();
  EXPECT_FALSE(row.enabled);
  EXPECT_EQ(row.disabled_reason, "failing");
  EXPECT_EQ(Ops(Kind::kEndpointDisabled).size(), 1u);
}

TEST_F(ProtectionTest, EndpointAutoDisableZeroNeverDisables) {
  options_.auto_disable_after = seconds(10);  // engine default
  RetryEvery5sWithoutBreaker();
  Open();
  EndpointSpec spec;
  spec.protection.auto_disable_after = Duration(0);  // this one: never
  Endpoint ep = MakeEndpoint(spec);
  DeliveryId id = Publish();
  FailToConnect(id, 5);
  Settle();
  EXPECT_TRUE(engine_->GetEndpoint(ep.id).get()->enabled);
  EXPECT_TRUE(Ops(Kind::kEndpointDisabled).empty());
}

TEST_F(ProtectionTest, UpdateSetsAndResetsProtectionSettings) {
  Open();
  Endpoint ep = MakeEndpoint({});
  EXPECT_EQ(ep.protection, EndpointProtection{});
  EndpointUpdate set;
  set.rate_limit_burst = 7;
  set.circuit_breaker = TripAfter(2, seconds(5));
  set.auto_disable_after = std::optional<Duration>(std::chrono::hours(2));
  auto updated = engine_->UpdateEndpoint(ep.id, set).get().value();
  EXPECT_EQ(updated.protection.rate_limit_burst, 7u);
  EXPECT_EQ(updated.protection.circuit_breaker, TripAfter(2, seconds(5)));
  EXPECT_EQ(updated.protection.auto_disable_after, std::chrono::hours(2));
  // An unrelated update leaves them alone.
  EndpointUpdate other;
  other.description = "x";
  EXPECT_EQ(engine_->UpdateEndpoint(ep.id, other).get()->protection,
            updated.protection);
  // Engaged nullopt: back to the engine's defaults.
  EndpointUpdate reset;
  reset.rate_limit_burst = 0;
  reset.circuit_breaker = std::optional<CircuitBreakerOptions>();
  reset.auto_disable_after = std::optional<Duration>();
  EXPECT_EQ(engine_->UpdateEndpoint(ep.id, reset).get()->protection,
            EndpointProtection{});
}

TEST_F(ProtectionTest, BadProtectionSettingsAreRefusedAndChangeNothing) {
  Open();
  Endpoint ep = MakeEndpoint({});
  struct Case {
    std::string field;
    std::function<void(EndpointProtection*)> spoil;
  };
  const std::vector<Case> cases = {
      {"circuit_breaker.consecutive_failures",
       [](EndpointProtection* p) {
         p->circuit_breaker = TripAfter(0, seconds(5));
       }},
      {"circuit_breaker.failure_rate",
       [](EndpointProtection* p) {
         p->circuit_breaker = CircuitBreakerOptions{.failure_rate = 1.5};
       }},
      {"circuit_breaker.window_attempts",
       [](EndpointProtection* p) {
         p->circuit_breaker = CircuitBreakerOptions{.window_attempts = 0};
       }},
      {"circuit_breaker.open_for",
       [](EndpointProtection* p) {
         p->circuit_breaker = TripAfter(3, Duration(0));
       }},
      {"circuit_breaker.max_open_for",
       [](EndpointProtection* p) {
         p->circuit_breaker = TripAfter(3, std::chrono::hours(1));
       }},  // longer than the default max_open_for (10 min)
      {"rate_limit_burst",
       [](EndpointProtection* p) { p->rate_limit_burst = 2'000'000; }},
      {"auto_disable_after",
       [](EndpointProtection* p) { p->auto_disable_after = seconds(-1); }},
  };
  const size_t endpoints = engine_->ListEndpoints({}).get()->items.size();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    EndpointSpec spec;
    spec.url = "https://example.com/h";
    c.spoil(&spec.protection);
    auto created = engine_->CreateEndpoint(spec).get();
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(created.status().field(), c.field);
    EndpointUpdate u;
    u.rate_limit_burst = spec.protection.rate_limit_burst;
    if (spec.protection.circuit_breaker) {
      u.circuit_breaker = spec.protection.circuit_breaker;
    }
    if (spec.protection.auto_disable_after) {
      u.auto_disable_after = spec.protection.auto_disable_after;
    }
    auto updated = engine_->UpdateEndpoint(ep.id, u).get();
    ASSERT_FALSE(updated.ok());
    EXPECT_EQ(updated.status().field(), c.field);
  }
  EXPECT_EQ(engine_->ListEndpoints({}).get()->items.size(), endpoints);
  EXPECT_EQ(engine_->GetEndpoint(ep.id).get().value(), ep);
}

// Breaker state, per-endpoint settings, FIFO order and exactly-once
// operational events, across a restart on the RocksDB store.
TEST_F(ProtectionTest, ProtectionSurvivesRestartOnRocksDb) {
  testing::TempDir dir;
  rocksdb_dir_ = dir.path();
  Open();
  EndpointSpec spec{.max_in_flight = 1, .fifo = true};
  spec.rate_limit_per_s = 100;
  spec.protection.rate_limit_burst = 5;
  spec.protection.circuit_breaker = TripAfter(2, seconds(10));
  spec.protection.auto_disable_after = std::chrono::hours(1);
  Endpoint ep = MakeEndpoint(spec);
  std::vector<DeliveryId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Publish());
  FailAttempts(transport_, clock_.get(), 2);  // opens (its own threshold)
  ASSERT_EQ(Ops(Kind::kCircuitOpened).size(), 1u);
  const Endpoint before = engine_->GetEndpoint(ep.id).get().value();
  ASSERT_NE(before.circuit_open_until, 0);

  engine_.reset();
  Open();
  const Endpoint after = engine_->GetEndpoint(ep.id).get().value();
  EXPECT_EQ(after, before);  // settings and breaker state, field by field
  clock_->Advance(seconds(3));
  Settle();
  EXPECT_EQ(transport_->requests().size(), 0u) << "still open after restart";
  clock_->Advance(seconds(10));
  // The probe is the FIFO head; its success closes the circuit, then the
  // others follow in publish order.
  for (const DeliveryId& id : ids) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    EXPECT_EQ(transport_->requests().back().delivery_id, id.ToString());
    transport_->CompleteNext(ScriptedTransport::Http(200));
    WaitFor(id, DeliveryStatus::kDelivered);
  }
  EXPECT_EQ(Ops(Kind::kCircuitOpened).size(), 1u);  // not replayed on restart
  EXPECT_EQ(Ops(Kind::kCircuitClosed).size(), 1u);
  EXPECT_EQ(Ops(Kind::kDeliveryRecovered).size(), 1u);  // ids[0] only

  engine_.reset();
  Open();
  const Endpoint closed = engine_->GetEndpoint(ep.id).get().value();
  EXPECT_EQ(closed.circuit_open_until, 0);
  EXPECT_EQ(closed.protection, spec.protection);
  Settle();
  EXPECT_EQ(transport_->requests().size(), 0u) << "nothing left to send";
}

}  // namespace
}  // namespace hooklog
