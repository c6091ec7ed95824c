// Routes: the REST routes under kBasePath and their dispatch to the
// handlers, one file per resource (routes_endpoints.cc, routes_deliveries.cc,
// routes_events.cc, routes_stats.cc, routes_replay_jobs.cc,
// routes_portal.cc; their shared helpers are routes_common.h).
//
// Api::Handle authenticates first (an operator's API key or a tenant's
// portal token, scope.h) and passes what follows the base path here; every
// handler enforces the principal's scope. /healthz, /metrics and /ui/ are
// Api's own.
//
// Thread-safety: Route() may be called concurrently from any thread; `done`
// is called exactly once, possibly on an engine thread.
// Ownership: ctx.engine and *ctx.options must outlive every pending call.
#ifndef HOOKLOG_WEBHOOKD_ROUTES_H_
#define HOOKLOG_WEBHOOKD_ROUTES_H_

#include <string_view>

#include "hooklog/engine.h"
#include "webhookd/api.h"
#include "webhookd/request.h"
#include "webhookd/scope.h"

namespace webhookd {

struct RouteContext {
  hooklog::Engine* engine;
  const ApiOptions* options;
  PrincipalPtr principal;    // never null
  const Api* api = nullptr;  // public_url()
  bool tenant() const { return principal->tenant; }
};

// `path` is the target's path after the base path without its trailing
// slash ("" → 404, "endpoints", "endpoints/<id>/test", ...), `q` its query.
void Route(const RouteContext& ctx, const HttpRequest& req,
           std::string_view path, const QueryParams& q, const Done& done);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_ROUTES_H_
