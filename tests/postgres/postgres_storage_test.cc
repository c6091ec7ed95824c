// The PostgreSQL adapter against a real PostgreSQL 15: the conformance suite
// (each test in a fresh schema) and what is particular to this adapter:
// migrations, a newer schema refused, two stores appending to one schema,
// connection loss (Unavailable, then recovery) and VerifyStorage after an
// engine-like workload.
//
// The server comes from env HOOKLOG_TEST_POSTGRES (a libpq conninfo;
// `eval "$(scripts/postgres.sh start)"` sets it). Without it every test is
// skipped, except under CI=true, where a missing server is a failure.

#include "hooklog/postgres_storage.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "hooklog/testing/storage_conformance.h"
#include "hooklog/verify.h"
#include "storage/postgres/pg_rows.h"
#include "tests/postgres/test_server.h"
#include "tests/storage/event_stream.h"

namespace hooklog {
namespace {

constexpr Timestamp kStart = 1'790'000'000LL * kSecond;

using Admin = testing::PostgresAdmin;
using testing::RequirePostgres;

std::string ConnInfo() { return testing::PostgresConnInfo(); }

// Owns a schema: dropped when the test is over.
struct Schema {
  Schema() : name(testing::NewSchema("hooklog_test_")) {}
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

struct PostgresFactory {
  static constexpr bool kPersistent = true;
  PostgresFactory() { RequirePostgres(); }
  std::unique_ptr<Storage> Open() { return Reopen(); }
  // Without a server the test is already skipped (or failed); a memory
  // store keeps the suite's SetUp from reporting a second problem.
  std::unique_ptr<Storage> Reopen() {
    return ConnInfo().empty() ? NewMemoryStorage() : MustOpen(schema);
  }
  Schema schema;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StorageConformanceTest,
                               ::testing::Types<PostgresFactory>);

}  // namespace testing

namespace {

class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { RequirePostgres(); }
};

Event SomeEvent(uint64_t n) {
  Event e;
  e.type = EventType::kEnqueued;
  e.aggregate = Uuid128{7, n + 1};
  e.time = kStart;
  e.body = DeliveryCreated{};
  return e;
}

TEST_F(PostgresStorageTest, CreatesTheSchemaAtTheCurrentVersion) {
  Schema schema;
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  Admin admin;
  EXPECT_EQ(
      admin.Exec("SELECT version FROM \"" + schema.name + "\".schema_version"),
      std::to_string(kPostgresSchemaVersion));
  // Opening again is a no-op migration.
  s.reset();
  s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(
      admin.Exec("SELECT count(*) FROM \"" + schema.name + "\".schema_version"),
      "1");
}

// A version 1 schema (no counter rows) holding deliveries is migrated on
// open: the counters are backfilled from the rows.
TEST_F(PostgresStorageTest, MigratesAnOlderSchemaAndBackfillsCounters) {
  Schema schema;
  ASSERT_TRUE(MigratePostgresSchema(ConnInfo(), schema.Options(), 1).ok());
  Admin admin;
  const std::string q = "\"" + schema.name + "\".";
  EXPECT_EQ(admin.Exec("SELECT version FROM " + q + "schema_version"), "1");
  EXPECT_EQ(admin.Exec("SELECT to_regclass('" + q + "counters') IS NULL"), "t");
  const std::string ep = "'00000000-0000-0001-0000-000000000001'";
  for (int i = 0; i < 3; ++i) {
    admin.Exec("INSERT INTO " + q +
               "deliveries VALUES ('00000000-0000-0003-0000-00000000000" +
               std::to_string(i) +
               "', '00000000-0000-0002-0000-000000000001', " + ep + ", 'a', " +
               (i < 2 ? "0" : "1") + ", " + std::to_string(i + 1) +
               ", 1, 0, '\\x00')");
  }
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(admin.Exec("SELECT version FROM " + q + "schema_version"),
            std::to_string(kPostgresSchemaVersion));
  auto c = s->GetCounters(EndpointId(Uuid128{1, 1}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->by_status[0], 2u);
  EXPECT_EQ(c->by_status[1], 1u);
  EXPECT_EQ(c->attempts, 6u);
  // Version 3's tables and index exist.
  for (const char* rel : {"stats", "replay_jobs", "deliveries_message"}) {
    EXPECT_EQ(admin.Exec("SELECT to_regclass('" + q + rel + "') IS NOT NULL"),
              "t")
        << rel;
  }
  // Never a downgrade.
  EXPECT_TRUE(MigratePostgresSchema(ConnInfo(), schema.Options(), 1).ok());
  EXPECT_EQ(admin.Exec("SELECT version FROM " + q + "schema_version"),
            std::to_string(kPostgresSchemaVersion));
}

TEST_F(PostgresStorageTest, RefusesASchemaNewerThanThisBuild) {
  Schema schema;
  ASSERT_NE(MustOpen(schema), nullptr);
  Admin().Exec("UPDATE \"" + schema.name +
               "\".schema_version SET version = 99");
  auto s = OpenPostgresStorage(ConnInfo(), schema.Options());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("version 99"), std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("version " +
                                      std::to_string(kPostgresSchemaVersion)),
            std::string::npos)
      << s.status().ToString();
  Status st = MigratePostgresSchema(ConnInfo(), schema.Options());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
}

TEST_F(PostgresStorageTest, UnreachableServerIsUnavailable) {
  Schema schema;
  auto s = OpenPostgresStorage(
      "host=/nonexistent-hooklog port=1 dbname=x "
      "connect_timeout=2",
      schema.Options());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable)
      << s.status().ToString();
}

// Two stores on one schema (as two processes would be): appends from both
// interleave, and the log stays gapless with every event once.
TEST_F(PostgresStorageTest, TwoStoresAppendGaplessToOneSchema) {
  Schema schema;
  auto a = MustOpen(schema);
  auto b = MustOpen(schema);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kPerThread = 40;
  std::mutex mu;
  std::set<uint64_t> seqs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Storage* s = t % 2 ? b.get() : a.get();
    threads.emplace_back([&, s, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch batch;
        batch.events = {SomeEvent(t * 1000 + i), SomeEvent(t * 1000 + i)};
        auto r = s->Append(&batch);
        if (!r.ok()) {
          ADD_FAILURE() << r.status().ToString();
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_TRUE(seqs.insert(batch.events[0].seq).second);
        EXPECT_TRUE(seqs.insert(batch.events[1].seq).second);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(seqs.size(), size_t{4 * kPerThread * 2});
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), seqs.size());
  // Each store reads the other's events too, in one gapless log.
  for (Storage* s : {a.get(), b.get()}) {
    std::vector<Event> log;
    ASSERT_TRUE(s->ReadLog(1, 10000, &log).ok());
    ASSERT_EQ(log.size(), seqs.size());
    std::set<uint64_t> aggregates;
    for (size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(log[i].seq, i + 1);
      aggregates.insert(log[i].aggregate.lo);
    }
    // Every thread's events (aggregate lo = t * 1000 + i + 1) are there.
    EXPECT_EQ(aggregates.size(), size_t{4 * kPerThread});
  }
}

// The server ends every session of the store (pg_terminate_backend from a
// second connection): the next Append is Unavailable and wrote nothing, the
// one after reconnects and continues the log without a gap; reads recover
// by themselves.
TEST_F(PostgresStorageTest, LostConnectionIsUnavailableThenRecovers) {
  Schema schema;
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  WriteBatch first;
  first.events = {SomeEvent(1), SomeEvent(2)};
  ASSERT_TRUE(s->Append(&first).ok());
  ASSERT_TRUE(s->GetEndpoint(EndpointId(Uuid128{1, 1})).status().IsNotFound());

  Admin admin;
  const std::string killed = admin.Exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
      "application_name = 'hooklog:" +
      schema.name + "'");
  EXPECT_NE(killed, "0") << "no session of the store was found";
  // pg_terminate_backend only signals: wait until the sessions are gone.
  for (int i = 0; i < 200; ++i) {
    if (admin.Exec("SELECT count(*) FROM pg_stat_activity WHERE "
                   "application_name = 'hooklog:" +
                   schema.name + "'") == "0") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  WriteBatch lost;
  lost.events = {SomeEvent(3)};
  auto r = s->Append(&lost);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable)
      << r.status().ToString();
  EXPECT_EQ(s->LastSequence(), 2u);

  WriteBatch next;
  next.events = {SomeEvent(4)};
  r = s->Append(&next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 3u);
  std::vector<Event> log;
  ASSERT_TRUE(s->ReadLog(1, 100, &log).ok());
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2].aggregate, SomeEvent(4).aggregate);
  EXPECT_TRUE(s->GetEndpoint(EndpointId(Uuid128{1, 1})).status().IsNotFound());
}

// Two stores on one schema (two nodes) adding to the same stats bucket at
// the same time: ON CONFLICT adds, so no addition is lost.
TEST_F(PostgresStorageTest, ConcurrentNodesAddToTheSameStatsBucket) {
  Schema schema;
  auto a = MustOpen(schema);
  auto b = MustOpen(schema);  // not exclusive: both may write
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Timestamp minute = kStart / kStatsMinute * kStatsMinute;
  const EndpointId ep(Uuid128{1, 1});
  constexpr int kBatches = 40;
  auto add = [&](Storage* s) {
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch w;
      StatsCounts c;
      c.delivered = 1;
      c.attempts = 1;
      c.latency[3] = 1;
      w.stats = {{ep, minute, c},
                 {std::nullopt, minute, c},
                 {ep, minute, c}};  // twice in one batch too
      Result<uint64_t> r = s->Append(&w);
      // The other node may have moved the log: a retry is the caller's.
      while (!r.ok()) r = s->Append(&w);
    }
  };
  std::thread ta(add, a.get()), tb(add, b.get());
  ta.join();
  tb.join();
  auto got = a->ReadStats({ep, minute, minute + kStatsMinute});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].counts.delivered, 4u * kBatches);
  EXPECT_EQ((*got)[0].counts.latency[3], 4u * kBatches);
  auto all = b->ReadStats({std::nullopt, minute, minute + kStatsMinute});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].counts.attempts, 2u * kBatches);
}

// exclusive: a second exclusive store on the schema is refused (and writes
// nothing), a non-exclusive one is not checked; once the first closes, its
// lock is gone and a new exclusive store opens.
TEST_F(PostgresStorageTest, ExclusiveStoreRefusesASecondUntilTheFirstCloses) {
  Schema schema;
  PostgresOptions options = schema.Options();
  options.exclusive = true;
  auto first = OpenPostgresStorage(ConnInfo(), options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  WriteBatch b;
  b.events = {SomeEvent(1)};
  ASSERT_TRUE((*first)->Append(&b).ok());

  auto second = OpenPostgresStorage(ConnInfo(), options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition)
      << second.status().ToString();
  EXPECT_EQ(second.status().message(),
            "schema " + schema.name +
                " is held by another exclusive hooklog store (several nodes "
                "share a schema in cluster mode, without `exclusive`)");
  // Another schema is another lock.
  Schema other;
  PostgresOptions other_options = other.Options();
  other_options.exclusive = true;
  EXPECT_TRUE(OpenPostgresStorage(ConnInfo(), other_options).ok());

  first->reset();
  auto third = OpenPostgresStorage(ConnInfo(), options);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ((*third)->LastSequence(), 1u);
}

// The lock belongs to the writer's session: when that session dies and
// another exclusive store takes the schema meanwhile, the first cannot take
// the lock again on reconnect, so its appends fail Unavailable and write
// nothing; once the other closes, the first reconnects and appends again.
TEST_F(PostgresStorageTest, ExclusiveLockIsRetakenOnReconnectOrAppendsFail) {
  Schema schema;
  PostgresOptions options = schema.Options();
  options.exclusive = true;
  auto first = OpenPostgresStorage(ConnInfo(), options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Admin admin;
  const std::string sessions =
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
      "'hooklog:" +
      schema.name + "'";
  admin.Exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
      "application_name = 'hooklog:" +
      schema.name + "'");
  for (int i = 0; i < 200 && admin.Exec(sessions) != "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto usurper = OpenPostgresStorage(ConnInfo(), options);
  ASSERT_TRUE(usurper.ok()) << usurper.status().ToString();

  for (int attempt = 0; attempt < 2; ++attempt) {  // the loss, then the lock
    WriteBatch b;
    b.events = {SomeEvent(1)};
    auto r = (*first)->Append(&b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable)
        << r.status().ToString();
  }
  EXPECT_EQ((*usurper)->LastSequence(), 0u);
  std::vector<Event> log;
  ASSERT_TRUE((*usurper)->ReadLog(1, 10, &log).ok());
  EXPECT_TRUE(log.empty());

  // Closing a store frees its lock before its session ends, so the first
  // takes it at once.
  usurper->reset();
  WriteBatch b;
  b.events = {SomeEvent(2)};
  auto r = (*first)->Append(&b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 1u);
}

// A statement stuck behind a lock past statement_timeout is Unavailable;
// a constraint violation is AlreadyExists; neither writes anything, and the
// next Append continues the log without a gap.
TEST_F(PostgresStorageTest, ServerErrorsMapToStatusCodesAndWriteNothing) {
  Schema schema;
  PostgresOptions options = schema.Options();
  options.statement_timeout = std::chrono::milliseconds(300);
  auto opened = OpenPostgresStorage(ConnInfo(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Storage> s = std::move(*opened);
  WriteBatch first;
  first.events = {SomeEvent(1)};
  ASSERT_TRUE(s->Append(&first).ok());
  const std::string q = "\"" + schema.name + "\".";

  {
    Admin locker;  // holds the meta row, as a stuck appender would
    locker.Exec("BEGIN");
    locker.Exec("SELECT * FROM " + q + "meta FOR UPDATE");
    WriteBatch stuck;
    stuck.events = {SomeEvent(2)};
    auto r = s->Append(&stuck);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable)
        << r.status().ToString();
    locker.Exec("ROLLBACK");
  }

  // Someone else's row where the next event goes.
  Admin admin;
  admin.Exec("INSERT INTO " + q + "log VALUES (2, '\\x00')");
  WriteBatch clash;
  clash.events = {SomeEvent(3)};
  auto r = s->Append(&clash);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists)
      << r.status().ToString();
  EXPECT_EQ(admin.Exec("SELECT last_seq FROM " + q + "meta"), "1");
  admin.Exec("DELETE FROM " + q + "log WHERE seq = 2");

  WriteBatch next;
  next.events = {SomeEvent(4)};
  r = s->Append(&next);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 2u);
  std::vector<Event> log;
  ASSERT_TRUE(s->ReadLog(1, 10, &log).ok());
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].aggregate, SomeEvent(4).aggregate);
}

// Written the way the engine writes (events plus the rows they project to),
// then reopened: VerifyStorage finds the rows equal to the replayed log.
TEST_F(PostgresStorageTest, EngineLikeWorkloadVerifiesCleanAfterReopen) {
  Schema schema;
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  testing::EngineLikeWriter w(1, kStart);
  for (int i = 0; i < 300; ++i) {
    WriteBatch b = w.NextBatch();
    auto r = s->Append(&b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(w.Commit(b).ok());
  }
  s.reset();
  s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  auto report = VerifyStorage(s.get());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok())
      << (report->mismatches.empty() ? "" : report->mismatches.front());
  EXPECT_GT(report->deliveries, 50u);
  EXPECT_EQ(report->events, s->LastSequence());
}

// hooklog-admin verify / stats on a PostgreSQL schema: 0 when the log and
// the projections agree, 1 on a damaged row, 2 (and nothing created) for a
// schema that does not exist or an older one it would have to migrate.
TEST_F(PostgresStorageTest, HooklogAdminVerifiesASchemaAndChangesNothing) {
  // The tool takes a URI; the test server's conninfo is in keyword form
  // ("host=<socket dir> port=... dbname=... user=..."): the same settings
  // as URI parameters.
  std::string uri = "postgresql:///?";
  {
    std::istringstream words(ConnInfo());
    std::string kv;
    bool first = true;
    while (words >> kv) {
      uri += (first ? "" : "&") + kv;
      first = false;
    }
  }
  Schema schema;
  testing::EngineLikeWriter w(1, kStart);
  {
    auto s = MustOpen(schema);
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 100; ++i) {
      WriteBatch b = w.NextBatch();
      ASSERT_TRUE(s->Append(&b).ok());
      ASSERT_TRUE(w.Commit(b).ok());
    }
  }
  const std::string out = ::testing::TempDir() + "/admin_out.txt";
  auto run = [&](const std::string& args) {
    int rc = std::system(
        (std::string(HOOKLOG_ADMIN_PATH) + " " + args + " > " + out + " 2>&1")
            .c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  auto output = [&] {
    std::ifstream in(out);
    return std::string((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  };
  const std::string target = "'" + uri + "' --schema " + schema.name;
  EXPECT_EQ(run("verify " + target), 0) << output();
  EXPECT_NE(output().find("OK, projections match the log"), std::string::npos)
      << output();
  EXPECT_EQ(run("stats " + target), 0) << output();
  EXPECT_NE(output().find("last sequence"), std::string::npos) << output();
  EXPECT_EQ(run("prune " + target), 2);

  // A schema that does not exist: an open error, and still no schema.
  const std::string missing = testing::NewSchema("hooklog_missing_");
  EXPECT_EQ(run("verify '" + uri + "' --schema " + missing), 2);
  EXPECT_NE(output().find("holds no hooklog tables"), std::string::npos)
      << output();
  Admin admin;
  EXPECT_EQ(admin.Exec("SELECT count(*) FROM pg_namespace WHERE nspname = '" +
                       missing + "'"),
            "0");

  // An older schema is refused, not migrated.
  admin.Exec("UPDATE \"" + schema.name + "\".schema_version SET version = 2");
  EXPECT_EQ(run("verify " + target), 2);
  EXPECT_NE(output().find("start webhookd once to migrate"), std::string::npos)
      << output();
  EXPECT_EQ(
      admin.Exec("SELECT version FROM \"" + schema.name + "\".schema_version"),
      "2");
  admin.Exec("UPDATE \"" + schema.name + "\".schema_version SET version = " +
             std::to_string(kPostgresSchemaVersion));

  // One delivery row changed behind the log's back.
  {
    auto s = MustOpen(schema);
    ASSERT_NE(s, nullptr);
    ASSERT_FALSE(w.projection().deliveries().empty());
    Delivery d = w.projection().deliveries().begin()->second;
    d.attempts += 7;
    WriteBatch b;
    b.deliveries.push_back(d);
    ASSERT_TRUE(s->Append(&b).ok());
  }
  EXPECT_EQ(run("verify " + target), 1);
  EXPECT_NE(output().find("MISMATCH"), std::string::npos) << output();
}

// The delivery blob keeps every field, and damaged bytes are Corruption,
// never a crash (no server needed).
TEST(PostgresRowsTest, DeliveryBlobRoundTripsAndDamageIsCorruption) {
  Delivery d;
  d.id = DeliveryId(Uuid128{3, 1});
  d.message_id = MessageId(Uuid128{2, 1});
  d.endpoint_id = EndpointId(Uuid128{1, 1});
  d.event_type = std::string("a\0b", 3);
  d.status = DeliveryStatus::kDeadLetter;
  d.attempts = 3;
  d.failed_attempts = 2;
  d.created_at = kStart;
  d.last_attempted_at = kStart + 5;
  d.rate_limited_since = kStart + 1;
  d.http_status_code = 503;
  d.response_body = "\xff not utf-8";
  d.last_error = ErrorClass::kTimeout;
  d.replay_of = DeliveryId(Uuid128{3, 9});
  d.dead_letter_reason = DeadLetterReason::kGone;
  d.is_test = true;
  d.attempts_log = {
      {kStart, 503, "busy", ErrorClass::kNone, 7},
      {kStart + 5, std::nullopt, std::nullopt, ErrorClass::kTimeout, 15000}};
  const std::string blob = pg::EncodeDeliveryBlob(d);
  auto back = pg::DecodeDeliveryBlob(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
  for (size_t n = 0; n < blob.size(); ++n) {
    auto cut = pg::DecodeDeliveryBlob(std::string_view(blob).substr(0, n));
    ASSERT_FALSE(cut.ok()) << n;
    EXPECT_EQ(cut.status().code(), StatusCode::kCorruption);
  }
  std::string longer = blob + "x";
  EXPECT_EQ(pg::DecodeDeliveryBlob(longer).status().code(),
            StatusCode::kCorruption);
  std::string bad_version = blob;
  bad_version[0] = 9;
  EXPECT_EQ(pg::DecodeDeliveryBlob(bad_version).status().code(),
            StatusCode::kCorruption);
  auto ids = pg::DecodeIdList(pg::EncodeIdList({d.id, *d.replay_of}));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<DeliveryId>{d.id, *d.replay_of}));
  EXPECT_FALSE(pg::DecodeIdList("short").ok());
}

// A merged batch may upsert the same row more than once: the last wins, and
// the counters count it once.
TEST_F(PostgresStorageTest, RepeatedRowsInOneBatchKeepTheLast) {
  Schema schema;
  auto s = MustOpen(schema);
  ASSERT_NE(s, nullptr);
  Delivery d;
  d.id = DeliveryId(Uuid128{3, 1});
  d.message_id = MessageId(Uuid128{2, 1});
  d.endpoint_id = EndpointId(Uuid128{1, 1});
  d.event_type = "a";
  d.created_at = kStart;
  WriteBatch b;
  b.events = {SomeEvent(1), SomeEvent(2)};
  b.deliveries.push_back(d);
  d.status = DeliveryStatus::kDelivered;
  d.attempts = 1;
  b.deliveries.push_back(d);
  ASSERT_TRUE(s->Append(&b).ok());
  auto got = s->GetDelivery(d.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, d);
  auto c = s->GetCounters(d.endpoint_id);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->by_status[static_cast<int>(DeliveryStatus::kPending)], 0u);
  EXPECT_EQ(c->by_status[static_cast<int>(DeliveryStatus::kDelivered)], 1u);
  EXPECT_EQ(c->attempts, 1u);
}

}  // namespace
}  // namespace hooklog
