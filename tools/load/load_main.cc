// hooklog-load: the end-to-end load tool. It runs the engine embedded over
// the RocksDB store (temporary directory, sync on) against hooklog-receiver
// on loopback (a child process; --receiver inproc runs the receiver library
// in this process instead), publishes N events at full speed (or at
// --rate) to K endpoints, waits until every acknowledged delivery is
// terminal, and reports deliveries/s, publish→delivered latency, peak RSS
// and CPU per delivery. In the same run it measures the ceilings against the
// same receiver: wrk and a bare libcurl-multi loop at the same concurrency,
// with the same POST.
//
//   hooklog-load --scenario throughput|slow|faulty|restart [--events N] ...
//   hooklog-load --help
//
// Traffic goes to 127.0.0.1 only. Every phase has a time limit. See
// bench/RESULTS.md for the figures and how they were produced.
//
//   load_flags    the flags and the scenarios' defaults
//   scenarios     receiver, engine options, payload per scenario
//   delivery_run  throughput / slow / faulty
//   restart_run   restart
//   report        the table and the JSON line
//   measure       RSS, CPU, percentiles, ObservedStorage
//   receiver_process, ceilings
#include "tools/load/delivery_run.h"
#include "tools/load/load_flags.h"
#include "tools/load/measure.h"
#include "tools/load/restart_run.h"

int main(int argc, char** argv) {
  using namespace hooklog::load;
  const LoadFlags flags = ParseLoadFlags(argc, argv);
  RaiseFdLimit();
  if (flags.scenario == "restart") return RunRestart(flags);
  return RunDelivery(flags);
}
