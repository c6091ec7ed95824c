// Committer: the engine's group commit.
//
// Engine code running on its strand Submit()s small WriteBatches; one
// committer thread takes everything queued since its last write, merges it
// into a single Storage::Append (one durable sync for all of it) and reports
// each submission's outcome. Submissions are appended in the order they were
// made, so the log order is the order of decisions.
//
// Thread-safety: Submit() from any thread; `done` runs on the committer
// thread and must not block.
#ifndef HOOKLOG_ENGINE_COMMITTER_H_
#define HOOKLOG_ENGINE_COMMITTER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "hooklog/storage.h"

namespace hooklog {

class Committer {
 public:
  using Done = std::function<void(Status)>;

  Committer(Storage* storage, size_t max_batch_events);
  ~Committer();  // Stop()

  void Submit(WriteBatch batch, Done done);
  // Writes what is queued, then joins the thread. Later Submit()s complete
  // with Unavailable at once.
  void Stop();

  uint64_t appends() const { return appends_.load(); }
  uint64_t append_latency_us_total() const { return latency_us_.load(); }

 private:
  struct Item {
    WriteBatch batch;
    Done done;
  };
  void Run();

  Storage* const storage_;
  const size_t max_batch_events_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> latency_us_{0};
  std::thread thread_;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_COMMITTER_H_
