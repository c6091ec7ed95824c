// Webhook signatures: Standard Webhooks 1.0 and Closient's scheme.
//
// Exposed so that hosts (and their customers' receivers, in tests) can verify
// what hooklog sends.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_SIGNING_H_
#define HOOKLOG_SIGNING_H_

#include <string>
#include <string_view>
#include <vector>

#include "hooklog/status.h"
#include "hooklog/types.h"

namespace hooklog {

// A new "whsec_" + base64 secret of `key_bytes` random bytes (24..64).
std::string NewSigningSecret(size_t key_bytes = 32);
// InvalidArgument unless "whsec_" + base64 decoding to 24..64 bytes.
Status ValidateSigningSecret(std::string_view secret);

// Standard Webhooks: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" where
// key is the base64-decoded part after "whsec_". Several secrets give
// several space-separated signatures.
Result<std::string> StandardWebhooksSignature(
    const std::vector<std::string>& secrets, std::string_view webhook_id,
    int64_t unix_seconds, std::string_view body);
// True when `signature_header` holds a v1 signature matching one of
// `secrets` (constant-time comparison).
bool VerifyStandardWebhooks(const std::vector<std::string>& secrets,
                            std::string_view webhook_id, int64_t unix_seconds,
                            std::string_view body,
                            std::string_view signature_header);

// Closient: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret bytes, t.body)>"
// with one v1= per secret.
std::string ClosientSignature(const std::vector<std::string>& secrets,
                              int64_t unix_seconds, std::string_view body);
bool VerifyClosient(const std::vector<std::string>& secrets,
                    std::string_view body, std::string_view header);

// The body POSTed for `m`, exactly as sent (and signed):
// {"id":"evt_<id>","type":...,"created_at":<ISO 8601>,"data":<payload>}.
std::string WebhookEnvelope(const Message& m);

// Parses Retry-After: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850,
// asctime), relative to `now_unix_seconds`. Negative deltas become 0.
// InvalidArgument when unparseable.
Result<int64_t> ParseRetryAfterSeconds(std::string_view value,
                                       int64_t now_unix_seconds);

}  // namespace hooklog

#endif  // HOOKLOG_SIGNING_H_
