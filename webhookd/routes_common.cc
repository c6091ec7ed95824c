#include "webhookd/routes_common.h"

#include <algorithm>
#include <cctype>
#include <memory>

namespace webhookd {

void BindPaging(const Paging& paging, std::string_view tag,
                const std::string& filter_key, std::vector<FieldError>* errors,
                uint32_t* page, uint32_t* page_size, std::string* cursor) {
  *page = paging.page;
  *page_size = paging.page_size;
  if (paging.cursor.empty()) return;
  if (auto engine_cursor = UnwrapCursor(tag, filter_key, paging.cursor)) {
    *cursor = std::move(*engine_cursor);
  } else {
    errors->push_back(BadCursorError());
  }
}

void RequireEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                     const Done& done, std::function<void()> then) {
  if (!ctx.tenant()) return then();
  PrincipalPtr p = ctx.principal;
  ctx.engine->GetEndpoint(
      id, Safe(done, [done, p, id, then = std::move(then)](
                         hooklog::Result<hooklog::Endpoint> r) {
        if (r.ok() && InScope(*p, *r)) return then();
        if (!r.ok() && !r.status().IsNotFound()) {
          return done(StatusResponse(r.status()));
        }
        done(OutOfScopeResponse("endpoint " + id.ToString() + " not found"));
      }));
}

void RequireDelivery(const RouteContext& ctx, hooklog::DeliveryId id,
                     const Done& done,
                     std::function<void(hooklog::Delivery)> then) {
  RouteContext c = ctx;
  ctx.engine->GetDelivery(
      id, Safe(done, [c, done, id, then = std::move(then)](
                         hooklog::Result<hooklog::Delivery> r) mutable {
        if (!r.ok()) return done(StatusResponse(r.status()));
        if (!c.tenant()) return then(std::move(*r));
        hooklog::Delivery d = std::move(*r);
        const hooklog::EndpointId ep = d.endpoint_id;
        c.engine->GetEndpoint(
            ep, Safe(done, [c, done, id, d = std::move(d), then](
                               hooklog::Result<hooklog::Endpoint> e) mutable {
              if (e.ok() && InScope(*c.principal, *e)) {
                return then(std::move(d));
              }
              if (!e.ok() && !e.status().IsNotFound()) {
                return done(StatusResponse(e.status()));
              }
              done(OutOfScopeResponse("delivery " + id.ToString() +
                                      " not found"));
            }));
      }));
}

void WithScopeIds(
    const RouteContext& ctx, const Done& done,
    std::function<void(std::optional<std::vector<hooklog::EndpointId>>)> then) {
  if (!ctx.tenant()) return then(std::nullopt);
  ListScopeEndpoints(
      ctx.engine, ctx.principal->metadata,
      Safe(done, [done, then = std::move(then)](
                     hooklog::Result<std::vector<hooklog::Endpoint>> r) {
        if (!r.ok()) return done(StatusResponse(r.status(), "scope"));
        then(IdsOf(*r));
      }));
}

std::optional<hooklog::Timestamp> TimeParam(const QueryParams& q,
                                            std::string_view name,
                                            std::vector<FieldError>* errors) {
  const std::string* v = FindParam(q, name);
  if (!v) return std::nullopt;
  auto t = hooklog::ParseIso8601(*v);
  if (!t.ok()) {
    errors->push_back({std::string(name),
                       std::string(name) + " must be an ISO 8601 time such as "
                                           "2026-11-26T23:07:04Z"});
    return std::nullopt;
  }
  return *t;
}

FieldError BadIdError(std::string_view field) {
  return {std::string(field),
          std::string(field) + " must be a 22-character shortuuid"};
}

std::optional<std::string> EventTypeFilter(const std::string& text,
                                           std::vector<FieldError>* errors) {
  const bool ok = !text.empty() && text.size() <= 256 &&
                  std::all_of(text.begin(), text.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                  });
  if (ok) return text;
  errors->push_back(
      {"event_type", "event_type must match [A-Za-z0-9._-]{1,256}"});
  return std::nullopt;
}

}  // namespace webhookd
