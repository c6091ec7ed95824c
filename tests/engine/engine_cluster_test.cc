// Cluster mode (EngineOptions::cluster) with several engines in one
// process sharing one in-memory store, which implements the lease contract
// exactly as the PostgreSQL adapter does (storage/lease_table.h). Real time
// and short leases: the tests wait for conditions (generously), they never
// assert a duration.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "engine/cluster.h"
#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/verify.h"
#include "tests/storage/temp_dir.h"
#include "tests/support/scripted_transport.h"

namespace hooklog::testing {
namespace {

constexpr uint32_t kPartitions = 16;

// One node's view of the shared store: its lease syncs can be made to fail
// (a node cut off from the database, or paused), and everything can
// (a crashed node).
class NodeStorage : public ForwardingStorage {
 public:
  explicit NodeStorage(Storage* shared) : ForwardingStorage(shared) {}
  Result<LeaseView> SyncLeases(const LeaseSync& s) override {
    if (cut_off || crashed) return Status::Unavailable("injected: cut off");
    return ForwardingStorage::SyncLeases(s);
  }
  Result<uint64_t> Append(WriteBatch* b) override {
    if (crashed) return Status::Unavailable("injected: crashed");
    if (cut_off_writes) {
      refused_writes++;
      return Status::Unavailable("injected: outage");
    }
    return ForwardingStorage::Append(b);
  }
  std::atomic<bool> cut_off{false};
  std::atomic<bool> cut_off_writes{false};
  std::atomic<int> refused_writes{0};
  std::atomic<bool> crashed{false};
};

template <typename T, typename Call>
Result<T> Sync(Call call) {
  auto p = std::make_shared<std::promise<Result<T>>>();
  auto f = p->get_future();
  call([p](Result<T> r) { p->set_value(std::move(r)); });
  return f.get();
}

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 3000; ++i) {  // 30 s: a hang, not a timing assertion
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class EngineClusterTest : public ::testing::Test {
 protected:
  struct Node {
    std::string name;
    NodeStorage* storage = nullptr;
    ScriptedTransport* transport = nullptr;
    std::unique_ptr<Engine> engine;
    std::atomic<bool> hold{false};  // hold every attempt (nullopt)
    std::atomic<int> answer{200};
  };

  void TearDown() override {
    for (auto& n : nodes_) n->engine.reset();
  }

  Node* Start(const std::string& name,
              Duration ttl = std::chrono::milliseconds(900)) {
    auto node = std::make_unique<Node>();
    node->name = name;
    auto wrapper = std::make_unique<NodeStorage>(store_.get());
    node->storage = wrapper.get();
    EngineOptions o;
    o.cluster.node_id = name;
    o.cluster.partitions = kPartitions;
    o.cluster.lease_ttl = ttl;
    o.cluster.follow_interval = std::chrono::milliseconds(20);
    o.cluster.forward_timeout = std::chrono::seconds(20);
    o.retry.schedule = {Duration(0), std::chrono::milliseconds(50),
                        std::chrono::milliseconds(50)};
    o.retry.jitter = 0;
    Node* raw = node.get();
    o.transport_factory = ScriptedTransport::Factory(
        &node->transport,
        [raw](const AttemptRequest&) -> std::optional<AttemptResult> {
          if (raw->hold) return std::nullopt;
          return ScriptedTransport::Http(raw->answer);
        });
    auto e = OpenEngine(std::move(wrapper), o);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) node->engine = std::move(*e);
    nodes_.push_back(std::move(node));
    return raw;
  }

  static uint64_t Owned(Node* n) { return n->engine->Stats().partitions_owned; }
  // Every partition owned, and split as `shares` says (in node order).
  bool Split(const std::vector<std::pair<Node*, uint64_t>>& shares) {
    return Eventually([&] {
      for (auto& [n, want] : shares) {
        if (Owned(n) != want) return false;
      }
      return true;
    });
  }

  Endpoint MakeEndpoint(Node* n, const std::string& name) {
    EndpointSpec spec;
    spec.url = "https://example.com/" + name;
    auto r = n->engine->CreateEndpoint(spec).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Endpoint{};
  }

  // Waits until `n` has followed every endpoint (publishes there fan out to
  // all of them).
  void WaitForEndpoints(Node* n, uint64_t count) {
    ASSERT_TRUE(Eventually([&] {
      return n->engine->Stats().endpoints == count;
    })) << n->name
        << " sees " << n->engine->Stats().endpoints;
  }

  Delivery Row(const DeliveryId& id) {
    auto r = store_->GetDelivery(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Delivery{};
  }

  // delivery id -> nodes that sent an attempt of it.
  std::map<std::string, std::vector<std::string>> Senders() {
    std::map<std::string, std::vector<std::string>> out;
    for (auto& n : nodes_) {
      if (!n->engine) continue;
      for (const AttemptRequest& r : n->transport->requests()) {
        out[r.delivery_id].push_back(n->name);
      }
    }
    return out;
  }

  std::unique_ptr<Storage> store_ = NewMemoryStorage();
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(EngineClusterTest, NodesSplitPartitionsAndAttemptEachDeliveryOnce) {
  Node* a = Start("a");
  ASSERT_TRUE(Split({{a, kPartitions}}));
  Node* b = Start("b");
  ASSERT_TRUE(Split({{a, 8}, {b, 8}}));
  std::vector<Endpoint> eps;
  for (int i = 0; i < 12; ++i)
    eps.push_back(MakeEndpoint(i % 2 ? a : b, "e" + std::to_string(i)));
  WaitForEndpoints(a, 12);
  WaitForEndpoints(b, 12);
  std::vector<DeliveryId> all;
  for (int i = 0; i < 40; ++i) {
    Node* via = i % 2 ? a : b;
    auto p = via->engine->Publish({"order.paid", R"({"n":1})", ""}).get();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_EQ(p->deliveries.size(), 12u);  // every node knows every endpoint
    all.insert(all.end(), p->deliveries.begin(), p->deliveries.end());
  }
  for (const DeliveryId& id : all) {
    ASSERT_TRUE(Eventually([&] {
      return Row(id).status == DeliveryStatus::kDelivered;
    })) << id.ToString();
  }
  // Exactly one attempt per delivery, sent by the owner of its endpoint.
  auto senders = Senders();
  std::set<std::string> nodes_used;
  for (const DeliveryId& id : all) {
    const auto& s = senders[id.ToString()];
    ASSERT_EQ(s.size(), 1u)
        << id.ToString() << " sent by " << ::testing::PrintToString(s);
    EXPECT_EQ(Row(id).attempts, 1u);
    nodes_used.insert(s[0]);
  }
  EXPECT_EQ(nodes_used.size(), 2u);  // both nodes delivered
  // The log and the rows agree.
  auto report = VerifyStorage(store_.get());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << ::testing::PrintToString(report->mismatches);
}

TEST_F(EngineClusterTest, ATestSentToANonOwnerIsAttemptedByTheOwner) {
  Node* a = Start("a");
  Node* b = Start("b");
  ASSERT_TRUE(Split({{a, 8}, {b, 8}}));
  Endpoint ep = MakeEndpoint(a, "t");
  WaitForEndpoints(b, 1);
  b->answer = 204;
  a->answer = 204;
  // Sent through each node: the answer is the owner's first attempt.
  for (Node* via : {a, b}) {
    auto r = Sync<DeliveryResult>(
        [&](auto cb) { via->engine->SendTest(ep.id, cb); });
    ASSERT_TRUE(r.ok()) << via->name << ": " << r.status().ToString();
    EXPECT_EQ(r->status, DeliveryStatus::kDelivered);
    EXPECT_EQ(r->http_status_code, 204);
  }
  // Both tests went out from one node only: the owner.
  auto senders = Senders();
  std::set<std::string> from;
  for (auto& [d, s] : senders) from.insert(s.begin(), s.end());
  EXPECT_EQ(from.size(), 1u);
}

TEST_F(EngineClusterTest, EndpointChangesOnOneNodeReachTheOwner) {
  Node* a = Start("a");
  Node* b = Start("b");
  ASSERT_TRUE(Split({{a, 8}, {b, 8}}));
  Endpoint ep = MakeEndpoint(a, "x");
  WaitForEndpoints(b, 1);
  // Disabled through b, published through a: whoever owns it parks it.
  EndpointUpdate off;
  off.enabled = false;
  ASSERT_TRUE(b->engine->UpdateEndpoint(ep.id, off).get().ok());
  ASSERT_TRUE(Eventually([&] {
    // a follows the change: a publish no longer targets it.
    auto p = a->engine->Publish({"order.paid", "{}", ""}).get();
    return p.ok() && p->deliveries.empty();
  }));
  // Re-enabled through a; a delivery published through b while it was
  // still pending is delivered once the owner follows.
  a->hold = b->hold = true;
  EndpointUpdate on;
  on.enabled = true;
  ASSERT_TRUE(a->engine->UpdateEndpoint(ep.id, on).get().ok());
  Result<PublishResult> p = Status::Unavailable("");
  ASSERT_TRUE(Eventually([&] {
    p = b->engine->Publish({"order.paid", "{}", ""}).get();
    return p.ok() && p->deliveries.size() == 1;
  }));
  // Deleted through whichever node did not publish: the owner ends every
  // pending delivery as a dead letter.
  ASSERT_TRUE(Eventually(
      [&] { return a->transport->held() + b->transport->held() >= 1; }));
  ASSERT_TRUE(a->engine->DeleteEndpoint(ep.id).get().ok());
  a->hold = b->hold = false;
  while (a->transport->CompleteNext(ScriptedTransport::Http(500))) {
  }
  while (b->transport->CompleteNext(ScriptedTransport::Http(500))) {
  }
  for (const DeliveryId& id : p->deliveries) {
    ASSERT_TRUE(Eventually(
        [&] { return Row(id).status == DeliveryStatus::kDeadLetter; }));
    EXPECT_EQ(Row(id).dead_letter_reason, DeadLetterReason::kEndpointDeleted);
  }
  ASSERT_TRUE(Eventually([&] { return b->engine->Stats().endpoints == 0; }));
}

TEST_F(EngineClusterTest, ANodeThatLostItsLeaseCannotWriteOverTheNewOwner) {
  Node* a = Start("a");
  ASSERT_TRUE(Split({{a, kPartitions}}));
  Endpoint ep = MakeEndpoint(a, "f");
  a->hold = true;
  auto p = a->engine->Publish({"order.paid", "{}", ""}).get();
  ASSERT_TRUE(p.ok());
  const DeliveryId id = p->deliveries.at(0);
  ASSERT_TRUE(a->transport->WaitForHeld(1));  // a's attempt is in flight
  // a is cut off from lease renewals (a pause, a network partition): its
  // leases lapse and b, started now, takes every partition.
  a->storage->cut_off = true;
  Node* b = Start("b");
  ASSERT_TRUE(Eventually([&] { return Owned(b) == kPartitions; }));
  ASSERT_TRUE(Eventually([&] { return Owned(a) == 0; }));
  // b attempts the delivery again (a's attempt is not in the log) and
  // records it.
  ASSERT_TRUE(
      Eventually([&] { return Row(id).status == DeliveryStatus::kDelivered; }));
  const Delivery by_b = Row(id);
  const uint64_t seq = store_->LastSequence();
  // a's attempt comes back now: its write is refused by the store.
  ASSERT_TRUE(a->transport->CompleteNext(ScriptedTransport::Http(500)));
  ASSERT_TRUE(Eventually([&] {
    return a->engine->Stats().fenced_appends >= 1;
  })) << "a's write went through";
  EXPECT_EQ(Row(id), by_b);
  EXPECT_EQ(store_->LastSequence(), seq);
  EXPECT_GE(a->engine->Stats().leases_lost, 1u);
  // Reconnected, a rejoins and the two share the partitions again.
  a->storage->cut_off = false;
  ASSERT_TRUE(Split({{a, 8}, {b, 8}}));
  auto report = VerifyStorage(store_.get());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << ::testing::PrintToString(report->mismatches);
}

TEST_F(EngineClusterTest, AnAttemptResultWaitsOutAShortStorageOutage) {
  // A long lease: the outage is shorter than what the node may wait out.
  Node* a = Start("a", std::chrono::seconds(30));
  ASSERT_TRUE(Split({{a, kPartitions}}));
  MakeEndpoint(a, "o");
  a->hold = true;
  auto p = a->engine->Publish({"order.paid", "{}", ""}).get();
  ASSERT_TRUE(p.ok());
  const DeliveryId id = p->deliveries.at(0);
  ASSERT_TRUE(a->transport->WaitForHeld(1));
  // The database goes away while the attempt is in flight.
  a->storage->cut_off = true;
  a->storage->cut_off_writes = true;
  ASSERT_TRUE(a->transport->CompleteNext(ScriptedTransport::Http(200)));
  // The result is being written again and again; meanwhile nothing can be
  // changed, and the API says so at once (it does not wait out the outage
  // behind the kept result: a regression seen in webhookd's outage test).
  ASSERT_TRUE(Eventually([&] { return a->storage->refused_writes >= 3; }));
  auto pending = a->engine->Publish({"order.paid", "{}", ""});
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  auto refused = pending.get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(a->engine->Stats().storage_reachable);
  EXPECT_EQ(Row(id).attempts, 0u);
  a->storage->cut_off = false;
  a->storage->cut_off_writes = false;
  // The result that waited is recorded; the delivery is not attempted again.
  ASSERT_TRUE(
      Eventually([&] { return Row(id).status == DeliveryStatus::kDelivered; }));
  EXPECT_EQ(Row(id).attempts, 1u);
  EXPECT_EQ(a->transport->requests().size(), 1u);
  EXPECT_TRUE(Eventually([&] { return a->engine->Stats().storage_reachable; }));
}

TEST_F(EngineClusterTest, ACrashedNodesDeliveriesResumeElsewhere) {
  Node* a = Start("a");
  ASSERT_TRUE(Split({{a, kPartitions}}));
  for (int i = 0; i < 6; ++i) MakeEndpoint(a, "c" + std::to_string(i));
  a->hold = true;
  std::vector<DeliveryId> all;
  for (int i = 0; i < 5; ++i) {
    auto p = a->engine->Publish({"order.paid", "{}", ""}).get();
    ASSERT_TRUE(p.ok());
    all.insert(all.end(), p->deliveries.begin(), p->deliveries.end());
  }
  Node* b = Start("b");
  ASSERT_TRUE(Split({{a, 8}, {b, 8}}));
  // a crashes: nothing it does reaches the store any more.
  a->storage->crashed = true;
  ASSERT_TRUE(Eventually([&] { return Owned(b) == kPartitions; }));
  for (const DeliveryId& id : all) {
    ASSERT_TRUE(Eventually([&] {
      return Row(id).status == DeliveryStatus::kDelivered;
    })) << id.ToString();
  }
}

TEST_F(EngineClusterTest, AStoppingNodeHandsItsPartitionsOver) {
  Node* a = Start("a");
  Node* b = Start("b");
  Node* c = Start("c");
  ASSERT_TRUE(Eventually([&] {
    uint64_t sum = Owned(a) + Owned(b) + Owned(c);
    return sum == kPartitions && Owned(a) >= 5 && Owned(b) >= 5 &&
           Owned(c) >= 5;
  }));
  b->engine->Shutdown(std::chrono::seconds(1));
  ASSERT_TRUE(Split({{a, 8}, {c, 8}}));
  EXPECT_GE(b->engine->Stats().leases_released, 5u);
}

TEST(EngineClusterOptionsTest, BadOptionsAndStoresWithoutLeasesAreRefused) {
  EngineOptions o;
  o.cluster.node_id = "n1";
  o.cluster.partitions = 0;
  auto e = OpenEngine(NewMemoryStorage(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().field(), "partitions");
  o.cluster.partitions = 16;
  o.cluster.lease_ttl = std::chrono::milliseconds(10);
  e = OpenEngine(NewMemoryStorage(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().field(), "lease_ttl");
  o.cluster.lease_ttl = std::chrono::seconds(1);
  o.cluster.node_id = std::string(129, 'n');
  e = OpenEngine(NewMemoryStorage(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().field(), "node_id");
  // An embedded RocksDB belongs to one process: no leases, refused.
  TempDir dir;
  auto db = OpenRocksDbStorage(dir.Sub("db"));
  ASSERT_TRUE(db.ok());
  o.cluster.node_id = "n1";
  e = OpenEngine(std::move(*db), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(e.status().message().find("partition leases"), std::string::npos);
  // A store set up with another partition count refuses a node.
  auto shared = NewMemoryStorage();
  {
    auto a = OpenEngine(std::make_unique<ForwardingStorage>(shared.get()), o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
  }
  o.cluster.partitions = 8;
  o.cluster.node_id = "n2";
  e = OpenEngine(std::make_unique<ForwardingStorage>(shared.get()), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
}

TEST(PartitionOfTest, SpreadsIdsOverEveryPartitionAndIsStable) {
  std::map<uint32_t, int> count;
  for (int i = 0; i < 16000; ++i) {
    count[PartitionOf(Uuid128::NewRandom(), 16)]++;
  }
  ASSERT_EQ(count.size(), 16u);
  for (auto& [p, n] : count) EXPECT_GT(n, 700) << p;  // ~1000 each
  const Uuid128 id{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  EXPECT_EQ(PartitionOf(id, 64), PartitionOf(id, 64));
  EXPECT_LT(PartitionOf(id, 7), 7u);
}

}  // namespace
}  // namespace hooklog::testing
