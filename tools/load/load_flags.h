// hooklog-load's command line: the flags, their scenario defaults, and the
// parser (cli::FlagSet).
//
// Thread-safety: a value.
#ifndef HOOKLOG_TOOLS_LOAD_LOAD_FLAGS_H_
#define HOOKLOG_TOOLS_LOAD_LOAD_FLAGS_H_

#include <cstdint>
#include <string>

#include "hooklog/transport.h"

namespace hooklog::load {

struct LoadFlags {
  std::string scenario = "throughput";  // throughput | slow | faulty | restart
  int64_t events = 100'000;             // per scenario when not given
  int endpoints = 4;                    // per scenario when not given
  int concurrency = 64;                 // per scenario when not given
  int64_t payload_bytes = 100;
  double rate = 0;  // events/s; 0 = as fast as the engine acknowledges
  double ceiling_seconds = 5;      // per scenario when not given
  std::string receiver = "child";  // child | inproc
  std::string receiver_bin;        // "": next to this executable, then PATH
  int receiver_threads = 1;
  int engine_threads = 2;
  double timeout_s = 600;
  int64_t restart_events = 1'000'000;
  int64_t restart_active = 10'000;
  std::string dir;
  bool fanout_all = false;
  bool smoke = false;  // small and quick; no ceilings
  bool json = false;
  bool no_ceilings = false;
  int64_t transfers_per_handle =
      int64_t(TransportOptions{}.transfers_per_handle);
  int64_t max_connections = 0;  // TransportOptions::max_connections; 0: default
  // Scale-out: "" runs one engine over RocksDB; a postgresql:// URL runs
  // `nodes` engines in cluster mode over one fresh schema of it (dropped
  // afterwards), publishing round robin.
  std::string storage;
  int nodes = 1;
  int partitions = 64;
};

// Parses argv and fills in the scenario's defaults for what was not given.
// --help prints the usage and exits 0; a bad flag or value prints why and
// exits 2.
LoadFlags ParseLoadFlags(int argc, char** argv);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_LOAD_FLAGS_H_
