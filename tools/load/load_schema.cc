#include "tools/load/load_schema.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#if HOOKLOG_LOAD_WITH_POSTGRES
#include <libpq-fe.h>

#include "hooklog/postgres_storage.h"
#endif

namespace hooklog::load {

Result<std::unique_ptr<LoadSchema>> LoadSchema::Create(std::string url) {
#if HOOKLOG_LOAD_WITH_POSTGRES
  // Unique per run, so that endpoints of an earlier run never take part.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string name =
      "hooklog_load_" + std::to_string(getpid()) + "_" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(now).count());
  return std::unique_ptr<LoadSchema>(
      new LoadSchema(std::move(url), std::move(name)));
#else
  (void)url;
  return Status::FailedPrecondition(
      "--storage: this hooklog-load was built without PostgreSQL support");
#endif
}

Result<std::unique_ptr<Storage>> LoadSchema::Open() {
#if HOOKLOG_LOAD_WITH_POSTGRES
  PostgresOptions o;
  o.schema = name_;
  return OpenPostgresStorage(url_, o);
#else
  return Status::FailedPrecondition("no PostgreSQL support");
#endif
}

LoadSchema::~LoadSchema() {
#if HOOKLOG_LOAD_WITH_POSTGRES
  PGconn* c = PQconnectdb(url_.c_str());
  if (PQstatus(c) == CONNECTION_OK) {
    PQclear(PQexec(c, "SET client_min_messages TO warning"));  // no NOTICEs
    // The name is ours (letters, digits, underscores): no quoting needed.
    PGresult* r =
        PQexec(c, ("DROP SCHEMA IF EXISTS " + name_ + " CASCADE").c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      std::fprintf(stderr, "hooklog-load: could not drop schema %s: %s",
                   name_.c_str(), PQerrorMessage(c));
    }
    PQclear(r);
  }
  PQfinish(c);
#endif
}

}  // namespace hooklog::load
