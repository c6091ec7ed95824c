// How the PostgreSQL adapter encodes the rows it keeps as bytea, using only
// hooklog's public types and codec:
//   - endpoints and messages: an EncodeEvent of an endpoint snapshot or a
//     message-accepted event (versioned, checksummed, every field);
//   - deliveries: the columns queries filter on are real columns, the full
//     row is this file's own versioned blob (the private row codec of the
//     RocksDB store is not a public API);
//   - idempotency records: the delivery ids concatenated (16 bytes each).
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_STORAGE_POSTGRES_PG_ROWS_H_
#define HOOKLOG_STORAGE_POSTGRES_PG_ROWS_H_

#include <string>
#include <string_view>
#include <vector>

#include "hooklog/status.h"
#include "hooklog/types.h"

namespace hooklog::pg {

// 1: the first delivery blob format.
inline constexpr uint8_t kDeliveryBlobVersion = 1;

std::string EncodeEndpointBlob(const Endpoint& e);
Result<Endpoint> DecodeEndpointBlob(std::string_view bytes);
std::string EncodeMessageBlob(const Message& m);
Result<Message> DecodeMessageBlob(std::string_view bytes);
std::string EncodeDeliveryBlob(const Delivery& d);
// Corruption (never a crash) for truncated or malformed bytes.
Result<Delivery> DecodeDeliveryBlob(std::string_view bytes);
std::string EncodeIdList(const std::vector<DeliveryId>& ids);
Result<std::vector<DeliveryId>> DecodeIdList(std::string_view bytes);

}  // namespace hooklog::pg

#endif  // HOOKLOG_STORAGE_POSTGRES_PG_ROWS_H_
