// Response capture helpers: the first characters of a body, UTF-8 safe.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_TRANSPORT_RESPONSE_CAPTURE_H_
#define HOOKLOG_TRANSPORT_RESPONSE_CAPTURE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace hooklog::transport_internal {

// Bytes of raw body worth keeping to produce `chars` characters (a UTF-8
// character is at most 4 bytes).
constexpr size_t CaptureBytesFor(size_t chars) { return chars * 4; }

// The first `max_chars` characters of `bytes` as valid UTF-8: never cuts a
// multi-byte character; an invalid or truncated sequence becomes U+FFFD
// (one per offending byte), so that the result can always go into JSON.
std::string Utf8Prefix(std::string_view bytes, size_t max_chars);

}  // namespace hooklog::transport_internal

#endif  // HOOKLOG_TRANSPORT_RESPONSE_CAPTURE_H_
