// Endpoint protection through the engine: in-flight caps, rate limit,
// endpoint-wide backoff, circuit breaker, auto-disable, FIFO order and
// operational events. Fake clock + scripted transport: deterministic.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "engine/endpoint_guard.h"
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

  // Polls `done` until it holds, for up to 10 s (the engine is
  // asynchronous). Used to wait for what must happen; never for timing.
  template <typename Pred>
  static bool WaitUntil(Pred done) {
    for (int i = 0; i < 5000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return done();
  }

  uint64_t FailedAttempts() { return engine_->Stats().attempts_failed; }

  // Fails `n` attempts of the endpoint's (single, max_in_flight 1) stream
  // with a 500, letting the 1 s retries fall due in between. Each failure
  // is recorded before the clock moves, so that its retry is due at the
  // time the test expects.
  void FailAttempts(int n) {
    for (int i = 0; i < n; ++i) {
      const uint64_t failed = FailedAttempts();
      ASSERT_TRUE(transport_->WaitForHeld(1));
      transport_->CompleteNext(ScriptedTransport::Http(500));
      ASSERT_TRUE(WaitUntil([&] { return FailedAttempts() > failed; }));
      clock_->Advance(seconds(1));
    }
  }

  // Waits until exactly `n` operational events of `kind` were reported.
  bool WaitForOps(Kind kind, size_t n) {
    return WaitUntil([&] { return Ops(kind).size() >= n; }) &&
           Ops(kind).size() == n;
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

// Deterministic: every delivery is waiting before the first completion,
// and each completion's freed slot is refilled before the next one.
TEST_F(ProtectionTest, GlobalCapHoldsEveryoneAndSharesFairly) {
  options_.global_max_in_flight = 4;
  Open();
  Endpoint a = MakeEndpoint({.url = "https://a.example/"});
  Endpoint b = MakeEndpoint({.url = "https://b.example/"});
  for (int i = 0; i < 20; ++i) Publish();  // 20 deliveries to each
  ASSERT_TRUE(transport_->WaitForHeld(4));
  // All 40 are due: wait until they have left the due queue for their
  // endpoint's ready queue; an update, decided on the strand after that,
  // marks the end of that work.
  ASSERT_TRUE(WaitUntil([&] { return engine_->Stats().due_queue_depth == 0; }));
  EndpointUpdate barrier;
  barrier.description = "barrier";
  ASSERT_TRUE(engine_->UpdateEndpoint(b.id, barrier).get().ok());
  EXPECT_EQ(transport_->held(), 4u);
  EXPECT_EQ(transport_->requests().size(), 4u);
  // Each completion frees one global slot; the endpoints take turns.
  for (size_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(transport_->CompleteNext(ScriptedTransport::Http(200)));
    ASSERT_TRUE(transport_->WaitForRequests(5 + i));
  }
  Settle();
  EXPECT_EQ(transport_->held(), 4u);
  const auto reqs = transport_->requests();
  ASSERT_EQ(reqs.size(), 20u);
  size_t to_a = 0;
  for (size_t i = 4; i < reqs.size(); ++i) {
    to_a += reqs[i].url == a.url;
    if (i > 4) {
      EXPECT_NE(reqs[i].url, reqs[i - 1].url) << "not round robin at " << i;
    }
  }
  EXPECT_EQ(to_a, 8u);
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
  const Timestamp answered = clock_->Now();
  transport_->CompleteNext(r);
  // Retry-After's value, not the backoff of a 429 without it.
  EXPECT_EQ(WaitFor(first, DeliveryStatus::kRateLimited, 1).next_attempt_at,
            answered + 30 * kSecond);
  clock_->Advance(seconds(10));
  Settle();
  // `second` was due long ago but the endpoint is paused.
  EXPECT_EQ(transport_->requests().size(), 1u);
  EXPECT_EQ(Get(second).attempts, 0u);
  clock_->Advance(seconds(21));
  ASSERT_TRUE(transport_->WaitForHeld(1));
}

// --- 429 without Retry-After: the endpoint backs off (issue 16) ------------

// The pause after a run of `n` 429s without Retry-After, before jitter.
Duration BackoffAfter(int n) {
  Duration d = std::chrono::seconds(1);
  for (int i = 1; i < n && d < kRateLimitBackoffMax; ++i) d *= 2;
  return std::min(d, Duration(kRateLimitBackoffMax));
}

// Is `got` within the ±20 % jitter of `want`?
bool WithinJitter(Timestamp got, Duration want) {
  return got >= static_cast<Timestamp>(0.8 * double(want.count())) &&
         got <= static_cast<Timestamp>(1.2 * double(want.count()));
}

class RateLimitBackoffTest : public ProtectionTest {
 protected:
  void SetUp() override {
    ProtectionTest::SetUp();
    // The delivery's own schedule is negligible, so that its next attempt
    // is the endpoint's pause end.
    options_.retry.schedule = {Duration(0), milliseconds(1), milliseconds(1)};
    options_.retry.min_retry_after = milliseconds(1);
  }

  // Answers the oldest held attempt with `code` (no Retry-After) and
  // returns `id`'s row once that attempt is recorded.
  Delivery Answer(const DeliveryId& id, int code, uint32_t attempts) {
    EXPECT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Http(code));
    return WaitFor(
        id,
        code == 429 ? DeliveryStatus::kRateLimited : DeliveryStatus::kDelivered,
        attempts);
  }

  // The endpoint holds everything until `until`, then lets the next
  // attempt through.
  void ExpectPausedUntil(Timestamp until) {
    const size_t sent = transport_->requests().size();
    clock_->Set(until - 1);
    Settle();
    EXPECT_EQ(transport_->requests().size(), sent) << "sent during the pause";
    clock_->Set(until);
    EXPECT_TRUE(transport_->WaitForRequests(sent + 1));
  }
};

TEST_F(RateLimitBackoffTest, ConsecutiveRateLimitsDoubleThePauseUpToTheCap) {
  Open();
  Endpoint ep = MakeEndpoint({.max_in_flight = 1});
  DeliveryId id = Publish();
  // 1 s, 2 s, 4 s, ... 512 s, then 10 min (the cap) twice.
  for (int n = 1; n <= 12; ++n) {
    SCOPED_TRACE(n);
    const Timestamp answered = clock_->Now();
    Delivery d = Answer(id, 429, n);
    const Timestamp pause = d.next_attempt_at - answered;
    EXPECT_TRUE(WithinJitter(pause, BackoffAfter(n)))
        << pause << " us after 429 number " << n;
    ExpectPausedUntil(d.next_attempt_at);
  }
  // 429s are not failures: the breaker (3 failures here) stays closed.
  EXPECT_EQ(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  EXPECT_TRUE(Ops(Kind::kCircuitOpened).empty());
  EXPECT_EQ(Get(id).failed_attempts, 0u);
  EXPECT_EQ(engine_->Stats().attempts_failed, 0u);
}

TEST_F(RateLimitBackoffTest, AnyOtherAnswerResetsTheBackoff) {
  Open();
  MakeEndpoint({.max_in_flight = 1});
  DeliveryId first = Publish();
  for (int n = 1; n <= 4; ++n) {
    ExpectPausedUntil(Answer(first, 429, n).next_attempt_at);
  }
  Answer(first, 200, 5);
  // A new run starts at 1 s again.
  DeliveryId second = Publish();
  const Timestamp answered = clock_->Now();
  Delivery d = Answer(second, 429, 1);
  EXPECT_TRUE(WithinJitter(d.next_attempt_at - answered, BackoffAfter(1)))
      << d.next_attempt_at - answered;
}

// The pause holds the endpoint's other deliveries, and 429s of attempts
// already in flight when it began do not escalate it.
TEST_F(RateLimitBackoffTest, PauseHoldsTheWholeEndpoint) {
  Open();
  MakeEndpoint({});
  MakeEndpoint({.url = "https://other.example/"});  // not paused
  std::vector<DeliveryId> ids;
  for (int i = 0; i < 3; ++i) {  // 3 to each
    PublishResult r = engine_->Publish({"order.paid", "{}", ""}).get().value();
    ids.insert(ids.end(), r.deliveries.begin(), r.deliveries.end());
  }
  ASSERT_TRUE(transport_->WaitForHeld(6));
  auto id_of = [&](const std::string& s) {
    for (const DeliveryId& id : ids) {
      if (id.ToString() == s) return id;
    }
    ADD_FAILURE() << "unknown delivery " << s;
    return ids[0];
  };
  // Held attempts complete oldest first, i.e. in request order. The paused
  // endpoint's three get 429, 429, 200; the other endpoint's 200.
  std::vector<Delivery> rows;
  int mine_seen = 0;
  for (const auto& r : transport_->requests()) {
    const bool is_mine = r.url == "https://example.com/h";
    const int code = !is_mine ? 200 : mine_seen++ < 2 ? 429 : 200;
    ASSERT_TRUE(transport_->CompleteNext(ScriptedTransport::Http(code)));
    if (code == 429) {
      rows.push_back(
          WaitFor(id_of(r.delivery_id), DeliveryStatus::kRateLimited, 1));
    }
  }
  ASSERT_EQ(rows.size(), 2u);
  // One pause (the second 429 came from an attempt started before it):
  // both wait for the same end, about 1 s away.
  EXPECT_EQ(rows[0].next_attempt_at, rows[1].next_attempt_at);
  EXPECT_TRUE(
      WithinJitter(rows[0].next_attempt_at - clock_->Now(), BackoffAfter(1)));
  // A new delivery to the paused endpoint waits too; the other endpoint's
  // goes at once.
  const size_t sent = transport_->requests().size();
  ids.push_back(Publish());
  ASSERT_TRUE(transport_->WaitForRequests(sent + 1));
  Settle();
  ASSERT_EQ(transport_->requests().size(), sent + 1);
  EXPECT_EQ(transport_->requests().back().url, "https://other.example/");
  ASSERT_TRUE(transport_->CompleteNext(ScriptedTransport::Http(200)));
  clock_->Set(rows[0].next_attempt_at - 1);
  Settle();
  EXPECT_EQ(transport_->requests().size(), sent + 1);
  clock_->Set(rows[0].next_attempt_at);
  ASSERT_TRUE(transport_->WaitForRequests(sent + 4));  // 2 retries + 1 new
}

TEST_F(ProtectionTest, CircuitOpensDefersThenProbeCloses) {
  Open();
  Endpoint ep = MakeEndpoint({.max_in_flight = 1});
  std::vector<DeliveryId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Publish());
  // Three failures in a row open the breaker.
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Http(500));
    ASSERT_TRUE(WaitUntil([&] { return FailedAttempts() == i + 1; }));
  }
  auto row = engine_->GetEndpoint(ep.id).get().value();
  EXPECT_NE(row.circuit_open_until, 0);
  EXPECT_NE(row.failing_since, 0);
  EXPECT_TRUE(WaitForOps(Kind::kCircuitOpened, 1));
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
  EXPECT_TRUE(WaitForOps(Kind::kCircuitClosed, 1));
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
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(transport_->WaitForHeld(1));
    transport_->CompleteNext(ScriptedTransport::Http(503));
    ASSERT_TRUE(WaitUntil([&] { return FailedAttempts() == i + 1; }));
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
  ASSERT_TRUE(WaitForOps(Kind::kEndpointDisabled, 1));
  auto disabled = Ops(Kind::kEndpointDisabled);
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

TEST_F(ProtectionTest, EndpointBreakerSettingsOverrideTheEngineDefault) {
  Open();  // engine default: opens after 3 failures
  EndpointSpec eager{.max_in_flight = 1};
  eager.protection.circuit_breaker = TripAfter(1, seconds(10));
  Endpoint ep = MakeEndpoint(eager);
  EXPECT_EQ(ep.protection.circuit_breaker, TripAfter(1, seconds(10)));
  Publish();
  FailAttempts(1);
  auto row = engine_->GetEndpoint(ep.id).get().value();
  ASSERT_NE(row.circuit_open_until, 0) << "one failure opens this endpoint";
  // Its own open period (10 s), not the default 30 s.
  EXPECT_LE(row.circuit_open_until, clock_->Now() + 10 * kSecond);
  ASSERT_TRUE(WaitForOps(Kind::kCircuitOpened, 1));
  EXPECT_EQ(Ops(Kind::kCircuitOpened)[0].endpoint_id, ep.id);
}

TEST_F(ProtectionTest, EndpointCanSwitchItsBreakerOff) {
  Open();
  EndpointSpec spec{.max_in_flight = 1};
  spec.protection.circuit_breaker = CircuitBreakerOptions{.enabled = false};
  Endpoint ep = MakeEndpoint(spec);
  DeliveryId id = Publish();
  FailAttempts(5);  // more than the default 3
  WaitFor(id, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  EXPECT_TRUE(Ops(Kind::kCircuitOpened).empty());
}

TEST_F(ProtectionTest, SwitchingAnOpenBreakerOffLetsDeliveriesThrough) {
  Open();
  Endpoint ep = MakeEndpoint({.max_in_flight = 1});
  Publish();
  FailAttempts(3);  // the default opens it
  ASSERT_NE(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
  const size_t sent = transport_->requests().size();
  EndpointUpdate off;
  off.circuit_breaker = CircuitBreakerOptions{.enabled = false};
  ASSERT_TRUE(engine_->UpdateEndpoint(ep.id, off).get().ok());
  clock_->Advance(seconds(1));
  ASSERT_TRUE(transport_->WaitForHeld(1)) << "no longer held by the breaker";
  EXPECT_EQ(transport_->requests().size(), sent + 1);
  transport_->CompleteNext(ScriptedTransport::Http(200));
  // The success records that the circuit closed.
  EXPECT_TRUE(WaitForOps(Kind::kCircuitClosed, 1));
  EXPECT_EQ(engine_->GetEndpoint(ep.id).get()->circuit_open_until, 0);
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
  EXPECT_TRUE(WaitForOps(Kind::kEndpointDisabled, 1));
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
  FailAttempts(2);  // opens (its own threshold)
  ASSERT_TRUE(WaitForOps(Kind::kCircuitOpened, 1));
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
