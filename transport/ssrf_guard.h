// SSRF guard: which destination addresses an attempt may connect to.
//
// The check runs on the address curl is about to connect to (from
// CURLOPT_OPENSOCKETFUNCTION), not on the URL's host name, so that a name
// re-resolving to a private address between checks (DNS rebinding) is still
// refused. The block list is docs/transport.md "SSRF".
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_TRANSPORT_SSRF_GUARD_H_
#define HOOKLOG_TRANSPORT_SSRF_GUARD_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace hooklog::transport_internal {

// `addr` in host byte order (127.0.0.1 == 0x7F000001).
bool IsBlockedIPv4(uint32_t addr);
// 16 bytes in network order. Forms embedding an IPv4 address
// (::ffff:0:0/96, 64:ff9b::/96, 2002::/16, 2001::/32 Teredo) are re-checked
// as that IPv4 address.
bool IsBlockedIPv6(const std::array<uint8_t, 16>& addr);
// AF_INET / AF_INET6; any other family is blocked.
bool IsBlockedSockaddr(const sockaddr* sa, socklen_t len);
// Parses a numeric IPv4/IPv6 literal (inet_pton syntax) and checks it; for
// tests and diagnostics. Non-literals return false.
bool IsBlockedLiteral(std::string_view text);

}  // namespace hooklog::transport_internal

#endif  // HOOKLOG_TRANSPORT_SSRF_GUARD_H_
