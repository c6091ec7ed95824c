// LeaseTable: partition leases held in memory (the in-memory store's, and
// the reference the other adapters' SQL follows), plus the request checks
// every adapter shares.
//
// The rules (include/hooklog/storage.h, LeaseSync): a lease is held while
// now < expires_at; renew extends only a held lease at its epoch; release
// lapses it now; acquire grants a lapsed or never-granted lease with
// epoch + 1. A fence passes only for a held lease at exactly its epoch.
//
// Thread-safety: none; the owner serializes calls (MemoryStorage holds its
// lock).
#ifndef HOOKLOG_STORAGE_LEASE_TABLE_H_
#define HOOKLOG_STORAGE_LEASE_TABLE_H_

#include <map>
#include <string>
#include <vector>

#include "hooklog/storage.h"

namespace hooklog {

// The most partitions a cluster may have.
inline constexpr uint32_t kMaxPartitions = 4096;

// InvalidArgument (naming the field) for a request no adapter accepts.
Status ValidateLeaseSync(const LeaseSync& sync);

class LeaseTable {
 public:
  // Applies `sync` at store time `now`. REQUIRES: ValidateLeaseSync(sync).
  Result<LeaseView> Sync(const LeaseSync& sync, Timestamp now);
  // Appends to *fenced every partition of `fences` not held at its epoch at
  // `now` (each once); true when none failed.
  bool CheckFences(const std::vector<LeaseFence>& fences, Timestamp now,
                   std::vector<uint32_t>* fenced) const;

 private:
  uint32_t partitions_ = 0;  // 0 until the first sync
  std::vector<PartitionLease> leases_;
  std::map<std::string, Timestamp> node_expiry_;  // node -> last sync + ttl
};

}  // namespace hooklog

#endif  // HOOKLOG_STORAGE_LEASE_TABLE_H_
