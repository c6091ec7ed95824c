// The helpers the route handlers share (engine callbacks that cannot
// throw, paging and list answers, scope lookups) and the handlers
// themselves, one group per resource file. Internal to webhookd's routes.
//
// Thread-safety: as routes.h; every helper completes `done` exactly once.
#ifndef HOOKLOG_WEBHOOKD_ROUTES_COMMON_H_
#define HOOKLOG_WEBHOOKD_ROUTES_COMMON_H_

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hooklog/engine.h"
#include "tools/cli/json_writer.h"
#include "webhookd/cursor.h"
#include "webhookd/log.h"
#include "webhookd/render.h"
#include "webhookd/routes.h"

namespace webhookd {

// Engine callbacks run on engine threads, outside any session's try/catch:
// an exception thrown while building a response (e.g. bad_alloc) must not
// escape into the engine, so each callback answers 500 instead.
template <typename F>
auto Safe(Done done, F f) {
  return [done = std::move(done), f = std::move(f)](auto result) mutable {
    try {
      f(std::move(result));
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "response failed", {{"what", e.what()}});
      done(ErrorResponse(500, "internal error"));
    }
  };
}

// The paging of a list request, its cursor turned from the API's (bound to
// `tag` and the filters, cursor.h) into the engine's; a cursor issued for
// another list or other filters is refused like any foreign one.
void BindPaging(const Paging& paging, std::string_view tag,
                const std::string& filter_key, std::vector<FieldError>* errors,
                uint32_t* page, uint32_t* page_size, std::string* cursor);

// The callback of a list call: the page as {"data", "pagination",
// "next_cursor"}, the next cursor bound like the one that came in.
// `counted` false: total_count was not computed (null in the answer).
template <typename T, typename WriteItem>
auto ListAnswer(const Done& done, const Paging& paging, std::string_view tag,
                std::string filter_key, std::string_view default_field,
                bool counted, WriteItem write_item) {
  return Safe(done, [done, paging, tag, filter_key = std::move(filter_key),
                     default_field, counted,
                     write_item](hooklog::Result<hooklog::Page<T>> r) {
    if (!r.ok()) return done(StatusResponse(r.status(), default_field));
    const std::string next = r->next_cursor.empty()
                                 ? ""
                                 : WrapCursor(tag, filter_key, r->next_cursor);
    std::optional<uint64_t> total;
    if (counted) total = r->total_count;
    done(JsonResponse(200,
                      ListJson(r->items, paging.page, paging.page_size, total,
                               !paging.cursor.empty(), next, write_item)));
  });
}

// Runs `then` when endpoint `id` is in the caller's scope; otherwise
// answers 404 as for an unknown id. Operators skip the lookup (the engine
// answers for unknown ids itself).
void RequireEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                     const Done& done, std::function<void()> then);
// Runs `then` with delivery `id` when it exists and its endpoint is in the
// caller's scope; otherwise answers 404.
void RequireDelivery(const RouteContext& ctx, hooklog::DeliveryId id,
                     const Done& done,
                     std::function<void(hooklog::Delivery)> then);
// The endpoints a request may cover: nullopt for an operator (all), the
// scope's ids (maybe none) for a tenant. Errors are answered.
void WithScopeIds(
    const RouteContext& ctx, const Done& done,
    std::function<void(std::optional<std::vector<hooklog::EndpointId>>)> then);

// A parsed ISO 8601 query parameter, or a 422 entry naming it.
std::optional<hooklog::Timestamp> TimeParam(const QueryParams& q,
                                            std::string_view name,
                                            std::vector<FieldError>* errors);
// "endpoint_id must be a 22-character shortuuid" and friends.
FieldError BadIdError(std::string_view field);
// An event type filter: `text` when it matches [A-Za-z0-9._-]{1,256} (what
// a publish accepts), else nullopt and a 422 entry for "event_type".
std::optional<std::string> EventTypeFilter(const std::string& text,
                                           std::vector<FieldError>* errors);

// --- handlers, by resource ---------------------------------------------------

// routes_endpoints.cc
void CreateEndpoint(const RouteContext& ctx, const HttpRequest& req,
                    const Done& done);
void ListEndpoints(const RouteContext& ctx, const QueryParams& q,
                   const Done& done);
void GetEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                 const Done& done);
void UpdateEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                    const HttpRequest& req, const Done& done);
void DeleteEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                    const Done& done);
void RotateSecret(const RouteContext& ctx, hooklog::EndpointId id,
                  const Done& done);
void SendTest(const RouteContext& ctx, hooklog::EndpointId id,
              const Done& done);

// routes_deliveries.cc
void ListDeliveries(const RouteContext& ctx, const QueryParams& q,
                    const Done& done);
void GetDelivery(const RouteContext& ctx, hooklog::DeliveryId id,
                 const Done& done);
void Replay(const RouteContext& ctx, hooklog::DeliveryId id, const Done& done);

// routes_events.cc
void Publish(const RouteContext& ctx, const HttpRequest& req, const Done& done);
void GetEvent(const RouteContext& ctx, std::string_view id, const Done& done);

// routes_stats.cc
void GetStats(const RouteContext& ctx, const QueryParams& q, const Done& done);
void GetEndpointStats(const RouteContext& ctx, const QueryParams& q,
                      const Done& done);

// routes_replay_jobs.cc
void StartReplayJob(const RouteContext& ctx, const HttpRequest& req,
                    const Done& done);
void GetReplayJob(const RouteContext& ctx, std::string_view id,
                  const Done& done);
void ListReplayJobs(const RouteContext& ctx, const Done& done);

// routes_portal.cc
void CreatePortalLink(const RouteContext& ctx, const HttpRequest& req,
                      const Done& done);
void GetSession(const RouteContext& ctx, const Done& done);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_ROUTES_COMMON_H_
