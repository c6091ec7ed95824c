#include "engine/endpoint_machine.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/validation.h"

namespace hooklog {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr Timestamp kNow = 1'800'000'000LL * kSecond;

const Endpoint& Snapshot(const Event& e) {
  return std::get<EndpointSnapshot>(e.body).endpoint;
}

// The single event of a command decision carries the new endpoint.
void ExpectOneEvent(const EndpointDecision& d, EventType type) {
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, type);
  EXPECT_EQ(d.events[0].aggregate, d.endpoint.id.raw());
  EXPECT_EQ(Snapshot(d.events[0]), d.endpoint);
}

Endpoint Created(EndpointSpec spec = {}) {
  if (spec.url.empty()) spec.url = "https://example.com/h";
  return DecideCreateEndpoint(spec, kNow).endpoint;
}

TEST(EndpointMachine, CreateCopiesTheSpecWithAFreshIdAndSecret) {
  EndpointSpec spec;
  spec.url = "https://example.com/h";
  spec.description = "orders";
  spec.event_types = std::vector<std::string>{"order.*"};
  spec.metadata = {{"team", "a"}};
  spec.headers = {{"X-A", "1"}};
  spec.rate_limit_per_s = 5;
  spec.max_in_flight = 3;
  spec.fifo = true;
  spec.http2 = true;
  spec.signature_scheme = SignatureScheme::kStandard;
  spec.protection.rate_limit_burst = 9;
  EndpointDecision d = DecideCreateEndpoint(spec, kNow);
  ExpectOneEvent(d, EventType::kEndpointCreated);
  const Endpoint& ep = d.endpoint;
  EXPECT_NE(ep.id, EndpointId());
  ASSERT_EQ(ep.secrets.size(), 1u);
  EXPECT_FALSE(ep.secrets[0].secret.empty());
  EXPECT_EQ(ep.secrets[0].expires_at, 0);
  EXPECT_TRUE(ep.enabled);
  EXPECT_EQ(ep.disabled_reason, "");
  EXPECT_EQ(ep.url, spec.url);
  EXPECT_EQ(ep.description, "orders");
  EXPECT_EQ(ep.event_types, *spec.event_types);
  EXPECT_EQ(ep.metadata, spec.metadata);
  EXPECT_EQ(ep.headers, spec.headers);
  EXPECT_EQ(ep.rate_limit_per_s, 5);
  EXPECT_EQ(ep.max_in_flight, 3u);
  EXPECT_TRUE(ep.fifo);
  EXPECT_TRUE(ep.http2);
  EXPECT_EQ(ep.protection, spec.protection);
  EXPECT_EQ(ep.created_at, kNow);
  EXPECT_EQ(ep.updated_at, kNow);
  EXPECT_TRUE(d.ops.empty());
  // Another creation: another id and secret.
  EndpointDecision again = DecideCreateEndpoint(spec, kNow);
  EXPECT_NE(again.endpoint.id, ep.id);
  EXPECT_NE(again.endpoint.secrets[0].secret, ep.secrets[0].secret);
}

TEST(EndpointMachine, CreateDisabledIsManual) {
  EndpointSpec spec{.url = "https://example.com/h", .enabled = false};
  EndpointDecision d = DecideCreateEndpoint(spec, kNow);
  EXPECT_FALSE(d.endpoint.enabled);
  EXPECT_EQ(d.endpoint.disabled_reason, "manual");
  EXPECT_EQ(d.endpoint.event_types, std::vector<std::string>{"*"});
}

TEST(EndpointMachine, UpdateAppliesOnlyTheFieldsGiven) {
  const Endpoint before = Created({.metadata = {{"team", "a"}, {"env", "p"}}});
  EndpointUpdate u;
  u.description = "new";
  u.metadata_patch = {{"team", "b"}, {"env", ""}};
  u.max_in_flight = 7;
  u.circuit_breaker = CircuitBreakerOptions{.consecutive_failures = 2};
  auto d = DecideUpdateEndpoint(before, u, kNow + kSecond);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ExpectOneEvent(*d, EventType::kEndpointUpdated);
  Endpoint want = before;
  want.description = "new";
  want.metadata = {{"team", "b"}};
  want.max_in_flight = 7;
  want.protection.circuit_breaker =
      CircuitBreakerOptions{.consecutive_failures = 2};
  want.updated_at = kNow + kSecond;
  EXPECT_EQ(d->endpoint, want);
  // An engaged nullopt returns a setting to the engine default.
  EndpointUpdate reset;
  reset.circuit_breaker = std::optional<CircuitBreakerOptions>();
  auto r = DecideUpdateEndpoint(d->endpoint, reset, kNow + 2 * kSecond);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->endpoint.protection.circuit_breaker.has_value());
  EXPECT_EQ(r->endpoint.max_in_flight, 7u);
}

TEST(EndpointMachine, UpdateFlippingEnabledIsItsOwnEvent) {
  const Endpoint on = Created();
  EndpointUpdate off;
  off.enabled = false;
  auto d = DecideUpdateEndpoint(on, off, kNow);
  ASSERT_TRUE(d.ok());
  ExpectOneEvent(*d, EventType::kEndpointDisabled);
  EXPECT_EQ(d->endpoint.disabled_reason, "manual");
  EndpointUpdate on_again;
  on_again.enabled = true;
  auto e = DecideUpdateEndpoint(d->endpoint, on_again, kNow);
  ASSERT_TRUE(e.ok());
  ExpectOneEvent(*e, EventType::kEndpointEnabled);
  EXPECT_TRUE(e->endpoint.enabled);
  EXPECT_EQ(e->endpoint.disabled_reason, "");
  // Setting it to what it already is: a plain update.
  auto same = DecideUpdateEndpoint(e->endpoint, on_again, kNow);
  ASSERT_TRUE(same.ok());
  ExpectOneEvent(*same, EventType::kEndpointUpdated);
}

TEST(EndpointMachine, UpdateOverTheMetadataLimitsIsRefused) {
  Metadata full;
  for (size_t i = 0; i < kMaxMetadataKeys; ++i) {
    full["k" + std::to_string(i)] = "v";
  }
  const Endpoint before = Created({.metadata = full});
  // The patch alone is valid; the merged result has one key too many.
  EndpointUpdate u;
  u.description = "changed too";
  u.metadata_patch = {{"one-more", "v"}};
  ASSERT_TRUE(ValidateEndpointUpdate(u).ok());
  auto d = DecideUpdateEndpoint(before, u, kNow);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().IsInvalidArgument());
  // Replacing a key keeps the count: accepted.
  EndpointUpdate replace;
  replace.metadata_patch = {{"k0", "w"}};
  auto ok = DecideUpdateEndpoint(before, replace, kNow);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->endpoint.metadata.at("k0"), "w");
  // Clearing first makes room.
  u.clear_metadata = true;
  auto cleared = DecideUpdateEndpoint(before, u, kNow);
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->endpoint.metadata, (Metadata{{"one-more", "v"}}));
}

TEST(EndpointMachine, RotateKeepsThePreviousSecretForTheGracePeriod) {
  const Endpoint ep = Created();
  const std::string first = ep.secrets[0].secret;
  EndpointDecision d = DecideRotateSecret(ep, kNow, hours(24));
  ExpectOneEvent(d, EventType::kEndpointSecretRotated);
  ASSERT_EQ(d.endpoint.secrets.size(), 2u);
  EXPECT_NE(d.endpoint.secrets[0].secret, first);
  EXPECT_EQ(d.endpoint.secrets[0].expires_at, 0);
  EXPECT_EQ(d.endpoint.secrets[1].secret, first);
  EXPECT_EQ(d.endpoint.secrets[1].expires_at,
            kNow + Duration(hours(24)).count());
  EXPECT_EQ(d.endpoint.updated_at, kNow);
  // After the grace period the old one is dropped at the next rotation.
  EndpointDecision later = DecideRotateSecret(
      d.endpoint, kNow + Duration(hours(25)).count(), hours(24));
  ASSERT_EQ(later.endpoint.secrets.size(), 2u);
  EXPECT_EQ(later.endpoint.secrets[1].secret, d.endpoint.secrets[0].secret);
}

TEST(EndpointMachine, DeleteLeavesATombstone) {
  const Endpoint ep = Created();
  EndpointDecision d = DecideDeleteEndpoint(ep, kNow + kSecond);
  ExpectOneEvent(d, EventType::kEndpointDeleted);
  EXPECT_TRUE(d.endpoint.deleted);
  EXPECT_EQ(d.endpoint.updated_at, kNow + kSecond);
  EXPECT_EQ(d.endpoint.url, ep.url);
}

// --- health ------------------------------------------------------------------

class EndpointHealthTest : public ::testing::Test {
 protected:
  EndpointHealthTest() : guard_(breaker_), jitter_(7) {
    options_.circuit_breaker = breaker_;
    options_.auto_disable_after = minutes(10);
    ep_ = Created();
  }

  static AttemptResult Code(int c, std::optional<int> retry_after_s = {}) {
    AttemptResult r;
    r.http_status_code = c;
    if (retry_after_s) r.retry_after = seconds(*retry_after_s);
    return r;
  }

  // Feeds `r` (an attempt started at `now`) and applies the result.
  EndpointDecision Step(const AttemptResult& r, Timestamp now,
                        bool probe = false) {
    EndpointDecision d = DecideEndpointHealth(ep_, &guard_, r, now, probe, now,
                                              options_, &jitter_);
    for (const Event& e : d.events) {
      EXPECT_EQ(e.aggregate, ep_.id.raw());
      EXPECT_EQ(e.time, now);
    }
    if (d.events.empty()) {
      EXPECT_EQ(d.endpoint, ep_) << "no event, no change";
    } else {
      EXPECT_EQ(Snapshot(d.events.back()), d.endpoint);
    }
    ep_ = d.endpoint;
    return d;
  }

  CircuitBreakerOptions breaker_{.consecutive_failures = 3,
                                 .open_for = seconds(30)};
  EngineOptions options_;
  EndpointGuard guard_;
  Jitter jitter_;
  Endpoint ep_;
};

TEST_F(EndpointHealthTest, SuccessChangesNothing) {
  EndpointDecision d = Step(Code(200), kNow);
  EXPECT_TRUE(d.events.empty());
  EXPECT_TRUE(d.ops.empty());
}

TEST_F(EndpointHealthTest, FailuresOpenTheCircuitAndAProbeClosesIt) {
  EXPECT_TRUE(Step(Code(500), kNow).events.empty());
  EXPECT_TRUE(Step(Code(500), kNow + 1).events.empty());
  EndpointDecision opened = Step(Code(500), kNow + 2);
  ASSERT_EQ(opened.events.size(), 1u);
  EXPECT_EQ(opened.events[0].type, EventType::kCircuitOpened);
  EXPECT_EQ(ep_.circuit_open_until, kNow + 2 + 30 * kSecond);
  EXPECT_EQ(ep_.failing_since, kNow);
  EXPECT_EQ(ep_.updated_at, kNow + 2);
  ASSERT_EQ(opened.ops.size(), 1u);
  EXPECT_EQ(opened.ops[0].kind, OperationalEvent::Kind::kCircuitOpened);
  EXPECT_EQ(opened.ops[0].endpoint_id, ep_.id);

  const Timestamp later = kNow + 40 * kSecond;
  ASSERT_TRUE(guard_.TryAcquire(later, 0, 10).probe);
  EndpointDecision closed = Step(Code(204), later, /*probe=*/true);
  ASSERT_EQ(closed.events.size(), 1u);
  EXPECT_EQ(closed.events[0].type, EventType::kCircuitClosed);
  EXPECT_EQ(ep_.circuit_open_until, 0);
  EXPECT_EQ(ep_.failing_since, 0);
  ASSERT_EQ(closed.ops.size(), 1u);
  EXPECT_EQ(closed.ops[0].kind, OperationalEvent::Kind::kCircuitClosed);
}

TEST_F(EndpointHealthTest, GoneDisablesTheEndpoint) {
  EndpointDecision d = Step(Code(410), kNow);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, EventType::kEndpointDisabled);
  EXPECT_FALSE(ep_.enabled);
  EXPECT_EQ(ep_.disabled_reason, "gone_410");
  ASSERT_EQ(d.ops.size(), 1u);
  EXPECT_EQ(d.ops[0].kind, OperationalEvent::Kind::kEndpointDisabled);
  EXPECT_EQ(d.ops[0].reason, "gone_410");
  // Already disabled: no second event.
  EXPECT_TRUE(Step(Code(410), kNow + 1).events.empty());
}

TEST_F(EndpointHealthTest, FailingForAutoDisableAfterDisables) {
  breaker_.enabled = false;
  guard_.SetBreakerOptions(breaker_);
  Timestamp t = kNow;
  for (; t < kNow + Duration(minutes(10)).count(); t += 60 * kSecond) {
    EXPECT_TRUE(Step(Code(503), t).events.empty());
  }
  EndpointDecision d = Step(Code(503), t);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, EventType::kEndpointDisabled);
  EXPECT_EQ(ep_.disabled_reason, "failing");
  ASSERT_EQ(d.ops.size(), 1u);
  EXPECT_EQ(d.ops[0].reason, "failing");
}

TEST_F(EndpointHealthTest, EndpointAutoDisableSettingWins) {
  breaker_.enabled = false;
  guard_.SetBreakerOptions(breaker_);
  ep_.protection.auto_disable_after = Duration(0);  // never
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(Step(Code(500), kNow + i * Duration(minutes(1)).count())
                    .events.empty());
  }
  EXPECT_TRUE(ep_.enabled);
}

TEST_F(EndpointHealthTest, OpeningAndDisablingInOneOutcomeAreTwoEvents) {
  options_.auto_disable_after = Duration(2);
  Step(Code(500), kNow);
  Step(Code(500), kNow + 1);
  EndpointDecision d = Step(Code(500), kNow + 2);
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].type, EventType::kCircuitOpened);
  EXPECT_TRUE(Snapshot(d.events[0]).enabled);  // as after that event
  EXPECT_EQ(d.events[1].type, EventType::kEndpointDisabled);
  EXPECT_FALSE(Snapshot(d.events[1]).enabled);
  EXPECT_NE(Snapshot(d.events[1]).circuit_open_until, 0);
  EXPECT_EQ(d.ops.size(), 2u);
}

TEST_F(EndpointHealthTest, RateLimitsAreNotFailures) {
  options_.auto_disable_after = Duration(1);
  for (int i = 0; i < 20; ++i) {
    const Timestamp t = kNow + i * Duration(minutes(20)).count();
    EXPECT_TRUE(Step(Code(429), t).events.empty());
  }
  EXPECT_FALSE(guard_.open());
  EXPECT_TRUE(ep_.enabled);
}

TEST_F(EndpointHealthTest, RateLimitWithoutRetryAfterPausesWithBackoff) {
  Timestamp t = kNow;
  Duration base = kRateLimitBackoffFirst;
  for (int i = 0; i < 14; ++i) {
    SCOPED_TRACE(i);
    Step(Code(429), t);
    const Duration want = std::min(base, kRateLimitBackoffMax);
    const Timestamp pause = guard_.paused_until() - t;
    EXPECT_GE(pause, static_cast<Timestamp>(0.8 * double(want.count())));
    EXPECT_LE(pause, static_cast<Timestamp>(1.2 * double(want.count())));
    t = guard_.paused_until();
    base *= 2;
  }
}

TEST_F(EndpointHealthTest, RetryAfterSetsThePauseClamped) {
  Step(Code(429, 42), kNow);
  EXPECT_EQ(guard_.paused_until(), kNow + 42 * kSecond);
  Step(Code(503, 0), kNow + 50 * kSecond);  // clamped up to 1 s
  EXPECT_EQ(guard_.paused_until(), kNow + 51 * kSecond);
  // A 500's Retry-After is not a pause.
  Step(Code(500, 600), kNow + 60 * kSecond);
  EXPECT_EQ(guard_.paused_until(), kNow + 51 * kSecond);
}

}  // namespace
}  // namespace hooklog
