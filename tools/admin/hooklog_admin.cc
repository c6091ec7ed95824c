// hooklog-admin: operator tool for a store, a RocksDB data directory or a
// PostgreSQL schema.
//
//   hooklog-admin verify <store>   replay the log into fresh projections
//                                  and compare with the stored rows
//   hooklog-admin stats <store>    sequence, format version, totals (and
//                                  RocksDB's statistics)
//   hooklog-admin prune <data-dir> run one retention pass now (RocksDB)
//
// <store> is a data directory, or a postgresql:// (postgres://) URI with
// --schema naming the schema (default hooklog). verify and stats never
// change the store: RocksDB is opened read-only, and a PostgreSQL schema is
// neither created nor migrated (a missing or older schema is an open
// error). verify can run next to live daemons; it checks the state as of
// its reads. Exit codes: 0 consistent, 1 mismatch, 2 usage or open error.

#include <cstdio>
#include <optional>
#include <string>

#include "hooklog/rocksdb_storage.h"
#if HOOKLOG_ADMIN_WITH_POSTGRES
#include "hooklog/postgres_storage.h"
#endif
#include "hooklog/verify.h"
#include "tools/cli/flags.h"

namespace {

std::string g_schema = "hooklog";  // --schema

bool IsPostgres(std::string_view target) {
  return target.starts_with("postgresql://") ||
         target.starts_with("postgres://");
}

hooklog::Result<std::unique_ptr<hooklog::Storage>> Open(const char* dir,
                                                        bool read_only) {
  if (IsPostgres(dir)) {
#if HOOKLOG_ADMIN_WITH_POSTGRES
    hooklog::PostgresOptions options;
    options.schema = g_schema;
    options.read_connections = 1;
    options.create_if_missing = false;  // inspect, never change
    return hooklog::OpenPostgresStorage(dir, options);
#else
    return hooklog::Status::FailedPrecondition(
        "this hooklog-admin was built without PostgreSQL support");
#endif
  }
  hooklog::RocksDbOptions options;
  options.create_if_missing = false;
  options.read_only = read_only;
  options.prune_interval = hooklog::Duration(0);  // no background thread
  return hooklog::OpenRocksDbStorage(dir, options);
}

int Verify(const char* dir) {
  auto storage = Open(dir, /*read_only=*/true);
  if (!storage.ok()) {
    std::fprintf(stderr, "hooklog-admin: %s\n",
                 storage.status().ToString().c_str());
    return 2;
  }
  auto report = hooklog::VerifyStorage(storage->get());
  if (!report.ok()) {
    std::fprintf(stderr, "hooklog-admin: verify failed: %s\n",
                 report.status().ToString().c_str());
    return 1;
  }
  std::printf("store:          %s%s%s\n", dir,
              IsPostgres(dir) ? " schema " : "",
              IsPostgres(dir) ? g_schema.c_str() : "");
  std::printf("events:         %llu (last sequence %llu)\n",
              static_cast<unsigned long long>(report->events),
              static_cast<unsigned long long>((*storage)->LastSequence()));
  std::printf("log gapless:    %s\n", report->gapless ? "yes" : "NO");
  std::printf("endpoints:      %llu\n",
              static_cast<unsigned long long>(report->endpoints));
  std::printf("messages:       %llu\n",
              static_cast<unsigned long long>(report->messages));
  std::printf("deliveries:     %llu\n",
              static_cast<unsigned long long>(report->deliveries));
  auto stats = IsPostgres(dir) ? hooklog::Result<hooklog::RocksDbStats>(
                                     hooklog::Status::NotFound("not RocksDB"))
                               : hooklog::GetRocksDbStats(storage->get());
  if (stats.ok() && stats->pruned_deliveries > 0) {
    std::printf(
        "pruned:         %llu deliveries removed by retention (%llu "
        "deliveries and %llu messages of the log tolerated as missing: "
        "terminal and created before the retention watermark)\n",
        static_cast<unsigned long long>(stats->pruned_deliveries),
        static_cast<unsigned long long>(report->pruned_deliveries),
        static_cast<unsigned long long>(report->pruned_messages));
  }
  if (report->ok()) {
    std::printf("result:         OK, projections match the log\n");
    return 0;
  }
  std::printf("result:         MISMATCH (%zu shown)\n",
              report->mismatches.size());
  for (const auto& m : report->mismatches) std::printf("  - %s\n", m.c_str());
  return 1;
}

int Stats(const char* dir) {
  auto storage = Open(dir, /*read_only=*/true);
  if (!storage.ok()) {
    std::fprintf(stderr, "hooklog-admin: %s\n",
                 storage.status().ToString().c_str());
    return 2;
  }
  auto totals = (*storage)->GetTotals();
  if (!totals.ok()) {
    std::fprintf(stderr, "hooklog-admin: cannot read totals: %s\n",
                 totals.status().ToString().c_str());
    return 2;
  }
  std::optional<hooklog::RocksDbStats> rocks;
  if (IsPostgres(dir)) {
    std::printf("store:             %s schema %s\n", dir, g_schema.c_str());
#if HOOKLOG_ADMIN_WITH_POSTGRES
    std::printf("schema version:    %d\n", hooklog::kPostgresSchemaVersion);
#endif
  } else {
    auto stats = hooklog::GetRocksDbStats(storage->get());
    if (!stats.ok()) {
      std::fprintf(stderr, "hooklog-admin: cannot read stats: %s\n",
                   stats.status().ToString().c_str());
      return 2;
    }
    rocks = std::move(*stats);
    std::printf("data directory:    %s\n", dir);
    std::printf("format version:    %u\n", rocks->format_version);
    std::printf("pruned deliveries: %llu\n",
                static_cast<unsigned long long>(rocks->pruned_deliveries));
  }
  std::printf("last sequence:     %llu\n",
              static_cast<unsigned long long>((*storage)->LastSequence()));
  static constexpr const char* kNames[] = {"pending", "delivered", "failed",
                                           "rate_limited", "dead_letter"};
  for (int i = 0; i < hooklog::kDeliveryStatusCount; ++i) {
    std::printf("deliveries %-13s %llu\n", kNames[i],
                static_cast<unsigned long long>(totals->by_status[i]));
  }
  std::printf("attempts:          %llu\n",
              static_cast<unsigned long long>(totals->attempts));
  if (rocks) std::printf("\n%s", rocks->rocksdb_stats.c_str());
  return 0;
}

int Prune(const char* dir) {
  if (IsPostgres(dir)) {
    std::fprintf(stderr,
                 "hooklog-admin: prune works on a RocksDB data directory; "
                 "the PostgreSQL adapter does not prune yet "
                 "(docs/postgres.md)\n");
    return 2;
  }
  auto storage = Open(dir, /*read_only=*/false);
  if (!storage.ok()) {
    std::fprintf(stderr, "hooklog-admin: %s\n",
                 storage.status().ToString().c_str());
    return 2;
  }
  auto pruned = hooklog::PruneRocksDbStorage(storage->get());
  if (!pruned.ok()) {
    std::fprintf(stderr, "hooklog-admin: %s\n",
                 pruned.status().ToString().c_str());
    return 2;
  }
  std::printf("pruned %llu deliveries\n",
              static_cast<unsigned long long>(*pruned));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hooklog::cli::FlagSet flags(
      "hooklog-admin", "verify|stats|prune <data-dir | postgresql://...>",
      "Operator tool for a store: a RocksDB data directory, or a PostgreSQL\n"
      "schema given as a postgresql:// URI (with --schema):\n"
      "  verify  replay the log into fresh projections and compare them with\n"
      "          the stored rows (read-only; may run next to a live daemon)\n"
      "  stats   sequence, format version, totals, RocksDB statistics\n"
      "  prune   run one retention pass now\n"
      "Exit codes: 0 consistent, 1 mismatch, 2 usage or open error.");
  flags.String("schema", &g_schema,
               "the PostgreSQL schema holding hooklog's tables", "NAME");
  flags.AllowPositional(2, 2);
  flags.ParseOrExit(argc, argv);
  const std::string& command = flags.positional()[0];
  const char* dir = flags.positional()[1].c_str();
  if (command == "verify") return Verify(dir);
  if (command == "stats") return Stats(dir);
  if (command == "prune") return Prune(dir);
  std::fprintf(stderr,
               "hooklog-admin: unknown command '%s' (verify, stats or "
               "prune)\n",
               command.c_str());
  return 2;
}
