#include "tests/cluster/cluster_support.h"

#include <fcntl.h>
#include <signal.h>

#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/postgres/test_server.h"

namespace hooklog::cluster_test {

using namespace std::chrono_literals;

std::string ConnInfoToUri(const std::string& conninfo) {
  std::istringstream in(conninfo);
  std::string pair, dbname = "postgres", query;
  while (in >> pair) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    if (key == "dbname") {
      dbname = value;
      continue;
    }
    query +=
        (query.empty() ? "?" : "&") + key + "=" + reliability::UrlEncode(value);
  }
  return "postgresql:///" + reliability::UrlEncode(dbname) + query;
}

std::map<std::string, double> Node::Metrics() const {
  std::map<std::string, double> out;
  if (port == 0) return out;
  Client c(port);
  Response r = c.Call(http::verb::get, "/metrics", "", 5s);
  if (r.status != 200) return out;
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

double Node::Metric(const std::string& name) const {
  auto m = Metrics();
  auto it = m.find(name);
  return it == m.end() ? -1 : it->second;
}

Response Node::Health() const {
  if (port == 0) return {};
  Client c(port);
  return c.Call(http::verb::get, "/healthz", "", 5s);
}

std::string ClusterFixture::ServerConnInfo() {
  testing::RequirePostgres();
  return testing::PostgresConnInfo();
}

void ClusterFixture::SetUp() {
  conninfo_ = ServerConnInfo();
  if (conninfo_.empty()) return;  // skipped, or failed under CI
  uri_ = ConnInfoToUri(conninfo_);
  schema_ = testing::NewSchema("hooklog_cluster_");
  ack_path_ = dir_.path() + "/acknowledged.log";
  ledger_ = std::make_unique<Ledger>(1);
  ledger_->Heal();  // every request answered 2xx unless a test scripts more
  receiver::Receiver::Options ropts;
  ropts.threads = 2;
  ropts.record = false;  // the ledger records
  rx_ = receiver::Receiver::Start(ropts);
  ASSERT_NE(rx_, nullptr);
  rx_->SetDefaultScript(
      [l = ledger_.get()](const receiver::RecordedRequest& r) {
        return l->Decide(r);
      });
}

void ClusterFixture::TearDown() {
  if (rx_) rx_->Stop();
  if (!schema_.empty() && conninfo_ == testing::PostgresConnInfo()) {
    testing::PostgresAdmin().Exec("DROP SCHEMA IF EXISTS \"" + schema_ +
                                  "\" CASCADE");
  }
}

Node ClusterFixture::StartNode(const std::string& id,
                               const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {WEBHOOKD_BINARY,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--storage",
                                   uri_,
                                   "--storage-schema",
                                   schema_,
                                   "--node-id",
                                   id,
                                   "--lease-ttl",
                                   kTtlFlag,
                                   "--partitions",
                                   std::to_string(kPartitions),
                                   "--api-key",
                                   reliability::kKey,
                                   "--allow-private-targets",
                                   "--retry-schedule",
                                   kRetrySchedule,
                                   "--log-level",
                                   "warn"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  Node n;
  n.id = id;
  n.child = std::make_unique<Child>(argv);
  auto line = n.child->ReadLine(120s);
  std::smatch m;
  static const std::regex re(
      R"(^webhookd listening on http://127\.0\.0\.1:(\d+)$)");
  if (line && std::regex_match(*line, m, re)) {
    n.port = static_cast<uint16_t>(std::stoi(m[1]));
  } else {
    ADD_FAILURE() << "node " << id << " did not start:\n" << n.child->Stderr();
  }
  return n;
}

std::string ClusterFixture::StopNode(Node* n) {
  n->child->Signal(SIGTERM);
  auto code = n->child->Wait(60s);
  n->port = 0;
  if (code == 0) return "";
  return "node " + n->id + " exit " + std::to_string(code.value_or(-1)) +
         " after SIGTERM:\n" + n->child->Stderr();
}

void ClusterFixture::KillNode(Node* n) {
  n->child->Signal(SIGKILL);
  n->child->Wait(60s);
  n->port = 0;
}

bool ClusterFixture::WaitFor(const std::function<bool()>& pred,
                             std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::vector<int> ClusterFixture::Owned(const std::vector<const Node*>& nodes) {
  std::vector<int> out;
  for (const Node* n : nodes) {
    out.push_back(
        static_cast<int>(n->Metric("hooklog_cluster_partitions_owned")));
  }
  return out;
}

void ClusterFixture::CreateEndpoints(const Node& via, int count) {
  Client c(via.port);
  for (int i = 0; i < count; ++i) {
    const std::string path = "/e" + std::to_string(i);
    Response r =
        c.CallRetrying(http::verb::post, reliability::kBase + "endpoints/",
                       R"({"url":")" + rx_->Url(path) + "\"}");
    ASSERT_EQ(r.status, 201) << r.body;
    webhookd_test::Json j(r.body);
    path_of_[j.Str("id")] = path;
    endpoint_ids_.push_back(j.Str("id"));
    rx_->SetSecrets(path, {j.Str("signing_secret")});
  }
}

std::string ClusterFixture::Verify() const {
  return reliability::AdminVerify({"--schema", schema_, uri_});
}

void ClusterFixture::OpenAcks(Shared* shared) {
  shared->ack_fd = open(ack_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(shared->ack_fd, 0);
}

uint64_t ClusterFixture::CheckOutcome(const std::vector<Row>& rows,
                                      int64_t published) {
  const std::vector<Receipt> receipts = ledger_->Receipts();
  const std::vector<Ack> acks = reliability::ReadAcks(ack_path_);
  std::map<std::string, const Row*> row_by_id;
  std::set<std::string> events_in_log;
  std::set<std::pair<std::string, std::string>> delivered;  // event, path
  for (const Row& row : rows) {
    row_by_id[row.id] = &row;
    events_in_log.insert(row.event_id);
    if (row.status == "delivered") {
      delivered.insert({row.event_id, path_of_[row.endpoint_id]});
    }
  }
  std::map<std::pair<std::string, std::string>, uint64_t> accepted;
  uint64_t bad_signatures = 0, not_published = 0;
  for (const Receipt& r : receipts) {
    if (!r.signature_ok) ++bad_signatures;
    if (r.n < 0 || r.n >= published || r.webhook_id != r.body_id ||
        !events_in_log.contains(r.webhook_id)) {
      if (++not_published <= 5) {
        ADD_FAILURE() << "received " << r.path << " " << r.webhook_id << " (n "
                      << r.n << ") which was never published";
      }
    }
    if (r.accepted) ++accepted[{r.webhook_id, r.path}];
  }
  EXPECT_EQ(not_published, 0u);
  EXPECT_EQ(bad_signatures, 0u) << "of " << receipts.size() << " requests";
  uint64_t lost = 0;
  for (const Ack& a : acks) {
    EXPECT_EQ(a.deliveries.size(), path_of_.size()) << "event n=" << a.n;
    for (const std::string& id : a.deliveries) {
      if (!row_by_id.contains(id) && ++lost <= 5) {
        ADD_FAILURE() << "acknowledged delivery " << id << " of event "
                      << a.event_id << " is not in the log";
      }
    }
    for (const auto& [ep, path] : path_of_) {
      const bool in_log = delivered.contains({a.event_id, path});
      const bool at_receiver = accepted.contains({a.event_id, path});
      if ((!in_log || !at_receiver) && ++lost <= 5) {
        ADD_FAILURE() << "acknowledged event " << a.event_id << " (n=" << a.n
                      << ") for " << path << ": delivered in the log " << in_log
                      << ", accepted by the receiver " << at_receiver;
      }
    }
  }
  EXPECT_EQ(lost, 0u) << "acknowledged events lost (of " << acks.size() << ")";
  uint64_t duplicates = 0;
  for (const auto& [key, count] : accepted) duplicates += count - 1;
  return duplicates;
}

}  // namespace hooklog::cluster_test
