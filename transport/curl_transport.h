// Internals of the libcurl-multi transport shared with its tests. The public
// entry point is hooklog::NewCurlTransport (include/hooklog/transport.h).
#ifndef HOOKLOG_TRANSPORT_CURL_TRANSPORT_H_
#define HOOKLOG_TRANSPORT_CURL_TRANSPORT_H_

#include <string_view>

#include "hooklog/types.h"

namespace hooklog::transport_internal {

// Maps a CURLcode (as int, to keep curl.h out of this header) to an error
// class. `blocked` is set when the SSRF guard refused an address of this
// attempt; `too_large` when the write callback stopped at the cap.
ErrorClass ClassifyCurlError(int curl_code, bool blocked, bool too_large);

// True when a header name is an RFC 9110 token and neither name nor value
// contains CR, LF or NUL (the transport refuses anything else, even though
// the engine validates headers when an endpoint is created).
bool IsSafeHeader(std::string_view name, std::string_view value);

}  // namespace hooklog::transport_internal

#endif  // HOOKLOG_TRANSPORT_CURL_TRANSPORT_H_
