// The HTTP message types shared by webhookd's server, API and helpers.
//
// Thread-safety: type aliases and constants only.
#ifndef HOOKLOG_WEBHOOKD_HTTP_TYPES_H_
#define HOOKLOG_WEBHOOKD_HTTP_TYPES_H_

#include <boost/beast/http.hpp>
#include <functional>
#include <string_view>

namespace webhookd {

using HttpRequest =
    boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse =
    boost::beast::http::response<boost::beast::http::string_body>;
// How a handler answers: called exactly once, on any thread.
using Done = std::function<void(HttpResponse)>;

inline constexpr std::string_view kBasePath = "/integrations/api/v1/webhooks/";

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_HTTP_TYPES_H_
