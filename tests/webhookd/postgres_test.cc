// webhookd on the PostgreSQL store (--storage): an in-process daemon over a
// real PostgreSQL 15 in a fresh schema per test delivers to the real
// receiver, keeps its endpoints and deliveries across a restart, and a
// second daemon on the same schema joins it (cluster mode, tests/cluster).
//
// The server comes from env HOOKLOG_TEST_POSTGRES (a libpq conninfo;
// `eval "$(scripts/postgres.sh start)"` sets it). Without it the tests are
// skipped, except under CI=true, where a missing server is a failure. A
// webhookd built without the PostgreSQL adapter must refuse --storage.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/webhookd/daemon_fixture.h"

#ifdef WEBHOOKD_TEST_WITH_POSTGRES
#include "tests/postgres/test_server.h"
#endif

namespace webhookd_test {
namespace {

#ifdef WEBHOOKD_TEST_WITH_POSTGRES

using hooklog::testing::PostgresConnInfo;

// Runs `sql` on a session of its own; the first value ("" when none).
std::string AdminExec(const std::string& sql) {
  return hooklog::testing::PostgresAdmin().Exec(sql);
}

class PostgresDaemonTest : public DaemonFixture {
 protected:
  void SetUp() override {
    hooklog::testing::RequirePostgres();
    if (PostgresConnInfo().empty()) return;  // skipped, or failed under CI
    schema_ = hooklog::testing::NewSchema("hooklog_wd_");
    DaemonFixture::SetUp();
  }
  void TearDown() override {
    DaemonFixture::TearDown();
    if (!schema_.empty()) {
      AdminExec("DROP SCHEMA IF EXISTS \"" + schema_ + "\" CASCADE");
    }
  }

  webhookd::Config PgConfig() {
    webhookd::Config c = BaseConfig();
    c.storage = PostgresConnInfo();
    c.storage_schema = schema_;
    return c;
  }

  std::string schema_;
};

TEST_F(PostgresDaemonTest, DeliversAndKeepsItsStateAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(Start(PgConfig()));
  const std::string ep = CreateEndpoint("/pg");
  ASSERT_FALSE(ep.empty());
  auto ids = Publish("order.created", R"({"n":1})");
  ASSERT_EQ(ids.size(), 1u);
  Json first = WaitForStatus(ids[0], "delivered");
  EXPECT_EQ(first.Str("status"), "delivered");
  ASSERT_TRUE(rx_->WaitForRequests(1, std::chrono::seconds(10)));
  EXPECT_EQ(rx_->RequestsFor("/pg").size(), 1u);

  // The state is in the schema, and nothing went to the data directory.
  EXPECT_NE(AdminExec("SELECT last_seq FROM \"" + schema_ + "\".meta"), "0");
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path())) << dir_.path();

  // A second node on the same schema joins the first (a cluster: the
  // schema is shared, tests/cluster has the multi-node cases).
  {
    webhookd::Config c2 = PgConfig();
    c2.node_id = "second";
    auto second = webhookd::Daemon::Start(c2);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    (*second)->Stop();
  }

  // Restart on the same schema: the endpoint and the delivery are there, and
  // the delivered message is not delivered again.
  Stop();
  ASSERT_NO_FATAL_FAILURE(Start(PgConfig()));
  Json e = CallJson("GET", "endpoints/" + ep + "/", 200);
  EXPECT_EQ(e.Str("url"), rx_->Url("/pg"));
  Json again = CallJson("GET", "deliveries/" + ids[0] + "/", 200);
  EXPECT_EQ(again.Str("status"), "delivered");

  auto more = Publish("order.created", R"({"n":2})");
  ASSERT_EQ(more.size(), 1u);
  WaitForStatus(more[0], "delivered");
  ASSERT_TRUE(rx_->WaitForRequests(2, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(rx_->RequestsFor("/pg").size(), 2u);

  // Once the daemon stops, the schema is free for another.
  Stop();
  auto next = webhookd::Daemon::Start(PgConfig());
  EXPECT_TRUE(next.ok()) << next.status().ToString();
}

TEST_F(PostgresDaemonTest, UnreachableServerFailsTheStart) {
  webhookd::Config c = PgConfig();
  // Port 1 on loopback: nothing listens there.
  c.storage = "postgresql://postgres@127.0.0.1:1/hooklog?connect_timeout=2";
  auto d = webhookd::Daemon::Start(c);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), hooklog::StatusCode::kUnavailable)
      << d.status().ToString();
}

#else  // !WEBHOOKD_TEST_WITH_POSTGRES

TEST(PostgresDaemonTest, RefusedWhenBuiltWithoutPostgres) {
  webhookd::Config c;
  c.listen_port = 0;
  c.api_keys = {kFixtureKey};
  c.storage = "postgresql://127.0.0.1/hooklog";
  auto d = webhookd::Daemon::Start(c);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find(
                "this webhookd was built without PostgreSQL support"),
            std::string::npos)
      << d.status().ToString();
}

#endif  // WEBHOOKD_TEST_WITH_POSTGRES

}  // namespace
}  // namespace webhookd_test
