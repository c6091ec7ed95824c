// The events resource: publish (operators only) and one event with its
// deliveries (a tenant sees only its own, and 404 without any).
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

// An event's deliveries: one per endpoint plus replays, read in cursor
// pages up to this many (a portal never shows more on one event).
constexpr int kMaxEventDeliveryPages = 20;

struct EventWalk {
  hooklog::Engine* engine;
  Done done;
  hooklog::Message message;
  // Tenants: only deliveries to these endpoints; nullopt: all.
  std::optional<std::set<hooklog::EndpointId>> allowed;
  hooklog::DeliveryQuery query;
  std::vector<hooklog::Delivery> deliveries;
  int pages = 0;
};

void Answer(const std::shared_ptr<EventWalk>& walk) {
  if (walk->allowed && walk->deliveries.empty()) {
    return walk->done(ErrorResponse(
        404,
        "event " + hooklog::EventIdString(walk->message.id) + " not found"));
  }
  const hooklog::Message& m = walk->message;
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(hooklog::EventIdString(m.id));
  w.Key("type").String(m.event_type);
  w.Key("created_at").String(hooklog::FormatIso8601(m.created_at));
  w.Key("data").Raw(m.payload);
  w.Key("deliveries").BeginArray();
  for (const auto& d : walk->deliveries) WriteDelivery(w, d, false);
  w.EndArray();
  w.EndObject();
  walk->done(JsonResponse(200, std::move(w).Take()));
}

void NextPage(std::shared_ptr<EventWalk> walk) {
  hooklog::DeliveryQuery q = walk->query;
  Done done = walk->done;
  walk->engine->ListDeliveries(
      std::move(q),
      Safe(done, [walk](hooklog::Result<hooklog::Page<hooklog::Delivery>> r) {
        if (!r.ok()) return walk->done(StatusResponse(r.status()));
        for (auto& d : r->items) {
          // The message filter is the engine's; checking it again costs
          // nothing and keeps another event's rows out whatever happens.
          if (d.message_id != walk->message.id) continue;
          if (walk->allowed && !walk->allowed->contains(d.endpoint_id)) {
            continue;
          }
          walk->deliveries.push_back(std::move(d));
        }
        if (r->next_cursor.empty() || ++walk->pages >= kMaxEventDeliveryPages) {
          return Answer(walk);
        }
        walk->query.cursor = std::move(r->next_cursor);
        NextPage(std::move(walk));
      }));
}

}  // namespace

void Publish(const RouteContext& ctx, const HttpRequest& req,
             const Done& done) {
  if (ctx.tenant()) return done(OperatorOnlyResponse("publishing events"));
  std::optional<HttpResponse> bad;
  auto body = ParseObject(req.body(), &bad);
  if (!body) return done(std::move(*bad));
  auto obj = body->object;
  std::vector<FieldError> errors;
  hooklog::PublishRequest pr;
  if (auto t = GetString(obj, "type", &errors)) {
    pr.event_type = *t;
  } else if (!Member(obj, "type")) {
    errors.push_back({"type", "type is required"});
  }
  if (auto d = Member(obj, "data")) {
    if (d->is_object()) {
      pr.payload = simdjson::minify(*d);
    } else {
      errors.push_back({"data", "data must be a JSON object"});
    }
  } else {
    errors.push_back({"data", "data is required (a JSON object)"});
  }
  if (auto k = GetString(obj, "idempotency_key", &errors)) {
    pr.idempotency_key = *k;
  }
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  ctx.engine->Publish(
      std::move(pr),
      Safe(done, [done](hooklog::Result<hooklog::PublishResult> r) {
        if (!r.ok()) return done(StatusResponse(r.status()));
        JsonWriter w;
        w.BeginObject();
        w.Key("id").String(hooklog::EventIdString(r->message_id));
        w.Key("deliveries").BeginArray();
        for (const auto& d : r->deliveries) w.String(d.ToString());
        w.EndArray();
        w.EndObject();
        done(JsonResponse(202, std::move(w).Take()));
      }));
}

void GetEvent(const RouteContext& ctx, std::string_view text,
              const Done& done) {
  if (text.starts_with("evt_")) text.remove_prefix(4);
  auto id = hooklog::MessageId::Parse(text);
  if (!id.ok()) {
    return done(
        ValidationResponse("event_id",
                           "event_id must be evt_ followed by a 22-character "
                           "shortuuid (or the shortuuid alone)"));
  }
  RouteContext c = ctx;
  ctx.engine->GetMessage(
      *id, Safe(done, [c, done](hooklog::Result<hooklog::Message> m) {
        if (!m.ok()) return done(StatusResponse(m.status()));
        auto walk = std::make_shared<EventWalk>();
        walk->engine = c.engine;
        walk->done = done;
        walk->message = std::move(*m);
        walk->query.message_id = walk->message.id;
        walk->query.page_size = hooklog::kMaxPageSize;
        walk->query.count_total = false;
        WithScopeIds(c, done, [walk](auto ids) {
          if (ids) walk->allowed.emplace(ids->begin(), ids->end());
          if (walk->allowed && walk->allowed->empty()) return Answer(walk);
          NextPage(walk);
        });
      }));
}

}  // namespace webhookd
