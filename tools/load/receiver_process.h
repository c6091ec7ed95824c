// The test receiver hooklog-load sends to: either hooklog-receiver as a
// child process, or the receiver library (hooklog::receiver::Receiver) on its own threads in this
// process.
//
// Thread-safety: one owner thread.
#ifndef HOOKLOG_TOOLS_LOAD_RECEIVER_PROCESS_H_
#define HOOKLOG_TOOLS_LOAD_RECEIVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/receiver/receiver.h"

namespace hooklog::load {

struct ReceiverConfig {
  bool child = true;   // false: in-process
  std::string binary;  // hooklog-receiver (child mode)
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
  // Peak RSS of the child (MiB); 0 in-process (it is part of ours).
  double PeakRssMb() const;
  // CPU seconds (user + system) the child used so far; 0 in-process.
  double CpuSeconds() const;
  // Stops it; returns its counters line ("requests=..." for the child).
  std::string Stop();

 private:
  LoadReceiver() = default;
  std::string base_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::unique_ptr<receiver::Receiver> rx_;
};

// Where hooklog-receiver is: next to this executable, in the build tree
// (../../tests/support/receiver/), or on PATH. "" when not found.
std::string FindReceiverBinary();

// Starts args[0] (searched on PATH when `search_path`) with its stdout on a
// pipe. On success sets *pid and *read_fd (close-on-exec) and returns true.
bool SpawnWithStdoutPipe(const std::vector<std::string>& args, bool search_path,
                         pid_t* pid, int* read_fd);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_RECEIVER_PROCESS_H_
