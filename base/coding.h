// Byte-level encoding helpers shared by the event codec, the row codecs and
// the RocksDB key layout: fixed little-endian integers, LEB128 varints,
// length-prefixed strings, and big-endian order-preserving keys.
//
// Reader never reads out of bounds and never allocates more than the input
// could describe: every count is checked against the bytes remaining, so a
// corrupted length cannot trigger a huge allocation.
//
// Thread-safety: values; confine an instance to one thread.
#ifndef HOOKLOG_BASE_CODING_H_
#define HOOKLOG_BASE_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "hooklog/ids.h"

namespace hooklog::storage_internal {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Bool(bool v) { U8(v ? 1 : 0); }
  void Fixed32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_->append(b, 4);
  }
  void Fixed64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
    out_->append(b, 8);
  }
  void I64(int64_t v) { Fixed64(static_cast<uint64_t>(v)); }
  void I32(int32_t v) { Fixed32(static_cast<uint32_t>(v)); }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    Fixed64(bits);
  }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      U8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    U8(static_cast<uint8_t>(v));
  }
  void Str(std::string_view s) {
    Varint(s.size());
    out_->append(s.data(), s.size());
  }
  void Uuid(const Uuid128& u) {
    Fixed64(u.hi);
    Fixed64(u.lo);
  }

 private:
  std::string* out_;
};

// Every getter returns false (and leaves the reader failed) when the input
// is too short or malformed.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }

  bool U8(uint8_t* v) {
    if (remaining() < 1) return false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool Bool(bool* v) {
    uint8_t b;
    if (!U8(&b) || b > 1) return false;
    *v = b == 1;
    return true;
  }
  bool Fixed32(uint32_t* v) {
    if (remaining() < 4) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      r |= static_cast<uint32_t>(static_cast<uint8_t>(in_[pos_ + i]))
           << (8 * i);
    }
    pos_ += 4;
    *v = r;
    return true;
  }
  bool Fixed64(uint64_t* v) {
    if (remaining() < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) {
      r |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i]))
           << (8 * i);
    }
    pos_ += 8;
    *v = r;
    return true;
  }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!Fixed64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool I32(int32_t* v) {
    uint32_t u;
    if (!Fixed32(&u)) return false;
    *v = static_cast<int32_t>(u);
    return true;
  }
  bool F64(double* v) {
    uint64_t bits;
    if (!Fixed64(&bits)) return false;
    std::memcpy(v, &bits, sizeof bits);
    return true;
  }
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      uint8_t b;
      if (!U8(&b)) return false;
      // The 10th byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return false;
      r |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool Str(std::string* s) {
    uint64_t n;
    if (!Varint(&n) || n > remaining()) return false;
    s->assign(in_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }
  // A count of elements each at least `min_element_bytes` long: rejects
  // counts the remaining input cannot possibly hold.
  bool Count(size_t* n, size_t min_element_bytes) {
    uint64_t c;
    if (!Varint(&c)) return false;
    if (min_element_bytes > 0 && c > remaining() / min_element_bytes) {
      return false;
    }
    *n = static_cast<size_t>(c);
    return true;
  }
  bool Uuid(Uuid128* u) { return Fixed64(&u->hi) && Fixed64(&u->lo); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// Big-endian helpers for RocksDB keys, whose bytewise order must follow the
// numeric order.
inline void PutBigEndian64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  out->append(b, 8);
}
inline uint64_t GetBigEndian64(const char* p) {
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>(p[i]);
  return r;
}
// Order-preserving map of a signed timestamp onto unsigned.
inline uint64_t BiasTimestamp(int64_t t) {
  return static_cast<uint64_t>(t) ^ 0x8000000000000000ULL;
}
inline int64_t UnbiasTimestamp(uint64_t u) {
  return static_cast<int64_t>(u ^ 0x8000000000000000ULL);
}

}  // namespace hooklog::storage_internal

#endif  // HOOKLOG_BASE_CODING_H_
