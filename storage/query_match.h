// The row-level filters of list queries that an adapter applies to rows it
// has read (the in-memory store; the RocksDB store for endpoints, whose
// filters no index serves). Adapters that filter in their query language
// (SQL) do not need them.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_STORAGE_QUERY_MATCH_H_
#define HOOKLOG_STORAGE_QUERY_MATCH_H_

#include "hooklog/types.h"

namespace hooklog::storage_internal {

// Deleted endpoints only with q.include_deleted; every metadata pair of q
// present with the same value (AND).
inline bool MatchesEndpointQuery(const EndpointQuery& q, const Endpoint& e) {
  if (e.deleted && !q.include_deleted) return false;
  for (const auto& [k, v] : q.metadata) {
    auto it = e.metadata.find(k);
    if (it == e.metadata.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace hooklog::storage_internal

#endif  // HOOKLOG_STORAGE_QUERY_MATCH_H_
