// Request parsing: the query string (application/x-www-form-urlencoded,
// percent decoding), paging parameters, and typed getters over JSON bodies
// (simdjson DOM) that collect every problem as a FieldError instead of
// stopping at the first.
//
// Getters return nullopt for a member that is absent or null ("leave
// unchanged"), and for one of the wrong type, which they also report in
// *errors under the member's name.
//
// Thread-safety: pure functions; a JsonBody is used by one thread.
#ifndef HOOKLOG_WEBHOOKD_REQUEST_H_
#define HOOKLOG_WEBHOOKD_REQUEST_H_

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hooklog/engine.h"
#include "webhookd/errors.h"

namespace webhookd {

// --- query string ---------------------------------------------------------

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Form decoding ('+' is a space, %XX a byte); a malformed escape is kept
// literally (it then fails the parameter's own validation).
std::string PercentDecode(std::string_view s);
// "a=1&b=%20" → {{"a","1"},{"b"," "}}, in order; empty parts are skipped.
QueryParams ParseQuery(std::string_view query);
// The first value of `name`, or null.
const std::string* FindParam(const QueryParams& q, std::string_view name);
// A decimal integer in [1, max], nothing else.
bool ParsePositive(const std::string& text, uint32_t max, uint32_t* out);

struct Paging {
  uint32_t page = 1;
  uint32_t page_size = hooklog::kMaxPageSize;
  std::string cursor;  // as the client sent it (an API cursor, cursor.h)
};
// page, page_size and cursor; problems go to *errors.
void ParsePaging(const QueryParams& q, Paging* p,
                 std::vector<FieldError>* errors);

// --- JSON bodies ------------------------------------------------------------

struct JsonBody {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
};

// Parses the body as a JSON object. On failure fills *error (400).
std::unique_ptr<JsonBody> ParseObject(const std::string& body,
                                      std::optional<HttpResponse>* error);

// `key`'s value; nullopt when absent or null.
std::optional<simdjson::dom::element> Member(simdjson::dom::object obj,
                                             std::string_view key);
// True when `key` is there, even as null.
bool Present(simdjson::dom::object obj, std::string_view key);

std::optional<std::string> GetString(simdjson::dom::object obj,
                                     std::string_view key,
                                     std::vector<FieldError>* errors);
std::optional<bool> GetBool(simdjson::dom::object obj, std::string_view key,
                            std::vector<FieldError>* errors);
// A number in [0, 1e6] (0: no limit).
std::optional<double> GetRate(simdjson::dom::object obj, std::string_view key,
                              std::vector<FieldError>* errors);
// An integer in [0, UINT32_MAX].
std::optional<uint32_t> GetCount(simdjson::dom::object obj,
                                 std::string_view key,
                                 std::vector<FieldError>* errors);
std::optional<std::vector<std::string>> GetStringArray(
    simdjson::dom::object obj, std::string_view key,
    std::vector<FieldError>* errors);
// An object of string values, in document order.
std::optional<hooklog::HeaderList> GetStringMap(
    simdjson::dom::object obj, std::string_view key,
    std::vector<FieldError>* errors);
// A duration string ("30s", "5d", "0"), never negative.
std::optional<hooklog::Duration> GetDuration(simdjson::dom::object obj,
                                             std::string_view key,
                                             std::vector<FieldError>* errors);
// The "circuit_breaker" object over `defaults`; unknown members refused.
std::optional<hooklog::CircuitBreakerOptions> GetCircuitBreaker(
    simdjson::dom::object obj, const hooklog::CircuitBreakerOptions& defaults,
    std::vector<FieldError>* errors);
// "signature_scheme": standard | closient.
std::optional<hooklog::SignatureScheme> GetScheme(
    simdjson::dom::object obj, std::vector<FieldError>* errors);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_REQUEST_H_
