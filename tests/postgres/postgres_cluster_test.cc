// The PostgreSQL adapter in cluster mode, against a real PostgreSQL 15: the
// lease conformance suite on the server's clock, fenced appends and lease
// syncs from several stores at once, notifications between stores
// (WaitForAppends), LoadActiveOf, CheckHealth and the migration from schema
// version 3 to 4.
//
// The server comes from env HOOKLOG_TEST_POSTGRES (tests/postgres/
// test_server.h): without it every test is skipped, except under CI=true,
// where a missing server is a failure.

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "hooklog/postgres_storage.h"
#include "hooklog/testing/storage_conformance.h"
#include "storage/postgres/pg_rows.h"
#include "tests/postgres/tcp_relay.h"
#include "tests/postgres/test_server.h"

namespace hooklog {
namespace {

using Admin = testing::PostgresAdmin;
using testing::RequirePostgres;

constexpr Timestamp kStart = 1'790'000'000LL * kSecond;

std::string ConnInfo() { return testing::PostgresConnInfo(); }

// Owns a schema: dropped when the test is over.
struct Schema {
  Schema() : name(testing::NewSchema("hooklog_cluster_")) {}
  ~Schema() {
    if (ConnInfo().empty()) return;
    Admin().Exec("DROP SCHEMA IF EXISTS \"" + name + "\" CASCADE");
  }
  PostgresOptions Options() const {
    PostgresOptions o;
    o.schema = name;
    o.read_connections = 2;
    return o;
  }
  std::string q() const { return "\"" + name + "\"."; }
  std::string name;
};

std::unique_ptr<Storage> MustOpen(const Schema& schema) {
  auto s = OpenPostgresStorage(ConnInfo(), schema.Options());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

}  // namespace

namespace testing {
namespace {

// Leases on the server's clock: the short ttl really lapses (a sleep).
struct PostgresLeaseFactory {
  PostgresLeaseFactory() { RequirePostgres(); }
  // Without a server the test is already skipped (or failed); a memory
  // store keeps SetUp from reporting a second problem.
  std::unique_ptr<Storage> Open() {
    return ConnInfo().empty() ? NewMemoryStorage() : MustOpen(schema);
  }
  Duration ShortTtl() { return std::chrono::milliseconds(300); }
  void LetPass(Duration d) { std::this_thread::sleep_for(d); }
  Schema schema;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, LeaseConformanceTest,
                               ::testing::Types<PostgresLeaseFactory>);

}  // namespace testing

namespace {

class PostgresClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { RequirePostgres(); }
};

Event SomeEvent(uint64_t n) {
  Event e;
  e.type = EventType::kEnqueued;
  e.aggregate = Uuid128{9, n + 1};
  e.time = kStart;
  e.body = DeliveryCreated{};
  return e;
}

Delivery SomeDelivery(uint64_t n, uint64_t endpoint, DeliveryStatus status) {
  Delivery d;
  d.id = DeliveryId(Uuid128{3, n + 1});
  d.message_id = MessageId(Uuid128{2, n + 1});
  d.endpoint_id = EndpointId(Uuid128{1, endpoint + 1});
  d.event_type = "a.b";
  d.status = status;
  d.created_at = kStart + static_cast<Timestamp>(n);
  d.next_attempt_at = IsTerminal(status) ? 0 : d.created_at + 1000;
  return d;
}

LeaseSync Sync(std::string node, uint32_t partitions = 4) {
  LeaseSync s;
  s.node_id = std::move(node);
  s.partitions = partitions;
  s.ttl = std::chrono::minutes(10);
  return s;
}

// A uuid literal: the 32 hex digits of hi then lo.
std::string UuidSql(const Uuid128& id) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(id.hi),
                static_cast<unsigned long long>(id.lo));
  return "'" + std::string(buf) + "'::uuid";
}

// Ends every server session of the schema's stores and waits until they
// are gone.
void TerminateSessions(const Schema& schema) {
  Admin admin;
  const std::string where =
      " FROM pg_stat_activity WHERE application_name = 'hooklog:" +
      schema.name + "'";
  EXPECT_NE(admin.Exec("SELECT count(pg_terminate_backend(pid))" + where), "0")
      << "no session of the store was found";
  for (int i = 0; i < 500; ++i) {
    if (admin.Exec("SELECT count(*)" + where) == "0") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "the sessions did not end";
}

// Two nodes, each fencing its own partitions on every Append, while both
// renew and a third keeps trying to take their leases: no deadlock (the
// server would abort one with 40P01, an Append error here), every Append
// stored, the log gapless.
TEST_F(PostgresClusterTest, ConcurrentFencedAppendsAndSyncsStayGapless) {
  Schema schema;
  auto a = MustOpen(schema);
  auto b = MustOpen(schema);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  LeaseSync sa = Sync("node-a");
  sa.acquire = {0, 1};
  auto va = a->SyncLeases(sa);
  ASSERT_TRUE(va.ok()) << va.status().ToString();
  LeaseSync sb = Sync("node-b");
  sb.acquire = {2, 3};
  auto vb = b->SyncLeases(sb);
  ASSERT_TRUE(vb.ok()) << vb.status().ToString();
  const std::vector<LeaseFence> fa = {{1, va->leases[1].epoch},
                                      {0, va->leases[0].epoch}};
  const std::vector<LeaseFence> fb = {{3, vb->leases[3].epoch},
                                      {2, vb->leases[2].epoch}};

  constexpr int kPerThread = 30;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Storage* s = t % 2 ? b.get() : a.get();
    const std::vector<LeaseFence>& fences = t % 2 ? fb : fa;
    threads.emplace_back([&, s, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch batch;
        batch.events = {SomeEvent(t * 1000 + i)};
        batch.deliveries = {
            SomeDelivery(t * 1000 + i, t, DeliveryStatus::kPending)};
        batch.fences = fences;
        auto r = s->Append(&batch);
        if (!r.ok()) {
          ADD_FAILURE() << r.status().ToString();
          ++failures;
        }
      }
    });
  }
  std::thread syncer([&] {
    while (!done.load()) {
      LeaseSync ra = Sync("node-a");
      ra.renew = fa;
      LeaseSync rb = Sync("node-b");
      rb.renew = fb;
      LeaseSync thief = Sync("node-c");
      thief.acquire = {3, 0, 2, 1};
      for (const LeaseSync& sync : {ra, rb, thief}) {
        auto v = (sync.node_id == "node-b" ? b : a)->SyncLeases(sync);
        if (!v.ok()) {
          ADD_FAILURE() << v.status().ToString();
          ++failures;
        }
      }
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  syncer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(a->LastSequence() > b->LastSequence() ? a->LastSequence()
                                                  : b->LastSequence(),
            uint64_t{4 * kPerThread});
  for (Storage* s : {a.get(), b.get()}) {
    std::vector<Event> log;
    ASSERT_TRUE(s->ReadLog(1, 10000, &log).ok());
    ASSERT_EQ(log.size(), size_t{4 * kPerThread});
    for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].seq, i + 1);
  }
  auto v = a->SyncLeases(Sync("node-c"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  for (const PartitionLease& l : v->leases) {
    EXPECT_EQ(l.epoch, 1u) << "partition " << l.partition << " changed hands";
  }
}

// Store B waits for appends; store A appends: B returns long before its
// timeout (the wait is a minute; the test allows it ten seconds).
TEST_F(PostgresClusterTest, WaitForAppendsWakesOnAnotherStoresAppend) {
  Schema schema;
  auto a = MustOpen(schema);
  auto b = MustOpen(schema);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // The first wait connects the listener and returns at once.
  b->WaitForAppends(std::chrono::seconds(5));
  for (int round = 0; round < 3; ++round) {
    auto woke = std::async(std::launch::async,
                           [&] { b->WaitForAppends(std::chrono::minutes(1)); });
    WriteBatch batch;
    batch.events = {SomeEvent(static_cast<uint64_t>(round))};
    ASSERT_TRUE(a->Append(&batch).ok());
    ASSERT_EQ(woke.wait_for(std::chrono::seconds(10)),
              std::future_status::ready)
        << "round " << round << ": WaitForAppends did not return";
    std::vector<Event> log;
    ASSERT_TRUE(b->ReadLog(1, 100, &log).ok());
    EXPECT_EQ(log.size(), size_t(round + 1));
  }
}

// The listener's session ends (the server terminates it): the next wait
// returns, the one after reconnects and LISTENs again, and a later append
// wakes the waiter as before.
TEST_F(PostgresClusterTest, WaitForAppendsListensAgainAfterTheSessionIsLost) {
  Schema schema;
  auto a = MustOpen(schema);
  auto b = MustOpen(schema);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  b->WaitForAppends(std::chrono::seconds(5));
  TerminateSessions(schema);
  // Each returns early: the loss, then the new session.
  for (int i = 0; i < 2; ++i) {
    auto r = std::async(std::launch::async,
                        [&] { b->WaitForAppends(std::chrono::minutes(1)); });
    ASSERT_EQ(r.wait_for(std::chrono::seconds(10)), std::future_status::ready)
        << "wait " << i << " after the loss did not return";
  }
  auto woke = std::async(std::launch::async,
                         [&] { b->WaitForAppends(std::chrono::minutes(1)); });
  WriteBatch batch;
  batch.events = {SomeEvent(1)};
  auto r = a->Append(&batch);
  if (!r.ok()) {  // A's writer was terminated too: the first append says so
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    r = a->Append(&batch);
  }
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(woke.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "WaitForAppends did not return after the append";
}

// Several threads wait at once (one holds the session, the others wait for
// it within their own timeout): every one returns, and an append still
// wakes the next waiter.
TEST_F(PostgresClusterTest, ConcurrentWaitersAllReturn) {
  Schema schema;
  auto a = MustOpen(schema);
  auto b = MustOpen(schema);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  b->WaitForAppends(std::chrono::seconds(5));
  std::vector<std::future<void>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(std::async(std::launch::async, [&] {
      b->WaitForAppends(std::chrono::milliseconds(200));
    }));
  }
  for (auto& w : waiters) {
    ASSERT_EQ(w.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }
  auto woke = std::async(std::launch::async,
                         [&] { b->WaitForAppends(std::chrono::minutes(1)); });
  WriteBatch batch;
  batch.events = {SomeEvent(1)};
  ASSERT_TRUE(a->Append(&batch).ok());
  ASSERT_EQ(woke.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST_F(PostgresClusterTest, LoadActiveOfReturnsNonTerminalDeliveriesOfThose) {
  Schema schema;
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  const DeliveryStatus statuses[] = {
      DeliveryStatus::kPending, DeliveryStatus::kDelivered,
      DeliveryStatus::kFailed, DeliveryStatus::kRateLimited,
      DeliveryStatus::kDeadLetter};
  WriteBatch batch;
  std::set<Uuid128> want;
  for (uint64_t n = 0; n < 30; ++n) {
    const uint64_t endpoint = n % 3;
    Delivery d = SomeDelivery(n, endpoint, statuses[n % 5]);
    if (endpoint != 1 && !IsTerminal(d.status)) want.insert(d.id.raw());
    batch.deliveries.push_back(d);
  }
  batch.events = {SomeEvent(1)};
  ASSERT_TRUE(s->Append(&batch).ok());
  std::set<Uuid128> got;
  Status st =
      s->LoadActiveOf({EndpointId(Uuid128{1, 1}), EndpointId(Uuid128{1, 3}),
                       EndpointId(Uuid128{1, 99})},
                      [&](const Delivery& d) {
                        EXPECT_TRUE(got.insert(d.id.raw()).second);
                        EXPECT_FALSE(IsTerminal(d.status));
                        EXPECT_NE(d.endpoint_id.raw().lo, 2u);
                      });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, want);
  int calls = 0;
  ASSERT_TRUE(s->LoadActiveOf({}, [&](const Delivery&) { ++calls; }).ok());
  EXPECT_EQ(calls, 0);
}

// The test server's TCP port, database and user, from its conninfo.
struct ServerAddress {
  int port = 5432;
  std::string dbname, user;
};
ServerAddress AddressOf(const std::string& conninfo) {
  ServerAddress out;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), nullptr);
  for (PQconninfoOption* o = opts; o != nullptr && o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string k = o->keyword;
    if (k == "port") out.port = std::atoi(o->val);
    if (k == "dbname") out.dbname = o->val;
    if (k == "user") out.user = o->val;
  }
  PQconninfoFree(opts);
  return out;
}

// The server goes away (a TCP relay in front of it stops: every connection
// cut, new ones refused) and comes back on the same address: meanwhile
// SyncLeases and CheckHealth are Unavailable and WaitForAppends returns
// within its timeout; afterwards all of them work again, leases intact.
TEST_F(PostgresClusterTest, UnreachableServerIsUnavailableThenRecovers) {
  Schema schema;
  const ServerAddress server = AddressOf(ConnInfo());
  testing::TcpRelay relay(server.port);
  ASSERT_TRUE(relay.Start());
  std::string conninfo = "host=127.0.0.1 port=" + std::to_string(relay.port()) +
                         " connect_timeout=5";
  if (!server.dbname.empty()) conninfo += " dbname=" + server.dbname;
  if (!server.user.empty()) conninfo += " user=" + server.user;
  auto opened = OpenPostgresStorage(conninfo, schema.Options());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Storage* s = opened->get();
  LeaseSync take = Sync("node-a");
  take.acquire = {0};
  auto v = s->SyncLeases(take);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const PartitionLease held = v->leases[0];
  s->WaitForAppends(std::chrono::seconds(5));  // connects the listener

  relay.Stop();
  auto away = s->SyncLeases(Sync("node-a"));
  ASSERT_FALSE(away.ok());
  EXPECT_EQ(away.status().code(), StatusCode::kUnavailable)
      << away.status().ToString();
  Status health = s->CheckHealth();
  EXPECT_EQ(health.code(), StatusCode::kUnavailable) << health.ToString();
  for (int i = 0; i < 2; ++i) {  // the loss, then a failed reconnect
    auto r = std::async(std::launch::async, [&] {
      s->WaitForAppends(std::chrono::milliseconds(300));
    });
    ASSERT_EQ(r.wait_for(std::chrono::seconds(10)), std::future_status::ready)
        << "WaitForAppends blocked past its timeout while the server was away";
  }

  ASSERT_TRUE(relay.Start());
  health = s->CheckHealth();
  EXPECT_TRUE(health.ok()) << health.ToString();
  LeaseSync renew = Sync("node-a");
  renew.renew = {{0, held.epoch}};
  auto back = s->SyncLeases(renew);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->leases[0].owner, "node-a");
  EXPECT_EQ(back->leases[0].epoch, held.epoch);
  EXPECT_GE(back->leases[0].expires_at, held.expires_at);
  // The listener reconnects (that call returns at once), then is woken by
  // another store's append again.
  s->WaitForAppends(std::chrono::seconds(5));
  auto other = MustOpen(schema);
  ASSERT_NE(other, nullptr);
  auto woke = std::async(std::launch::async,
                         [&] { s->WaitForAppends(std::chrono::minutes(1)); });
  WriteBatch batch;
  batch.events = {SomeEvent(1)};
  ASSERT_TRUE(other->Append(&batch).ok());
  ASSERT_EQ(woke.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  opened->reset();  // before the relay goes
}

// CheckHealth is a round trip; after the server ended the store's sessions
// it reconnects rather than reporting the stale connection.
TEST_F(PostgresClusterTest, CheckHealthIsARoundTripThatRecovers) {
  Schema schema;
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  Status st = s->CheckHealth();
  EXPECT_TRUE(st.ok()) << st.ToString();
  TerminateSessions(schema);
  st = s->CheckHealth();
  EXPECT_TRUE(st.ok()) << st.ToString();
  // So does a lease sync on a connection the server ended.
  ASSERT_TRUE(s->SyncLeases(Sync("node-a")).ok());
  TerminateSessions(schema);
  auto v = s->SyncLeases(Sync("node-a"));
  EXPECT_TRUE(v.ok()) << v.status().ToString();
}

// A version 3 schema holding a log and rows is migrated to version 4 on
// open: the data stays, the lease tables are there and work, and the log
// continues where it was.
TEST_F(PostgresClusterTest, MigrationFromVersion3KeepsTheData) {
  Schema schema;
  ASSERT_TRUE(MigratePostgresSchema(ConnInfo(), schema.Options(), 3).ok());
  Admin admin;
  const std::string q = schema.q();
  EXPECT_EQ(admin.Exec("SELECT version FROM " + q + "schema_version"), "3");
  EXPECT_EQ(admin.Exec("SELECT to_regclass('" + q + "leases') IS NULL"), "t");
  auto hex = [](std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out = "'\\x";
    for (unsigned char c : bytes) {
      out += digits[c >> 4];
      out += digits[c & 15];
    }
    return out + "'::bytea";
  };
  Event e = SomeEvent(7);
  e.seq = 1;
  Delivery d = SomeDelivery(7, 0, DeliveryStatus::kPending);
  admin.Exec("UPDATE " + q + "meta SET last_seq = 1, appends = 1");
  admin.Exec("INSERT INTO " + q + "log VALUES (1, " + hex(EncodeEvent(e)) +
             ")");
  admin.Exec("INSERT INTO " + q + "deliveries VALUES (" + UuidSql(d.id.raw()) +
             ", " + UuidSql(d.message_id.raw()) + ", " +
             UuidSql(d.endpoint_id.raw()) + ", 'a.b', 0, 0, " +
             std::to_string(d.created_at) + ", " +
             std::to_string(d.next_attempt_at) + ", " +
             hex(pg::EncodeDeliveryBlob(d)) + ")");

  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(admin.Exec("SELECT version FROM " + q + "schema_version"),
            std::to_string(kPostgresSchemaVersion));
  EXPECT_EQ(s->LastSequence(), 1u);
  std::vector<Event> log;
  ASSERT_TRUE(s->ReadLog(1, 10, &log).ok());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].aggregate, e.aggregate);
  auto got = s->GetDelivery(d.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, d);

  LeaseSync sync = Sync("node-a");
  sync.acquire = {2};
  auto v = s->SyncLeases(sync);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->leases[2].epoch, 1u);
  WriteBatch batch;
  batch.events = {SomeEvent(8)};
  batch.fences = {{2, 1}};
  auto r = s->Append(&batch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2u);
}

}  // namespace
}  // namespace hooklog
