// ShardedTransport: one Transport spread over several, so that no single
// libcurl multi handle carries more than a bounded number of transfers.
//
// Why: libcurl 7.88 spends time proportional to the connections of a multi
// handle on every transfer it starts or finishes (docs/transport.md, "The
// libcurl 7.88 traps"), so at 10,000 concurrent attempts one handle becomes
// the bottleneck. Shards are made on demand: an attempt goes to the shard
// with the fewest attempts in flight, and a new shard is made only when
// every shard has `per_shard` in flight, up to `max_shards`. Below
// `per_shard` concurrent attempts there is exactly one shard, so small
// loads keep one connection pool.
//
// Thread-safety: as Transport. Ownership: owns its shards; `make_shard` is
// called under an internal mutex, from Send's caller thread.
#ifndef HOOKLOG_TRANSPORT_SHARDED_TRANSPORT_H_
#define HOOKLOG_TRANSPORT_SHARDED_TRANSPORT_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "hooklog/transport.h"

namespace hooklog::transport_internal {

class ShardedTransport final : public Transport {
 public:
  static constexpr size_t kMaxShards = 64;

  // REQUIRES: per_shard >= 1, 1 <= max_shards <= kMaxShards.
  ShardedTransport(std::function<std::unique_ptr<Transport>()> make_shard,
                   size_t per_shard, size_t max_shards);
  ~ShardedTransport() override;

  void Send(AttemptRequest request,
            std::function<void(AttemptResult)> done) override;
  void Shutdown() override;
  size_t InFlight() const override;

  // Shards made so far (for tests and metrics).
  size_t shards() const { return count_.load(std::memory_order_acquire); }

 private:
  Transport* Pick();

  const std::function<std::unique_ptr<Transport>()> make_shard_;
  const size_t per_shard_;
  const size_t max_shards_;
  // Published with release once made; never removed before destruction, so
  // Send reads them without the mutex.
  std::array<std::unique_ptr<Transport>, kMaxShards> shards_;
  std::atomic<size_t> count_{0};
  std::mutex grow_mu_;  // serializes making a shard
  std::atomic<bool> shut_down_{false};
};

}  // namespace hooklog::transport_internal

#endif  // HOOKLOG_TRANSPORT_SHARDED_TRANSPORT_H_
