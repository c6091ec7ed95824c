// Checks of the portal token parsers (webhookd/portal_token.h), which read
// the Authorization header of every tenant request before anything else.
//
// The input is tried three ways: as a whole token (verified under a fixed
// key), as a payload JSON, and as base64url. Invariants: nothing crashes;
// whatever parses re-encodes to something that parses to the same value
// (the round trip); a token that verifies re-signs to a token of the same
// claims, and never verifies under another key; signing any parsed claims
// yields a token that verifies to them.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/targets.h"
#include "webhookd/portal_token.h"

namespace hooklog::fuzz {

std::string CheckPortalToken(std::string_view input) {
  using namespace webhookd;
  static const PortalKey kKey = DerivePortalKey("fuzz-key-0123456789abcdef");
  static const PortalKey kOther = DerivePortalKey("other-key-0123456789abcd");
  const std::vector<PortalKey> keys = {kKey};
  const std::vector<PortalKey> other = {kOther};

  // 1. The whole input as a token.
  PortalClaims claims;
  if (VerifyPortalToken(keys, input, 0, &claims) == TokenCheck::kOk) {
    // Whoever holds the key may spell the JSON differently (member order,
    // escapes); signing the claims again must give a token of the same.
    PortalClaims again;
    if (VerifyPortalToken(keys, SignPortalToken(kKey, claims), 0, &again) !=
            TokenCheck::kOk ||
        !(again == claims)) {
      return "re-signing verified claims does not verify to them";
    }
    PortalClaims ignored;
    if (VerifyPortalToken(other, input, 0, &ignored) == TokenCheck::kOk) {
      return "a token verified under a key it was not signed with";
    }
  }

  // 2. As a payload: the round trip, then a signed token of it.
  if (auto parsed = ParsePortalPayload(input)) {
    auto again = ParsePortalPayload(EncodePortalPayload(*parsed));
    if (!again || !(*again == *parsed)) {
      return "payload does not survive encode + parse";
    }
    const std::string token = SignPortalToken(kKey, *parsed);
    PortalClaims got;
    const TokenCheck check =
        VerifyPortalToken(keys, token, parsed->expires_at - 1, &got);
    // Tokens longer than the limit are refused before anything else.
    if (token.size() <= kMaxPortalTokenBytes) {
      if (parsed->expires_at > 0 &&
          (check != TokenCheck::kOk || !(got == *parsed))) {
        return "a signed token of parsed claims does not verify to them";
      }
      if (VerifyPortalToken(keys, token, parsed->expires_at, &got) !=
          TokenCheck::kExpired) {
        return "a token is not expired at its expiry";
      }
    }
  }

  // 3. As base64url: canonical, so decode + encode is the identity.
  if (auto bytes = Base64UrlDecode(input)) {
    if (Base64UrlEncode(*bytes) != input) {
      return "base64url decoding accepted a non-canonical spelling";
    }
  }
  return "";
}

}  // namespace hooklog::fuzz
