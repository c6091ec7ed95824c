// (b) Fencing: node A owns every partition with attempts in flight (the
// receiver holds its answers), is SIGSTOPped past its lease TTL, and B takes
// over. When A resumes, nothing it tries to record may land: A counts lost
// leases (and fenced appends), drops the partitions, the log verifies, and
// every attempt in the log started after the take-over. Then the two
// rebalance to 8/8.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "hooklog/clock.h"
#include "tests/cluster/cluster_support.h"

namespace hooklog::cluster_test {
namespace {

using namespace std::chrono_literals;

constexpr int kInFlight = 3;
// Long enough that A's answers arrive while it is stopped, short enough
// for B's own attempts to finish soon.
constexpr auto kReplyDelay = 1500ms;

class FencingTest : public ClusterFixture {};

TEST_F(FencingTest, AStoppedPastItsTtlRecordsNothingOverB) {
  if (conninfo_.empty()) return;
  Node a = StartNode("node-a");
  ASSERT_NE(a.port, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return a.Metric("hooklog_cluster_partitions_owned") == kPartitions;
      },
      20s));
  ASSERT_NO_FATAL_FAILURE(CreateEndpoints(a, 1));
  // Every answer on /e0 is delayed (and recorded by the ledger).
  rx_->SetScript("/e0",
                 [l = ledger_.get()](const receiver::RecordedRequest& r) {
                   Reply reply = l->Decide(r);
                   reply.delay = kReplyDelay;
                   return reply;
                 });

  Client ca(a.port);
  std::vector<std::string> deliveries;
  for (int i = 0; i < kInFlight; ++i) {
    Response r = ca.Call(
        http::verb::post, reliability::kBase + "events/",
        R"({"type":"fence.test","data":{"n":)" + std::to_string(i) + "}}");
    ASSERT_EQ(r.status, 202) << r.body;
    webhookd_test::Json j(r.body);
    simdjson::dom::array ids;
    ASSERT_FALSE(j["deliveries"].get_array().get(ids));
    for (auto id : ids) {
      std::string_view s;
      ASSERT_FALSE(id.get_string().get(s));
      deliveries.emplace_back(s);
    }
  }
  ASSERT_EQ(deliveries.size(), static_cast<size_t>(kInFlight));
  // A's attempts have reached the receiver, whose answers are held back.
  ASSERT_TRUE(WaitFor(
      [&] { return ledger_->Receipts().size() >= size_t{kInFlight}; }, 20s));

  a.child->Signal(SIGSTOP);
  const Timestamp stopped_at = SystemClock()->Now();
  // Whole seconds, as the API shows attempt times.
  const Timestamp stopped_second = *ParseIso8601(FormatIso8601(stopped_at));
  // Past A's TTL before B even starts, so that every attempt B makes
  // starts in a later second than any of A's.
  std::this_thread::sleep_for(kTtl + 200ms);
  Node b = StartNode("node-b");
  ASSERT_NE(b.port, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return b.Metric("hooklog_cluster_partitions_owned") == kPartitions;
      },
      kTtl * 5 + 5s))
      << "B owns " << b.Metric("hooklog_cluster_partitions_owned");

  a.child->Signal(SIGCONT);
  // A finds out it lost its leases and gives every partition up.
  ASSERT_TRUE(
      WaitFor([&] { return a.Metric("hooklog_leases_lost_total") >= 1; }, 20s))
      << "leases_lost " << a.Metric("hooklog_leases_lost_total");
  const double lost = a.Metric("hooklog_leases_lost_total");
  const double fenced = a.Metric("hooklog_fenced_appends_total");

  // B delivers them.
  Client cb(b.port);
  for (const std::string& id : deliveries) {
    ASSERT_TRUE(WaitFor(
        [&] {
          Response r = cb.Call(http::verb::get,
                               reliability::kBase + "deliveries/" + id + "/");
          return r.status == 200 &&
                 r.body.find("\"status\":\"delivered\"") != std::string::npos;
        },
        30s))
        << id;
  }
  // Then the two share the partitions again.
  std::vector<int> owned;
  ASSERT_TRUE(WaitFor(
      [&] {
        owned = Owned({&a, &b});
        return owned[0] == 8 && owned[1] == 8;
      },
      30s))
      << "owned " << owned[0] << " / " << owned[1];

  // Nothing A attempted before the stop is in the log: every recorded
  // attempt started after the stop (B's), and the receiver saw more
  // requests than the log records (A's answered attempts are not there).
  size_t recorded = 0;
  for (const std::string& id : deliveries) {
    Response r =
        cb.Call(http::verb::get, reliability::kBase + "deliveries/" + id + "/");
    ASSERT_EQ(r.status, 200) << r.body;
    webhookd_test::Json j(r.body);
    simdjson::dom::array log;
    ASSERT_FALSE(j["attempts_log"].get_array().get(log));
    for (auto entry : log) {
      ++recorded;
      std::string_view at;
      ASSERT_FALSE(entry["at"].get_string().get(at));
      auto t = ParseIso8601(at);
      ASSERT_TRUE(t.ok()) << at;
      EXPECT_GT(*t, stopped_second)
          << "delivery " << id << " has an attempt at " << at
          << ", before A was stopped (" << FormatIso8601(stopped_at)
          << "): A recorded it";
    }
  }
  const size_t received = ledger_->Receipts().size();
  EXPECT_GE(received, recorded + kInFlight)
      << "the receiver saw " << received << " requests, the log records "
      << recorded << ": A's " << kInFlight << " must be missing";
  for (const Receipt& r : ledger_->Receipts()) EXPECT_TRUE(r.signature_ok);

  ASSERT_EQ(StopNode(&a), "");
  ASSERT_EQ(StopNode(&b), "");
  EXPECT_EQ(Verify(), "");
  std::printf(
      "fencing: a_leases_lost=%.0f a_fenced_appends=%.0f requests=%zu "
      "recorded_attempts=%zu\n",
      lost, fenced, received, recorded);
}

}  // namespace
}  // namespace hooklog::cluster_test
