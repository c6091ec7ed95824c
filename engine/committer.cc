#include "engine/committer.h"

#include <chrono>
#include <vector>

#include "base/kill_point.h"
#include "engine/stats.h"

namespace hooklog {

Committer::Committer(Storage* storage, size_t max_batch_events)
    : storage_(storage),
      max_batch_events_(max_batch_events == 0 ? 1 : max_batch_events),
      thread_([this] { Run(); }) {}

Committer::~Committer() { Stop(); }

void Committer::Submit(WriteBatch batch, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      queue_.push_back(Item{std::move(batch), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(Status::Unavailable("engine is shutting down"));
}

void Committer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void Committer::Run() {
  std::vector<Item> items;
  for (;;) {
    items.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and drained
      // Take everything queued (bounded): every caller that arrived while
      // the previous write was syncing shares this one.
      size_t events = 0;
      while (!queue_.empty() &&
             (items.empty() || events + queue_.front().batch.events.size() <=
                                   max_batch_events_)) {
        events += queue_.front().batch.events.size();
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    WriteBatch merged;
    if (items.size() == 1) {
      merged = std::move(items[0].batch);
    } else {
      for (Item& it : items) merged.Merge(std::move(it.batch));
      // Every attempt brings its two buckets: sum them per (series,
      // minute) so that the store adds a handful, not thousands.
      CompactStats(&merged.stats);
    }
    auto start = std::chrono::steady_clock::now();
    Status st = storage_->Append(&merged).status();
    latency_us_ += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start)
            .count());
    appends_++;
    // Durable but not yet acknowledged to anyone.
    if (st.ok()) HOOKLOG_KILL_POINT("append_before_ack");
    for (Item& it : items) it.done(st);
  }
}

}  // namespace hooklog
