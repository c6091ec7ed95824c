// Portal tokens: the credential a tenant's portal link carries
// (docs/portal.md, "Tokens").
//
// A token is base64url(payload) "." base64url(HMAC-SHA256(key, first part)),
// unpadded, where the payload is the JSON {"v":1,"m":{metadata},"exp":<unix
// s>,"iat":<unix s>} and the key is HMAC-SHA256(API key, "hooklog portal
// link v1"). Tokens are signed with the first configured API key's key and
// accepted under any configured key's, so every node with the same keys
// accepts them and removing a key revokes the links signed under it.
//
// Verification checks the signature (constant time) before it reads the
// payload, and parses both strictly: canonical base64url, exactly the four
// members, v == 1, a non-empty object of non-empty strings, integer times.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_WEBHOOKD_PORTAL_TOKEN_H_
#define HOOKLOG_WEBHOOKD_PORTAL_TOKEN_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hooklog/types.h"

namespace webhookd {

using PortalKey = std::array<unsigned char, 32>;

// HMAC-SHA256(api_key, "hooklog portal link v1").
PortalKey DerivePortalKey(std::string_view api_key);

struct PortalClaims {
  hooklog::Metadata metadata;  // the tenant's scope, non-empty
  int64_t issued_at = 0;       // unix seconds
  int64_t expires_at = 0;      // unix seconds; valid while now < expires_at
  friend bool operator==(const PortalClaims&, const PortalClaims&) = default;
};

// The payload JSON of `claims` (members in the order v, m, exp, iat).
std::string EncodePortalPayload(const PortalClaims& claims);
// The claims of a payload, or nullopt unless it is exactly what
// EncodePortalPayload writes for some claims (up to JSON whitespace and
// member order).
std::optional<PortalClaims> ParsePortalPayload(std::string_view json);

std::string SignPortalToken(const PortalKey& key, const PortalClaims& claims);

enum class TokenCheck { kOk, kMalformed, kBadSignature, kExpired };

// Verifies `token` against every key in `keys` and its expiry against
// `now_unix_s`; on kOk fills *claims.
TokenCheck VerifyPortalToken(std::span<const PortalKey> keys,
                             std::string_view token, int64_t now_unix_s,
                             PortalClaims* claims);

// Unpadded base64url (RFC 4648 §5); Decode accepts only canonical input
// (no padding, no stray bits) so that each token has one spelling.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Longest token accepted; longer ones are malformed.
inline constexpr size_t kMaxPortalTokenBytes = 8192;

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_PORTAL_TOKEN_H_
