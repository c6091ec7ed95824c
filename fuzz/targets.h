// Fuzz targets: one check function per target, shared by the libFuzzer
// executables (fuzz/fuzz_main.cc, clang only) and the regression test
// (tests/regress/, any compiler), which replays every committed corpus file
// and regression case through the same functions.
//
// A check feeds its input to the code under test and verifies invariants
// beyond "does not crash" (round trips, response shapes). It returns "" when
// every invariant holds, otherwise a description of the first violation; the
// fuzzer aborts on it (so libFuzzer saves the input), the regression test
// reports it. Memory errors and undefined behaviour are the sanitizers' job.
//
// Thread-safety: checks may keep state between calls (the webhookd target
// reuses one engine); call them from one thread at a time.
#ifndef HOOKLOG_FUZZ_TARGETS_H_
#define HOOKLOG_FUZZ_TARGETS_H_

#include <string>
#include <string_view>
#include <vector>

namespace hooklog::fuzz {

using CheckFn = std::string (*)(std::string_view input);

// hooklog::DecodeEvent, on the input and on the input with its CRC32C
// trailer recomputed (so that mutations reach the body decoder instead of
// all failing the checksum). Whatever decodes must re-encode to bytes that
// decode to the same event and re-encode identically.
std::string CheckEventCodec(std::string_view input);
// The projection row decoders (storage/row_codec.h); the first byte picks
// the row kind. Decoded rows must round-trip.
std::string CheckRowCodec(std::string_view input);
// Uuid128::Parse: a successful parse round-trips through ToString (exactly
// the input) and back.
std::string CheckShortUuid(std::string_view input);
// ValidateUrl, and the SSRF guard: its literal parser (IsBlockedLiteral) on
// the input and on the URL's host, and the input's bytes as a raw sockaddr
// and IPv6 address (IsBlockedSockaddr, IsBlockedIPv6).
std::string CheckUrl(std::string_view input);
// ValidateHeaders on name/value pairs split from the input.
std::string CheckHeaders(std::string_view input);
// ParseRetryAfterSeconds, ParseDuration, ParseIso8601 (with their
// FormatIso8601 round trip).
std::string CheckRetryAfter(std::string_view input);
// VerifyStandardWebhooks / VerifyClosient (what the test receiver calls to
// check signatures) on fuzzed headers, and sign-then-verify round trips.
std::string CheckSignature(std::string_view input);
// Every webhookd route that takes a JSON body, driven in-process through
// webhookd::Api::Handle over an engine on memory storage: every answer is
// 2xx/4xx with a valid JSON body (error envelopes carry the same status).
std::string CheckWebhookdApi(std::string_view input);
std::string CheckPortalToken(std::string_view input);

struct Target {
  const char* name;  // the corpus folder: fuzz/corpus/<name>/
  CheckFn check;
};
const std::vector<Target>& AllTargets();

// Stops the state some checks keep (the webhookd engine). Idempotent; a
// later check call starts it again.
void ShutdownTargets();

}  // namespace hooklog::fuzz

#endif  // HOOKLOG_FUZZ_TARGETS_H_
