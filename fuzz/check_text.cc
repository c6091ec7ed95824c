// Checks of the small text parsers and validators: shortuuid, URL (and the
// SSRF guard's literal parser), custom headers, Retry-After, durations and
// ISO 8601 times. Where a simple independent oracle exists (a reference
// shortuuid decoder, glibc's inet_aton/inet_pton/strptime) the parser is
// compared with it, so that a wrong answer is caught, not only a crash.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include "engine/validation.h"
#include "fuzz/targets.h"
#include "hooklog/clock.h"
#include "hooklog/ids.h"
#include "hooklog/signing.h"
#include "transport/ssrf_guard.h"

namespace hooklog::fuzz {
namespace {

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + (s.size() > 200 ? "\"..." : "\"");
}

// --- shortuuid ---------------------------------------------------------------

// Reference decoder: base 57 with an explicit 128-bit overflow test, written
// independently of engine/ids.cc. False when not a valid shortuuid.
bool ReferenceParse(std::string_view text, Uuid128* out) {
  if (text.size() != kShortUuidLength) return false;
  uint64_t hi = 0, lo = 0;
  for (char c : text) {
    size_t digit = kShortUuidAlphabet.find(c);
    if (digit == std::string_view::npos) return false;
    // (hi:lo) * 57 + digit, in 32-bit limbs so that carries are explicit.
    uint64_t limbs[4] = {lo & 0xffffffff, lo >> 32, hi & 0xffffffff, hi >> 32};
    uint64_t carry = digit;
    for (uint64_t& l : limbs) {
      uint64_t v = l * 57 + carry;
      l = v & 0xffffffff;
      carry = v >> 32;
    }
    if (carry != 0) return false;  // >= 2^128
    lo = limbs[0] | (limbs[1] << 32);
    hi = limbs[2] | (limbs[3] << 32);
  }
  *out = Uuid128{hi, lo};
  return true;
}

// --- URL ---------------------------------------------------------------------

// The authority's host as ValidateUrl's contract describes it (brackets
// kept), or "" when the URL has no http(s) scheme.
std::string_view UrlHost(std::string_view url, bool* bracketed) {
  *bracketed = false;
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.starts_with("[")) {
    *bracketed = true;
    size_t close = rest.find(']');
    return rest.substr(
        1, close == std::string_view::npos ? rest.size() - 1 : close - 1);
  }
  return rest.substr(0, rest.rfind(':'));
}

// True when `host` is a number glibc's inet_aton reads as an IPv4 address
// but not in the canonical dotted quad that inet_pton requires: octal,
// hexadecimal, a single decimal number or fewer than four parts. Curl and
// browsers read these as addresses, which is why ValidateUrl refuses them.
bool IsNonCanonicalIpv4(std::string_view host) {
  std::string s(host);
  in_addr a;
  if (inet_aton(s.c_str(), &a) == 0) return false;
  if (inet_pton(AF_INET, s.c_str(), &a) == 1) return false;
  // inet_aton also reads "0x" (no hex digit) as 0; such a part is no
  // number to curl, so the host is a name.
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    std::string part = s.substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.size() == 2 && part[0] == '0' && (part[1] | 0x20) == 'x') {
      return false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

bool ParseLiteral(std::string_view text, int* family, uint8_t bytes[16]) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
  }
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    *family = AF_INET6;
    return true;
  }
  return false;
}

// IsBlockedLiteral must agree with IsBlockedSockaddr on the same address
// (the connect-time check), and be false for non-literals.
std::string CheckLiteral(std::string_view text) {
  using transport_internal::IsBlockedLiteral;
  using transport_internal::IsBlockedSockaddr;
  // inet_pton stops at a NUL, so "127.0.0.1\0x" reads as blocked: the
  // safe answer, and no URL that passes ValidateUrl holds a NUL.
  if (text.find('\0') != std::string_view::npos) return "";
  int family = 0;
  uint8_t bytes[16] = {};
  bool blocked = IsBlockedLiteral(text);
  if (!ParseLiteral(text, &family, bytes)) {
    return blocked ? "IsBlockedLiteral true for a non-literal " + Quoted(text)
                   : "";
  }
  bool by_sockaddr;
  if (family == AF_INET) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, bytes, 4);
    by_sockaddr =
        IsBlockedSockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    std::memcpy(&sa.sin6_addr, bytes, 16);
    by_sockaddr =
        IsBlockedSockaddr(reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  }
  if (blocked != by_sockaddr) {
    return "IsBlockedLiteral and IsBlockedSockaddr disagree on " + Quoted(text);
  }
  return "";
}

// The same input read as raw socket addresses: whatever the bytes, a
// sockaddr that is neither a complete AF_INET nor AF_INET6 one is blocked,
// and IPv6 forms embedding an IPv4 address are judged as that address.
std::string CheckSockaddrBytes(std::string_view input) {
  using namespace transport_internal;
  sockaddr_storage ss{};
  std::memcpy(&ss, input.data(), std::min(input.size(), sizeof ss));
  const auto len = static_cast<socklen_t>(std::min(input.size(), sizeof ss));
  const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
  const bool complete =
      (ss.ss_family == AF_INET && len >= sizeof(sockaddr_in)) ||
      (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6));
  if (!complete && !IsBlockedSockaddr(sa, len)) {
    return "IsBlockedSockaddr allowed an incomplete or non-IP sockaddr";
  }
  if (input.size() < 16) return "";
  std::array<uint8_t, 16> a;
  std::memcpy(a.data(), input.data(), 16);
  const uint32_t v4 = (uint32_t{a[12]} << 24) | (uint32_t{a[13]} << 16) |
                      (uint32_t{a[14]} << 8) | a[15];
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b};
  for (const uint8_t* prefix : {kMapped, kNat64}) {
    std::array<uint8_t, 16> embedded = a;
    std::memcpy(embedded.data(), prefix, 12);
    if (IsBlockedIPv6(embedded) != IsBlockedIPv4(v4)) {
      return "an IPv6 address embedding an IPv4 one is judged differently";
    }
  }
  return "";
}

// --- headers -----------------------------------------------------------------

bool IsTchar(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Reference model of ValidateHeaders' contract (engine/validation.h).
bool ReferenceHeadersOk(const HeaderList& headers) {
  if (headers.size() > kMaxHeaders) return false;
  for (const auto& [name, value] : headers) {
    if (name.empty()) return false;
    for (unsigned char c : name) {
      if (c == 0 || !IsTchar(c)) return false;
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) !=
        std::string::npos) {
      return false;
    }
    if (name.size() + value.size() > kMaxHeaderBytes) return false;
    std::string lower;
    for (unsigned char c : name) lower += static_cast<char>(std::tolower(c));
    if (lower == "content-length" || lower == "content-type" ||
        lower == "host" || lower == "transfer-encoding" ||
        lower.starts_with("webhook-") || lower.starts_with("x-closient-")) {
      return false;
    }
  }
  return true;
}

// --- times -------------------------------------------------------------------

bool IsDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == s.npos;
}

// "YYYY-MM-DDTHH:MM:SSZ" with a real calendar date, year 1000..9999 and
// seconds below 60: the one form FormatIso8601 writes back identically.
bool IsCanonicalIso(std::string_view s) {
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
    return false;
  }
  for (size_t i : {0, 5, 8, 11, 14, 17}) {
    if (!IsDigits(s.substr(i, i == 0 ? 4 : 2))) return false;
  }
  int y = std::stoi(std::string(s.substr(0, 4)));
  int mo = std::stoi(std::string(s.substr(5, 2)));
  int d = std::stoi(std::string(s.substr(8, 2)));
  int h = std::stoi(std::string(s.substr(11, 2)));
  int mi = std::stoi(std::string(s.substr(14, 2)));
  int se = std::stoi(std::string(s.substr(17, 2)));
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1]) {
    return false;
  }
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return false;
  return h <= 23 && mi <= 59 && se <= 59;
}

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15, a fixed "now"

// glibc's strptime + timegm as the oracle for IMF-fixdate
// ("Sun, 06 Nov 1994 08:49:37 GMT"). strptime is more lenient than the RFC,
// so only "hooklog accepts => glibc agrees on the instant" is checked.
std::string CheckImfFixdate(std::string_view value, int64_t parsed) {
  if (value.size() != 29 || value.substr(3, 2) != ", ") return "";
  std::tm tm{};
  std::string s(value);
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') {
    return "ParseRetryAfterSeconds accepted an IMF-fixdate strptime refuses: " +
           Quoted(value);
  }
  int64_t want = static_cast<int64_t>(timegm(&tm)) - kNow;
  if (want < 0) want = 0;
  if (want != parsed) {
    return "Retry-After " + Quoted(value) + " gave " + std::to_string(parsed) +
           " s, glibc says " + std::to_string(want);
  }
  return "";
}

}  // namespace

std::string CheckShortUuid(std::string_view input) {
  auto parsed = Uuid128::Parse(input);
  Uuid128 want;
  bool valid = ReferenceParse(input, &want);
  if (parsed.ok() != valid) {
    return std::string("Uuid128::Parse ") +
           (parsed.ok() ? "accepted" : "refused") + " " + Quoted(input) +
           " but the reference decoder " + (valid ? "accepts" : "refuses") +
           " it";
  }
  if (parsed.ok()) {
    if (!(*parsed == want)) return "Uuid128::Parse value differs";
    if (parsed->ToString() != input) {
      return "ToString(Parse(x)) != x for " + Quoted(input);
    }
    auto id = DeliveryId::Parse(input);
    if (!id.ok() || !(id->raw() == want)) return "Id<>::Parse disagrees";
  }
  // The other direction: any 128 bits (from the input) format to a string
  // that parses back to them.
  Uuid128 bits;
  std::string raw(input.substr(0, 16));
  raw.resize(16, '\0');
  std::memcpy(&bits.hi, raw.data(), 8);
  std::memcpy(&bits.lo, raw.data() + 8, 8);
  std::string text = bits.ToString();
  auto back = Uuid128::Parse(text);
  if (text.size() != kShortUuidLength || !back.ok() || !(*back == bits)) {
    return "Parse(ToString(u)) != u for ToString " + Quoted(text);
  }
  return "";
}

std::string CheckUrl(std::string_view input) {
  Status st = ValidateUrl(input);
  if (std::string err = CheckLiteral(input); !err.empty()) return err;
  if (std::string err = CheckSockaddrBytes(input); !err.empty()) return err;
  if (!st.ok()) {
    if (st.code() != StatusCode::kInvalidArgument || st.field() != "url") {
      return "ValidateUrl error is not InvalidArgument(url): " + st.ToString();
    }
    return "";
  }
  // Accepted: the documented contract must hold.
  if (input.size() > kMaxUrlLength) return "accepted an over-long URL";
  for (unsigned char c : input) {
    if (c <= 0x20 || c == 0x7f) {
      return "accepted a URL with whitespace/control: " + Quoted(input);
    }
  }
  std::string scheme;
  for (char c : input.substr(0, 8)) {
    scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!scheme.starts_with("http://") && !scheme.starts_with("https://")) {
    return "accepted a URL without http(s):// " + Quoted(input);
  }
  bool bracketed;
  std::string_view host = UrlHost(input, &bracketed);
  std::string_view authority = input.substr(input.find("://") + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "accepted a URL with userinfo: " + Quoted(input);
  }
  if (host.empty()) return "accepted a URL without a host: " + Quoted(input);
  if (bracketed) {
    in6_addr a;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a) != 1) {
      return "accepted a bracketed host that is no IPv6 address: " +
             Quoted(input);
    }
  } else if (IsNonCanonicalIpv4(host)) {
    return "accepted an obfuscated IPv4 host: " + Quoted(input);
  }
  if (std::string err = CheckLiteral(host); !err.empty()) return err;
  return "";
}

std::string CheckHeaders(std::string_view input) {
  // Pairs separated by '\n', name and value by the first ':'. Values may
  // still hold CR and NUL; a "\\n" escape lets a value hold LF too.
  HeaderList headers;
  size_t pos = 0;
  while (pos <= input.size() && headers.size() <= kMaxHeaders + 1) {
    size_t nl = input.find('\n', pos);
    std::string_view line = input.substr(
        pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value;
    if (colon != std::string_view::npos) {
      std::string_view v = line.substr(colon + 1);
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] == 'n') {
          value += '\n';
          ++i;
        } else {
          value += v[i];
        }
      }
    }
    headers.emplace_back(std::move(name), std::move(value));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  Status st = ValidateHeaders(headers);
  bool want = ReferenceHeadersOk(headers);
  if (st.ok() != want) {
    std::string first = headers.empty() ? "" : headers[0].first;
    return std::string("ValidateHeaders ") +
           (st.ok() ? "accepted" : "refused") + " headers the contract " +
           (want ? "accepts" : "refuses") + " (first name " + Quoted(first) +
           "): " + st.ToString();
  }
  if (!st.ok() && (st.code() != StatusCode::kInvalidArgument ||
                   !st.field().starts_with("headers"))) {
    return "ValidateHeaders error does not name headers: " + st.ToString();
  }
  return "";
}

std::string CheckRetryAfter(std::string_view input) {
  // Retry-After.
  auto r = ParseRetryAfterSeconds(input, kNow);
  if (r.ok()) {
    if (*r < 0) return "negative Retry-After for " + Quoted(input);
    std::string_view v = input;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
      v.remove_prefix(1);
    }
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
      v.remove_suffix(1);
    }
    if (IsDigits(v)) {
      // delay-seconds, clamped at 2^40.
      int64_t want = 0;
      for (char c : v) {
        want = want * 10 + (c - '0');
        if (want > (int64_t{1} << 40)) want = int64_t{1} << 40;
      }
      if (*r != want) {
        return "Retry-After " + Quoted(input) + " gave " + std::to_string(*r);
      }
    } else if (std::string err = CheckImfFixdate(v, *r); !err.empty()) {
      return err;
    }
  } else if (r.status().code() != StatusCode::kInvalidArgument) {
    return "ParseRetryAfterSeconds error is not InvalidArgument";
  }

  // Durations: Format(Parse(x)) parses back to the same duration.
  auto d = ParseDuration(input);
  if (d.ok()) {
    if (d->count() < 0) return "negative duration from " + Quoted(input);
    std::string text = FormatDuration(*d);
    auto back = ParseDuration(text);
    if (!back.ok() || *back != *d) {
      return "ParseDuration(FormatDuration(d)) != d for " + Quoted(input) +
             " -> " + Quoted(text);
    }
  }

  // ISO 8601: the canonical form round-trips exactly; any accepted time
  // formats to a string that parses back to its whole second.
  auto t = ParseIso8601(input);
  if (t.ok()) {
    std::string text = FormatIso8601(*t);
    if (IsCanonicalIso(input) && text != input) {
      return "FormatIso8601(ParseIso8601(x)) != x for " + Quoted(input) +
             " -> " + Quoted(text);
    }
    // Years outside 1000..9999 do not print as four digits.
    const int64_t kMin = -30610224000LL * kSecond;  // 1000-01-01
    const int64_t kMax = 253402300799LL * kSecond;  // 9999-12-31T23:59:59
    if (*t >= kMin && *t <= kMax) {
      auto back = ParseIso8601(text);
      int64_t whole = *t - ((*t % kSecond) + kSecond) % kSecond;
      if (!back.ok() || *back != whole) {
        return "ParseIso8601(FormatIso8601(t)) != t for " + Quoted(input) +
               " -> " + Quoted(text);
      }
    }
  }
  return "";
}

}  // namespace hooklog::fuzz
