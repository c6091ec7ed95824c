#include "engine/stats.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace hooklog {
namespace {

Timestamp FloorTo(Timestamp t, Timestamp step) {
  Timestamp q = t / step;
  if (t % step != 0 && t < 0) --q;  // toward minus infinity
  return q * step;
}

struct SeriesMinute {
  std::optional<EndpointId> endpoint;
  Timestamp minute;
  bool operator==(const SeriesMinute&) const = default;
};
struct SeriesMinuteHash {
  size_t operator()(const SeriesMinute& k) const {
    size_t h = std::hash<int64_t>()(k.minute);
    if (k.endpoint) h ^= Uuid128Hash()(k.endpoint->raw()) * 31;
    return h;
  }
};

}  // namespace

StatsCounts AttemptStats(const AttemptResult& r, const Delivery& after) {
  StatsCounts c;
  c.attempts = 1;
  if (after.status == DeliveryStatus::kDeadLetter) {
    c.dead_letter = 1;
  } else if (r.http_status_code && *r.http_status_code / 100 == 2) {
    c.delivered = 1;
  } else if (r.http_status_code && *r.http_status_code == 429) {
    c.rate_limited = 1;
  } else {
    c.failed = 1;
  }
  const int64_t us = std::max<int64_t>(0, r.latency.count());
  // Rounded up: a latency of 1.2 ms belongs in the "<= 2 ms" bucket.
  const uint64_t ms = static_cast<uint64_t>((us + 999) / 1000);
  c.latency_sum_ms = static_cast<uint64_t>((us + 500) / 1000);
  int i = 0;
  while (i < kStatsLatencyBuckets - 1 && ms > kStatsLatencyBoundsMs[i]) ++i;
  c.latency[i] = 1;
  return c;
}

StatsCounts DeadLetterStats() {
  StatsCounts c;
  c.dead_letter = 1;
  return c;
}

void AddStats(WriteBatch* b, const EndpointId& endpoint, Timestamp at,
              const StatsCounts& c) {
  const Timestamp minute = FloorTo(at, kStatsMinute);
  b->stats.push_back({endpoint, minute, c});
  b->stats.push_back({std::nullopt, minute, c});
}

void CompactStats(std::vector<StatsBucket>* stats) {
  if (stats->size() <= 2) return;  // one attempt: already one per series
  std::unordered_map<SeriesMinute, size_t, SeriesMinuteHash> at;
  at.reserve(stats->size());
  size_t n = 0;
  for (size_t i = 0; i < stats->size(); ++i) {
    StatsBucket& b = (*stats)[i];
    auto [it, fresh] = at.try_emplace({b.endpoint_id, b.minute}, n);
    if (fresh) {
      if (n != i) (*stats)[n] = std::move(b);
      ++n;
    } else {
      (*stats)[it->second].counts.Add(b.counts);
    }
  }
  stats->resize(n);
}

Status ValidateStatsRequest(const StatsRequest& r) {
  const int64_t bucket = r.bucket.count();
  if (bucket <= 0 || bucket % kStatsMinute != 0) {
    return Status::InvalidArgument(
        "bucket must be a whole number of minutes, at least one", "bucket");
  }
  if (r.from < 0) {
    return Status::InvalidArgument("from must not be before 1970", "from");
  }
  if (r.to <= r.from) {
    return Status::InvalidArgument("from must be before to", "from");
  }
  const Timestamp from = FloorTo(r.from, bucket);
  const uint64_t points =
      static_cast<uint64_t>((r.to - from + bucket - 1) / bucket);
  if (points > kMaxStatsPoints) {
    return Status::InvalidArgument(
        "the range holds " + std::to_string(points) +
            " points of this bucket; "
            "at most " +
            std::to_string(kMaxStatsPoints) +
            " (choose a wider bucket or a shorter range)",
        "bucket");
  }
  if (r.endpoint_ids.size() > kMaxQueryEndpoints) {
    return Status::InvalidArgument(
        "at most " + std::to_string(kMaxQueryEndpoints) + " endpoint ids",
        "endpoint_id");
  }
  return Status::Ok();
}

Result<StatsSeries> ReadStatsSeries(Storage* storage, const StatsRequest& r) {
  const int64_t bucket = r.bucket.count();
  StatsSeries out;
  out.from = FloorTo(r.from, bucket);
  out.to = r.to;
  out.bucket = r.bucket;
  const size_t points =
      static_cast<size_t>((r.to - out.from + bucket - 1) / bucket);
  out.points.resize(points);
  for (size_t i = 0; i < points; ++i) {
    out.points[i].start = out.from + static_cast<Timestamp>(i) * bucket;
  }
  // The last point may reach past `to`: it is read whole.
  const Timestamp end = out.from + static_cast<Timestamp>(points) * bucket;
  std::vector<std::optional<EndpointId>> series;
  if (r.endpoint_ids.empty()) {
    if (!r.endpoint_ids_exact) series.push_back(std::nullopt);
  } else {
    std::unordered_set<EndpointId, IdHash> seen;
    for (const EndpointId& id : r.endpoint_ids) {
      if (seen.insert(id).second) series.push_back(id);  // once each
    }
  }
  for (const auto& s : series) {
    auto buckets = storage->ReadStats({s, out.from, end});
    if (!buckets.ok()) return buckets.status();
    for (const StatsBucket& b : *buckets) {
      if (b.minute < out.from || b.minute >= end) continue;
      const size_t i = static_cast<size_t>((b.minute - out.from) / bucket);
      out.points[i].counts.Add(b.counts);
    }
  }
  for (const StatsPoint& p : out.points) out.total.Add(p.counts);
  return out;
}

}  // namespace hooklog
