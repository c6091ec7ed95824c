// Ui: serves the operator portal's embedded files under /ui/
// (docs/portal.md, "Serving").
//
// GET /ui/ is index.html, GET /ui/<file> an embedded file (portal_assets.h),
// GET /ui a 308 to /ui/; unknown files 404. No credentials: the files are
// static and the portal authenticates its API calls itself. Every answer
// carries the portal's Content-Security-Policy, nosniff and no-referrer;
// files carry a strong ETag (If-None-Match → 304) and are sent gzipped when
// Accept-Encoding allows it.
//
// Thread-safety: ServeUi is a pure function of its arguments.
#ifndef HOOKLOG_WEBHOOKD_UI_H_
#define HOOKLOG_WEBHOOKD_UI_H_

#include <span>
#include <string_view>

#include "webhookd/http_types.h"
#include "webhookd/portal_assets.h"

namespace webhookd {

inline constexpr std::string_view kPortalCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

// True for "/ui" and everything under "/ui/".
bool IsUiPath(std::string_view path);

// The answer to `req` (GET; HEAD is the caller's) for `path` ("/ui" or
// "/ui/..." without the query). `enabled` false is --no-ui; `assets` empty
// means webhookd was built without the portal.
HttpResponse ServeUi(const HttpRequest& req, std::string_view path,
                     bool enabled, std::span<const PortalAsset> assets);

// Whether an Accept-Encoding value admits gzip (RFC 9110 §12.5.3: "gzip" or
// "*" with a non-zero q, unless gzip itself is refused).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_UI_H_
