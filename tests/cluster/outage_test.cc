// (d) Database outage: two nodes deliver under load; PostgreSQL stops
// (pg_ctl stop -m fast); meanwhile writes answer 503 "nothing was changed"
// and /healthz says the store is unreachable (503); PostgreSQL starts again
// and the nodes recover without a restart; everything acknowledged is
// delivered.
//
// The outage must not hit the other PostgreSQL tests running beside this
// one (ctest -j), so the test runs a server of its own
// (scripts/postgres.sh start/halt/restart/stop).
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "tests/cluster/cluster_support.h"
#include "tests/postgres/test_server.h"

namespace hooklog::cluster_test {
namespace {

using namespace std::chrono_literals;

constexpr int kEndpoints = 3;

// Runs scripts/postgres.sh with `args`; its stdout, or nullopt (and a test
// failure) when it exits non-zero.
std::optional<std::string> PostgresScript(std::vector<std::string> args) {
  args.insert(args.begin(), {"/bin/bash", HOOKLOG_POSTGRES_SCRIPT});
  Child script(args);
  // The server it starts inherits the script's stdout (the pipe stays open
  // in it), so wait for the exit, then take what is in the pipe.
  auto code = script.Wait(180s);
  std::string out = script.ReadRest(500ms);
  if (code != 0) {
    ADD_FAILURE() << "postgres.sh " << args[2] << " exit " << code.value_or(-1)
                  << ":\n"
                  << script.Stderr();
    return std::nullopt;
  }
  return out;
}

class OutageTest : public ClusterFixture {
 protected:
  std::string ServerConnInfo() override {
    hooklog::testing::RequirePostgres();  // no server at all: skip like all
    if (hooklog::testing::PostgresConnInfo().empty()) return "";
    auto out = PostgresScript({"start"});
    if (!out) return "";
    std::smatch m;
    static const std::regex dir_re(R"(export HOOKLOG_PG_DIR='([^']*)')");
    static const std::regex conn_re(
        R"(export HOOKLOG_TEST_POSTGRES='([^']*)')");
    if (!std::regex_search(*out, m, dir_re)) {
      ADD_FAILURE() << *out;
      return "";
    }
    pg_dir_ = m[1];
    if (!std::regex_search(*out, m, conn_re)) {
      ADD_FAILURE() << *out;
      return "";
    }
    return m[1];
  }
  void TearDown() override {
    ClusterFixture::TearDown();
    if (!pg_dir_.empty()) PostgresScript({"stop", pg_dir_});
  }

  std::string pg_dir_;
};

bool Unreachable(const Node& n) {
  Response r = n.Health();
  return r.status == 503 &&
         r.body.find("\"storage\":\"unreachable\"") != std::string::npos;
}
bool Reachable(const Node& n) {
  Response r = n.Health();
  return r.status == 200 &&
         r.body.find("\"storage\":\"reachable\"") != std::string::npos;
}

TEST_F(OutageTest, NodesRefuseWritesDuringItAndRecoverWithoutRestart) {
  if (conninfo_.empty()) return;
  ASSERT_FALSE(pg_dir_.empty());
  Node a = StartNode("node-a");
  ASSERT_NE(a.port, 0);
  Node b = StartNode("node-b");
  ASSERT_NE(b.port, 0);
  ASSERT_NO_FATAL_FAILURE(CreateEndpoints(a, kEndpoints));
  EXPECT_TRUE(Reachable(a));
  EXPECT_TRUE(Reachable(b));

  Shared shared;
  ASSERT_NO_FATAL_FAILURE(OpenAcks(&shared));
  std::atomic<uint16_t> port_a{a.port}, port_b{b.port};
  std::vector<std::thread> producers;
  producers.emplace_back(reliability::ProduceTo, &shared, 5, 10.0, &port_a);
  producers.emplace_back(reliability::ProduceTo, &shared, 6, 10.0, &port_b);
  JoinAll join_all{shared, producers};
  ASSERT_TRUE(WaitFor([&] { return ledger_->Receipts().size() >= 20; }, 20s));

  // The outage.
  ASSERT_TRUE(PostgresScript({"halt", pg_dir_}));
  ASSERT_TRUE(WaitFor([&] { return Unreachable(a) && Unreachable(b); }, 20s))
      << "a: " << a.Health().body << " b: " << b.Health().body;
  EXPECT_EQ(a.Metric("hooklog_storage_reachable"), 0);
  // A write is refused and changes nothing; the producers keep retrying.
  Client ca(a.port);
  const std::string patch_target =
      reliability::kBase + "endpoints/" + endpoint_ids_[0] + "/";
  const auto patch_start = std::chrono::steady_clock::now();
  Response refused = ca.Call(http::verb::patch, patch_target,
                             R"({"description":"during the outage"})", 30s);
  const double patch_ms = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - patch_start)
                              .count();
  EXPECT_EQ(refused.status, 503)
      << refused.body << " (answered after " << patch_ms
      << " ms); node A's log:\n"
      << a.child->Stderr().substr(a.child->Stderr().size() > 4000
                                      ? a.child->Stderr().size() - 4000
                                      : 0);
  EXPECT_NE(refused.body.find("nothing was changed"), std::string::npos)
      << refused.body;
  const int64_t acked_during = [&] {
    std::lock_guard<std::mutex> lock(shared.mu);
    return static_cast<int64_t>(shared.acknowledged);
  }();
  std::this_thread::sleep_for(2 * kTtl);

  // Back: both nodes recover on their own.
  ASSERT_TRUE(PostgresScript({"restart", pg_dir_}));
  ASSERT_TRUE(WaitFor([&] { return Reachable(a) && Reachable(b); }, 60s))
      << "a: " << a.Health().body << " b: " << b.Health().body;
  std::vector<int> owned;
  ASSERT_TRUE(WaitFor(
      [&] {
        owned = Owned({&a, &b});
        return owned[0] + owned[1] == static_cast<int>(kPartitions);
      },
      30s))
      << owned[0] << " + " << owned[1];
  const int64_t n_back = shared.next_n;
  ASSERT_TRUE(WaitFor([&] { return shared.next_n >= n_back + 20; }, 60s));
  shared.stop = true;
  for (auto& th : producers) th.join();
  // The refused write really changed nothing.
  Response ep = ca.CallRetrying(http::verb::get, patch_target);
  ASSERT_EQ(ep.status, 200) << ep.body;
  EXPECT_EQ(ep.body.find("during the outage"), std::string::npos) << ep.body;

  Client cb(b.port);
  uint64_t left = 0;
  ASSERT_TRUE(reliability::Drain(&cb, 60s, &left)) << left << " still open";
  auto rows = reliability::ListAll(&cb);
  ASSERT_TRUE(rows);
  const uint64_t duplicates = CheckOutcome(*rows, shared.next_n);
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    for (const std::string& u : shared.unexpected) ADD_FAILURE() << u;
  }
  const double sync_failures_a = a.Metric("hooklog_lease_sync_failures_total");
  ASSERT_EQ(StopNode(&a), "");
  ASSERT_EQ(StopNode(&b), "");
  EXPECT_EQ(Verify(), "");
  std::printf(
      "outage: published=%lld acknowledged_before_outage=%lld "
      "deliveries=%zu publish_retries=%llu a_lease_sync_failures=%.0f "
      "refused_write_ms=%.0f duplicates=%llu\n",
      static_cast<long long>(shared.next_n.load()),
      static_cast<long long>(acked_during), rows->size(),
      static_cast<unsigned long long>(shared.publish_retries.load()),
      sync_failures_a, patch_ms, static_cast<unsigned long long>(duplicates));
}

}  // namespace
}  // namespace hooklog::cluster_test
