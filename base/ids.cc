#include "hooklog/ids.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

namespace hooklog {
namespace {

__extension__ typedef unsigned __int128 u128;

u128 ToU128(const Uuid128& u) { return (u128(u.hi) << 64) | u.lo; }

// Maps a character to its digit in the alphabet, or -1.
constexpr std::array<int8_t, 256> BuildDigitTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < kShortUuidAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kShortUuidAlphabet[i])] =
        static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kDigit = BuildDigitTable();

// Random bytes for ids, drawn from OpenSSL's CSPRNG 4 KiB at a time: one
// RAND_bytes call costs about 7,000 instructions (its DRBG's locking and
// parameter handling), which per id was 4 % of a delivery's CPU (two ids
// each; bench/RESULTS.md, "Hot path"). A forked child must not reuse the
// bytes its parent has not handed out yet, or both would make the same
// ids: the child handler moves the generation on, and a thread refills its
// pool when the pool is of an older generation.
std::atomic<uint64_t> fork_generation{0};

class RandomPool {
 public:
  void Take(unsigned char* out, size_t n) {
    const uint64_t gen = fork_generation.load(std::memory_order_relaxed);
    if (gen != gen_ || used_ + n > sizeof buf_) Refill(gen);
    std::memcpy(out, buf_ + used_, n);
    used_ += n;  // bytes are handed out once
  }

 private:
  void Refill(uint64_t gen) {
    static std::once_flag once;
    std::call_once(once, [] {
      pthread_atfork(nullptr, nullptr, [] {
        fork_generation.fetch_add(1, std::memory_order_relaxed);
      });
    });
    // RAND_bytes only fails when the CSPRNG cannot be seeded; an id from a
    // weaker source would be guessable, so that is fatal.
    if (RAND_bytes(buf_, sizeof buf_) != 1) std::abort();
    used_ = 0;
    gen_ = gen;
  }

  unsigned char buf_[4096];
  size_t used_ = sizeof buf_;
  uint64_t gen_ = 0;
};

void RandomBytes(unsigned char* out, size_t n) {
  thread_local RandomPool pool;
  pool.Take(out, n);
}

}  // namespace

Uuid128 Uuid128::NewRandom() {
  Uuid128 u;
  do {
    unsigned char buf[16];
    RandomBytes(buf, sizeof buf);
    std::memcpy(&u.hi, buf, 8);
    std::memcpy(&u.lo, buf + 8, 8);
  } while (u.empty());
  return u;
}

Uuid128 Uuid128::NewTimeOrdered() {
  unsigned char buf[10];
  RandomBytes(buf, sizeof buf);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  Uuid128 u;
  u.hi = (static_cast<uint64_t>(ms) << 16) | (uint64_t(buf[0]) << 8) | buf[1];
  std::memcpy(&u.lo, buf + 2, 8);
  return u;  // not zero: ms > 0
}

Result<Uuid128> Uuid128::Parse(std::string_view text) {
  if (text.size() != kShortUuidLength) {
    return Status::InvalidArgument(
        "an id is 22 characters of the shortuuid "
        "alphabet; got " +
        std::to_string(text.size()) + " characters");
  }
  // Accumulate in 128 bits, checking overflow: 57^22 > 2^128, so some
  // 22-character strings are out of range.
  u128 v = 0;
  const u128 max = ~u128(0);
  for (char c : text) {
    int d = kDigit[static_cast<unsigned char>(c)];
    if (d < 0) {
      return Status::InvalidArgument(
          "an id may contain only the shortuuid alphabet "
          "[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]");
    }
    if (v > (max - u128(d)) / 57) {
      return Status::InvalidArgument("id is out of range (>= 2^128)");
    }
    v = v * 57 + u128(d);
  }
  Uuid128 u;
  u.hi = uint64_t(v >> 64);
  u.lo = uint64_t(v);
  return u;
}

std::string Uuid128::ToString() const {
  std::string out(kShortUuidLength, kShortUuidAlphabet[0]);
  u128 v = ToU128(*this);
  for (size_t i = kShortUuidLength; i-- > 0 && v != 0;) {
    out[i] = kShortUuidAlphabet[size_t(v % 57)];
    v /= 57;
  }
  return out;
}

}  // namespace hooklog
