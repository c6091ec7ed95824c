// The PostgreSQL server the tests run against, shared by the adapter's
// tests (tests/postgres) and webhookd's (tests/webhookd/postgres_test.cc).
//
// The server comes from env HOOKLOG_TEST_POSTGRES (a libpq conninfo;
// `eval "$(scripts/postgres.sh start)"` sets it). Without it a test that
// calls RequirePostgres() is skipped, except under CI=true, where a missing
// server is a failure.
//
// Thread-safety: NewSchema() may be called from any thread; an Admin is one
// libpq session, for one thread.
#ifndef HOOKLOG_TESTS_POSTGRES_TEST_SERVER_H_
#define HOOKLOG_TESTS_POSTGRES_TEST_SERVER_H_

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace hooklog::testing {

inline std::string PostgresConnInfo() {
  const char* c = std::getenv("HOOKLOG_TEST_POSTGRES");
  return c != nullptr ? c : "";
}

// Without a server the calling test is skipped, or fails under CI=true. The
// verdict is recorded on the running test; callers return after it when
// PostgresConnInfo() is empty (SetUp, constructors).
inline void RequirePostgres() {
  if (!PostgresConnInfo().empty()) return;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    FAIL() << "HOOKLOG_TEST_POSTGRES is not set and CI=true: start a server "
              "with eval \"$(scripts/postgres.sh start)\"";
  }
  GTEST_SKIP() << "HOOKLOG_TEST_POSTGRES is not set: no PostgreSQL to test "
                  "against (eval \"$(scripts/postgres.sh start)\")";
}

// A plain libpq session for what the tests do behind the store's back.
class PostgresAdmin {
 public:
  PostgresAdmin() : c_(PQconnectdb(PostgresConnInfo().c_str())) {
    EXPECT_EQ(PQstatus(c_), CONNECTION_OK) << PQerrorMessage(c_);
    Exec("SET client_min_messages = warning");
  }
  ~PostgresAdmin() { PQfinish(c_); }
  PostgresAdmin(const PostgresAdmin&) = delete;
  PostgresAdmin& operator=(const PostgresAdmin&) = delete;

  // Runs `sql`; returns the first value of the first row ("" when none).
  std::string Exec(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        << sql << ": " << PQresultErrorMessage(r);
    std::string v;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) v = PQgetvalue(r, 0, 0);
    PQclear(r);
    return v;
  }

 private:
  PGconn* c_;
};

// A fresh schema name per call, unique across concurrently running tests.
inline std::string NewSchema(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + std::to_string(getpid()) + "_" + std::to_string(n++);
}

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_POSTGRES_TEST_SERVER_H_
