// hooklog-admin: operator tool for a RocksDB data directory.
//
//   hooklog-admin verify <data-dir>   replay the log into fresh projections
//                                     and compare with the stored rows
//   hooklog-admin stats <data-dir>    sequence, format version, RocksDB stats
//   hooklog-admin prune <data-dir>    run one retention pass now
//
// verify opens the store read-only, so it can run next to a live daemon (it
// then checks the state as of opening). Exit codes: 0 consistent, 1
// mismatch, 2 usage or open error.

#include <cstdio>
#include <string>

#include "hooklog/rocksdb_storage.h"
#include "hooklog/verify.h"
#include "tools/cli/flags.h"

namespace {

hooklog::Result<std::unique_ptr<hooklog::Storage>> Open(const char* dir,
                                                        bool read_only) {
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
  std::printf("data directory: %s\n", dir);
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
  auto stats = hooklog::GetRocksDbStats(storage->get());
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
  auto stats = hooklog::GetRocksDbStats(storage->get());
  auto totals = (*storage)->GetTotals();
  if (!stats.ok() || !totals.ok()) {
    std::fprintf(stderr, "hooklog-admin: cannot read stats\n");
    return 2;
  }
  std::printf("data directory:    %s\n", dir);
  std::printf("format version:    %u\n", stats->format_version);
  std::printf("last sequence:     %llu\n",
              static_cast<unsigned long long>(stats->last_sequence));
  std::printf("pruned deliveries: %llu\n",
              static_cast<unsigned long long>(stats->pruned_deliveries));
  static constexpr const char* kNames[] = {"pending", "delivered", "failed",
                                           "rate_limited", "dead_letter"};
  for (int i = 0; i < hooklog::kDeliveryStatusCount; ++i) {
    std::printf("deliveries %-13s %llu\n", kNames[i],
                static_cast<unsigned long long>(totals->by_status[i]));
  }
  std::printf("attempts:          %llu\n\n%s",
              static_cast<unsigned long long>(totals->attempts),
              stats->rocksdb_stats.c_str());
  return 0;
}

int Prune(const char* dir) {
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
      "hooklog-admin", "verify|stats|prune <data-dir>",
      "Operator tool for a RocksDB data directory:\n"
      "  verify  replay the log into fresh projections and compare them with\n"
      "          the stored rows (read-only; may run next to a live daemon)\n"
      "  stats   sequence, format version, totals, RocksDB statistics\n"
      "  prune   run one retention pass now\n"
      "Exit codes: 0 consistent, 1 mismatch, 2 usage or open error.");
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
