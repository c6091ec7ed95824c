// Endpoint protection through the engine: in-flight caps, rate limit,
// endpoint-wide backoff, circuit breaker, auto-disable, FIFO order and
// operational events. Fake clock + scripted transport: deterministic.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "hooklog/engine.h"
#include "hooklog/testing/fake_clock.h"
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

  void Open() {
    if (!memory_) memory_ = NewMemoryStorage();
    EngineOptions o = options_;
    o.transport_factory = ScriptedTransport::Factory(&transport_);
    auto wrapped = std::make_unique<ForwardingStorage>(memory_.get());
    engine_ = std::move(OpenEngine(std::move(wrapped), o).value());
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
  options_.circuit_breaker.enabled = false;
  options_.retry.schedule = std::vector<Duration>(50, seconds(5));
  options_.retry.schedule[0] = Duration(0);
  Open();
  Endpoint ep = MakeEndpoint({});
  DeliveryId id = Publish();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Error(ErrorClass::kConnect));
    WaitFor(id, DeliveryStatus::kFailed, i + 1);
    clock_->Advance(seconds(6));
  }
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

}  // namespace
}  // namespace hooklog
