// (c) Rebalancing: A, then B, then C join (16 partitions); the shares
// converge to 5 or 6 each with no partition unowned for longer than a TTL
// (sampled from /metrics); B stops gracefully and A and C take its
// partitions within a TTL; deliveries keep flowing all along.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/cluster/cluster_support.h"

namespace hooklog::cluster_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kEndpoints = 4;

class RebalanceTest : public ClusterFixture {};

// Samples the nodes' shares until `done` holds or `limit` passes; returns
// whether it held, and the longest stretch (ms) during which the shares
// added up to fewer than all partitions.
struct Sampling {
  bool converged = false;
  double longest_gap_ms = 0;
  std::vector<int> last;
};
Sampling Sample(const std::vector<const Node*>& nodes,
                const std::function<bool(const std::vector<int>&)>& done,
                std::chrono::milliseconds limit) {
  Sampling s;
  const auto deadline = Clock::now() + limit;
  std::optional<Clock::time_point> gap_since;
  while (Clock::now() < deadline) {
    s.last.clear();
    int sum = 0;
    for (const Node* n : nodes) {
      const int owned =
          static_cast<int>(n->Metric("hooklog_cluster_partitions_owned"));
      s.last.push_back(owned);
      sum += std::max(owned, 0);
    }
    const auto now = Clock::now();
    if (sum < static_cast<int>(kPartitions)) {
      if (!gap_since) gap_since = now;
      s.longest_gap_ms = std::max(
          s.longest_gap_ms,
          std::chrono::duration<double, std::milli>(now - *gap_since).count());
    } else {
      gap_since.reset();
    }
    if (done(s.last)) {
      s.converged = true;
      return s;
    }
    std::this_thread::sleep_for(50ms);
  }
  return s;
}

bool FairShares(const std::vector<int>& owned) {
  int sum = 0;
  for (int o : owned) {
    const int fair = static_cast<int>(kPartitions / owned.size());
    if (o < fair || o > fair + 1) return false;
    sum += o;
  }
  return sum == static_cast<int>(kPartitions);
}

std::string Show(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : "/") + std::to_string(x);
  return s;
}

TEST_F(RebalanceTest, SharesConvergeAndAGracefulStopHandsOver) {
  if (conninfo_.empty()) return;
  Node a = StartNode("node-a");
  ASSERT_NE(a.port, 0);
  ASSERT_NO_FATAL_FAILURE(CreateEndpoints(a, kEndpoints));
  Sampling s = Sample({&a}, FairShares, 20s);
  ASSERT_TRUE(s.converged) << Show(s.last);

  Shared shared;
  ASSERT_NO_FATAL_FAILURE(OpenAcks(&shared));
  std::atomic<uint16_t> port_a{a.port};
  std::vector<std::thread> producers;
  producers.emplace_back(reliability::ProduceTo, &shared, 3, 20.0, &port_a);
  JoinAll join_all{shared, producers};
  // Deliveries flow in every phase: the receiver's count grows.
  auto flowing = [&](const char* phase) {
    const size_t before = ledger_->Receipts().size();
    EXPECT_TRUE(
        WaitFor([&] { return ledger_->Receipts().size() >= before + 10; }, 20s))
        << "no deliveries " << phase;
  };
  flowing("with A alone");

  Node b = StartNode("node-b");
  ASSERT_NE(b.port, 0);
  s = Sample({&a, &b}, FairShares, 30s);
  ASSERT_TRUE(s.converged) << Show(s.last);
  const double gap_ab = s.longest_gap_ms;
  flowing("with A and B");

  Node c = StartNode("node-c");
  ASSERT_NE(c.port, 0);
  s = Sample({&a, &b, &c}, FairShares, 30s);
  ASSERT_TRUE(s.converged) << Show(s.last);
  const double gap_abc = s.longest_gap_ms;
  flowing("with A, B and C");

  // Graceful stop: B releases its leases on the way out.
  ASSERT_EQ(StopNode(&b), "");
  const auto b_gone = Clock::now();
  s = Sample(
      {&a, &c},
      [](const std::vector<int>& o) {
        return o[0] + o[1] == static_cast<int>(kPartitions);
      },
      30s);
  ASSERT_TRUE(s.converged) << Show(s.last);
  const double handover_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - b_gone).count();
  EXPECT_LE(handover_ms, static_cast<double>(kTtl.count()))
      << "B's partitions were taken " << handover_ms << " ms after it left";
  s = Sample({&a, &c}, FairShares, 30s);
  EXPECT_TRUE(s.converged) << Show(s.last);
  flowing("with A and C");

  // No partition unowned longer than a TTL while nodes joined. Samples are
  // taken one node after another, so a hand-over can look longer than it
  // was, never shorter.
  EXPECT_LE(gap_ab, static_cast<double>(kTtl.count())) << "A+B";
  EXPECT_LE(gap_abc, static_cast<double>(kTtl.count())) << "A+B+C";

  shared.stop = true;
  for (auto& th : producers) th.join();
  Client cl(a.port);
  uint64_t left = 0;
  ASSERT_TRUE(reliability::Drain(&cl, 60s, &left)) << left << " still open";
  auto rows = reliability::ListAll(&cl);
  ASSERT_TRUE(rows);
  const uint64_t duplicates = CheckOutcome(*rows, shared.next_n);
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    for (const std::string& u : shared.unexpected) ADD_FAILURE() << u;
  }
  ASSERT_EQ(StopNode(&a), "");
  ASSERT_EQ(StopNode(&c), "");
  EXPECT_EQ(Verify(), "");
  std::printf(
      "rebalance: published=%lld deliveries=%zu longest_unowned_ms: "
      "a+b=%.0f a+b+c=%.0f; b_handover_ms=%.0f duplicates=%llu\n",
      static_cast<long long>(shared.next_n.load()), rows->size(), gap_ab,
      gap_abc, handover_ms, static_cast<unsigned long long>(duplicates));
}

}  // namespace
}  // namespace hooklog::cluster_test
