// A strict JSON validator (RFC 8259 grammar, UTF-8 per RFC 3629), written
// independently of simdjson so that the webhookd target does not judge
// webhookd's output with the parser webhookd itself uses.
//
// Thread-safety: pure function.
#ifndef HOOKLOG_FUZZ_JSON_CHECK_H_
#define HOOKLOG_FUZZ_JSON_CHECK_H_

#include <string>
#include <string_view>

namespace hooklog::fuzz {

// "" when `text` is exactly one JSON value (surrounding whitespace allowed),
// else what is wrong and where.
std::string JsonProblem(std::string_view text);

}  // namespace hooklog::fuzz

#endif  // HOOKLOG_FUZZ_JSON_CHECK_H_
