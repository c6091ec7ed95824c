// PortalAssets: the operator portal's built files (docs/portal.md), embedded
// into webhookd at build time so that GET /ui/ works with no network access.
//
// portal/CMakeLists.txt bundles the front end with esbuild and generates the
// definition of PortalAssets() from the bundle; when webhookd is built
// without the portal (HOOKLOG_BUILD_PORTAL=OFF, or no Node.js), the
// definition in portal_assets_none.cc returns no files and /ui/ answers 404
// saying so.
//
// Thread-safety: immutable static data. Ownership: the views point into
// static storage and live as long as the process.
#ifndef HOOKLOG_WEBHOOKD_PORTAL_ASSETS_H_
#define HOOKLOG_WEBHOOKD_PORTAL_ASSETS_H_

#include <span>
#include <string_view>

namespace webhookd {

struct PortalAsset {
  std::string_view path;          // relative to /ui/: "index.html", "app.js"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
  std::string_view gzip_body;  // the same bytes gzip-compressed; may be empty
  std::string_view etag;       // quoted strong ETag of body, "\"<hex>\""
};

// Every embedded file; index.html is the single-page app's entry point.
// Empty when the portal was not built.
std::span<const PortalAsset> PortalAssets();

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_PORTAL_ASSETS_H_
