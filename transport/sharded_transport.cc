#include "transport/sharded_transport.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace hooklog::transport_internal {

ShardedTransport::ShardedTransport(
    std::function<std::unique_ptr<Transport>()> make_shard, size_t per_shard,
    size_t max_shards)
    : make_shard_(std::move(make_shard)),
      per_shard_(std::max<size_t>(1, per_shard)),
      max_shards_(std::clamp<size_t>(max_shards, 1, kMaxShards)) {
  shards_[0] = make_shard_();
  count_.store(1, std::memory_order_release);
}

ShardedTransport::~ShardedTransport() {
  // Each shard's destructor tears it down synchronously (no `done` after).
  for (auto& s : shards_) s.reset();
}

Transport* ShardedTransport::Pick() {
  size_t n = count_.load(std::memory_order_acquire);
  Transport* best = shards_[0].get();
  size_t best_load = best->InFlight();
  for (size_t i = 1; i < n && best_load > 0; ++i) {
    size_t load = shards_[i]->InFlight();
    if (load < best_load) {
      best = shards_[i].get();
      best_load = load;
    }
  }
  if (best_load < per_shard_ || n >= max_shards_) return best;
  // Every shard is full: make one more (another thread may have already).
  std::lock_guard<std::mutex> lock(grow_mu_);
  n = count_.load(std::memory_order_acquire);
  if (n < max_shards_ && !shut_down_.load(std::memory_order_acquire)) {
    shards_[n] = make_shard_();
    count_.store(n + 1, std::memory_order_release);
    return shards_[n].get();
  }
  return best;
}

void ShardedTransport::Send(AttemptRequest request,
                            std::function<void(AttemptResult)> done) {
  // After Shutdown, any shard refuses the attempt the same way.
  Pick()->Send(std::move(request), std::move(done));
}

void ShardedTransport::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(grow_mu_);
    shut_down_.store(true, std::memory_order_release);
  }
  const size_t n = count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) shards_[i]->Shutdown();
}

size_t ShardedTransport::InFlight() const {
  const size_t n = count_.load(std::memory_order_acquire);
  size_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += shards_[i]->InFlight();
  return sum;
}

}  // namespace hooklog::transport_internal
