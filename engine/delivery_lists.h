// Delivery lists over several endpoints (DeliveryQuery::endpoint_ids): the
// engine answers them by merging one storage query per endpoint, newest
// first, so that adapters only ever see a single endpoint_id.
//
// Why a merge and not an adapter query: every adapter already serves
// (endpoint, filters, cursor) as one index range, and all of them order by
// (created_at, id) with the same cursor encoding, so one cursor resumes
// every per-endpoint query at the same place. A page costs one storage
// query per endpoint (each at most page_size rows), at any depth.
//
// Thread-safety: runs on the caller's thread; the storage is thread-safe.
#ifndef HOOKLOG_ENGINE_DELIVERY_LISTS_H_
#define HOOKLOG_ENGINE_DELIVERY_LISTS_H_

#include "hooklog/status.h"
#include "hooklog/storage.h"
#include "hooklog/types.h"

namespace hooklog {

// InvalidArgument (field "endpoint_id") when both endpoint_id and
// endpoint_ids are set or there are more than kMaxQueryEndpoints ids;
// otherwise as ValidateDeliveryQuery.
Status ValidateMultiEndpointQuery(const DeliveryQuery& q);

// The page of a validated query with endpoint_ids (or endpoint_ids_exact):
// items newest first, next_cursor = EncodeListCursor of the last item when
// more follow, total_count summed over the endpoints when counted.
Result<Page<Delivery>> ListMergedDeliveries(Storage* storage,
                                            const DeliveryQuery& q);

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_DELIVERY_LISTS_H_
