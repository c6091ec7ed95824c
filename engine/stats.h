// Delivery statistics: what each attempt outcome and dead-lettering adds to
// the per-minute series, how a committer batch sums its buckets, and how
// GetStats turns stored minutes into a request's points (the rules are in
// the StatsCounts comment, include/hooklog/types.h, and
// docs/state_machine.md, "Statistics").
//
// Thread-safety: pure functions, except ReadStatsSeries, which reads the
// (thread-safe) storage on the caller's thread.
#ifndef HOOKLOG_ENGINE_STATS_H_
#define HOOKLOG_ENGINE_STATS_H_

#include <vector>

#include "hooklog/status.h"
#include "hooklog/storage.h"
#include "hooklog/transport.h"
#include "hooklog/types.h"

namespace hooklog {

// The counts of one recorded attempt: `after` is the delivery row once the
// attempt is applied (dead_letter then means this attempt dead-lettered
// it), `r` the transport's answer (its latency goes into the histogram).
StatsCounts AttemptStats(const AttemptResult& r, const Delivery& after);
// A delivery dead-lettered without an attempt (endpoint deleted).
StatsCounts DeadLetterStats();
// Adds `c` at time `at` to the endpoint's series and to the all-endpoints
// series of `b` (both buckets of the minute holding `at`).
void AddStats(WriteBatch* b, const EndpointId& endpoint, Timestamp at,
              const StatsCounts& c);
// Sums the buckets of equal (series, minute): a committer batch of 1,000
// attempts then writes a handful of buckets.
void CompactStats(std::vector<StatsBucket>* stats);

// InvalidArgument naming "from", "to", "bucket" or "endpoint_id".
Status ValidateStatsRequest(const StatsRequest& r);
// The series of a valid request: from rounded down to the bucket, every
// point present, one storage read per series (summed over endpoint_ids).
Result<StatsSeries> ReadStatsSeries(Storage* storage, const StatsRequest& r);

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_STATS_H_
