// Committer: the engine's group commit.
//
// Engine code running on its strand Submit()s small WriteBatches; one
// committer thread takes everything queued since its last write, merges it
// into a single Storage::Append (one durable sync for all of it) and reports
// each submission's outcome. Submissions are appended in the order they were
// made, so the log order is the order of decisions.
//
// Cluster mode: when the store refuses a merged batch because some of its
// fences failed (WriteBatch::fenced), the batch is split back into its
// submissions; those fenced with a failed partition complete with a
// lease-lost error (IsLeaseLost) and the others are appended again at once,
// so that one lost lease does not fail a publish that shared its write.
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
#include <vector>

#include "hooklog/storage.h"

namespace hooklog {

class Committer {
 public:
  using Done = std::function<void(Status)>;

  struct Hooks {
    // After each successful Append, with the merged batch (its events carry
    // their sequence numbers): the cluster's follower skips them.
    std::function<void(const WriteBatch&)> appended;
    // When an Append was refused for these lost partitions.
    std::function<void(const std::vector<uint32_t>&)> fenced;
    // Held across each Append and its `appended` call (when not null): a
    // reader that read events from the store and then takes it knows that
    // `appended` has already run for every Append of this committer whose
    // events it read. The cluster's follower uses it to tell its own events
    // from other nodes'.
    std::mutex* append_mu = nullptr;
  };

  Committer(Storage* storage, size_t max_batch_events, Hooks hooks);
  Committer(Storage* storage, size_t max_batch_events)
      : Committer(storage, max_batch_events, Hooks()) {}
  ~Committer();  // Stop()

  // With `keep_when_unavailable`, an Append answering Unavailable does not
  // fail the submission: it is written again (every 250 ms) until it lands,
  // its lease is lost, or Stop(). Cluster mode submits attempt results so:
  // a short database outage then loses no result. Other submissions fail
  // at once, as before.
  void Submit(WriteBatch batch, Done done, bool keep_when_unavailable = false);
  // Writes what is queued, then joins the thread. Later Submit()s complete
  // with Unavailable at once.
  void Stop();

  uint64_t appends() const { return appends_.load(); }
  uint64_t append_latency_us_total() const { return latency_us_.load(); }
  // False after an Append answered Unavailable, until one gets through.
  bool storage_reachable() const { return reachable_.load(); }

 private:
  struct Item {
    WriteBatch batch;
    Done done;
    bool keep = false;  // keep_when_unavailable
  };
  void Run();
  // Moves queued submissions into *items, up to max_batch_events_ events in
  // all (at least one). REQUIRES: mu_ held.
  void TakeQueued(std::vector<Item>* items);
  // Appends the items (merged); on a fence failure fails the fenced ones
  // and retries the rest. Completes every item.
  void Write(std::vector<Item>* items);

  Storage* const storage_;
  const size_t max_batch_events_;
  const Hooks hooks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> latency_us_{0};
  std::atomic<bool> reachable_{true};
  std::thread thread_;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_COMMITTER_H_
