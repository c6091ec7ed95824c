// Identifiers: 128-bit values written as shortuuid, random or time-ordered.
//
// A shortuuid is 22 characters of the 57-symbol alphabet
// "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", most
// significant digit first, left-padded with '2' (the alphabet's zero). It
// encodes exactly 128 bits; strings that decode to 2^128 or more are rejected.
//
// Strong types (EndpointId, MessageId, DeliveryId) keep one kind of id from
// being passed where another is expected.
//
// Thread-safety: values. NewRandom() and NewTimeOrdered() are thread-safe:
// their random bits come from OpenSSL's RAND_bytes through a per-thread
// pool that a fork() never shares with the child.
#ifndef HOOKLOG_IDS_H_
#define HOOKLOG_IDS_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "hooklog/status.h"

namespace hooklog {

inline constexpr std::string_view kShortUuidAlphabet =
    "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
inline constexpr size_t kShortUuidLength = 22;

// An unsigned 128-bit value. The zero value means "no id".
struct Uuid128 {
  uint64_t hi = 0;
  uint64_t lo = 0;

  // 128 bits from OpenSSL RAND_bytes. Never returns zero.
  static Uuid128 NewRandom();
  // The wall clock's milliseconds since 1970 in the top 48 bits, then 80
  // random bits (the layout of a UUIDv7 without its version bits): ids
  // made later compare greater (from one clock), so a store keyed by them
  // inserts near its newest keys. The random bits keep ids unguessable
  // and unique across processes. Never returns zero.
  static Uuid128 NewTimeOrdered();
  // Parses a shortuuid. InvalidArgument on wrong length, a character outside
  // the alphabet, or a value >= 2^128.
  static Result<Uuid128> Parse(std::string_view text);

  std::string ToString() const;  // 22-character shortuuid
  bool empty() const { return hi == 0 && lo == 0; }

  friend auto operator<=>(const Uuid128&, const Uuid128&) = default;
};

// A Uuid128 tagged with what it identifies.
template <typename Tag>
class Id {
 public:
  Id() = default;
  explicit Id(Uuid128 v) : v_(v) {}

  static Id NewRandom() { return Id(Uuid128::NewRandom()); }
  static Id NewTimeOrdered() { return Id(Uuid128::NewTimeOrdered()); }
  static Result<Id> Parse(std::string_view text) {
    auto r = Uuid128::Parse(text);
    if (!r.ok()) return r.status();
    return Id(*r);
  }

  const Uuid128& raw() const { return v_; }
  std::string ToString() const { return v_.ToString(); }
  bool empty() const { return v_.empty(); }

  friend auto operator<=>(const Id&, const Id&) = default;

 private:
  Uuid128 v_;
};

using EndpointId = Id<struct EndpointIdTag>;
using MessageId = Id<struct MessageIdTag>;
using DeliveryId = Id<struct DeliveryIdTag>;
using ReplayJobId = Id<struct ReplayJobIdTag>;

struct Uuid128Hash {
  size_t operator()(const Uuid128& u) const {
    return std::hash<uint64_t>()(u.hi * 0x9E3779B97F4A7C15ULL ^ u.lo);
  }
};
struct IdHash {
  template <typename Tag>
  size_t operator()(const Id<Tag>& id) const {
    return Uuid128Hash()(id.raw());
  }
};

}  // namespace hooklog

#endif  // HOOKLOG_IDS_H_
