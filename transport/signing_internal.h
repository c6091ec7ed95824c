// Helpers behind signing.h, shared with the curl transport and its tests.
// Not part of the public API.
#ifndef HOOKLOG_TRANSPORT_SIGNING_INTERNAL_H_
#define HOOKLOG_TRANSPORT_SIGNING_INTERNAL_H_

#include <optional>
#include <string>
#include <string_view>

#include "hooklog/status.h"

namespace hooklog::signing_internal {

std::string Base64Encode(std::string_view in);
// Standard alphabet; padding optional; nullopt on any malformed input.
std::optional<std::string> Base64Decode(std::string_view in);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);
std::string HexLower(std::string_view bytes);
// CRYPTO_memcmp when the sizes match; false otherwise.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// "whsec_" + base64 -> the key bytes (24..64), or InvalidArgument.
Result<std::string> DecodeWebhookSecret(std::string_view secret);

}  // namespace hooklog::signing_internal

#endif  // HOOKLOG_TRANSPORT_SIGNING_INTERNAL_H_
