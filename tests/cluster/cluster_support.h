// What the multi-node tests share: webhookd nodes as real child processes
// on one PostgreSQL schema, their /metrics and /healthz, hooklog-admin
// verify on the schema, and the end-to-end check of what was acknowledged
// against what the receiver got.
//
// The server comes from HOOKLOG_TEST_POSTGRES (`eval "$(scripts/postgres.sh
// start)"`); without it the tests skip, or fail under CI=true
// (tests/postgres/test_server.h).
//
// Thread-safety: a ClusterFixture belongs to the test thread; Node::Metrics
// and Node::Health open a connection of their own per call and may be
// called from any thread.
#ifndef HOOKLOG_TESTS_CLUSTER_CLUSTER_SUPPORT_H_
#define HOOKLOG_TESTS_CLUSTER_CLUSTER_SUPPORT_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/reliability/crash_support.h"
#include "tests/webhookd/support.h"
#include "tools/receiver/receiver.h"

namespace hooklog::cluster_test {

using receiver::Reply;
using reliability::Ack;
using reliability::Client;
using reliability::JoinAll;
using reliability::Ledger;
using reliability::Receipt;
using reliability::Response;
using reliability::Row;
using reliability::Shared;
using webhookd_test::Child;
using webhookd_test::TempDir;
namespace http = boost::beast::http;

// Short leases keep the tests quick: renewals every ttl / 3.
inline constexpr std::chrono::milliseconds kTtl{1000};
inline constexpr char kTtlFlag[] = "1s";
inline constexpr uint32_t kPartitions = 16;
// Attempts are never refused by the receiver unless a test says so; the
// retries only cover attempts a kill or a fence cut short.
inline constexpr char kRetrySchedule[] = "0s,200ms,500ms,1s,2s,2s,2s,2s";

// libpq key=value conninfo ("host=/tmp/x port=5 dbname=d user=u") as the
// postgresql:// URI webhookd's --storage takes.
std::string ConnInfoToUri(const std::string& conninfo);

// One webhookd process.
struct Node {
  std::string id;
  std::unique_ptr<Child> child;
  uint16_t port = 0;  // 0: not listening (died, or not started)

  // The samples of /metrics ("name" or "name{labels}" -> value); empty
  // when the node does not answer.
  std::map<std::string, double> Metrics() const;
  // One sample; -1 when the node does not answer or lacks it.
  double Metric(const std::string& name) const;
  // GET /healthz: status and body (0 when it does not answer).
  Response Health() const;
};

// A fresh schema, a receiver and helpers to run nodes on the schema.
class ClusterFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  // The server's conninfo: HOOKLOG_TEST_POSTGRES's by default ("" skips).
  virtual std::string ServerConnInfo();
  void TearDown() override;

  // Starts a node and waits for its "listening" line; ADD_FAILURE and
  // port 0 when it does not come up.
  Node StartNode(const std::string& id,
                 const std::vector<std::string>& extra_args = {});
  // SIGTERM and wait; "" when it exits 0.
  static std::string StopNode(Node* n);
  static void KillNode(Node* n);  // SIGKILL and reap

  // Polls until `pred` holds (every 50 ms) or `limit` passes.
  static bool WaitFor(const std::function<bool()>& pred,
                      std::chrono::milliseconds limit);
  // Partitions owned per node, in order; -1 for a node that does not
  // answer.
  static std::vector<int> Owned(const std::vector<const Node*>& nodes);

  // Creates `count` endpoints through `via` (paths /e0, /e1, ...), each
  // with its secret at the receiver. Fails the test on an error.
  void CreateEndpoints(const Node& via, int count);

  // hooklog-admin verify on the schema: "" when the log is gapless and the
  // projections match it.
  std::string Verify() const;

  // Every acknowledged event delivered once at least to every endpoint
  // (a delivered row and a 2xx at the receiver), nothing received that was
  // not published, every signature valid; returns the duplicates (one
  // (event, endpoint) answered 2xx more than once).
  uint64_t CheckOutcome(const std::vector<Row>& rows, int64_t published);

  // Opens ack_path_ for the acknowledgements of `shared`'s producers.
  void OpenAcks(Shared* shared);

  std::string conninfo_;  // libpq conninfo of the server
  std::string uri_;       // the same as a postgresql:// URI
  std::string schema_;
  TempDir dir_;
  std::string ack_path_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<receiver::Receiver> rx_;
  std::map<std::string, std::string> path_of_;  // endpoint id -> path
  std::vector<std::string> endpoint_ids_;
};

}  // namespace hooklog::cluster_test

#endif  // HOOKLOG_TESTS_CLUSTER_CLUSTER_SUPPORT_H_
