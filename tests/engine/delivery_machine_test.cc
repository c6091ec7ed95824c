#include "engine/delivery_machine.h"

#include <gtest/gtest.h>

#include "engine/projection.h"

namespace hooklog {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr Timestamp kNow = 1'800'000'000LL * kSecond;

class DeliveryMachineTest : public ::testing::Test {
 protected:
  DeliveryMachineTest() : jitter_(42) {
    policy_.jitter = 0;  // exact delays; jitter is tested separately
    Message m;
    m.id = MessageId::NewRandom();
    m.event_type = "order.paid";
    Event e = DecideEnqueue(DeliveryId::NewRandom(), m, EndpointId::NewRandom(),
                            false, kNow, kNow, policy_, &jitter_);
    ApplyToDelivery(e, &d_);
  }

  // Applies the decision for `r` at `now` and returns it.
  Decision Step(const AttemptResult& r, Timestamp now) {
    Decision dec = DecideAttempt(d_, r, now, now, policy_, &jitter_);
    for (const Event& e : dec.events) {
      DeliveryStatus before = d_.status;
      ApplyToDelivery(e, &d_);
      EXPECT_TRUE(IsAllowedTransition(before, d_.status) || before == d_.status)
          << DeliveryStatusName(before) << " -> "
          << DeliveryStatusName(d_.status);
    }
    return dec;
  }

  static AttemptResult Code(int c, std::optional<int> retry_after_s = {}) {
    AttemptResult r;
    r.http_status_code = c;
    r.response_body = "body";
    if (retry_after_s) r.retry_after = seconds(*retry_after_s);
    return r;
  }
  static AttemptResult NoResponse(ErrorClass e) {
    AttemptResult r;
    r.error = e;
    return r;
  }

  RetryPolicy policy_;
  Jitter jitter_;
  Delivery d_;
};

TEST_F(DeliveryMachineTest, EnqueueIsPendingAndDueImmediately) {
  EXPECT_EQ(d_.status, DeliveryStatus::kPending);
  EXPECT_EQ(d_.next_attempt_at, kNow);
  EXPECT_EQ(d_.attempts, 0u);
  EXPECT_FALSE(d_.http_status_code.has_value());
}

TEST_F(DeliveryMachineTest, TwoHundredsDeliver) {
  for (int code : {200, 201, 204, 299}) {
    Delivery saved = d_;
    Decision dec = Step(Code(code), kNow);
    ASSERT_EQ(dec.events.size(), 1u);
    EXPECT_EQ(dec.events[0].type, EventType::kAttempted);
    EXPECT_EQ(d_.status, DeliveryStatus::kDelivered);
    EXPECT_EQ(d_.http_status_code, code);
    EXPECT_EQ(d_.next_attempt_at, 0);
    d_ = saved;
  }
}

TEST_F(DeliveryMachineTest, FailuresFollowTheScheduleThenDeadLetter) {
  // Default schedule: 0, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h.
  Timestamp t = kNow;
  const Duration expected[] = {seconds(5), minutes(5), minutes(30),
                               hours(2),   hours(5),   hours(10),
                               hours(14),  hours(20),  hours(24)};
  for (Duration want : expected) {
    Step(Code(500), t);
    ASSERT_EQ(d_.status, DeliveryStatus::kFailed);
    EXPECT_EQ(d_.next_attempt_at - t, want.count());
    t = d_.next_attempt_at;
  }
  Decision last = Step(Code(503), t);
  EXPECT_EQ(d_.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(d_.dead_letter_reason, DeadLetterReason::kAttemptsExhausted);
  EXPECT_EQ(d_.attempts, 10u);
  EXPECT_EQ(last.events.back().type, EventType::kDeadLettered);
}

TEST_F(DeliveryMachineTest, EveryNonSuccessCountsAsFailure) {
  for (const AttemptResult& r :
       {Code(301), Code(302), Code(400), Code(404), Code(500), Code(100),
        NoResponse(ErrorClass::kDns), NoResponse(ErrorClass::kConnect),
        NoResponse(ErrorClass::kTls), NoResponse(ErrorClass::kTimeout),
        NoResponse(ErrorClass::kReset), NoResponse(ErrorClass::kTooLarge),
        NoResponse(ErrorClass::kBlocked)}) {
    Delivery saved = d_;
    Step(r, kNow);
    EXPECT_EQ(d_.status, DeliveryStatus::kFailed);
    EXPECT_EQ(d_.failed_attempts, 1u);
    if (!r.http_status_code) {
      EXPECT_FALSE(d_.http_status_code.has_value());
      EXPECT_FALSE(d_.response_body.has_value());
      EXPECT_EQ(d_.last_error, r.error);
    }
    d_ = saved;
  }
}

TEST_F(DeliveryMachineTest, RateLimitedDoesNotConsumeAttempts) {
  Step(Code(429, 7), kNow);
  EXPECT_EQ(d_.status, DeliveryStatus::kRateLimited);
  EXPECT_EQ(d_.failed_attempts, 0u);
  EXPECT_EQ(d_.attempts, 1u);
  EXPECT_EQ(d_.next_attempt_at, kNow + 7 * kSecond);
  EXPECT_EQ(d_.rate_limited_since, kNow);
  // Retry-After is clamped to [1 s, 24 h].
  Step(Code(429, 0), kNow + kSecond);
  EXPECT_EQ(d_.next_attempt_at, kNow + 2 * kSecond);
  Step(Code(429, 200000), kNow + 2 * kSecond);
  EXPECT_EQ(d_.next_attempt_at,
            kNow + 2 * kSecond + Duration(hours(24)).count());
  EXPECT_EQ(d_.rate_limited_since, kNow);  // the streak continues
  // Success after 429s delivers and ends the streak.
  Step(Code(200), kNow + 3 * kSecond);
  EXPECT_EQ(d_.status, DeliveryStatus::kDelivered);
  EXPECT_EQ(d_.rate_limited_since, 0);
}

// The endpoint-wide pause (a 429 without Retry-After backs the endpoint
// off) bounds a rate-limited delivery's next attempt from below.
TEST_F(DeliveryMachineTest, RateLimitedIsNotDueBeforeTheEndpointPauseEnds) {
  policy_.schedule = {Duration(0), seconds(1), seconds(1)};
  const Timestamp pause_end = kNow + 8 * kSecond;
  Decision dec =
      DecideAttempt(d_, Code(429), kNow, kNow, policy_, &jitter_, pause_end);
  for (const Event& e : dec.events) ApplyToDelivery(e, &d_);
  EXPECT_EQ(d_.status, DeliveryStatus::kRateLimited);
  EXPECT_EQ(d_.next_attempt_at, pause_end);
  // A pause already over changes nothing.
  dec = DecideAttempt(d_, Code(429), kNow + 10 * kSecond, kNow + 10 * kSecond,
                      policy_, &jitter_, pause_end);
  for (const Event& e : dec.events) ApplyToDelivery(e, &d_);
  EXPECT_EQ(d_.next_attempt_at, kNow + 11 * kSecond);
  // Nor does it hold back a success.
  dec = DecideAttempt(d_, Code(200), kNow, kNow, policy_, &jitter_,
                      kNow + Duration(hours(1)).count());
  for (const Event& e : dec.events) ApplyToDelivery(e, &d_);
  EXPECT_EQ(d_.status, DeliveryStatus::kDelivered);
}

TEST_F(DeliveryMachineTest, RateLimitBudgetDeadLetters) {
  Step(Code(429, 3600), kNow);
  Step(Code(429, 3600), kNow + Duration(hours(23)).count());
  EXPECT_EQ(d_.status, DeliveryStatus::kRateLimited);
  Step(Code(429, 3600), kNow + Duration(hours(24)).count());
  EXPECT_EQ(d_.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(d_.dead_letter_reason, DeadLetterReason::kRateLimitBudget);
}

TEST_F(DeliveryMachineTest, RetryAfterHonouredOn503) {
  Step(Code(503, 120), kNow);
  EXPECT_EQ(d_.status, DeliveryStatus::kFailed);
  EXPECT_EQ(d_.next_attempt_at, kNow + 120 * kSecond);
  // Without Retry-After, the schedule.
  Step(Code(502), kNow);
  EXPECT_EQ(d_.next_attempt_at, kNow + Duration(minutes(5)).count());
  // A 500's Retry-After is not honoured.
  Step(Code(500, 1), kNow);
  EXPECT_EQ(d_.next_attempt_at, kNow + Duration(minutes(30)).count());
}

TEST_F(DeliveryMachineTest, GoneDeadLettersAndDisablesEndpoint) {
  Decision dec = Step(Code(410), kNow);
  EXPECT_TRUE(dec.disable_endpoint);
  EXPECT_EQ(d_.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(d_.dead_letter_reason, DeadLetterReason::kGone);
  EXPECT_EQ(d_.http_status_code, 410);
}

TEST_F(DeliveryMachineTest, ReplayOnlyFromDeadLetter) {
  auto r = DecideReplay(d_, DeliveryId::NewRandom(), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  Step(Code(410), kNow);
  DeliveryId new_id = DeliveryId::NewRandom();
  auto replay = DecideReplay(d_, new_id, kNow + 1);
  ASSERT_TRUE(replay.ok());
  Delivery fresh;
  ApplyToDelivery(*replay, &fresh);
  EXPECT_EQ(fresh.id, new_id);
  EXPECT_EQ(fresh.status, DeliveryStatus::kPending);
  EXPECT_EQ(fresh.replay_of, d_.id);
  EXPECT_EQ(fresh.message_id, d_.message_id);
  EXPECT_EQ(fresh.attempts, 0u);
}

TEST_F(DeliveryMachineTest, EndpointDeletedDeadLetters) {
  ApplyToDelivery(DecideEndpointDeleted(d_, kNow), &d_);
  EXPECT_EQ(d_.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(d_.dead_letter_reason, DeadLetterReason::kEndpointDeleted);
}

TEST(Jitter, DeterministicAndBounded) {
  Jitter a(7), b(7);
  for (int i = 0; i < 1000; ++i) {
    Duration x = a.Apply(seconds(100), 0.2);
    EXPECT_EQ(x, b.Apply(seconds(100), 0.2));
    EXPECT_GE(x, seconds(80));
    EXPECT_LE(x, seconds(120));
  }
  EXPECT_EQ(a.Apply(Duration(0), 0.2), Duration(0));
}

TEST(Transitions, Edges) {
  using S = DeliveryStatus;
  EXPECT_TRUE(IsAllowedTransition(S::kPending, S::kDelivered));
  EXPECT_TRUE(IsAllowedTransition(S::kFailed, S::kDeadLetter));
  EXPECT_TRUE(IsAllowedTransition(S::kRateLimited, S::kFailed));
  EXPECT_FALSE(IsAllowedTransition(S::kDelivered, S::kFailed));
  EXPECT_FALSE(IsAllowedTransition(S::kDeadLetter, S::kPending));
  EXPECT_FALSE(IsAllowedTransition(S::kFailed, S::kPending));
}

}  // namespace
}  // namespace hooklog
