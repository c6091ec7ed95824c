// Webhook signing (Standard Webhooks 1.0, Closient) and Retry-After parsing.
//
// OpenSSL is used for the HMAC, for randomness and for the constant-time
// comparison; base64 is done here because EVP_DecodeBlock neither rejects
// bad padding nor reports the decoded length exactly, and a secret that
// decodes "almost" right must be refused, not silently mis-keyed.
#include "hooklog/signing.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/civil_time.h"
#include "transport/signing_internal.h"

namespace hooklog {
namespace signing_internal {

namespace {
constexpr char kB64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(kB64Alphabet[(v >> 6) & 63]);
    out.push_back(kB64Alphabet[v & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = p[i] << 16;
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(kB64Alphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

// Standard alphabet; padding optional but, when present, must be correct.
// Non-zero trailing bits are rejected so that one secret has one spelling.
std::optional<std::string> Base64Decode(std::string_view in) {
  size_t pad = 0;
  while (!in.empty() && in.back() == '=' && pad < 2) {
    in.remove_suffix(1);
    ++pad;
  }
  if (pad > 0 && (in.size() + pad) % 4 != 0) return std::nullopt;
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = B64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

namespace {

// HMAC-SHA256 contexts per thread, one per recently used key. HMAC() (one
// shot) re-fetches the "HMAC" and "SHA256" implementations from the
// provider and builds a fresh context on every call (EVP_Q_mac), which cost
// about as much as the hash itself for a webhook-sized message; keying a
// context (EVP_MAC_init with a key) costs two more hash blocks and
// OpenSSL 3's parameter handling, a third of a signature. A context keeps
// its key: EVP_MAC_init(ctx, NULL, 0) starts a new MAC with it. So each
// thread keeps the last kSlots keys' contexts (an endpoint's secret signs
// every attempt to it), replaced round-robin, the replaced key wiped.
class ThreadHmacs {
 public:
  ThreadHmacs() = default;
  ~ThreadHmacs() {
    for (Slot& s : slots_) {
      OPENSSL_cleanse(s.key.data(), s.key.size());
      EVP_MAC_CTX_free(s.ctx);
    }
  }
  ThreadHmacs(const ThreadHmacs&) = delete;
  ThreadHmacs& operator=(const ThreadHmacs&) = delete;

  // False when no context could be made (the caller falls back).
  bool Mac(std::string_view key, std::string_view data, unsigned char* out,
           size_t* out_len, size_t out_size) {
    Slot* slot = nullptr;
    for (Slot& s : slots_) {
      if (s.ctx != nullptr && s.keyed && s.key == key) slot = &s;
    }
    bool rekey = false;
    if (slot == nullptr) {
      slot = &slots_[next_];
      next_ = (next_ + 1) % kSlots;
      if (slot->ctx == nullptr) slot->ctx = NewContext();
      if (slot->ctx == nullptr) return false;
      OPENSSL_cleanse(slot->key.data(), slot->key.size());
      slot->key.assign(key);
      slot->keyed = false;
      rekey = true;
    }
    // An empty key is legal for HMAC but EVP_MAC_init(ctx, NULL, 0) keeps
    // the previous key: key with a non-null pointer.
    static const unsigned char kEmpty = 0;
    const unsigned char* k = nullptr;
    if (rekey) {
      k = key.empty() ? &kEmpty
                      : reinterpret_cast<const unsigned char*>(key.data());
    }
    if (EVP_MAC_init(slot->ctx, k, rekey ? key.size() : 0, nullptr) != 1) {
      return false;
    }
    slot->keyed = true;
    return EVP_MAC_update(slot->ctx,
                          reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1 &&
           EVP_MAC_final(slot->ctx, out, out_len, out_size) == 1;
  }

 private:
  static constexpr size_t kSlots = 8;
  struct Slot {
    EVP_MAC_CTX* ctx = nullptr;
    std::string key;     // what ctx is keyed with, once keyed
    bool keyed = false;  // false until an EVP_MAC_init with the key worked
  };

  static EVP_MAC_CTX* NewContext() {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return nullptr;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (ctx == nullptr) return nullptr;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      return nullptr;
    }
    return ctx;
  }

  std::array<Slot, kSlots> slots_;
  size_t next_ = 0;
};

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  thread_local ThreadHmacs cached;
  size_t mac_len = 0;
  if (cached.Mac(key, data, md.data(), &mac_len, md.size())) {
    return std::string(reinterpret_cast<const char*>(md.data()), mac_len);
  }
  unsigned int len = 0;
  // HMAC() (one-shot) is not deprecated in OpenSSL 3, unlike HMAC_CTX.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           md.data(), &len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

std::string HexLower(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length of a signature is public (fixed by the scheme); only the
  // content must not leak through timing.
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> DecodeWebhookSecret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) != kPrefix) {
    return Status::InvalidArgument("signing secret must start with whsec_",
                                   "secret");
  }
  auto key = Base64Decode(secret.substr(kPrefix.size()));
  if (!key) {
    return Status::InvalidArgument("signing secret is not valid base64",
                                   "secret");
  }
  if (key->size() < 24 || key->size() > 64) {
    return Status::InvalidArgument("signing secret must decode to 24..64 bytes",
                                   "secret");
  }
  return std::move(*key);
}

}  // namespace signing_internal

using signing_internal::Base64Encode;
using signing_internal::ConstantTimeEquals;
using signing_internal::DecodeWebhookSecret;
using signing_internal::HexLower;
using signing_internal::HmacSha256;

std::string NewSigningSecret(size_t key_bytes) {
  if (key_bytes < 24) key_bytes = 24;
  if (key_bytes > 64) key_bytes = 64;
  std::array<unsigned char, 64> buf{};
  if (RAND_bytes(buf.data(), static_cast<int>(key_bytes)) != 1) {
    // Without randomness no secret is safe to hand out; there is no sane
    // fallback, and returning a predictable key would be worse than dying.
    std::abort();
  }
  return "whsec_" + Base64Encode(std::string_view(
                        reinterpret_cast<char*>(buf.data()), key_bytes));
}

Status ValidateSigningSecret(std::string_view secret) {
  auto key = DecodeWebhookSecret(secret);
  return key.status();
}

namespace {
std::string StandardSignedContent(std::string_view webhook_id,
                                  int64_t unix_seconds, std::string_view body) {
  std::string content;
  content.reserve(webhook_id.size() + body.size() + 24);
  content.append(webhook_id);
  content.push_back('.');
  content.append(std::to_string(unix_seconds));
  content.push_back('.');
  content.append(body);
  return content;
}
}  // namespace

Result<std::string> StandardWebhooksSignature(
    const std::vector<std::string>& secrets, std::string_view webhook_id,
    int64_t unix_seconds, std::string_view body) {
  if (secrets.empty()) {
    return Status::InvalidArgument("no signing secret", "secrets");
  }
  const std::string content =
      StandardSignedContent(webhook_id, unix_seconds, body);
  std::string header;
  for (const std::string& secret : secrets) {
    auto key = DecodeWebhookSecret(secret);
    if (!key.ok()) return key.status();
    if (!header.empty()) header.push_back(' ');
    header.append("v1,");
    header.append(Base64Encode(HmacSha256(*key, content)));
  }
  return header;
}

bool VerifyStandardWebhooks(const std::vector<std::string>& secrets,
                            std::string_view webhook_id, int64_t unix_seconds,
                            std::string_view body,
                            std::string_view signature_header) {
  const std::string content =
      StandardSignedContent(webhook_id, unix_seconds, body);
  std::vector<std::string> expected;
  for (const std::string& secret : secrets) {
    auto key = DecodeWebhookSecret(secret);
    if (!key.ok()) continue;
    expected.push_back(Base64Encode(HmacSha256(*key, content)));
  }
  bool match = false;
  // Walk every candidate even after a match: the work done must not depend
  // on which signature matched.
  size_t pos = 0;
  while (pos <= signature_header.size()) {
    size_t end = signature_header.find(' ', pos);
    if (end == std::string_view::npos) end = signature_header.size();
    std::string_view item = signature_header.substr(pos, end - pos);
    pos = end + 1;
    if (item.substr(0, 3) != "v1,") continue;
    std::string_view sig = item.substr(3);
    for (const std::string& e : expected) {
      if (ConstantTimeEquals(sig, e)) match = true;
    }
  }
  return match;
}

std::string ClosientSignature(const std::vector<std::string>& secrets,
                              int64_t unix_seconds, std::string_view body) {
  std::string ts = std::to_string(unix_seconds);
  std::string content;
  content.reserve(ts.size() + 1 + body.size());
  content.append(ts);
  content.push_back('.');
  content.append(body);
  std::string header = "t=" + ts;
  for (const std::string& secret : secrets) {
    header.append(",v1=");
    header.append(HexLower(HmacSha256(secret, content)));
  }
  return header;
}

bool VerifyClosient(const std::vector<std::string>& secrets,
                    std::string_view body, std::string_view header) {
  std::string_view ts;
  std::vector<std::string_view> sigs;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(pos, end - pos);
    pos = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.substr(0, 2) == "t=") {
      ts = item.substr(2);
    } else if (item.substr(0, 3) == "v1=") {
      sigs.push_back(item.substr(3));
    }
  }
  if (ts.empty() || sigs.empty()) return false;
  for (char c : ts) {
    if (c < '0' || c > '9') return false;
  }
  std::string content;
  content.append(ts);
  content.push_back('.');
  content.append(body);
  bool match = false;
  for (const std::string& secret : secrets) {
    const std::string expected = HexLower(HmacSha256(secret, content));
    for (std::string_view s : sigs) {
      if (ConstantTimeEquals(s, expected)) match = true;
    }
  }
  return match;
}

// ---------------------------------------------------------------------------
// Retry-After (RFC 9110 §10.2.3): delay-seconds / HTTP-date.

namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' ||
                        s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// A small cursor over the date text: every accessor fails closed.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool Done() const { return pos_ == s_.size(); }
  bool Lit(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // Exactly `n` digits (n == 0: one or more).
  std::optional<int> Digits(size_t min, size_t max) {
    size_t start = pos_;
    int v = 0;
    while (pos_ < s_.size() && pos_ - start < max && s_[pos_] >= '0' &&
           s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_] - '0');
      ++pos_;
    }
    if (pos_ - start < min) return std::nullopt;
    return v;
  }
  std::optional<std::string_view> Alpha() {
    size_t start = pos_;
    while (pos_ < s_.size() && ((s_[pos_] >= 'A' && s_[pos_] <= 'Z') ||
                                (s_[pos_] >= 'a' && s_[pos_] <= 'z'))) {
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    return s_.substr(start, pos_ - start);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::optional<unsigned> MonthIndex(std::string_view m) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                                 "May", "Jun", "Jul", "Aug",
                                                 "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < 12; ++i) {
    if (m == kMonths[i]) return i + 1;
  }
  return std::nullopt;
}

bool IsDayName(std::string_view d, bool long_form) {
  static constexpr std::string_view kShort[] = {"Mon", "Tue", "Wed", "Thu",
                                                "Fri", "Sat", "Sun"};
  static constexpr std::string_view kLong[] = {
      "Monday", "Tuesday",  "Wednesday", "Thursday",
      "Friday", "Saturday", "Sunday"};
  for (int i = 0; i < 7; ++i) {
    if (d == (long_form ? kLong[i] : kShort[i])) return true;
  }
  return false;
}

std::optional<int64_t> Assemble(int64_t year, unsigned month, int day, int hh,
                                int mm, int ss) {
  static constexpr int kDaysIn[] = {31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  if (day < 1 || day > kDaysIn[month - 1] || hh > 23 || mm > 59 || ss > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(year, month, static_cast<unsigned>(day)) * 86400 +
         hh * 3600 + mm * 60 + ss;
}

std::optional<int64_t> ParseTimeOfDay(Cursor& c, int& hh, int& mm, int& ss) {
  auto h = c.Digits(2, 2);
  if (!h || !c.Lit(":")) return std::nullopt;
  auto m = c.Digits(2, 2);
  if (!m || !c.Lit(":")) return std::nullopt;
  auto s = c.Digits(2, 2);
  if (!s) return std::nullopt;
  hh = *h;
  mm = *m;
  ss = *s;
  return 0;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
// RFC 850:     "Sunday, 06-Nov-94 08:49:37 GMT"
// asctime:     "Sun Nov  6 08:49:37 1994"
std::optional<int64_t> ParseHttpDate(std::string_view text) {
  Cursor c(text);
  auto dayname = c.Alpha();
  if (!dayname) return std::nullopt;
  int hh = 0, mm = 0, ss = 0;
  if (c.Lit(", ")) {
    if (IsDayName(*dayname, false)) {
      auto day = c.Digits(2, 2);
      if (!day || !c.Lit(" ")) return std::nullopt;
      auto mon = c.Alpha();
      if (!mon || !c.Lit(" ")) return std::nullopt;
      auto month = MonthIndex(*mon);
      auto year = c.Digits(4, 4);
      if (!month || !year || !c.Lit(" ")) return std::nullopt;
      if (!ParseTimeOfDay(c, hh, mm, ss) || !c.Lit(" GMT") || !c.Done()) {
        return std::nullopt;
      }
      return Assemble(*year, *month, *day, hh, mm, ss);
    }
    if (IsDayName(*dayname, true)) {
      auto day = c.Digits(2, 2);
      if (!day || !c.Lit("-")) return std::nullopt;
      auto mon = c.Alpha();
      if (!mon || !c.Lit("-")) return std::nullopt;
      auto month = MonthIndex(*mon);
      auto yy = c.Digits(2, 2);
      if (!month || !yy || !c.Lit(" ")) return std::nullopt;
      if (!ParseTimeOfDay(c, hh, mm, ss) || !c.Lit(" GMT") || !c.Done()) {
        return std::nullopt;
      }
      // RFC 9110: a two-digit year more than 50 years in the future is in
      // the past century; 70..99 -> 19xx is the usual reading.
      int64_t year = *yy >= 70 ? 1900 + *yy : 2000 + *yy;
      return Assemble(year, *month, *day, hh, mm, ss);
    }
    return std::nullopt;
  }
  if (!IsDayName(*dayname, false) || !c.Lit(" ")) return std::nullopt;
  auto mon = c.Alpha();
  if (!mon || !c.Lit(" ")) return std::nullopt;
  auto month = MonthIndex(*mon);
  if (!month) return std::nullopt;
  c.Lit(" ");  // day is "SP D" or "DD"
  auto day = c.Digits(1, 2);
  if (!day || !c.Lit(" ")) return std::nullopt;
  if (!ParseTimeOfDay(c, hh, mm, ss) || !c.Lit(" ")) return std::nullopt;
  auto year = c.Digits(4, 4);
  if (!year || !c.Done()) return std::nullopt;
  return Assemble(*year, *month, *day, hh, mm, ss);
}

}  // namespace

Result<int64_t> ParseRetryAfterSeconds(std::string_view value,
                                       int64_t now_unix_seconds) {
  value = TrimOws(value);
  if (value.empty()) {
    return Status::InvalidArgument("empty Retry-After", "Retry-After");
  }
  if (value.front() >= '0' && value.front() <= '9') {
    // delay-seconds = 1*DIGIT. Absurdly large values are clamped rather than
    // rejected: the server clearly wants us to go away for a long time.
    constexpr int64_t kMax = int64_t{1} << 40;
    int64_t v = 0;
    for (char c : value) {
      if (c < '0' || c > '9') {
        return Status::InvalidArgument("malformed Retry-After seconds",
                                       "Retry-After");
      }
      v = v * 10 + (c - '0');
      if (v > kMax) v = kMax;
    }
    return v;
  }
  auto when = ParseHttpDate(value);
  if (!when) {
    return Status::InvalidArgument("malformed Retry-After date", "Retry-After");
  }
  int64_t delta = *when - now_unix_seconds;
  return delta < 0 ? int64_t{0} : delta;
}

// Event types are [A-Za-z0-9._-] and the payload is validated JSON, so
// plain concatenation yields valid JSON. The engine sends these bytes and
// webhookd's delivery view shows them.
std::string WebhookEnvelope(const Message& m) {
  std::string out;
  out.reserve(m.payload.size() + m.event_type.size() + 96);
  out += R"({"id":")";
  out += EventIdString(m.id);
  out += R"(","type":")";
  out += m.event_type;
  out += R"(","created_at":")";
  out += FormatIso8601(m.created_at);
  out += R"(","data":)";
  out += m.payload;
  out += '}';
  return out;
}

}  // namespace hooklog
