// Routes: the REST routes under kBasePath (endpoints, deliveries, events)
// and their handlers, which validate the request, call the engine and
// render its answer.
//
// Api::Handle authenticates first and passes what follows the base path
// here; /healthz and /metrics are Api's own.
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

namespace webhookd {

struct RouteContext {
  hooklog::Engine* engine;
  const ApiOptions* options;
};

// `path` is the target's path after the base path without its trailing
// slash ("" → 404, "endpoints", "endpoints/<id>/test", ...), `q` its query.
void Route(const RouteContext& ctx, const HttpRequest& req,
           std::string_view path, const QueryParams& q, const Done& done);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_ROUTES_H_
