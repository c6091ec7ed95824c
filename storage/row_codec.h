// Binary encodings of the projection rows stored by the RocksDB adapter
// (endpoints, messages, deliveries, idempotency records, counters).
//
// Same primitives as the event format (base/coding.h); each row starts
// with a row-format version byte so that rows can evolve like events do.
// Rows are not checksummed here: RocksDB checksums its blocks and WAL.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_STORAGE_ROW_CODEC_H_
#define HOOKLOG_STORAGE_ROW_CODEC_H_

#include <string>
#include <string_view>

#include "base/coding.h"
#include "hooklog/status.h"
#include "hooklog/storage.h"
#include "hooklog/types.h"

namespace hooklog::storage_internal {

// 2: endpoint circuit fields; 3: endpoint protection settings.
inline constexpr uint8_t kRowFormatVersion = 3;

// Field-level codecs, shared with the event codec (an endpoint event carries
// the full Endpoint).
void WriteEndpointFields(Writer* w, const Endpoint& e);
// `version` is the format version the bytes were written with.
bool ReadEndpointFields(Reader* r, Endpoint* e, uint8_t version);
void WriteMessageFields(Writer* w, const Message& m);
bool ReadMessageFields(Reader* r, Message* m);
void WriteAttemptRecord(Writer* w, const AttemptRecord& a);
bool ReadAttemptRecord(Reader* r, AttemptRecord* a);

std::string EncodeEndpointRow(const Endpoint& e);
Status DecodeEndpointRow(std::string_view in, Endpoint* e);
std::string EncodeMessageRow(const Message& m);
Status DecodeMessageRow(std::string_view in, Message* m);
std::string EncodeDeliveryRow(const Delivery& d);
Status DecodeDeliveryRow(std::string_view in, Delivery* d);
std::string EncodeIdempotencyRow(const IdempotencyRecord& rec);
Status DecodeIdempotencyRow(std::string_view in, IdempotencyRecord* rec);
// Stats buckets: a version byte, then every count as a varint (most are
// small, and zero latency buckets take one byte).
std::string EncodeStatsRow(const StatsCounts& c);
Status DecodeStatsRow(std::string_view in, StatsCounts* c);
std::string EncodeCounters(const EndpointCounters& c);
Status DecodeCounters(std::string_view in, EndpointCounters* c);

}  // namespace hooklog::storage_internal

#endif  // HOOKLOG_STORAGE_ROW_CODEC_H_
