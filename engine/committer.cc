#include "engine/committer.h"

#include <chrono>
#include <vector>

#include "base/kill_point.h"
#include "engine/stats.h"

namespace hooklog {

namespace {

// How many elements of each of a batch's vectors one submission brought.
struct Extent {
  size_t n[8];
};

template <typename T>
void MoveSlice(std::vector<T>* from, size_t* offset, size_t n,
               std::vector<T>* to) {
  to->assign(std::make_move_iterator(from->begin() + *offset),
             std::make_move_iterator(from->begin() + *offset + n));
  *offset += n;
}

Extent ExtentOf(const WriteBatch& b) {
  return {{b.events.size(), b.endpoints.size(), b.messages.size(),
           b.deliveries.size(), b.idempotency.size(), b.stats.size(),
           b.replay_jobs.size(), b.fences.size()}};
}

// Undoes WriteBatch::Merge: gives each item back the elements it brought.
void SplitBack(WriteBatch* merged, const std::vector<Extent>& extents,
               std::vector<WriteBatch*> out) {
  size_t off[8] = {};
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t* n = extents[i].n;
    WriteBatch* b = out[i];
    MoveSlice(&merged->events, &off[0], n[0], &b->events);
    MoveSlice(&merged->endpoints, &off[1], n[1], &b->endpoints);
    MoveSlice(&merged->messages, &off[2], n[2], &b->messages);
    MoveSlice(&merged->deliveries, &off[3], n[3], &b->deliveries);
    MoveSlice(&merged->idempotency, &off[4], n[4], &b->idempotency);
    MoveSlice(&merged->stats, &off[5], n[5], &b->stats);
    MoveSlice(&merged->replay_jobs, &off[6], n[6], &b->replay_jobs);
    MoveSlice(&merged->fences, &off[7], n[7], &b->fences);
  }
}

bool FencedBy(const WriteBatch& b, const std::vector<uint32_t>& lost) {
  for (const LeaseFence& f : b.fences) {
    for (uint32_t p : lost) {
      if (f.partition == p) return true;
    }
  }
  return false;
}

constexpr std::string_view kLeaseLost = "lease lost: ";

}  // namespace

bool IsLeaseLost(const Status& st) {
  return st.code() == StatusCode::kFailedPrecondition &&
         st.message().starts_with(kLeaseLost);
}

Committer::Committer(Storage* storage, size_t max_batch_events, Hooks hooks)
    : storage_(storage),
      max_batch_events_(max_batch_events == 0 ? 1 : max_batch_events),
      hooks_(std::move(hooks)),
      thread_([this] { Run(); }) {}

Committer::~Committer() { Stop(); }

void Committer::Submit(WriteBatch batch, Done done,
                       bool keep_when_unavailable) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      queue_.push_back(
          Item{std::move(batch), std::move(done), keep_when_unavailable});
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
      TakeQueued(&items);
    }
    Write(&items);
  }
}

// REQUIRES: mu_ held.
void Committer::TakeQueued(std::vector<Item>* items) {
  size_t events = 0;
  for (const Item& it : *items) events += it.batch.events.size();
  while (!queue_.empty() &&
         (items->empty() ||
          events + queue_.front().batch.events.size() <= max_batch_events_)) {
    events += queue_.front().batch.events.size();
    items->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void Committer::Write(std::vector<Item>* items) {
  while (!items->empty()) {
    bool fenced = false, keep = false;
    for (const Item& it : *items) {
      fenced = fenced || !it.batch.fences.empty();
      keep = keep || it.keep;
    }
    WriteBatch merged;
    std::vector<Extent> extents;
    if (items->size() == 1) {
      merged = std::move((*items)[0].batch);
      extents.push_back(ExtentOf(merged));
    } else {
      for (Item& it : *items) {
        extents.push_back(ExtentOf(it.batch));
        merged.Merge(std::move(it.batch));
      }
      // Every attempt brings its two buckets: sum them per (series,
      // minute) so that the store adds a handful, not thousands. Not when
      // a refused batch may have to split back into its submissions
      // (fenced or kept ones; the store sums repeated buckets itself).
      if (!fenced && !keep) CompactStats(&merged.stats);
    }
    auto start = std::chrono::steady_clock::now();
    Status st;
    {
      std::unique_lock<std::mutex> own;
      if (hooks_.append_mu != nullptr) {
        own = std::unique_lock<std::mutex>(*hooks_.append_mu);
      }
      st = storage_->Append(&merged).status();
      if (st.ok() && hooks_.appended) hooks_.appended(merged);
    }
    latency_us_ += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start)
            .count());
    appends_++;
    reachable_ = st.code() != StatusCode::kUnavailable;
    // Durable but not yet acknowledged to anyone.
    if (st.ok()) HOOKLOG_KILL_POINT("append_before_ack");
    std::vector<WriteBatch*> parts;
    for (Item& it : *items) parts.push_back(&it.batch);
    if (keep && st.code() == StatusCode::kUnavailable) {
      // Storage is away: the kept submissions wait for it, the others fail
      // now (their callers get "nothing was changed").
      SplitBack(&merged, extents, parts);
      std::vector<Item> kept;
      for (Item& it : *items) {
        if (it.keep) {
          kept.push_back(std::move(it));
        } else {
          it.done(st);
        }
      }
      *items = std::move(kept);
      // Until the next try, new submissions are taken as they come, so that
      // they too are answered at once rather than wait out the outage.
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(250),
                       [&] { return stop_ || !queue_.empty(); }) &&
          stop_) {
        lock.unlock();
        for (Item& it : *items) it.done(st);
        items->clear();
        return;
      }
      TakeQueued(items);
      continue;
    }
    if (st.ok() || merged.fenced.empty() || !fenced) {
      for (Item& it : *items) it.done(st);
      items->clear();
      return;
    }
    // Refused for lost leases: nothing was written. The submissions fenced
    // with a lost partition fail; the others go again.
    const std::vector<uint32_t> lost = merged.fenced;
    if (hooks_.fenced) hooks_.fenced(lost);
    SplitBack(&merged, extents, parts);
    const Status refused =
        Status::FailedPrecondition(std::string(kLeaseLost) + st.message());
    size_t failed = 0;
    for (const Item& it : *items) failed += FencedBy(it.batch, lost) ? 1 : 0;
    std::vector<Item> rest;
    for (Item& it : *items) {
      // A store naming no partition we fenced with fails everything rather
      // than loop.
      if (failed == 0 || FencedBy(it.batch, lost)) {
        it.done(refused);
      } else {
        rest.push_back(std::move(it));
      }
    }
    *items = std::move(rest);
  }
}

}  // namespace hooklog
