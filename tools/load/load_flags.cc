#include "tools/load/load_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "tools/cli/flags.h"

namespace hooklog::load {

LoadFlags ParseLoadFlags(int argc, char** argv) {
  LoadFlags f;
  cli::FlagSet flags(
      "hooklog-load", "[flags]",
      "The end-to-end load tool: runs the engine embedded over RocksDB (sync\n"
      "on) against hooklog-receiver on 127.0.0.1, publishes N events to K\n"
      "endpoints, waits until every delivery is terminal, and reports\n"
      "deliveries/s, latency, RSS and CPU; then measures the ceilings (wrk\n"
      "and a bare libcurl-multi loop) against the same receiver. See\n"
      "bench/RESULTS.md.");
  flags.Choice("scenario", &f.scenario,
               {"throughput", "slow", "faulty", "restart"},
               "fast receiver | 1 s answers | 10 % 500 + 5 % 429 | restart "
               "time over a big store");
  flags.Int("events", &f.events,
            "events to publish (slow 100000, faulty 20000, --smoke 2000)",
            int64_t{1}, int64_t{1'000'000'000});
  flags.Int("endpoints", &f.endpoints, "endpoints (slow: 10)", 1, 100'000);
  flags.Int("concurrency", &f.concurrency,
            "deliveries in flight at most, and the ceilings' connections "
            "(slow: 10000)",
            1, 1'000'000);
  flags.Int("payload-bytes", &f.payload_bytes, "size of each event's data",
            int64_t{2}, int64_t{16 << 20});
  flags.Double("rate", &f.rate, "events/s to publish at, 0: full speed", 0,
               1e9);
  flags.Bool("fanout-all", &f.fanout_all, "send every event to every endpoint");
  flags.Double("ceiling-seconds", &f.ceiling_seconds,
               "seconds each ceiling runs (slow: 10)", 0.1, 3600);
  flags.Bool("no-ceilings", &f.no_ceilings, "do not measure the ceilings");
  flags.Int("max-connections", &f.max_connections,
            "the transport's connection cap, 0: its default", int64_t{0},
            int64_t{1'000'000});
  flags.Int("transfers-per-handle", &f.transfers_per_handle,
            "attempts one curl multi handle carries before the transport "
            "adds another (TransportOptions; 0: one handle); the curl "
            "ceiling uses as many handles",
            int64_t{0}, int64_t{1'000'000});
  flags.Choice("receiver", &f.receiver, {"child", "inproc"},
               "hooklog-receiver as a child process, or the receiver "
               "library in this process");
  flags.String("receiver-bin", &f.receiver_bin,
               "hooklog-receiver to start (default: next to this "
               "executable, then PATH)",
               "PATH");
  flags.Int("receiver-threads", &f.receiver_threads, "receiver threads", 1,
            256);
  flags.Int("engine-threads", &f.engine_threads, "engine threads", 1, 256);
  flags.Double("timeout", &f.timeout_s, "seconds the engine phase may take", 1,
               86'400, "S");
  flags.Int("restart-events", &f.restart_events,
            "restart: log events in the store", int64_t{1},
            int64_t{1'000'000'000});
  flags.Int("restart-active", &f.restart_active,
            "restart: non-terminal deliveries in the store", int64_t{0},
            int64_t{100'000'000});
  flags.String("dir", &f.dir, "where the temporary stores go (default $TMPDIR)",
               "D");
  flags.String("storage", &f.storage,
               "a postgresql:// URL: run the engines in cluster mode on a "
               "fresh schema of that database (dropped at the end) instead "
               "of RocksDB",
               "URL");
  flags.Int("nodes", &f.nodes,
            "with --storage: engines (cluster nodes) in this process, "
            "publishing round robin",
            1, 64);
  flags.Int("partitions", &f.partitions, "with --storage: cluster partitions",
            1, 4096);
  flags.Bool("smoke", &f.smoke,
             "a quick check: few events, 25 s at most, no ceilings");
  flags.Bool("json", &f.json, "print a JSON line after the report");
  flags.ParseOrExit(argc, argv);

  auto fail = [](const char* why) {
    std::fprintf(stderr, "hooklog-load: %s\n", why);
    std::exit(2);
  };
  if (f.nodes > 1 && f.storage.empty()) {
    fail("--nodes needs --storage (an embedded RocksDB is one node)");
  }
  if (!f.storage.empty() && f.scenario == "restart") {
    fail("--storage: the restart scenario measures RocksDB only");
  }
  const std::string& s = f.scenario;
  if (!flags.IsSet("events")) {
    f.events = f.smoke ? 2000 : s == "faulty" ? 20'000 : 100'000;
  }
  if (!flags.IsSet("endpoints")) f.endpoints = s == "slow" ? 10 : 4;
  if (!flags.IsSet("concurrency")) f.concurrency = s == "slow" ? 10'000 : 64;
  if (!flags.IsSet("ceiling-seconds")) f.ceiling_seconds = s == "slow" ? 10 : 5;
  if (f.smoke) {
    f.no_ceilings = true;
    f.timeout_s = std::min(f.timeout_s, 25.0);
    if (s == "restart") {
      f.restart_events = std::min<int64_t>(f.restart_events, 30'000);
      f.restart_active = std::min<int64_t>(f.restart_active, 100);
    }
  }
  return f;
}

}  // namespace hooklog::load
