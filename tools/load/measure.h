// What hooklog-load measures with: this process's peak RSS and CPU,
// percentiles, the machine line, and ObservedStorage, which timestamps each
// delivery's terminal row as it becomes durable.
//
// Thread-safety: ObservedStorage is called by the engine's threads and read
// by the load tool's; the functions are stateless.
#ifndef HOOKLOG_TOOLS_LOAD_MEASURE_H_
#define HOOKLOG_TOOLS_LOAD_MEASURE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "hooklog/storage.h"

namespace hooklog::load {

using SteadyClock = std::chrono::steady_clock;

// VmHWM of this process (MiB).
double PeakRssMb();
// User + system CPU seconds of this process, all its threads (children
// not included).
double ProcessCpuSeconds();
// The p-quantile (0..1) of v (reordered); 0 when empty.
double Percentile(std::vector<double>& v, double p);
int64_t NowNs(SteadyClock::time_point t0);
// "nproc N, <cpu model>".
std::string MachineLine();
// The allocator this process runs with: "jemalloc" when its mallctl is
// linked in (webhookd and hooklog-load link it when built with it, see
// cmake/HooklogDeps.cmake), "system" otherwise.
std::string AllocatorName();
// Raises RLIMIT_NOFILE's soft limit to the hard one.
void RaiseFdLimit();

// Records when each terminal delivery row became durable: the engine hands
// its rows to Storage::Append, so this sees the moment Append returned for
// the batch holding a delivery's terminal state.
class ObservedStorage : public ForwardingStorage {
 public:
  ObservedStorage(std::unique_ptr<Storage> target, SteadyClock::time_point t0)
      : ForwardingStorage(std::move(target)), t0_(t0) {}

  Result<uint64_t> Append(WriteBatch* batch) override;

  uint64_t delivered() const { return delivered_; }
  uint64_t dead() const { return dead_; }
  int64_t last_terminal_ns() const { return last_terminal_ns_; }
  std::vector<std::pair<DeliveryId, int64_t>> TakeTerminal();

 private:
  const SteadyClock::time_point t0_;
  std::mutex mu_;
  std::vector<std::pair<DeliveryId, int64_t>> terminal_;
  std::atomic<uint64_t> delivered_{0}, dead_{0};
  std::atomic<int64_t> last_terminal_ns_{0};
};

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_MEASURE_H_
