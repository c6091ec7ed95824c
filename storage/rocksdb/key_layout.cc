// Key encodings of the RocksDB store (see key_layout.h). Changing any byte
// produced here changes the on-disk format.
#include "storage/rocksdb/key_layout.h"

#include <iterator>

#include "base/coding.h"

namespace hooklog::rocksdb_internal {

using storage_internal::BiasTimestamp;
using storage_internal::GetBigEndian64;
using storage_internal::PutBigEndian64;
using storage_internal::UnbiasTimestamp;

void PutId(std::string* out, const Uuid128& id) {
  PutBigEndian64(out, id.hi);
  PutBigEndian64(out, id.lo);
}

void PutOrderSuffix(std::string* out, Timestamp created_at, const Uuid128& id) {
  PutBigEndian64(out, ~BiasTimestamp(created_at));
  PutBigEndian64(out, ~id.hi);
  PutBigEndian64(out, ~id.lo);
}

void ParseOrderSuffix(std::string_view key, Timestamp* created_at,
                      Uuid128* id) {
  const char* p = key.data() + key.size() - kOrderSuffixBytes;
  *created_at = UnbiasTimestamp(~GetBigEndian64(p));
  id->hi = ~GetBigEndian64(p + 8);
  id->lo = ~GetBigEndian64(p + 16);
}

std::string RowKey(char prefix, const Uuid128& id) {
  std::string k(1, prefix);
  PutId(&k, id);
  return k;
}

std::string IdempotencyKey(std::string_view key) {
  std::string k(1, kRowIdempotency);
  k.append(key);
  return k;
}

std::string SeqKey(uint64_t seq) {
  std::string k;
  PutBigEndian64(&k, seq);
  return k;
}

uint64_t ParseSeqKey(std::string_view key) {
  return key.size() == kSeqKeyBytes ? GetBigEndian64(key.data()) : 0;
}

std::string DueKey(const Delivery& d) {
  std::string k;
  PutBigEndian64(&k, BiasTimestamp(d.next_attempt_at));
  PutId(&k, d.id.raw());
  return k;
}

Uuid128 ParseDueKeyId(std::string_view key) {
  return Uuid128{GetBigEndian64(key.data() + 8),
                 GetBigEndian64(key.data() + 16)};
}

std::string DeliveryIndexPrefix(uint8_t mask, const EndpointId* endpoint,
                                const DeliveryStatus* status,
                                const std::string* type) {
  std::string k(1, kIdxDeliveries);
  k.push_back(static_cast<char>(mask));
  if (mask & kByEndpoint) PutId(&k, endpoint->raw());
  if (mask & kByStatus) k.push_back(static_cast<char>(*status));
  if (mask & kByType) {
    // Length-prefixed, so that no type's keys are a prefix of another's.
    storage_internal::Writer w(&k);
    w.Str(*type);
  }
  return k;
}

std::vector<std::string> DeliveryIndexKeys(const Delivery& d) {
  std::vector<std::string> keys;
  static constexpr uint8_t kMasks[] = {0, kByEndpoint, kByType,
                                       kByEndpoint | kByType};
  keys.reserve(std::size(kMasks));
  for (uint8_t mask : kMasks) {
    std::string k =
        DeliveryIndexPrefix(mask, &d.endpoint_id, nullptr, &d.event_type);
    PutOrderSuffix(&k, d.created_at, d.id.raw());
    keys.push_back(std::move(k));
  }
  return keys;
}

std::vector<std::pair<std::string, std::string>> LegacyStatusIndexRanges() {
  // Masks 2, 3 (status, endpoint+status) and 6, 7 (type+status, all three).
  auto key = [](uint8_t mask) {
    return std::string{kIdxDeliveries, static_cast<char>(mask)};
  };
  return {{key(kByStatus), key(kByStatus + 2)},
          {key(kByStatus | kByType), key((kByStatus | kByType) + 2)}};
}

std::string StatusIndexPrefix(DeliveryStatus status,
                              const EndpointId* endpoint) {
  std::string k(1, kIdxDeliveryStatus);
  k.push_back(endpoint != nullptr ? '\x01' : '\x00');
  k.push_back(static_cast<char>(status));
  if (endpoint != nullptr) PutId(&k, endpoint->raw());
  return k;
}

std::vector<std::string> StatusIndexKeys(const Delivery& d) {
  std::vector<std::string> keys;
  if (!HasStatusIndex(d.status)) return keys;
  keys.reserve(2);
  for (const EndpointId* endpoint :
       {static_cast<const EndpointId*>(nullptr), &d.endpoint_id}) {
    std::string k = StatusIndexPrefix(d.status, endpoint);
    PutOrderSuffix(&k, d.created_at, d.id.raw());
    keys.push_back(std::move(k));
  }
  return keys;
}

std::string MessageIndexPrefix(const MessageId& message) {
  std::string k(1, kIdxMessageDeliveries);
  PutId(&k, message.raw());
  return k;
}

std::string MessageIndexKey(const Delivery& d) {
  std::string k = MessageIndexPrefix(d.message_id);
  PutOrderSuffix(&k, d.created_at, d.id.raw());
  return k;
}

std::string StatsSeriesPrefix(const std::optional<EndpointId>& endpoint) {
  std::string k(1, kRowStats);
  if (endpoint) {
    k.push_back('\x01');
    PutId(&k, endpoint->raw());
  } else {
    k.push_back('\x00');
  }
  return k;
}

std::string StatsKey(const std::optional<EndpointId>& endpoint,
                     Timestamp minute) {
  std::string k = StatsSeriesPrefix(endpoint);
  PutBigEndian64(&k, BiasTimestamp(minute));
  return k;
}

Timestamp ParseStatsKeyMinute(std::string_view key) {
  return UnbiasTimestamp(GetBigEndian64(key.data() + key.size() - 8));
}

std::string EndpointIndexKey(const Endpoint& e) {
  std::string k(1, kIdxEndpoints);
  PutOrderSuffix(&k, e.created_at, e.id.raw());
  return k;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xFF) {
    prefix.pop_back();
  }
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string Fixed64Value(uint64_t v) {
  std::string s;
  storage_internal::Writer(&s).Fixed64(v);
  return s;
}

uint64_t ParseFixed64Value(std::string_view s) {
  uint64_t v = 0;
  storage_internal::Reader r(s);
  (void)r.Fixed64(&v);
  return v;
}

}  // namespace hooklog::rocksdb_internal
