#include "engine/metrics.h"

#include <algorithm>
#include <iterator>

#include "engine/committer.h"
#include "engine/delivery_machine.h"

namespace hooklog {

void Metrics::CountOutcome(const Delivery& row) {
  const int code = row.http_status_code.value_or(0);
  if (row.http_status_code && IsSuccess(code)) {
    attempts_ok_++;
  } else if (code == 429) {
    attempts_rate_limited_++;
  } else {
    attempts_failed_++;
  }
}

void Metrics::RecordLatency(const AttemptResult& r) {
  const double ms = double(r.latency.count()) / 1000.0;
  int i = 0;
  while (i < EngineStats::kLatencyBuckets &&
         ms > EngineStats::kLatencyBoundsMs[i]) {
    ++i;
  }
  latency_buckets_[i]++;
  latency_sum_us_ += static_cast<uint64_t>(r.latency.count());
}

EngineStats Metrics::Stats(Storage* storage, const Committer* committer,
                           uint64_t in_flight) const {
  EngineStats s;
  auto totals = storage->GetTotals();
  if (totals.ok()) {
    std::copy(std::begin(totals->by_status), std::end(totals->by_status),
              s.deliveries_by_status);
  }
  s.endpoints = endpoints_.load();
  s.attempts_ok = attempts_ok_.load();
  s.attempts_failed = attempts_failed_.load();
  s.attempts_rate_limited = attempts_rate_limited_.load();
  s.in_flight = in_flight;
  s.due_queue_depth = due_depth_.load();
  s.last_sequence = storage->LastSequence();
  if (committer != nullptr) {
    s.appends = committer->appends();
    s.append_latency_us_total = committer->append_latency_us_total();
  }
  for (int i = 0; i <= EngineStats::kLatencyBuckets; ++i) {
    s.latency_buckets[i] = latency_buckets_[i].load();
  }
  s.latency_sum_ms = double(latency_sum_us_.load()) / 1000.0;
  return s;
}

}  // namespace hooklog
