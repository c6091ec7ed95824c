// (a) Take-over: two nodes share 16 partitions and both deliver; one is
// SIGKILLed and the other owns every partition within TTL + 2 s; every
// acknowledged event is delivered, signed, and duplicates stay within what
// could have been in flight at the kill.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "tests/cluster/cluster_support.h"

namespace hooklog::cluster_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Endpoints hash into partitions at random: with 12 of them the chance
// that one node owns none is 2 * 2^-12, so both nodes deliver.
constexpr int kEndpoints = 12;
// webhookd's default per-endpoint cap on attempts in flight.
constexpr uint64_t kMaxInFlightPerEndpoint = 32;

class TakeoverTest : public ClusterFixture {};

TEST_F(TakeoverTest, SurvivorTakesEveryPartitionAndDeliversEverything) {
  if (conninfo_.empty()) return;
  Node a = StartNode("node-a");
  ASSERT_NE(a.port, 0);
  Node b = StartNode("node-b");
  ASSERT_NE(b.port, 0);
  ASSERT_NO_FATAL_FAILURE(CreateEndpoints(a, kEndpoints));

  // Both hold a share, and together all of them.
  std::vector<int> owned;
  ASSERT_TRUE(WaitFor(
      [&] {
        owned = Owned({&a, &b});
        return owned[0] > 0 && owned[1] > 0 &&
               owned[0] + owned[1] == static_cast<int>(kPartitions);
      },
      20s))
      << "owned " << owned[0] << " + " << owned[1];

  // Publish through both nodes.
  Shared shared;
  ASSERT_NO_FATAL_FAILURE(OpenAcks(&shared));
  std::atomic<uint16_t> port_a{a.port}, port_b{b.port};
  std::vector<std::thread> producers;
  producers.emplace_back(reliability::ProduceTo, &shared, 1, 8.0, &port_a);
  producers.emplace_back(reliability::ProduceTo, &shared, 2, 8.0, &port_b);
  JoinAll join_all{shared, producers};

  // Both deliver: each node's own attempts succeed.
  ASSERT_TRUE(WaitFor(
      [&] {
        return a.Metric("hooklog_attempts_total{outcome=\"ok\"}") > 0 &&
               b.Metric("hooklog_attempts_total{outcome=\"ok\"}") > 0;
      },
      20s))
      << "a ok " << a.Metric("hooklog_attempts_total{outcome=\"ok\"}")
      << ", b ok " << b.Metric("hooklog_attempts_total{outcome=\"ok\"}");

  // Kill A; its producer moves to B, as a load balancer would.
  const double in_flight_a = a.Metric("hooklog_in_flight");
  port_a = 0;
  const auto killed_at = Clock::now();
  KillNode(&a);
  port_a = b.port;
  ASSERT_TRUE(WaitFor(
      [&] {
        return b.Metric("hooklog_cluster_partitions_owned") ==
               static_cast<double>(kPartitions);
      },
      kTtl + 2s))
      << "B owns " << b.Metric("hooklog_cluster_partitions_owned")
      << " partitions " << kTtl.count() << " ms + 2 s after the kill";
  const double takeover_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - killed_at)
          .count();
  EXPECT_EQ(b.Metric("hooklog_cluster_nodes"), 1);

  // More events, through B alone now.
  const int64_t before = shared.next_n;
  ASSERT_TRUE(WaitFor([&] { return shared.next_n >= before + 30; }, 30s));
  shared.stop = true;
  for (auto& th : producers) th.join();

  Client c(b.port);
  uint64_t left = 0;
  ASSERT_TRUE(reliability::Drain(&c, 60s, &left)) << left << " still open";
  auto rows = reliability::ListAll(&c);
  ASSERT_TRUE(rows);
  const uint64_t duplicates = CheckOutcome(*rows, shared.next_n);
  EXPECT_LE(duplicates, kEndpoints * kMaxInFlightPerEndpoint);
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    for (const std::string& u : shared.unexpected) ADD_FAILURE() << u;
  }
  ASSERT_EQ(StopNode(&b), "");
  EXPECT_EQ(Verify(), "");
  std::printf(
      "takeover: published=%lld acknowledged=%llu deliveries=%zu "
      "takeover_ms=%.0f (bound %lld) in_flight_at_kill=%.0f duplicates=%llu\n",
      static_cast<long long>(shared.next_n.load()),
      static_cast<unsigned long long>(shared.acknowledged), rows->size(),
      takeover_ms, static_cast<long long>((kTtl + 2s).count()), in_flight_a,
      static_cast<unsigned long long>(duplicates));
}

}  // namespace
}  // namespace hooklog::cluster_test
