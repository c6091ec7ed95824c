// webhookd's cluster settings on a real process: the start line names the
// node and its lease settings, /healthz and /metrics show the node, bad
// values exit 2 naming the flag before anything is opened, and a node with
// another partition count than the cluster's is refused.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "tests/cluster/cluster_support.h"
#include "tests/postgres/test_server.h"

namespace hooklog::cluster_test {
namespace {

using namespace std::chrono_literals;

class ClusterFlagsTest : public ClusterFixture {
 protected:
  bool SchemaExists() {
    return hooklog::testing::PostgresAdmin().Exec(
               "SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema_ +
               "'") == "1";
  }
};

TEST_F(ClusterFlagsTest, StartLineHealthAndMetricsNameTheNode) {
  if (conninfo_.empty()) return;
  Node a = StartNode("node-a", {"--log-level", "info"});
  ASSERT_NE(a.port, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return a.Metric("hooklog_cluster_partitions_owned") == kPartitions;
      },
      20s));
  Response h = a.Health();
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, R"({"status":"ok","storage":"reachable",)"
                    R"("node_id":"node-a","partitions_owned":16})");
  auto m = a.Metrics();
  EXPECT_EQ(m["hooklog_node_info{node_id=\"node-a\"}"], 1);
  EXPECT_EQ(m["hooklog_cluster_partitions"], kPartitions);
  EXPECT_EQ(m["hooklog_cluster_nodes"], 1);
  EXPECT_EQ(m["hooklog_storage_reachable"], 1);
  EXPECT_GE(m["hooklog_lease_syncs_total"], 1);
  EXPECT_EQ(m["hooklog_leases_acquired_total"], kPartitions);
  ASSERT_EQ(StopNode(&a), "");
  EXPECT_NE(a.child->Stderr().find(
                "msg=cluster node_id=node-a partitions=16 lease_ttl=1s"),
            std::string::npos)
      << a.child->Stderr();
}

TEST_F(ClusterFlagsTest, BadValuesExit2NamingTheFlagAndOpenNothing) {
  if (conninfo_.empty()) return;
  struct Case {
    std::vector<std::string> args;
    std::string error_part;
  };
  const std::vector<Case> cases = {
      {{"--partitions", "0"}, "--partitions: expected a number"},
      {{"--partitions", "5000"}, "--partitions: expected a number"},
      {{"--lease-ttl", "100ms"}, "--lease-ttl: expected a duration of at"},
      {{"--node-id", "a/b"}, "--node-id: a node id may hold only"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {
        WEBHOOKD_BINARY,    "--listen", "127.0.0.1:0", "--storage",      uri_,
        "--storage-schema", schema_,    "--api-key",   reliability::kKey};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Child w(argv);
    EXPECT_EQ(w.Wait(60s), 2) << c.args[0];
    EXPECT_NE(w.Stderr().find(c.error_part), std::string::npos) << w.Stderr();
  }
  // Without --storage: one node, refused the same way.
  TempDir dir;
  Child w({WEBHOOKD_BINARY, "--listen", "127.0.0.1:0", "--data-dir",
           dir.path() + "/data", "--api-key", reliability::kKey, "--node-id",
           "a"});
  EXPECT_EQ(w.Wait(60s), 2);
  EXPECT_NE(w.Stderr().find("--node-id needs --storage"), std::string::npos)
      << w.Stderr();
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));
  // Nothing was opened: the schema was never created.
  EXPECT_FALSE(SchemaExists());
}

TEST_F(ClusterFlagsTest, ANodeWithAnotherPartitionCountIsRefused) {
  if (conninfo_.empty()) return;
  Node a = StartNode("node-a");
  ASSERT_NE(a.port, 0);
  ASSERT_TRUE(
      WaitFor([&] { return a.Metric("hooklog_lease_syncs_total") >= 1; }, 20s));
  std::vector<std::string> argv = {WEBHOOKD_BINARY,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--storage",
                                   uri_,
                                   "--storage-schema",
                                   schema_,
                                   "--api-key",
                                   reliability::kKey,
                                   "--node-id",
                                   "node-b",
                                   "--partitions",
                                   "8"};
  Child b(argv);
  auto line = b.ReadLine(30s);
  auto code = b.Wait(30s);
  if (!code) {
    b.Signal(SIGKILL);
    b.Wait(30s);
  }
  EXPECT_FALSE(line.has_value() && line->starts_with("webhookd listening on"))
      << "a node with 8 partitions joined a cluster of 16";
  EXPECT_EQ(code.value_or(-1), 1) << b.Stderr();
  EXPECT_NE(b.Stderr().find("partition"), std::string::npos) << b.Stderr();
  // A is not disturbed.
  EXPECT_EQ(a.Metric("hooklog_cluster_partitions_owned"), kPartitions);
  ASSERT_EQ(StopNode(&a), "");
}

}  // namespace
}  // namespace hooklog::cluster_test
