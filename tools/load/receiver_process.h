// The receiver hooklog-load sends to, in one of two placements:
//   child process  hooklog-receiver, found next to hooklog-load's own
//                  executable (build/tools/ and <prefix>/bin hold both) or
//                  on PATH, or given with --receiver-bin (the default: its
//                  CPU and memory stay out of the engine's figures);
//   in-process     the hooklog::receiver::Receiver library on its own
//                  threads in this process (only when asked for).
//
// Thread-safety: one owner thread.
#ifndef HOOKLOG_TOOLS_LOAD_RECEIVER_PROCESS_H_
#define HOOKLOG_TOOLS_LOAD_RECEIVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/receiver/receiver.h"

namespace hooklog::load {

struct ReceiverConfig {
  bool child = true;   // false: in-process
  std::string binary;  // hooklog-receiver (child placement)
  int threads = 1;
  std::chrono::milliseconds delay{0};
  double fail_rate = 0;        // 500
  double rate_limit_rate = 0;  // 429, Retry-After: 1
  uint64_t seed = 1;
};

class LoadReceiver {
 public:
  // nullptr and a message on stderr when it cannot start.
  static std::unique_ptr<LoadReceiver> Start(const ReceiverConfig& config);
  ~LoadReceiver();

  // "http://127.0.0.1:<port><path>".
  std::string Url(const std::string& path) const { return base_ + path; }
  bool child() const { return pid_ > 0; }
  // "child process" or "in-process".
  const char* placement() const { return rx_ ? "in-process" : "child process"; }
  // Peak RSS of the child (MiB); nullopt in-process (it is part of ours).
  std::optional<double> PeakRssMb() const;
  // CPU seconds (user + system) the receiver used so far: the child
  // process's, or the in-process receiver's threads'.
  double CpuSeconds() const;
  // Stops it; returns its counters line ("requests=...").
  std::string Stop();

 private:
  LoadReceiver() = default;
  std::string base_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::unique_ptr<receiver::Receiver> rx_;
};

// hooklog-receiver next to this executable, else on PATH. "" when neither.
std::string FindReceiverBinary();

// Starts args[0] (searched on PATH when `search_path`) with its stdout on a
// pipe. On success sets *pid and *read_fd (close-on-exec) and returns true.
bool SpawnWithStdoutPipe(const std::vector<std::string>& args, bool search_path,
                         pid_t* pid, int* read_fd);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_RECEIVER_PROCESS_H_
