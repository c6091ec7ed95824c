// Checks of signature verification: hooklog::VerifyStandardWebhooks and
// hooklog::VerifyClosient, which is what the test receiver
// (tools/receiver/receiver.cc, the Receiver's request handler)
// calls on every request with the path's secrets. The receiver adds only
// the parsing of webhook-timestamp (strtoll, whole string), mirrored here.
//
// Invariants: fuzzed headers never crash the verifiers; what the signers
// produce verifies with the same secrets and nothing else; a changed body,
// id or timestamp no longer verifies.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/targets.h"
#include "hooklog/signing.h"

namespace hooklog::fuzz {
namespace {

// Fixed, valid secrets ("whsec_" + base64 of 24+ bytes) used when the fuzzed
// one is not valid, so that the round trips always run.
constexpr char kSecretA[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kSecretB[] = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

std::vector<std::string_view> Split(std::string_view s, char sep, size_t max) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < max) {
    size_t p = s.find(sep);
    if (p == std::string_view::npos) break;
    out.push_back(s.substr(0, p));
    s.remove_prefix(p + 1);
  }
  out.push_back(s);
  while (out.size() < max) out.emplace_back();
  return out;
}

// The receiver's webhook-timestamp parsing: a whole-string decimal.
bool ReceiverTimestamp(const std::string& ts, long long* out) {
  char* end = nullptr;
  *out = std::strtoll(ts.c_str(), &end, 10);
  return !ts.empty() && end != nullptr && *end == '\0';
}

}  // namespace

std::string CheckSignature(std::string_view input) {
  // Input: secret "\n" webhook-id "\n" timestamp "\n" signature header
  // "\n" body (the body last, so that it may hold newlines).
  auto f = Split(input, '\n', 5);
  const std::string secret(f[0]);
  const std::string id(f[1]);
  const std::string ts_text(f[2]);
  const std::string header(f[3]);
  const std::string body(f[4]);
  const bool secret_valid = ValidateSigningSecret(secret).ok();

  // 1. Fuzzed headers against fuzzed secrets, as the receiver would.
  long long ts = 0;
  const bool ts_ok = ReceiverTimestamp(ts_text, &ts);
  std::vector<std::string> fuzzed = {secret};
  bool standard = ts_ok && VerifyStandardWebhooks(fuzzed, id, ts, body, header);
  bool closient = VerifyClosient(fuzzed, body, header);
  // A verifier must never accept without a "v1" signature in the header.
  if ((standard || closient) && header.find("v1") == std::string::npos) {
    return "a header without any v1 signature verified";
  }
  if (standard && !secret_valid) {
    return "VerifyStandardWebhooks accepted with an invalid secret";
  }

  // 2. Round trips. Standard Webhooks needs valid secrets.
  std::vector<std::string> secrets = {secret_valid ? secret : kSecretA};
  std::vector<std::string> others = {kSecretB};
  if (secrets[0] == others[0]) others[0] = kSecretA;
  const int64_t t = ts_ok ? ts : 1'700'000'000;
  auto sig = StandardWebhooksSignature(secrets, id, t, body);
  if (!sig.ok()) {
    return "StandardWebhooksSignature failed with a valid secret: " +
           sig.status().ToString();
  }
  if (!VerifyStandardWebhooks(secrets, id, t, body, *sig)) {
    return "a Standard Webhooks signature does not verify";
  }
  if (VerifyStandardWebhooks(others, id, t, body, *sig)) {
    return "a Standard Webhooks signature verifies with another secret";
  }
  if (VerifyStandardWebhooks(secrets, id, t, body + "x", *sig) ||
      VerifyStandardWebhooks(secrets, id + "x", t, body, *sig) ||
      VerifyStandardWebhooks(secrets, id, t ^ 1, body, *sig)) {
    return "a Standard Webhooks signature verifies changed content";
  }
  // Several secrets (a rotation window): each one verifies.
  std::vector<std::string> both = {secrets[0], others[0]};
  auto sig2 = StandardWebhooksSignature(both, id, t, body);
  if (!sig2.ok() || !VerifyStandardWebhooks(secrets, id, t, body, *sig2) ||
      !VerifyStandardWebhooks(others, id, t, body, *sig2)) {
    return "a two-secret Standard Webhooks header does not verify per secret";
  }

  // Closient signs with the secret's bytes, so any string is a key. Its
  // header carries t= as digits: hooklog only signs times after 1970.
  std::vector<std::string> raw = {secret};
  std::vector<std::string> raw_other = {secret + "x"};
  const int64_t ct = t < 0 ? 0 : t;
  std::string ch = ClosientSignature(raw, ct, body);
  if (!VerifyClosient(raw, body, ch)) {
    return "a Closient signature does not verify";
  }
  if (VerifyClosient(raw_other, body, ch) ||
      VerifyClosient(raw, body + "x", ch)) {
    return "a Closient signature verifies with another secret or body";
  }
  return "";
}

}  // namespace hooklog::fuzz
