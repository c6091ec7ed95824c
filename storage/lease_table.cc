#include "storage/lease_table.h"

#include <algorithm>

namespace hooklog {

Status ValidateLeaseSync(const LeaseSync& s) {
  if (s.node_id.empty() || s.node_id.size() > 128) {
    return Status::InvalidArgument("node id must be 1..128 bytes", "node_id");
  }
  if (s.partitions == 0 || s.partitions > kMaxPartitions) {
    return Status::InvalidArgument(
        "partitions must be 1.." + std::to_string(kMaxPartitions),
        "partitions");
  }
  if (s.ttl <= Duration(0)) {
    return Status::InvalidArgument("lease ttl must be positive", "ttl");
  }
  auto bad = [&](uint32_t p) { return p >= s.partitions; };
  for (const LeaseFence& f : s.renew) {
    if (bad(f.partition)) {
      return Status::InvalidArgument("no such partition", "renew");
    }
  }
  for (const LeaseFence& f : s.release) {
    if (bad(f.partition)) {
      return Status::InvalidArgument("no such partition", "release");
    }
  }
  if (std::any_of(s.acquire.begin(), s.acquire.end(), bad)) {
    return Status::InvalidArgument("no such partition", "acquire");
  }
  return Status::Ok();
}

Result<LeaseView> LeaseTable::Sync(const LeaseSync& s, Timestamp now) {
  if (partitions_ == 0) {
    partitions_ = s.partitions;
    leases_.resize(partitions_);
    for (uint32_t p = 0; p < partitions_; ++p) leases_[p].partition = p;
  } else if (s.partitions != partitions_) {
    return Status::FailedPrecondition(
        "this store's cluster has " + std::to_string(partitions_) +
        " partitions, not " + std::to_string(s.partitions));
  }
  const Timestamp until = now + s.ttl.count();
  auto held_by_me = [&](const LeaseFence& f) {
    const PartitionLease& l = leases_[f.partition];
    return l.owner == s.node_id && l.epoch == f.epoch && now < l.expires_at;
  };
  for (const LeaseFence& f : s.renew) {
    if (held_by_me(f)) leases_[f.partition].expires_at = until;
  }
  for (const LeaseFence& f : s.release) {
    if (held_by_me(f)) leases_[f.partition].expires_at = now;
  }
  for (uint32_t p : s.acquire) {
    PartitionLease& l = leases_[p];
    if (now < l.expires_at) continue;  // held by someone (maybe us)
    l.owner = s.node_id;
    ++l.epoch;
    l.expires_at = until;
  }
  if (s.leaving) {
    node_expiry_.erase(s.node_id);
  } else {
    node_expiry_[s.node_id] = until;
  }
  LeaseView v;
  v.now = now;
  v.leases = leases_;
  for (const auto& [node, expiry] : node_expiry_) {
    if (now < expiry) v.nodes.push_back(node);
  }
  return v;
}

bool LeaseTable::CheckFences(const std::vector<LeaseFence>& fences,
                             Timestamp now,
                             std::vector<uint32_t>* fenced) const {
  bool ok = true;
  for (const LeaseFence& f : fences) {
    bool held = f.partition < partitions_ &&
                leases_[f.partition].epoch == f.epoch &&
                now < leases_[f.partition].expires_at;
    if (held) continue;
    ok = false;
    if (std::find(fenced->begin(), fenced->end(), f.partition) ==
        fenced->end()) {
      fenced->push_back(f.partition);
    }
  }
  return ok;
}

}  // namespace hooklog
