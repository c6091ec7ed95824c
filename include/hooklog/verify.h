// VerifyStorage: checks that a Storage's projection rows agree with its log.
//
// Replays the whole log into fresh in-memory projections and compares every
// row and counter with what the adapter answers, both ways. `hooklog-admin
// verify` runs it on a RocksDB data directory; an adapter author runs it in
// tests to prove the rows they store are exactly the ones they were given.
//
// Thread-safety: VerifyStorage only reads `storage` (any Storage is safe to
// read concurrently); it does not take ownership. It reads the whole log, so
// its cost is proportional to the log's length.
#ifndef HOOKLOG_VERIFY_H_
#define HOOKLOG_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "hooklog/status.h"
#include "hooklog/storage.h"

namespace hooklog {

// Rows an adapter must hold after replaying the log. Used by verifiers.
struct VerifyReport {
  uint64_t events = 0;
  uint64_t endpoints = 0;
  uint64_t deliveries = 0;
  uint64_t messages = 0;
  // Terminal deliveries (and then messages) absent from the store because
  // they were created before Storage::PrunedBefore(): retention, not damage.
  uint64_t pruned_deliveries = 0;
  uint64_t pruned_messages = 0;
  std::vector<std::string> mismatches;  // human-readable, first 100
  bool gapless = true;
  bool ok() const { return mismatches.empty() && gapless; }
};
// Replays storage's whole log into a fresh Projection and compares every row
// (and counters) with what `storage` answers, both ways. Tolerates exactly
// what retention may remove (Storage::PrunedBefore()): a missing terminal
// delivery created before the watermark, minus its counter contribution,
// and a message all of whose deliveries were so removed.
Result<VerifyReport> VerifyStorage(Storage* storage);

}  // namespace hooklog

#endif  // HOOKLOG_VERIFY_H_
