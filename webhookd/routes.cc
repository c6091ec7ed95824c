#include "webhookd/routes.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hooklog/clock.h"
#include "hooklog/transport.h"
#include "tools/cli/json_writer.h"
#include "webhookd/cursor.h"
#include "webhookd/log.h"
#include "webhookd/render.h"

namespace webhookd {
namespace {

namespace http = boost::beast::http;
using hooklog::Status;
using hooklog::cli::JsonWriter;

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

// The callback of every engine call that answers with one endpoint: the
// endpoint as JSON with `status`, after logging `log_msg` (if any) with its
// id. The signing secret is shown in full only when `full`.
auto EndpointAnswer(const RouteContext& ctx, const Done& done, int status,
                    bool full, const char* log_msg) {
  const ApiOptions* dflt = ctx.options;
  return Safe(done, [done, dflt, status, full,
                     log_msg](hooklog::Result<hooklog::Endpoint> r) {
    if (!r.ok()) return done(StatusResponse(r.status()));
    if (log_msg) {
      Log(LogLevel::kInfo, log_msg, {{"endpoint_id", r->id.ToString()}});
    }
    done(JsonResponse(status, EndpointJson(*r, full, *dflt)));
  });
}

// Creation-time SSRF check (hooklog decision, see docs/webhookd.md): refuse
// what is private by its very spelling, so that the operator hears about it
// now rather than from a "blocked" attempt later. Names that resolve to
// private addresses are still refused by the transport at connect time.
void CheckPrivateTarget(const RouteContext& ctx, std::string_view url,
                        std::vector<FieldError>* errors) {
  if (ctx.options->allow_private_targets || url.empty() ||
      !hooklog::IsPrivateDestination(url)) {
    return;
  }
  errors->push_back(
      {"url",
       "url points to a loopback or private address; webhookd "
       "refuses those unless started with --allow-private-targets"});
}

// The paging of a list request, its cursor turned from the API's (bound to
// `tag` and the filters, cursor.h) into the engine's; a cursor issued for
// another list or other filters is refused like any foreign one.
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

// The callback of a list call: the page as {"data", "pagination",
// "next_cursor"}, the next cursor bound like the one that came in.
template <typename T, typename WriteItem>
auto ListAnswer(const Done& done, const Paging& paging, std::string_view tag,
                std::string filter_key, std::string_view default_field,
                WriteItem write_item) {
  return Safe(done, [done, paging, tag, filter_key = std::move(filter_key),
                     default_field,
                     write_item](hooklog::Result<hooklog::Page<T>> r) {
    if (!r.ok()) return done(StatusResponse(r.status(), default_field));
    const std::string next = r->next_cursor.empty()
                                 ? ""
                                 : WrapCursor(tag, filter_key, r->next_cursor);
    done(JsonResponse(
        200, ListJson(r->items, paging.page, paging.page_size, r->total_count,
                      !paging.cursor.empty(), next, write_item)));
  });
}

// --- endpoints ---------------------------------------------------------------

// The members a create and an update share, read in one order (so that a
// 422 lists problems the same way for both). The differences (url required
// on create; null clears metadata, rate_limit_burst, circuit_breaker and
// auto_disable_after on update) are the callers'.
struct EndpointFields {
  std::optional<std::string> url;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> event_types;
  std::optional<hooklog::HeaderList> headers;
  std::optional<hooklog::SignatureScheme> signature_scheme;
  std::optional<double> rate_limit_per_s;
  std::optional<uint32_t> max_in_flight;
  std::optional<bool> fifo;
  std::optional<bool> enabled;
};

// Parses the body as an endpoint object; null when it is not one (the 400
// is in *bad). `secret_problem` is why signing_secret may not be given.
std::unique_ptr<JsonBody> ParseEndpointBody(const HttpRequest& req,
                                            const char* secret_problem,
                                            EndpointFields* f,
                                            std::vector<FieldError>* errors,
                                            std::optional<HttpResponse>* bad) {
  auto body = ParseObject(req.body(), bad);
  if (!body) return nullptr;
  auto obj = body->object;
  if (Member(obj, "signing_secret")) {
    errors->push_back({"signing_secret", secret_problem});
  }
  f->url = GetString(obj, "url", errors);
  f->description = GetString(obj, "description", errors);
  f->event_types = GetStringArray(obj, "event_types", errors);
  f->headers = GetStringMap(obj, "headers", errors);
  f->signature_scheme = GetScheme(obj, errors);
  f->rate_limit_per_s = GetRate(obj, "rate_limit_per_s", errors);
  f->max_in_flight = GetCount(obj, "max_in_flight", errors);
  f->fifo = GetBool(obj, "fifo", errors);
  f->enabled = GetBool(obj, "is_active", errors);
  return body;
}

void CreateEndpoint(const RouteContext& ctx, const HttpRequest& req,
                    const Done& done) {
  std::optional<HttpResponse> bad;
  std::vector<FieldError> errors;
  EndpointFields f;
  auto body = ParseEndpointBody(
      req, "signing_secret is generated by the server and cannot be supplied",
      &f, &errors, &bad);
  if (!body) return done(std::move(*bad));
  auto obj = body->object;
  hooklog::EndpointSpec spec;
  if (f.url) {
    spec.url = *f.url;
  } else if (!Member(obj, "url")) {
    errors.push_back({"url", "url is required"});
  }
  if (f.description) spec.description = *f.description;
  if (f.event_types) spec.event_types = *f.event_types;
  if (auto v = GetStringMap(obj, "metadata", &errors)) {
    for (auto& [k, val] : *v) spec.metadata[k] = val;
  }
  if (f.headers) spec.headers = *f.headers;
  if (f.signature_scheme) spec.signature_scheme = *f.signature_scheme;
  if (f.rate_limit_per_s) spec.rate_limit_per_s = *f.rate_limit_per_s;
  if (f.max_in_flight) spec.max_in_flight = *f.max_in_flight;
  if (f.fifo) spec.fifo = *f.fifo;
  if (f.enabled) spec.enabled = *f.enabled;
  auto& protection = spec.protection;
  if (auto v = GetCount(obj, "rate_limit_burst", &errors)) {
    protection.rate_limit_burst = *v;
  }
  protection.circuit_breaker =
      GetCircuitBreaker(obj, ctx.options->circuit_breaker, &errors);
  protection.auto_disable_after =
      GetDuration(obj, "auto_disable_after", &errors);
  CheckPrivateTarget(ctx, spec.url, &errors);
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  ctx.engine->CreateEndpoint(
      std::move(spec),
      EndpointAnswer(ctx, done, 201, /*full=*/true, "endpoint created"));
}

void ListEndpoints(const RouteContext& ctx, const QueryParams& q,
                   const Done& done) {
  std::vector<FieldError> errors;
  Paging paging;
  ParsePaging(q, &paging, &errors);
  hooklog::EndpointQuery query;
  for (const auto& [k, v] : q) {
    if (k.starts_with("metadata[") && k.ends_with("]")) {
      std::string key = k.substr(9, k.size() - 10);
      if (key.empty()) {
        errors.push_back(
            {k, "metadata filter needs a key: metadata[key]=value"});
      } else {
        query.metadata[key] = v;
      }
    }
  }
  const std::string filter_key = EndpointFilterKey(query);
  BindPaging(paging, kEndpointsCursorTag, filter_key, &errors, &query.page,
             &query.page_size, &query.cursor);
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  const ApiOptions* dflt = ctx.options;
  ctx.engine->ListEndpoints(
      query, ListAnswer<hooklog::Endpoint>(
                 done, paging, kEndpointsCursorTag, filter_key, "",
                 [dflt](JsonWriter& w, const hooklog::Endpoint& ep) {
                   WriteEndpoint(w, ep, false, *dflt);
                 }));
}

void GetEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                 const Done& done) {
  ctx.engine->GetEndpoint(id, EndpointAnswer(ctx, done, 200, false, nullptr));
}

void UpdateEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                    const HttpRequest& req, const Done& done) {
  std::optional<HttpResponse> bad;
  std::vector<FieldError> errors;
  EndpointFields f;
  auto body = ParseEndpointBody(req,
                                "signing_secret cannot be updated; use "
                                "POST endpoints/{endpoint_id}/rotate-secret/",
                                &f, &errors, &bad);
  if (!body) return done(std::move(*bad));
  auto obj = body->object;
  hooklog::EndpointUpdate u;
  u.url = f.url;
  u.description = f.description;
  u.event_types = f.event_types;
  // metadata: null or {} clears; "" removes a key; others are set.
  if (Present(obj, "metadata")) {
    auto m = GetStringMap(obj, "metadata", &errors);
    if (!Member(obj, "metadata") || (m && m->empty())) {
      u.clear_metadata = true;
    } else if (m) {
      for (auto& [k, v] : *m) u.metadata_patch[k] = v;
    }
  }
  u.headers = f.headers;
  u.rate_limit_per_s = f.rate_limit_per_s;
  u.max_in_flight = f.max_in_flight;
  u.fifo = f.fifo;
  u.enabled = f.enabled;
  u.signature_scheme = f.signature_scheme;
  if (Present(obj, "rate_limit_burst")) {
    u.rate_limit_burst = GetCount(obj, "rate_limit_burst", &errors).value_or(0);
  }
  if (Present(obj, "circuit_breaker")) {
    u.circuit_breaker =
        GetCircuitBreaker(obj, ctx.options->circuit_breaker, &errors);
  }
  if (Present(obj, "auto_disable_after")) {
    u.auto_disable_after = GetDuration(obj, "auto_disable_after", &errors);
  }
  if (u.url) CheckPrivateTarget(ctx, *u.url, &errors);
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  ctx.engine->UpdateEndpoint(id, std::move(u),
                             EndpointAnswer(ctx, done, 200, false, nullptr));
}

void DeleteEndpoint(const RouteContext& ctx, hooklog::EndpointId id,
                    const Done& done) {
  ctx.engine->DeleteEndpoint(id, Safe(done, [done, id](Status st) {
                               if (!st.ok()) return done(StatusResponse(st));
                               Log(LogLevel::kInfo, "endpoint deleted",
                                   {{"endpoint_id", id.ToString()}});
                               HttpResponse res{http::status::no_content, 11};
                               done(std::move(res));
                             }));
}

void RotateSecret(const RouteContext& ctx, hooklog::EndpointId id,
                  const Done& done) {
  ctx.engine->RotateSecret(
      id, EndpointAnswer(ctx, done, 200, /*full=*/true, "secret rotated"));
}

void SendTest(const RouteContext& ctx, hooklog::EndpointId id,
              const Done& done) {
  ctx.engine->SendTest(
      id, Safe(done, [done](hooklog::Result<hooklog::DeliveryResult> r) {
        if (!r.ok()) return done(StatusResponse(r.status()));
        done(JsonResponse(200, DeliveryResultJson(*r)));
      }));
}

// --- deliveries --------------------------------------------------------------

void ListDeliveries(const RouteContext& ctx, const QueryParams& q,
                    const Done& done) {
  std::vector<FieldError> errors;
  Paging paging;
  ParsePaging(q, &paging, &errors);
  hooklog::DeliveryQuery query;
  if (const std::string* v = FindParam(q, "endpoint_id")) {
    auto id = hooklog::EndpointId::Parse(*v);
    if (id.ok()) {
      query.endpoint_id = *id;
    } else {
      errors.push_back(
          {"endpoint_id", "endpoint_id must be a 22-character shortuuid"});
    }
  }
  if (const std::string* v = FindParam(q, "status")) {
    auto s = hooklog::ParseDeliveryStatus(*v);
    if (s.ok()) {
      query.status = *s;
    } else {
      errors.push_back({"status",
                        "status must be one of pending, delivered, failed, "
                        "rate_limited, dead_letter"});
    }
  }
  if (const std::string* v = FindParam(q, "event_type")) {
    bool ok = !v->empty() && v->size() <= 256 &&
              std::all_of(v->begin(), v->end(), [](unsigned char c) {
                return std::isalnum(c) || c == '.' || c == '_' || c == '-';
              });
    if (ok) {
      query.event_type = *v;
    } else {
      errors.push_back(
          {"event_type", "event_type must match [A-Za-z0-9._-]{1,256}"});
    }
  }
  for (std::string_view name : {"created_after", "created_before"}) {
    const std::string* v = FindParam(q, name);
    if (!v) continue;
    auto t = hooklog::ParseIso8601(*v);
    if (!t.ok()) {
      errors.push_back({std::string(name),
                        std::string(name) + " must be an ISO 8601 time such as "
                                            "2026-11-26T23:07:04Z"});
      continue;
    }
    if (name == "created_after") {
      query.created_after = *t;
    } else {
      // Times are shown in whole seconds, so an inclusive upper bound
      // without a fraction covers its whole second: a row displayed as
      // ...:04Z matches created_before=...:04Z.
      bool has_fraction = v->find('.') != std::string::npos;
      query.created_before = has_fraction || *t % hooklog::kSecond != 0
                                 ? *t
                                 : *t + hooklog::kSecond - 1;
    }
  }
  const std::string filter_key = DeliveryFilterKey(query);
  BindPaging(paging, kDeliveriesCursorTag, filter_key, &errors, &query.page,
             &query.page_size, &query.cursor);
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  ctx.engine->ListDeliveries(
      query, ListAnswer<hooklog::Delivery>(
                 done, paging, kDeliveriesCursorTag, filter_key, "query",
                 [](JsonWriter& w, const hooklog::Delivery& d) {
                   WriteDelivery(w, d, false);
                 }));
}

void GetDelivery(const RouteContext& ctx, hooklog::DeliveryId id,
                 const Done& done) {
  ctx.engine->GetDelivery(
      id, Safe(done, [done](hooklog::Result<hooklog::Delivery> r) {
        if (!r.ok()) return done(StatusResponse(r.status()));
        JsonWriter w;
        WriteDelivery(w, *r, true);
        done(JsonResponse(200, std::move(w).Take()));
      }));
}

void Replay(const RouteContext& ctx, hooklog::DeliveryId id, const Done& done) {
  ctx.engine->Replay(
      id, Safe(done, [done, id](hooklog::Result<hooklog::DeliveryResult> r) {
        if (!r.ok()) return done(StatusResponse(r.status(), "delivery_id"));
        Log(LogLevel::kInfo, "delivery replayed",
            {{"delivery_id", id.ToString()},
             {"new_delivery_id", r->delivery_id.ToString()}});
        done(JsonResponse(200, DeliveryResultJson(*r)));
      }));
}

// --- events ------------------------------------------------------------------

void Publish(const RouteContext& ctx, const HttpRequest& req,
             const Done& done) {
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

}  // namespace

// --- routing -----------------------------------------------------------------

void Route(const RouteContext& ctx, const HttpRequest& req,
           std::string_view path, const QueryParams& q, const Done& done) {
  const http::verb m = req.method();
  // Segments after the base path; a trailing slash is optional.
  std::vector<std::string_view> seg;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view s = path.substr(0, slash);
    if (!s.empty()) seg.push_back(s);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  auto not_found = [&] {
    done(ErrorResponse(
        404, "no such route: " +
                 std::string(req.target().data(), req.target().size())));
  };
  auto not_allowed = [&](std::string_view allow) {
    done(MethodNotAllowedResponse(allow));
  };
  if (seg.empty()) return not_found();

  if (seg[0] == "endpoints") {
    if (seg.size() == 1) {
      if (m == http::verb::get) return ListEndpoints(ctx, q, done);
      if (m == http::verb::post) return CreateEndpoint(ctx, req, done);
      return not_allowed("GET, HEAD, POST");
    }
    if (seg.size() > 3) return not_found();
    if (seg.size() == 3 && seg[2] != "test" && seg[2] != "rotate-secret") {
      return not_found();
    }
    auto id = hooklog::EndpointId::Parse(seg[1]);
    if (seg.size() == 2) {
      if (m != http::verb::get && m != http::verb::patch &&
          m != http::verb::delete_) {
        return not_allowed("GET, HEAD, PATCH, DELETE");
      }
    } else if (m != http::verb::post) {
      return not_allowed("POST");
    }
    if (!id.ok()) {
      return done(ValidationResponse(
          "endpoint_id", "endpoint_id must be a 22-character shortuuid"));
    }
    if (seg.size() == 2) {
      if (m == http::verb::get) return GetEndpoint(ctx, *id, done);
      if (m == http::verb::patch) return UpdateEndpoint(ctx, *id, req, done);
      return DeleteEndpoint(ctx, *id, done);
    }
    if (seg[2] == "test") return SendTest(ctx, *id, done);
    return RotateSecret(ctx, *id, done);
  }
  if (seg[0] == "deliveries") {
    if (seg.size() == 1) {
      if (m == http::verb::get) return ListDeliveries(ctx, q, done);
      return not_allowed("GET, HEAD");
    }
    if (seg.size() > 3 || (seg.size() == 3 && seg[2] != "replay")) {
      return not_found();
    }
    if (seg.size() == 2 && m != http::verb::get) {
      return not_allowed("GET, HEAD");
    }
    if (seg.size() == 3 && m != http::verb::post) return not_allowed("POST");
    auto id = hooklog::DeliveryId::Parse(seg[1]);
    if (!id.ok()) {
      return done(ValidationResponse(
          "delivery_id", "delivery_id must be a 22-character shortuuid"));
    }
    if (seg.size() == 2) return GetDelivery(ctx, *id, done);
    return Replay(ctx, *id, done);
  }
  if (seg[0] == "events" && seg.size() == 1) {
    if (m == http::verb::post) return Publish(ctx, req, done);
    return not_allowed("POST");
  }
  return not_found();
}

}  // namespace webhookd
