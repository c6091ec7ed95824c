#include "engine/endpoint_guard.h"

#include <gtest/gtest.h>

namespace hooklog {
namespace {

using Outcome = EndpointGuard::Outcome;
using Transition = EndpointGuard::Transition;
constexpr Timestamp kT0 = 1'800'000'000LL * kSecond;

CircuitBreakerOptions Breaker(uint32_t consecutive = 3) {
  CircuitBreakerOptions o;
  o.consecutive_failures = consecutive;
  o.window_attempts = 10;
  o.failure_rate = 0.5;
  o.open_for = std::chrono::seconds(30);
  o.max_open_for = std::chrono::seconds(100);
  return o;
}

TEST(EndpointGuard, CapLimitsInFlight) {
  EndpointGuard g(Breaker());
  EXPECT_TRUE(g.TryAcquire(kT0, 0, 2).allowed);
  auto full = g.TryAcquire(kT0, 2, 2);
  EXPECT_FALSE(full.allowed);
  EXPECT_EQ(full.retry_at, 0);  // wait for a slot, not for time
}

TEST(EndpointGuard, TokenBucketPacesToTheRate) {
  EndpointGuard g(Breaker());
  g.SetRateLimit(10, 10);  // 10/s, burst 10
  int allowed = 0;
  Timestamp t = kT0;
  // Over 5 simulated seconds, asking every millisecond.
  for (; t < kT0 + 5 * kSecond; t += 1000) {
    if (g.TryAcquire(t, 0, 1000).allowed) ++allowed;
  }
  EXPECT_GE(allowed, 10 + 49);  // the burst, then 10/s
  EXPECT_LE(allowed, 10 + 51);
  auto wait = g.TryAcquire(t, 0, 1000);
  if (!wait.allowed) {
    EXPECT_GT(wait.retry_at, t);
    EXPECT_LE(wait.retry_at, t + kSecond / 10);
  }
}

TEST(EndpointGuard, BurstSetsTheBucketSize) {
  EndpointGuard g(Breaker());
  g.SetRateLimit(10, 2);  // 10/s, but at most 2 at once
  EXPECT_TRUE(g.TryAcquire(kT0, 0, 1000).allowed);
  EXPECT_TRUE(g.TryAcquire(kT0, 0, 1000).allowed);
  auto third = g.TryAcquire(kT0, 0, 1000);
  EXPECT_FALSE(third.allowed);
  EXPECT_EQ(third.retry_at, kT0 + kSecond / 10);
  // A long idle period refills only up to the burst.
  Timestamp later = kT0 + 60 * kSecond;
  int allowed = 0;
  while (g.TryAcquire(later, 0, 1000).allowed) ++allowed;
  EXPECT_EQ(allowed, 2);
  // A larger burst than the rate is allowed too.
  g.SetRateLimit(1, 5);
  allowed = 0;
  while (g.TryAcquire(later, 0, 1000).allowed) ++allowed;
  EXPECT_EQ(allowed, 5);
}

TEST(EndpointGuard, NewBreakerOptionsApplyToTheNextResult) {
  EndpointGuard g(Breaker(5));
  EXPECT_EQ(g.OnResult(Outcome::kFailure, kT0, {}, false), Transition::kNone);
  g.SetBreakerOptions(Breaker(2));
  EXPECT_EQ(g.OnResult(Outcome::kFailure, kT0 + 1, {}, false),
            Transition::kOpened);
}

TEST(EndpointGuard, OpensAfterConsecutiveFailuresThenProbes) {
  EndpointGuard g(Breaker(3));
  EXPECT_EQ(g.OnResult(Outcome::kFailure, kT0, {}, false), Transition::kNone);
  EXPECT_EQ(g.OnResult(Outcome::kFailure, kT0 + 1, {}, false),
            Transition::kNone);
  EXPECT_EQ(g.failing_since(), kT0);
  EXPECT_EQ(g.OnResult(Outcome::kFailure, kT0 + 2, {}, false),
            Transition::kOpened);
  EXPECT_EQ(g.open_until(), kT0 + 2 + 30 * kSecond);
  // Open: deferred until open_until, without consuming anything.
  auto deferred = g.TryAcquire(kT0 + 10, 0, 10);
  EXPECT_FALSE(deferred.allowed);
  EXPECT_EQ(deferred.retry_at, g.open_until());
  // Half-open: one probe only.
  Timestamp later = g.open_until();
  auto probe = g.TryAcquire(later, 0, 10);
  EXPECT_TRUE(probe.allowed);
  EXPECT_TRUE(probe.probe);
  EXPECT_FALSE(g.TryAcquire(later, 1, 10).allowed);
  // Failed probe: re-opens for twice as long.
  EXPECT_EQ(g.OnResult(Outcome::kFailure, later, {}, true),
            Transition::kOpened);
  EXPECT_EQ(g.open_until(), later + 60 * kSecond);
  later = g.open_until();
  ASSERT_TRUE(g.TryAcquire(later, 0, 10).probe);
  EXPECT_EQ(g.OnResult(Outcome::kFailure, later, {}, true),
            Transition::kOpened);
  EXPECT_EQ(g.open_until(), later + 100 * kSecond);  // capped
  later = g.open_until();
  ASSERT_TRUE(g.TryAcquire(later, 0, 10).probe);
  // A successful probe closes it and clears the failure run.
  EXPECT_EQ(g.OnResult(Outcome::kSuccess, later, {}, true),
            Transition::kClosed);
  EXPECT_FALSE(g.open());
  EXPECT_EQ(g.failing_since(), 0);
  EXPECT_TRUE(g.TryAcquire(later, 0, 10).allowed);
  EXPECT_FALSE(g.TryAcquire(later, 0, 10).probe);
}

TEST(EndpointGuard, OpensOnFailureRateOverTheWindow) {
  EndpointGuard g(Breaker(100));  // consecutive rule out of reach
  Transition last = Transition::kNone;
  for (int i = 0; i < 11 && last == Transition::kNone; ++i) {
    last = g.OnResult(i % 2 ? Outcome::kSuccess : Outcome::kFailure, kT0 + i,
                      {}, false);
  }
  EXPECT_EQ(last, Transition::kOpened);  // 5 of the last 10 failed: 50 %
}

TEST(EndpointGuard, RateLimitedIsNotAFailureButPausesTheEndpoint) {
  EndpointGuard g(Breaker(2));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        g.OnResult(Outcome::kRateLimited, kT0, std::chrono::seconds(7), false),
        Transition::kNone);
  }
  EXPECT_FALSE(g.open());
  EXPECT_EQ(g.failing_since(), 0);
  auto a = g.TryAcquire(kT0 + kSecond, 0, 10);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.retry_at, kT0 + 7 * kSecond);
  EXPECT_TRUE(g.TryAcquire(kT0 + 7 * kSecond, 0, 10).allowed);
}

// A 429 without Retry-After: 1 s, doubling per consecutive 429, capped.
TEST(EndpointGuard, RateLimitBackoffDoublesUpToTheCap) {
  EndpointGuard g(Breaker());
  Timestamp t = kT0;
  Duration expected = kRateLimitBackoffFirst;
  for (int i = 0; i < 15; ++i) {
    SCOPED_TRACE(i);
    const Duration b = g.RateLimitBackoff(t);
    EXPECT_EQ(b, std::min(expected, kRateLimitBackoffMax));
    g.OnResult(Outcome::kRateLimited, t, b, false);
    EXPECT_EQ(g.paused_until(), t + b.count());
    EXPECT_FALSE(g.TryAcquire(t + b.count() - 1, 0, 10).allowed);
    t += b.count();  // the next attempt starts when the pause ends
    expected *= 2;
  }
  EXPECT_EQ(g.RateLimitBackoff(t), kRateLimitBackoffMax);
  EXPECT_FALSE(g.open());  // 429s never open the breaker
  EXPECT_EQ(g.failing_since(), 0);
}

TEST(EndpointGuard, AnyOtherAnswerResetsTheRateLimitBackoff) {
  for (Outcome other : {Outcome::kSuccess, Outcome::kFailure}) {
    EndpointGuard g(Breaker(100));
    Timestamp t = kT0;
    for (int i = 0; i < 4; ++i) {
      const Duration b = g.RateLimitBackoff(t);
      g.OnResult(Outcome::kRateLimited, t, b, false);
      t += b.count();
    }
    EXPECT_EQ(g.RateLimitBackoff(t), std::chrono::seconds(16));
    g.OnResult(Outcome::kRateLimited, t, std::chrono::seconds(16), false);
    t += 16 * kSecond;
    g.OnResult(other, t, {}, false);
    EXPECT_EQ(g.RateLimitBackoff(t), kRateLimitBackoffFirst);
  }
}

// Attempts already in flight when the endpoint was paused answer 429 too:
// they belong to the same burst and must not multiply the pause.
TEST(EndpointGuard, RateLimitBackoffIgnoresAttemptsStartedBeforeThePause) {
  EndpointGuard g(Breaker());
  const Duration first = g.RateLimitBackoff(kT0);
  EXPECT_EQ(first, kRateLimitBackoffFirst);
  g.OnResult(Outcome::kRateLimited, kT0 + 10, first, false);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(g.RateLimitBackoff(kT0 + i), Duration(0));  // started earlier
  }
  // The next attempt after the pause escalates.
  EXPECT_EQ(g.RateLimitBackoff(g.paused_until()), 2 * kRateLimitBackoffFirst);
}

TEST(EndpointGuard, RestoresPersistedState) {
  EndpointGuard g(Breaker());
  g.Restore(kT0 + 5 * kSecond, kT0 - kSecond);
  EXPECT_TRUE(g.open());
  EXPECT_EQ(g.failing_since(), kT0 - kSecond);
  EXPECT_FALSE(g.TryAcquire(kT0, 0, 10).allowed);
  EXPECT_TRUE(g.TryAcquire(kT0 + 5 * kSecond, 0, 10).probe);
}

TEST(EndpointGuard, DisabledBreakerNeverOpens) {
  CircuitBreakerOptions o = Breaker(1);
  o.enabled = false;
  EndpointGuard g(o);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(g.OnResult(Outcome::kFailure, kT0 + i, {}, false),
              Transition::kNone);
  }
  EXPECT_EQ(g.failing_since(), kT0);  // still tracked for auto-disable
}

}  // namespace
}  // namespace hooklog
