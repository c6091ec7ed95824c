// The per-minute outcome series: what attempts and dead-letterings add
// (StatsCounts rules), minute bucketing, GetStats' validation and sums.
#include <gtest/gtest.h>

#include "engine/stats.h"
#include "tests/engine/portal_fixture.h"

namespace hooklog::testing {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

constexpr Timestamp kMinute = kStatsMinute;

class EngineStatsTest : public PortalEngineTest {
 protected:
  void SetUp() override {
    options_.retry.schedule = {Duration(0), seconds(30)};  // 2 attempts
    SetScript([](const AttemptRequest& r) -> std::optional<AttemptResult> {
      if (r.url.ends_with("/ok")) return ScriptedTransport::Http(200);
      if (r.url.ends_with("/slow")) {
        AttemptResult a = ScriptedTransport::Http(204);
        a.latency = std::chrono::milliseconds(1500);
        return a;
      }
      if (r.url.ends_with("/limited")) return ScriptedTransport::Http(429);
      return ScriptedTransport::Http(500);
    });
    Open();
  }

  Result<StatsSeries> Stats(Timestamp from, Timestamp to, Duration bucket,
                            std::vector<EndpointId> ids = {},
                            bool exact = false) {
    StatsRequest r;
    r.from = from;
    r.to = to;
    r.bucket = bucket;
    r.endpoint_ids = std::move(ids);
    r.endpoint_ids_exact = exact;
    return Sync<StatsSeries>(
        [&](auto cb) { engine_->GetStats(std::move(r), cb); });
  }

  StatsCounts Minute(std::optional<EndpointId> series, Timestamp minute) {
    auto got = storage_->ReadStats({series, minute, minute + kMinute});
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->empty()) return StatsCounts{};
    return (*got)[0].counts;
  }
};

StatsCounts Expect(uint64_t delivered, uint64_t failed, uint64_t rate_limited,
                   uint64_t dead_letter, uint64_t attempts) {
  StatsCounts c;
  c.delivered = delivered;
  c.failed = failed;
  c.rate_limited = rate_limited;
  c.dead_letter = dead_letter;
  c.attempts = attempts;
  return c;
}

// Only the outcome counts (latency is checked on its own).
StatsCounts Outcomes(StatsCounts c) {
  c.latency_sum_ms = 0;
  for (uint64_t& l : c.latency) l = 0;
  return c;
}

TEST_F(EngineStatsTest, CountsEveryOutcomePerEndpointAndMinute) {
  Endpoint ok = MakeEndpoint("ok");
  Endpoint bad = MakeEndpoint("bad");
  // Minute 0: three publishes; ok delivers, bad fails its first attempt.
  std::vector<DeliveryId> bad_ids;
  for (int i = 0; i < 3; ++i) {
    PublishResult p = Publish();
    for (const DeliveryId& id : p.deliveries) {
      if (Get(id).endpoint_id == bad.id) bad_ids.push_back(id);
    }
  }
  ASSERT_EQ(bad_ids.size(), 3u);
  for (const DeliveryId& id : bad_ids) {
    ASSERT_TRUE(WaitForStatus(id, DeliveryStatus::kFailed, 1));
  }
  ASSERT_TRUE(Eventually([&] { return Minute(ok.id, kStart).delivered == 3; }));
  EXPECT_EQ(Outcomes(Minute(ok.id, kStart)), Expect(3, 0, 0, 0, 3));
  EXPECT_EQ(Outcomes(Minute(bad.id, kStart)), Expect(0, 3, 0, 0, 3));
  EXPECT_EQ(Outcomes(Minute(std::nullopt, kStart)), Expect(3, 3, 0, 0, 6));
  // Latency: 3 ms each, in the "<= 5 ms" bucket.
  StatsCounts okc = Minute(ok.id, kStart);
  EXPECT_EQ(okc.latency_sum_ms, 9u);
  EXPECT_EQ(okc.latency[2], 3u);

  // Minute 1: the retries fail for good (the attempt that dead-letters
  // counts as dead_letter, not failed).
  clock_->Advance(seconds(61));
  for (const DeliveryId& id : bad_ids) {
    ASSERT_TRUE(WaitForStatus(id, DeliveryStatus::kDeadLetter, 2));
  }
  const Timestamp m1 = kStart + kMinute;
  ASSERT_TRUE(Eventually([&] { return Minute(bad.id, m1).dead_letter == 3; }));
  EXPECT_EQ(Outcomes(Minute(bad.id, m1)), Expect(0, 0, 0, 3, 3));

  // Still minute 1: a 429, a slow 2xx, one more failure; then deleting
  // `bad` dead-letters its waiting delivery without an attempt.
  Endpoint limited = MakeEndpoint("limited");
  Endpoint slow = MakeEndpoint("slow");
  PublishResult p = Publish();
  DeliveryId bad_last, limited_id, slow_id;
  for (const DeliveryId& id : p.deliveries) {
    const EndpointId e = Get(id).endpoint_id;
    if (e == bad.id) bad_last = id;
    if (e == limited.id) limited_id = id;
    if (e == slow.id) slow_id = id;
  }
  ASSERT_TRUE(WaitForStatus(bad_last, DeliveryStatus::kFailed, 1));
  ASSERT_TRUE(WaitForStatus(limited_id, DeliveryStatus::kRateLimited, 1));
  ASSERT_TRUE(WaitForStatus(slow_id, DeliveryStatus::kDelivered, 1));
  ASSERT_TRUE(engine_->DeleteEndpoint(bad.id).get().ok());
  ASSERT_TRUE(WaitForStatus(bad_last, DeliveryStatus::kDeadLetter));
  ASSERT_TRUE(Eventually([&] { return Minute(bad.id, m1).dead_letter == 4; }));
  EXPECT_EQ(Outcomes(Minute(bad.id, m1)), Expect(0, 1, 0, 4, 4));
  EXPECT_EQ(Outcomes(Minute(limited.id, m1)), Expect(0, 0, 1, 0, 1));
  EXPECT_EQ(Outcomes(Minute(slow.id, m1)), Expect(1, 0, 0, 0, 1));
  ASSERT_TRUE(Eventually([&] { return Minute(ok.id, m1).delivered == 1; }));
  EXPECT_EQ(Outcomes(Minute(std::nullopt, m1)), Expect(2, 1, 1, 4, 7));
  StatsCounts slowc = Minute(slow.id, m1);
  EXPECT_EQ(slowc.latency_sum_ms, 1500u);
  EXPECT_EQ(slowc.latency[10], 1u);  // (1000, 2000]

  // GetStats: one point per minute, zeros included, summed as asked.
  auto s = Stats(kStart, kStart + 3 * kMinute, minutes(1));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->points.size(), 3u);
  EXPECT_EQ(s->points[0].start, kStart);
  EXPECT_EQ(Outcomes(s->points[0].counts), Expect(3, 3, 0, 0, 6));
  EXPECT_EQ(Outcomes(s->points[1].counts), Expect(2, 1, 1, 4, 7));
  EXPECT_TRUE(s->points[2].counts.empty());
  EXPECT_EQ(Outcomes(s->total), Expect(5, 4, 1, 4, 13));
  // Two endpoints summed, in a 5-minute bucket starting mid-bucket.
  s = Stats(kStart + 30 * kSecond, kStart + 10 * kMinute, minutes(5),
            {ok.id, limited.id, ok.id});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->from, kStart);  // rounded down to the bucket
  ASSERT_EQ(s->points.size(), 2u);
  EXPECT_EQ(Outcomes(s->points[0].counts), Expect(4, 0, 1, 0, 5));
  EXPECT_TRUE(s->points[1].counts.empty());
  EXPECT_EQ(s->total, s->points[0].counts);
  auto p50 = s->total.LatencyQuantileMs(0.5);
  ASSERT_TRUE(p50.has_value());
  EXPECT_GT(*p50, 2.0);
  EXPECT_LE(*p50, 5.0);
  // An exact empty set (a tenant without endpoints): every point zero.
  s = Stats(kStart, kStart + 2 * kMinute, minutes(1), {}, /*exact=*/true);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->points.size(), 2u);
  EXPECT_TRUE(s->total.empty());
  // An endpoint without any attempt: zeros, not an error.
  s = Stats(kStart, kStart + 2 * kMinute, minutes(1),
            {EndpointId::NewRandom()});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->total.empty());
}

TEST_F(EngineStatsTest, SurvivesARestart) {
  Endpoint ok = MakeEndpoint("ok");
  PublishResult p = Publish();
  ASSERT_TRUE(WaitForStatus(p.deliveries[0], DeliveryStatus::kDelivered));
  ASSERT_TRUE(Eventually([&] { return Minute(ok.id, kStart).delivered == 1; }));
  Open();  // the same memory store
  auto s = Stats(kStart, kStart + kMinute, minutes(1), {ok.id});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Outcomes(s->total), Expect(1, 0, 0, 0, 1));
}

TEST_F(EngineStatsTest, BadRequestsNameTheField) {
  auto field = [&](Timestamp from, Timestamp to, Duration bucket,
                   size_t ids = 0) {
    std::vector<EndpointId> v(ids, EndpointId::NewRandom());
    auto r = Stats(from, to, bucket, v);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument)
        << r.status().ToString();
    return r.status().field();
  };
  EXPECT_EQ(field(kStart, kStart, minutes(1)), "from");
  EXPECT_EQ(field(kStart + kMinute, kStart, minutes(1)), "from");
  EXPECT_EQ(field(kStart, kStart + kMinute, seconds(90)), "bucket");
  EXPECT_EQ(field(kStart, kStart + kMinute, Duration(0)), "bucket");
  EXPECT_EQ(field(kStart, kStart + kMinute, -minutes(1)), "bucket");
  // A week of minutes is the most; a minute more is refused.
  auto week = Stats(kStart, kStart + 10080 * kMinute, minutes(1));
  EXPECT_TRUE(week.ok()) << week.status().ToString();
  EXPECT_EQ(week->points.size(), 10080u);
  EXPECT_EQ(field(kStart, kStart + 10081 * kMinute, minutes(1)), "bucket");
  EXPECT_EQ(field(kStart, kStart + kMinute, minutes(1), 1001), "endpoint_id");
}

TEST(StatsUnitTest, CompactSumsEqualBucketsKeepingOrder) {
  const EndpointId a = EndpointId::NewRandom(), b = EndpointId::NewRandom();
  WriteBatch w;
  StatsCounts one;
  one.attempts = 1;
  for (int i = 0; i < 1000; ++i) {
    AddStats(&w, i % 2 ? a : b, 7 * kMinute + i, one);
  }
  AddStats(&w, a, 8 * kMinute, one);
  CompactStats(&w.stats);
  ASSERT_EQ(w.stats.size(), 5u);  // b, all, a at minute 7; a, all at 8
  EXPECT_EQ(w.stats[0].endpoint_id, b);
  EXPECT_EQ(w.stats[0].counts.attempts, 500u);
  EXPECT_EQ(w.stats[1].endpoint_id, std::nullopt);
  EXPECT_EQ(w.stats[1].counts.attempts, 1000u);
  EXPECT_EQ(w.stats[2].endpoint_id, a);
  EXPECT_EQ(w.stats[2].minute, 7 * kMinute);
  EXPECT_EQ(w.stats[3].minute, 8 * kMinute);
  EXPECT_EQ(w.stats[3].endpoint_id, a);
  EXPECT_EQ(w.stats[4].endpoint_id, std::nullopt);
  EXPECT_EQ(w.stats[4].counts.attempts, 1u);
}

TEST(StatsUnitTest, AttemptOutcomesFollowTheRules) {
  Delivery after;
  after.status = DeliveryStatus::kFailed;
  AttemptResult r = ScriptedTransport::Error(ErrorClass::kTimeout);
  r.latency = std::chrono::microseconds(0);
  EXPECT_EQ(AttemptStats(r, after).failed, 1u);
  EXPECT_EQ(AttemptStats(r, after).latency[0], 1u);
  after.status = DeliveryStatus::kDeadLetter;  // this attempt ended it
  r = ScriptedTransport::Http(429);
  EXPECT_EQ(AttemptStats(r, after).dead_letter, 1u);
  EXPECT_EQ(AttemptStats(r, after).rate_limited, 0u);
  after.status = DeliveryStatus::kRateLimited;
  EXPECT_EQ(AttemptStats(r, after).rate_limited, 1u);
  r.latency = std::chrono::hours(1);  // past the last bound: the open bucket
  EXPECT_EQ(AttemptStats(r, after).latency[kStatsLatencyBuckets - 1], 1u);
  EXPECT_EQ(DeadLetterStats().attempts, 0u);
}

}  // namespace
}  // namespace hooklog::testing
