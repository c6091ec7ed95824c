// The RocksDB store's on-disk layout: column family names, metadata keys,
// row and index key prefixes, and the functions that build and parse keys
// (the table in docs/storage.md, "Layout: column families"). Every decision
// about what a key's bytes are lives here, so that the layout is read, and
// changed (then bump kStoreFormatVersion), in one place.
//
// Keys are big-endian so that RocksDB's bytewise order is the numeric
// order; list indexes store (created_at, id) bit-inverted so that an
// ascending scan returns newest first.
//
// Thread-safety: constants and pure functions. Ownership: keys are returned
// by value.
#ifndef HOOKLOG_STORAGE_ROCKSDB_KEY_LAYOUT_H_
#define HOOKLOG_STORAGE_ROCKSDB_KEY_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hooklog/ids.h"
#include "hooklog/types.h"

namespace hooklog::rocksdb_internal {

// Bumped when the key layout changes. Stored in meta.
//   1: the first layout;
//   2: the per-message delivery index ('M'), stats buckets ('S') and replay
//      jobs ('j'). Open upgrades a format 1 directory by building the 'M'
//      index from the delivery rows (open.cc).
//   3: never written (the number is skipped so that the format issue 13
//      calls "v4" is format 4 on disk too).
//   4: list indexes that do not move when a delivery's status changes: the
//      'D' indexes keep only the masks without the status bit, and a
//      status index ('T') holds the deliveries of every status except
//      `delivered`, by status and by (status, endpoint). The status index
//      of the non-terminal statuses replaces the `due` family, and the 'M'
//      entries replace the message reference counts ('r'); both are
//      emptied. Open upgrades formats 1 and 2 (open.cc).
inline constexpr uint32_t kStoreFormatVersion = 4;

// Column families, in the order of RocksDbStorage's handles.
inline constexpr char kCfLog[] = "log";      // seq -> event
inline constexpr char kCfRows[] = "rows";    // prefix + id -> row
inline constexpr char kCfIndex[] = "index";  // list indexes, keys only
inline constexpr char kCfDue[] = "due";      // formats 1-2: non-terminal ones
inline constexpr char kCfMeta[] = "meta";    // named values below
inline constexpr size_t kOwnColumnFamilies = 5;

inline constexpr char kMetaFormatVersion[] = "format_version";
inline constexpr char kMetaLastSeq[] = "last_seq";
inline constexpr char kMetaTotals[] = "totals";
inline constexpr char kMetaPruned[] = "pruned";
inline constexpr char kMetaPrunedBefore[] = "pruned_before";

// Row key prefixes (rows column family).
inline constexpr char kRowEndpoint = 'e';
inline constexpr char kRowMessage = 'm';
inline constexpr char kRowDelivery = 'd';
inline constexpr char kRowIdempotency = 'i';
inline constexpr char kRowCounters = 'c';
inline constexpr char kRowMessageRefs = 'r';  // formats 1-2: rows per message
inline constexpr char kRowStats = 'S';        // stats bucket per series+minute
inline constexpr char kRowReplayJob = 'j';    // replay job by id
// Index key prefixes (index column family).
inline constexpr char kIdxEndpoints = 'N';
inline constexpr char kIdxDeliveries = 'D';
inline constexpr char kIdxMessageDeliveries = 'M';  // deliveries by message
inline constexpr char kIdxDeliveryStatus = 'T';     // by status (format 4)

inline constexpr size_t kIdBytes = 16;
inline constexpr size_t kSeqKeyBytes = 8;
inline constexpr size_t kDueKeyBytes = 8 + kIdBytes;
inline constexpr size_t kOrderSuffixBytes = 8 + kIdBytes;  // inverted (ts, id)

// Appends the 16 big-endian bytes of `id` (hi, then lo).
void PutId(std::string* out, const Uuid128& id);

// Newest-first ordering: bytewise ascending keys must list larger
// (created_at, id) first, so both are stored bit-inverted.
void PutOrderSuffix(std::string* out, Timestamp created_at, const Uuid128& id);
// REQUIRES: key.size() >= kOrderSuffixBytes (the suffix is its tail).
void ParseOrderSuffix(std::string_view key, Timestamp* created_at, Uuid128* id);

// rows: `prefix` + id.
std::string RowKey(char prefix, const Uuid128& id);
template <typename Tag>
std::string RowKey(char prefix, const Id<Tag>& id) {
  return RowKey(prefix, id.raw());
}
// RowKey(prefix, id) of each of `ids`, in order.
template <typename IdT>
std::vector<std::string> RowKeys(char prefix, const std::vector<IdT>& ids) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const IdT& id : ids) keys.push_back(RowKey(prefix, id));
  return keys;
}
std::string IdempotencyKey(std::string_view key);

// log: big-endian seq. ParseSeqKey gives 0 for a malformed key.
std::string SeqKey(uint64_t seq);
uint64_t ParseSeqKey(std::string_view key);

// due (formats 1-2): biased big-endian next_attempt_at + id.
std::string DueKey(const Delivery& d);
// REQUIRES: key.size() == kDueKeyBytes.
Uuid128 ParseDueKeyId(std::string_view key);

// Delivery list indexes. Key: 'D' mask [endpoint] [status]
// [len-prefixed type] inverted(created_at, id). Formats 1 and 2 kept one
// index per combination of the equality filters (8 masks); format 4 keeps
// only the four masks without kByStatus, whose keys never change after the
// row is first stored (endpoint, type and created_at are fixed), and finds
// statuses through the 'T' index below. The masks with kByStatus are still
// read from a format 1/2 directory opened read-only (not upgraded).
enum FilterMask : uint8_t { kByEndpoint = 1, kByStatus = 2, kByType = 4 };
inline constexpr uint8_t kFilterMasks = 8;

// The pointers matching `mask`'s bits must be non-null; the others are
// ignored.
std::string DeliveryIndexPrefix(uint8_t mask, const EndpointId* endpoint,
                                const DeliveryStatus* status,
                                const std::string* type);
// The four format-4 'D' keys of `d` (masks 0, kByEndpoint, kByType,
// kByEndpoint|kByType).
std::vector<std::string> DeliveryIndexKeys(const Delivery& d);
// The key ranges [first, second) of the format 1/2 'D' masks with
// kByStatus (2, 3 and 6, 7), which the upgrade to format 4 deletes.
std::vector<std::pair<std::string, std::string>> LegacyStatusIndexRanges();

// Status index (format 4): 'T' sub status [endpoint] inverted(created_at,
// id), value: the delivery's event type. sub is 0 (by status) or 1 (by
// status and endpoint). Only statuses with HasStatusIndex have entries:
// `delivered`, where nearly every delivery ends, has none, so the common
// pending -> delivered change deletes two keys and writes none, and a
// query for `delivered` walks the 'D' index filtering rows by status. The
// by-status entries of the non-terminal statuses are exactly the
// non-terminal deliveries (what LoadActive loads).
inline bool HasStatusIndex(DeliveryStatus s) {
  return s != DeliveryStatus::kDelivered;
}
std::string StatusIndexPrefix(DeliveryStatus status,
                              const EndpointId* endpoint);
// The 'T' keys of `d` (none when !HasStatusIndex(d.status)); their value
// is d.event_type.
std::vector<std::string> StatusIndexKeys(const Delivery& d);

// index: 'M' + message id + inverted(created_at, id): a delivery's entry is
// written when its row is first stored and never moves (message and
// created_at do not change).
std::string MessageIndexPrefix(const MessageId& message);
std::string MessageIndexKey(const Delivery& d);

// rows: 'S' + series + biased big-endian minute, where the series is 0x00
// (all endpoints) or 0x01 + endpoint id, so that one series' buckets are
// contiguous and in time order.
std::string StatsSeriesPrefix(const std::optional<EndpointId>& endpoint);
std::string StatsKey(const std::optional<EndpointId>& endpoint,
                     Timestamp minute);
// The minute of a stats key; REQUIRES: key.size() >= 8.
Timestamp ParseStatsKeyMinute(std::string_view key);

// index: 'N' + inverted(created_at, id).
std::string EndpointIndexKey(const Endpoint& e);

// The smallest key greater than every key starting with `prefix`.
std::string PrefixSuccessor(std::string prefix);

// Values of meta counts, message reference counts: fixed64.
// ParseFixed64Value gives 0 for a malformed value.
std::string Fixed64Value(uint64_t v);
uint64_t ParseFixed64Value(std::string_view s);

}  // namespace hooklog::rocksdb_internal

#endif  // HOOKLOG_STORAGE_ROCKSDB_KEY_LAYOUT_H_
