// The deliveries resource: list (with count=false), get (with the request
// an attempt sends) and replay, each within the caller's scope.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "webhookd/routes_common.h"

namespace webhookd {
namespace {

using hooklog::cli::JsonWriter;
using DeliveryPage = hooklog::Result<hooklog::Page<hooklog::Delivery>>;

// The filters of GET deliveries/ (everything but paging and scope).
struct DeliveryFilters {
  hooklog::DeliveryQuery query;
  bool count = true;
};

void ParseDeliveryFilters(const QueryParams& q, DeliveryFilters* f,
                          std::vector<FieldError>* errors) {
  hooklog::DeliveryQuery& query = f->query;
  if (const std::string* v = FindParam(q, "endpoint_id")) {
    auto id = hooklog::EndpointId::Parse(*v);
    if (id.ok()) {
      query.endpoint_id = *id;
    } else {
      errors->push_back(BadIdError("endpoint_id"));
    }
  }
  if (const std::string* v = FindParam(q, "status")) {
    auto s = hooklog::ParseDeliveryStatus(*v);
    if (s.ok()) {
      query.status = *s;
    } else {
      errors->push_back({"status",
                         "status must be one of pending, delivered, failed, "
                         "rate_limited, dead_letter"});
    }
  }
  if (const std::string* v = FindParam(q, "event_type")) {
    query.event_type = EventTypeFilter(*v, errors);
  }
  query.created_after = TimeParam(q, "created_after", errors);
  if (auto t = TimeParam(q, "created_before", errors)) {
    // Times are shown in whole seconds, so an inclusive upper bound without
    // a fraction covers its whole second: a row displayed as ...:04Z
    // matches created_before=...:04Z.
    bool has_fraction =
        FindParam(q, "created_before")->find('.') != std::string::npos;
    query.created_before = has_fraction || *t % hooklog::kSecond != 0
                               ? *t
                               : *t + hooklog::kSecond - 1;
  }
  if (const std::string* v = FindParam(q, "count")) {
    if (*v == "false") {
      f->count = false;
    } else if (*v != "true") {
      errors->push_back({"count", "count must be true or false"});
    }
  }
  query.count_total = f->count;
}

}  // namespace

void ListDeliveries(const RouteContext& ctx, const QueryParams& q,
                    const Done& done) {
  std::vector<FieldError> errors;
  Paging paging;
  ParsePaging(q, &paging, &errors);
  DeliveryFilters f;
  ParseDeliveryFilters(q, &f, &errors);
  hooklog::DeliveryQuery query = f.query;
  // A tenant's cursors are bound to its scope as well as to the filters.
  std::string filter_key = DeliveryFilterKey(query);
  if (ctx.tenant()) {
    hooklog::EndpointQuery scope;
    scope.metadata = ctx.principal->metadata;
    filter_key += "scope\n" + EndpointFilterKey(scope);
  }
  BindPaging(paging, kDeliveriesCursorTag, filter_key, &errors, &query.page,
             &query.page_size, &query.cursor);
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  auto answer = ListAnswer<hooklog::Delivery>(
      done, paging, kDeliveriesCursorTag, filter_key, "query", f.count,
      [](JsonWriter& w, const hooklog::Delivery& d) {
        WriteDelivery(w, d, false);
      });
  if (!ctx.tenant())
    return ctx.engine->ListDeliveries(query, std::move(answer));
  if (query.endpoint_id) {
    hooklog::EndpointId id = *query.endpoint_id;
    return RequireEndpoint(ctx, id, done, [ctx, query, answer] {
      ctx.engine->ListDeliveries(query, answer);
    });
  }
  WithScopeIds(ctx, done, [ctx, query, answer](auto ids) mutable {
    if (ids->empty()) {
      // No endpoints: nothing (an empty endpoint_ids would mean "all").
      return answer(DeliveryPage(hooklog::Page<hooklog::Delivery>{}));
    }
    query.endpoint_ids = *ids;
    query.endpoint_ids_exact = true;
    // Defence in depth: whatever the engine answers, a tenant sees only
    // rows of its own endpoints.
    std::set<hooklog::EndpointId> allowed(ids->begin(), ids->end());
    ctx.engine->ListDeliveries(
        query, [answer, allowed = std::move(allowed)](DeliveryPage r) mutable {
          if (r.ok()) {
            std::erase_if(r->items, [&](const hooklog::Delivery& d) {
              return !allowed.contains(d.endpoint_id);
            });
          }
          answer(std::move(r));
        });
  });
}

void GetDelivery(const RouteContext& ctx, hooklog::DeliveryId id,
                 const Done& done) {
  hooklog::Engine* engine = ctx.engine;
  RequireDelivery(ctx, id, done, [engine, done](hooklog::Delivery d) {
    // The request is rebuilt from the endpoint and the message; a deleted
    // endpoint (NotFound) shows it as null.
    auto d_ptr = std::make_shared<hooklog::Delivery>(std::move(d));
    engine->GetEndpoint(
        d_ptr->endpoint_id,
        Safe(done, [engine, done, d_ptr](hooklog::Result<hooklog::Endpoint> e) {
          if (!e.ok() && !e.status().IsNotFound()) {
            return done(StatusResponse(e.status()));
          }
          std::optional<hooklog::Endpoint> ep;
          if (e.ok()) ep = std::move(*e);
          engine->GetMessage(
              d_ptr->message_id,
              Safe(done, [done, d_ptr, ep = std::move(ep)](
                             hooklog::Result<hooklog::Message> m) {
                if (!m.ok() && !m.status().IsNotFound()) {
                  return done(StatusResponse(m.status()));
                }
                DeliveryRequest request{ep ? &*ep : nullptr,
                                        m.ok() ? &*m : nullptr};
                JsonWriter w;
                WriteDelivery(w, *d_ptr, true, &request);
                done(JsonResponse(200, std::move(w).Take()));
              }));
        }));
  });
}

void Replay(const RouteContext& ctx, hooklog::DeliveryId id, const Done& done) {
  hooklog::Engine* engine = ctx.engine;
  auto replay = [engine, id, done] {
    engine->Replay(
        id, Safe(done, [done, id](hooklog::Result<hooklog::DeliveryResult> r) {
          if (!r.ok()) return done(StatusResponse(r.status(), "delivery_id"));
          Log(LogLevel::kInfo, "delivery replayed",
              {{"delivery_id", id.ToString()},
               {"new_delivery_id", r->delivery_id.ToString()}});
          done(JsonResponse(200, DeliveryResultJson(*r)));
        }));
  };
  // Operators: the engine answers for unknown ids itself.
  if (!ctx.tenant()) return replay();
  RequireDelivery(ctx, id, done, [replay](hooklog::Delivery) { replay(); });
}

}  // namespace webhookd
