// (e) The three-node crash loop: three webhookd nodes on one schema under
// publish load; again and again one of them, chosen at random, is SIGKILLed
// at a random moment and started again (with a new node id, as
// <hostname>-<pid> would be). The invariants are the single-node crash
// loop's (tests/reliability): every acknowledged publish delivered,
// nothing delivered that was not published, every signature valid, and
// hooklog-admin verify clean at the end.
//
// Environment (CI defaults in brackets):
//   HOOKLOG_CLUSTER_SEED    [random]  kill choices and timing derive from it
//   HOOKLOG_CLUSTER_CYCLES  [20]      kills
//   HOOKLOG_CLUSTER_RATE    [20]      events published per second (total)
// scripts/soak.sh --cluster runs it with many more cycles.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "tests/cluster/cluster_support.h"

namespace hooklog::cluster_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using reliability::EnvU64;

constexpr int kNodes = 3;
constexpr int kEndpoints = 2;
constexpr int kProducers = 2;
constexpr uint64_t kMaxInFlightPerEndpoint = 32;

class ClusterCrashLoop : public ClusterFixture {};

TEST_F(ClusterCrashLoop, ThreeNodesKilledAtRandomLoseNothing) {
  if (conninfo_.empty()) return;
  const uint64_t seed = EnvU64("HOOKLOG_CLUSTER_SEED", std::random_device{}());
  const uint64_t cycles = EnvU64("HOOKLOG_CLUSTER_CYCLES", 20);
  const double rate = static_cast<double>(
      std::max<uint64_t>(1, EnvU64("HOOKLOG_CLUSTER_RATE", 20)));
  std::printf(
      "cluster crash loop seed: %llu (HOOKLOG_CLUSTER_SEED=%llu to "
      "reproduce), cycles %llu\n",
      static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(cycles));
  std::fflush(stdout);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  const auto start = Clock::now();

  std::vector<Node> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(StartNode("node-" + std::to_string(i) + "-0"));
    ASSERT_NE(nodes.back().port, 0);
  }
  ASSERT_NO_FATAL_FAILURE(CreateEndpoints(nodes[0], kEndpoints));

  Shared shared;
  ASSERT_NO_FATAL_FAILURE(OpenAcks(&shared));
  // Producer i publishes through node target[i]; moved before a kill.
  std::atomic<uint16_t> ports[kProducers];
  int target[kProducers];
  std::vector<std::thread> producers;
  for (int i = 0; i < kProducers; ++i) {
    target[i] = i % kNodes;
    ports[i] = nodes[target[i]].port;
    producers.emplace_back(reliability::ProduceTo, &shared, rng(),
                           rate / kProducers, &ports[i]);
  }
  JoinAll join_all{shared, producers};

  // hooklog-admin verify runs at the end only, on the stopped cluster: on
  // a schema that live nodes append to it reads the last sequence and the
  // log outside one snapshot and can report a mismatch that is not there.
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) +
                 ", HOOKLOG_CLUSTER_SEED=" + std::to_string(seed));
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1500));
    const int victim = static_cast<int>(rng() % kNodes);
    for (int i = 0; i < kProducers; ++i) {
      if (target[i] != victim) continue;
      target[i] =
          (victim + 1 + static_cast<int>(rng() % (kNodes - 1))) % kNodes;
      ports[i] = nodes[target[i]].port;
    }
    KillNode(&nodes[victim]);
    // A new incarnation, as <hostname>-<pid> would be.
    nodes[victim] = StartNode("node-" + std::to_string(victim) + "-" +
                              std::to_string(cycle + 1));
    ASSERT_NE(nodes[victim].port, 0);
  }

  shared.stop = true;
  for (auto& th : producers) th.join();
  // Every partition owned again, then everything drains.
  std::vector<const Node*> live;
  for (const Node& n : nodes) live.push_back(&n);
  std::vector<int> owned;
  ASSERT_TRUE(WaitFor(
      [&] {
        owned = Owned(live);
        int sum = 0;
        for (int o : owned) sum += std::max(o, 0);
        return sum == static_cast<int>(kPartitions);
      },
      30s));
  Client c(nodes[0].port);
  uint64_t left = 0;
  ASSERT_TRUE(reliability::Drain(&c, 120s, &left)) << left << " still open";
  auto rows = reliability::ListAll(&c);
  ASSERT_TRUE(rows);
  const uint64_t duplicates = CheckOutcome(*rows, shared.next_n);
  // Each duplicate is a 2xx a kill kept from being recorded.
  EXPECT_LE(duplicates, cycles * kEndpoints * kMaxInFlightPerEndpoint);
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    for (const std::string& u : shared.unexpected) ADD_FAILURE() << u;
  }
  for (Node& n : nodes) ASSERT_EQ(StopNode(&n), "");
  EXPECT_EQ(Verify(), "");
  std::printf(
      "cluster crash loop summary: cycles=%llu seed=%llu published=%lld "
      "acknowledged=%llu publish_retries=%llu deliveries=%zu "
      "requests=%zu duplicates=%llu wall=%.1fs\n",
      static_cast<unsigned long long>(cycles),
      static_cast<unsigned long long>(seed),
      static_cast<long long>(shared.next_n.load()),
      static_cast<unsigned long long>(shared.acknowledged),
      static_cast<unsigned long long>(shared.publish_retries.load()),
      rows->size(), ledger_->Receipts().size(),
      static_cast<unsigned long long>(duplicates),
      std::chrono::duration<double>(Clock::now() - start).count());
  std::fflush(stdout);
}

}  // namespace
}  // namespace hooklog::cluster_test
