// The SSRF block list (docs/transport.md "SSRF"). Kept as data tables so that the
// list can be audited against the design at a glance.
#include "transport/ssrf_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "hooklog/transport.h"

namespace hooklog::transport_internal {

namespace {

struct V4Net {
  uint32_t base;
  int prefix;
};

constexpr uint32_t V4(int a, int b, int c, int d) {
  return (static_cast<uint32_t>(a) << 24) | (static_cast<uint32_t>(b) << 16) |
         (static_cast<uint32_t>(c) << 8) | static_cast<uint32_t>(d);
}

constexpr V4Net kBlockedV4[] = {
    {V4(0, 0, 0, 0), 8},        // "this" network
    {V4(10, 0, 0, 0), 8},       // private
    {V4(100, 64, 0, 0), 10},    // carrier-grade NAT
    {V4(127, 0, 0, 0), 8},      // loopback
    {V4(169, 254, 0, 0), 16},   // link-local, cloud metadata
    {V4(172, 16, 0, 0), 12},    // private
    {V4(192, 0, 0, 0), 24},     // IETF protocol assignments
    {V4(192, 0, 2, 0), 24},     // TEST-NET-1
    {V4(192, 168, 0, 0), 16},   // private
    {V4(198, 18, 0, 0), 15},    // benchmarking
    {V4(198, 51, 100, 0), 24},  // TEST-NET-2
    {V4(203, 0, 113, 0), 24},   // TEST-NET-3
    {V4(224, 0, 0, 0), 4},      // multicast
    {V4(240, 0, 0, 0), 4},      // reserved, broadcast
};

bool PrefixMatch(const std::array<uint8_t, 16>& a,
                 const std::array<uint8_t, 16>& net, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const int byte = bit / 8;
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a[byte] & mask) != (net[byte] & mask)) return false;
  }
  return true;
}

uint32_t V4At(const std::array<uint8_t, 16>& a, int offset) {
  return (static_cast<uint32_t>(a[offset]) << 24) |
         (static_cast<uint32_t>(a[offset + 1]) << 16) |
         (static_cast<uint32_t>(a[offset + 2]) << 8) |
         static_cast<uint32_t>(a[offset + 3]);
}

}  // namespace

bool IsBlockedIPv4(uint32_t addr) {
  for (const V4Net& net : kBlockedV4) {
    const uint32_t mask =
        net.prefix == 0 ? 0 : ~uint32_t{0} << (32 - net.prefix);
    if ((addr & mask) == (net.base & mask)) return true;
  }
  return false;
}

bool IsBlockedIPv6(const std::array<uint8_t, 16>& a) {
  using Net = std::array<uint8_t, 16>;
  // IPv4-embedding forms first: the verdict is the embedded address's.
  // ::ffff:0:0/96 (IPv4-mapped)
  static constexpr Net kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (PrefixMatch(a, kMapped, 96)) return IsBlockedIPv4(V4At(a, 12));
  // ::ffff:0:0:0/96 (IPv4-translated, RFC 2765)
  static constexpr Net kTranslated = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (PrefixMatch(a, kTranslated, 96)) return IsBlockedIPv4(V4At(a, 12));
  // 64:ff9b::/96 (NAT64 well-known prefix)
  static constexpr Net kNat64 = {0x00, 0x64, 0xff, 0x9b};
  if (PrefixMatch(a, kNat64, 96)) return IsBlockedIPv4(V4At(a, 12));
  // 2002::/16 (6to4): the IPv4 address is bits 16..47.
  static constexpr Net k6to4 = {0x20, 0x02};
  if (PrefixMatch(a, k6to4, 16)) return IsBlockedIPv4(V4At(a, 2));
  // 2001::/32 (Teredo): the client's IPv4 address is the last 32 bits,
  // inverted; the server's is bits 32..63. Either may point inside.
  static constexpr Net kTeredo = {0x20, 0x01, 0x00, 0x00};
  if (PrefixMatch(a, kTeredo, 32)) {
    return IsBlockedIPv4(~V4At(a, 12)) || IsBlockedIPv4(V4At(a, 4));
  }

  static constexpr Net kUnspecified = {};
  if (a == kUnspecified) return true;  // ::
  static constexpr Net kLoopback = {0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 1};
  if (a == kLoopback) return true;  // ::1
  // ::/96 (deprecated IPv4-compatible) would embed an IPv4 address too; the
  // design does not list it, but it is never a public destination either.
  static constexpr Net kCompat = {};
  if (PrefixMatch(a, kCompat, 96)) return true;
  static constexpr Net kUla = {0xfc};
  if (PrefixMatch(a, kUla, 7)) return true;  // fc00::/7
  static constexpr Net kLinkLocal = {0xfe, 0x80};
  if (PrefixMatch(a, kLinkLocal, 10)) return true;  // fe80::/10
  static constexpr Net kMulticast = {0xff};
  if (PrefixMatch(a, kMulticast, 8)) return true;  // ff00::/8
  static constexpr Net kDoc = {0x20, 0x01, 0x0d, 0xb8};
  if (PrefixMatch(a, kDoc, 32)) return true;  // 2001:db8::/32
  return false;
}

bool IsBlockedSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return true;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof(in));
    return IsBlockedIPv4(ntohl(in.sin_addr.s_addr));
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof(in6));
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), &in6.sin6_addr, 16);
    return IsBlockedIPv6(a);
  }
  return true;  // unix sockets and anything else: never a webhook target
}

bool IsBlockedLiteral(std::string_view text) {
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    s = s.substr(1, s.size() - 2);
  }
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    return IsBlockedIPv4(ntohl(v4.s_addr));
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), &v6, 16);
    return IsBlockedIPv6(a);
  }
  return false;
}

namespace {

// The host part of an http(s) URL, without brackets; "" when not found.
std::string UrlHost(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    rest = rest.substr(at + 1);
  }
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos
                                          ? std::string_view::npos
                                          : close - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

}  // namespace

}  // namespace hooklog::transport_internal

namespace hooklog {

bool IsPrivateDestination(std::string_view url) {
  std::string host = transport_internal::UrlHost(url);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  while (!host.empty() && host.back() == '.') host.pop_back();
  return host == "localhost" || host.ends_with(".localhost") ||
         transport_internal::IsBlockedLiteral(host);
}

}  // namespace hooklog
