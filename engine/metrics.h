// Metrics: the engine's counters and the assembly of EngineStats.
//
// Written by the engine on its strand (atomic increments, no locks), read
// from any thread by Engine::Stats().
//
// Thread-safety: thread-safe.
#ifndef HOOKLOG_ENGINE_METRICS_H_
#define HOOKLOG_ENGINE_METRICS_H_

#include <atomic>
#include <cstdint>

#include "hooklog/storage.h"
#include "hooklog/transport.h"
#include "hooklog/types.h"

namespace hooklog {

class Committer;

class Metrics {
 public:
  // A recorded attempt: counted as ok, rate limited or failed by the HTTP
  // status of its (durable) row.
  void CountOutcome(const Delivery& row);
  // Its latency, into the histogram of EngineStats::kLatencyBoundsMs.
  void RecordLatency(const AttemptResult& r);
  void SetDueDepth(uint64_t n) { due_depth_.store(n); }
  void AddEndpoint() { endpoints_.fetch_add(1); }
  void RemoveEndpoint() { endpoints_.fetch_sub(1); }

  // A snapshot: these counters, `in_flight`, and what storage and the
  // committer (may be null before start) report.
  EngineStats Stats(Storage* storage, const Committer* committer,
                    uint64_t in_flight) const;

 private:
  std::atomic<uint64_t> due_depth_{0};
  std::atomic<uint64_t> endpoints_{0};
  std::atomic<uint64_t> attempts_ok_{0};
  std::atomic<uint64_t> attempts_failed_{0};
  std::atomic<uint64_t> attempts_rate_limited_{0};
  std::atomic<uint64_t> latency_buckets_[EngineStats::kLatencyBuckets + 1] = {};
  std::atomic<uint64_t> latency_sum_us_{0};
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_METRICS_H_
