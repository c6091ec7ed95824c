#include "webhookd/api.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <utility>

#include "tools/cli/json_writer.h"
#include "webhookd/log.h"
#include "hooklog/clock.h"
#include "hooklog/transport.h"

namespace webhookd {

using hooklog::cli::JsonWriter;
namespace http = boost::beast::http;
using hooklog::Status;
using hooklog::StatusCode;

namespace {

using Done = std::function<void(HttpResponse)>;
using QueryParams = std::vector<std::pair<std::string, std::string>>;

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  // Responses can carry signing secrets; keep them out of caches.
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse Validation(std::vector<FieldError> details) {
  std::string msg = details.size() == 1 ? details[0].message
                                        : "the request has invalid fields";
  return ErrorResponse(422, msg, &details);
}

HttpResponse Validation(std::string field, std::string message) {
  return Validation({FieldError{std::move(field), std::move(message)}});
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; a malformed escape is kept
// literally (it then fails the parameter's own validation).
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

QueryParams ParseQuery(std::string_view q) {
  QueryParams out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view k = part.substr(0, eq);
    std::string_view v =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    out.emplace_back(PercentDecode(k), PercentDecode(v));
  }
  return out;
}

const std::string* FindParam(const QueryParams& q, std::string_view name) {
  for (const auto& [k, v] : q) {
    if (k == name) return &v;
  }
  return nullptr;
}

// A positive integer query parameter in [1, max].
bool ParsePositive(const std::string& text, uint32_t max, uint32_t* out) {
  uint64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 1 ||
      v > max) {
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string MaskSecret(const std::string& secret) {
  std::string masked = "whsec_\xE2\x80\xA6";  // "whsec_…"
  if (secret.size() >= 4) masked += secret.substr(secret.size() - 4);
  return masked;
}

std::string Iso(hooklog::Timestamp t) { return hooklog::FormatIso8601(t); }

void WriteTimeOrNull(JsonWriter& w, hooklog::Timestamp t) {
  if (t == 0) {
    w.Null();
  } else {
    w.String(Iso(t));
  }
}

void WriteEndpoint(JsonWriter& w, const hooklog::Endpoint& ep, bool full,
                   const ApiOptions& defaults) {
  w.BeginObject();
  w.Key("id").String(ep.id.ToString());
  w.Key("url").String(ep.url);
  const std::string secret = ep.secrets.empty() ? "" : ep.secrets[0].secret;
  w.Key("signing_secret").String(full ? secret : MaskSecret(secret));
  w.Key("is_active").Bool(ep.enabled);
  w.Key("description").String(ep.description);
  w.Key("event_types").BeginArray();
  for (const auto& t : ep.event_types) w.String(t);
  w.EndArray();
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : ep.metadata) w.Key(k).String(v);
  w.EndObject();
  w.Key("created_at").String(Iso(ep.created_at));
  w.Key("updated_at").String(Iso(ep.updated_at));
  w.Key("signature_scheme")
      .String(hooklog::SignatureSchemeName(ep.signature_scheme));
  w.Key("headers").BeginObject();
  for (const auto& [k, v] : ep.headers) w.Key(k).String(v);
  w.EndObject();
  w.Key("rate_limit_per_s");
  if (ep.rate_limit_per_s > 0) {
    w.Double(ep.rate_limit_per_s);
  } else {
    w.Null();
  }
  w.Key("rate_limit_burst");
  if (uint32_t burst = hooklog::EffectiveRateLimitBurst(ep)) {
    w.Uint(burst);
  } else {
    w.Null();
  }
  w.Key("max_in_flight")
      .Uint(ep.max_in_flight ? ep.max_in_flight
                             : defaults.default_max_in_flight);
  w.Key("fifo").Bool(ep.fifo);
  // Protection settings as they apply: the endpoint's own, or the defaults.
  const hooklog::CircuitBreakerOptions& cb =
      ep.protection.circuit_breaker.value_or(defaults.circuit_breaker);
  w.Key("circuit_breaker").BeginObject();
  w.Key("enabled").Bool(cb.enabled);
  w.Key("consecutive_failures").Uint(cb.consecutive_failures);
  w.Key("window_attempts").Uint(cb.window_attempts);
  w.Key("failure_rate").Double(cb.failure_rate);
  w.Key("open_for").String(hooklog::FormatDuration(cb.open_for));
  w.Key("max_open_for").String(hooklog::FormatDuration(cb.max_open_for));
  w.EndObject();
  w.Key("circuit_state").String(ep.circuit_open_until != 0 ? "open" : "closed");
  w.Key("circuit_open_until");
  WriteTimeOrNull(w, ep.circuit_open_until);
  w.Key("failing_since");
  WriteTimeOrNull(w, ep.failing_since);
  w.Key("auto_disable_after")
      .String(hooklog::FormatDuration(ep.protection.auto_disable_after.value_or(
          defaults.auto_disable_after)));
  w.Key("disabled_reason");
  if (ep.enabled) {
    w.Null();
  } else {
    w.String(ep.disabled_reason.empty() ? "manual" : ep.disabled_reason);
  }
  w.EndObject();
}

void WriteDelivery(JsonWriter& w, const hooklog::Delivery& d, bool with_log) {
  w.BeginObject();
  w.Key("id").String(d.id.ToString());
  w.Key("endpoint_id").String(d.endpoint_id.ToString());
  w.Key("event_id").String(hooklog::EventIdString(d.message_id));
  w.Key("event_type").String(d.event_type);
  w.Key("status").String(hooklog::DeliveryStatusName(d.status));
  w.Key("created_at").String(Iso(d.created_at));
  w.Key("http_status_code").OptInt(d.http_status_code);
  w.Key("response_body").OptString(d.response_body);
  w.Key("attempts").Uint(d.attempts);
  w.Key("last_attempted_at");
  WriteTimeOrNull(w, d.last_attempted_at);
  w.Key("next_attempt_at");
  WriteTimeOrNull(w, hooklog::IsTerminal(d.status) ? 0 : d.next_attempt_at);
  w.Key("replay_of");
  if (d.replay_of) {
    w.String(d.replay_of->ToString());
  } else {
    w.Null();
  }
  w.Key("error");
  if (d.last_error == hooklog::ErrorClass::kNone) {
    w.Null();
  } else {
    w.String(hooklog::ErrorClassName(d.last_error));
  }
  w.Key("dead_letter_reason");
  if (d.status == hooklog::DeliveryStatus::kDeadLetter &&
      d.dead_letter_reason) {
    w.String(hooklog::DeadLetterReasonName(*d.dead_letter_reason));
  } else {
    w.Null();
  }
  if (with_log) {
    w.Key("attempts_log").BeginArray();
    for (const auto& a : d.attempts_log) {
      w.BeginObject();
      w.Key("at").String(Iso(a.at));
      w.Key("http_status_code").OptInt(a.http_status_code);
      w.Key("error");
      if (a.error == hooklog::ErrorClass::kNone) {
        w.Null();
      } else {
        w.String(hooklog::ErrorClassName(a.error));
      }
      w.Key("latency_ms").Uint(a.latency_ms);
      w.Key("response_body").OptString(a.response_body);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

std::string DeliveryResultJson(const hooklog::DeliveryResult& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("delivery_id").String(r.delivery_id.ToString());
  w.Key("status").String(hooklog::DeliveryStatusName(r.status));
  w.Key("http_status_code").OptInt(r.http_status_code);
  w.Key("response_body").OptString(r.response_body);
  w.EndObject();
  return std::move(w).Take();
}

// The pagination envelope. In page mode the counts come from total_count; in
// cursor mode (ext) `page` echoes the request and has_next follows the
// cursor.
void WritePagination(JsonWriter& w, uint32_t page, uint32_t page_size,
                     uint64_t total, bool cursor_mode,
                     const std::string& next_cursor) {
  uint64_t total_pages = (total + page_size - 1) / page_size;
  w.Key("pagination").BeginObject();
  w.Key("page").Uint(page);
  w.Key("page_size").Uint(page_size);
  w.Key("total_count").Uint(total);
  w.Key("total_pages").Uint(total_pages);
  w.Key("has_next")
      .Bool(cursor_mode ? !next_cursor.empty()
                        : uint64_t{page} * page_size < total);
  w.Key("has_previous").Bool(cursor_mode || page > 1);
  w.EndObject();
  w.Key("next_cursor");
  if (next_cursor.empty()) {
    w.Null();
  } else {
    w.String(next_cursor);
  }
}

struct Paging {
  uint32_t page = 1;
  uint32_t page_size = hooklog::kMaxPageSize;
  std::string cursor;
};

void ParsePaging(const QueryParams& q, Paging* p,
                 std::vector<FieldError>* errors) {
  if (const std::string* v = FindParam(q, "page")) {
    if (!ParsePositive(*v, 1000000000, &p->page)) {
      errors->push_back({"page", "page must be a positive integer"});
    }
  }
  if (const std::string* v = FindParam(q, "page_size")) {
    if (!ParsePositive(*v, hooklog::kMaxPageSize, &p->page_size)) {
      errors->push_back(
          {"page_size", "page_size must be an integer from 1 to " +
                            std::to_string(hooklog::kMaxPageSize)});
    }
  }
  if (const std::string* v = FindParam(q, "cursor")) p->cursor = *v;
}

// --- JSON request bodies ---------------------------------------------------

struct JsonBody {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
};

// Parses the body as a JSON object. On failure fills *error (400).
std::unique_ptr<JsonBody> ParseObject(const std::string& body,
                                      std::optional<HttpResponse>* error) {
  auto parsed = std::make_unique<JsonBody>();
  simdjson::dom::element root;
  auto ec = parsed->parser.parse(body.data(), body.size(), true).get(root);
  if (ec) {
    *error =
        ErrorResponse(400, std::string("request body is not valid JSON: ") +
                               simdjson::error_message(ec));
    return nullptr;
  }
  if (root.get_object().get(parsed->object)) {
    *error = ErrorResponse(400, "request body must be a JSON object");
    return nullptr;
  }
  return parsed;
}

// Looks up `key`; nullopt when absent or null ("leave unchanged").
std::optional<simdjson::dom::element> Member(simdjson::dom::object obj,
                                             std::string_view key) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e)) return std::nullopt;
  if (e.is_null()) return std::nullopt;
  return e;
}

bool Present(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element e;
  return !obj.at_key(key).get(e);
}

std::optional<std::string> GetString(simdjson::dom::object obj,
                                     std::string_view key,
                                     std::vector<FieldError>* errors) {
  auto e = Member(obj, key);
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s)) {
    errors->push_back(
        {std::string(key), std::string(key) + " must be a string"});
    return std::nullopt;
  }
  return std::string(s);
}

std::optional<bool> GetBool(simdjson::dom::object obj, std::string_view key,
                            std::vector<FieldError>* errors) {
  auto e = Member(obj, key);
  if (!e) return std::nullopt;
  bool b;
  if (e->get_bool().get(b)) {
    errors->push_back(
        {std::string(key), std::string(key) + " must be a boolean"});
    return std::nullopt;
  }
  return b;
}

std::optional<double> GetRate(simdjson::dom::object obj, std::string_view key,
                              std::vector<FieldError>* errors) {
  auto e = Member(obj, key);
  if (!e) return std::nullopt;
  double d;
  if (e->get_double().get(d) || !(d >= 0) || d > 1e6) {
    errors->push_back({std::string(key), std::string(key) +
                                             " must be a number from 0 "
                                             "(no limit) to 1000000, or null"});
    return std::nullopt;
  }
  return d;
}

std::optional<uint32_t> GetCount(simdjson::dom::object obj,
                                 std::string_view key,
                                 std::vector<FieldError>* errors) {
  auto e = Member(obj, key);
  if (!e) return std::nullopt;
  int64_t v;
  if (e->get_int64().get(v) || v < 0 || v > UINT32_MAX) {
    errors->push_back({std::string(key),
                       std::string(key) + " must be a non-negative integer"});
    return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

std::optional<std::vector<std::string>> GetStringArray(
    simdjson::dom::object obj, std::string_view key,
    std::vector<FieldError>* errors) {
  auto e = Member(obj, key);
  if (!e) return std::nullopt;
  simdjson::dom::array arr;
  std::vector<std::string> out;
  bool ok = !e->get_array().get(arr);
  if (ok) {
    for (simdjson::dom::element item : arr) {
      std::string_view s;
      if (item.get_string().get(s)) {
        ok = false;
        break;
      }
      out.emplace_back(s);
    }
  }
  if (!ok) {
    errors->push_back(
        {std::string(key), std::string(key) + " must be an array of strings"});
    return std::nullopt;
  }
  return out;
}

// An object of string values, in document order.
std::optional<hooklog::HeaderList> GetStringMap(
    simdjson::dom::object obj, std::string_view key,
    std::vector<FieldError>* errors) {
  auto e = Member(obj, key);
  if (!e) return std::nullopt;
  simdjson::dom::object m;
  hooklog::HeaderList out;
  bool ok = !e->get_object().get(m);
  if (ok) {
    for (auto [k, v] : m) {
      std::string_view s;
      if (v.get_string().get(s)) {
        ok = false;
        break;
      }
      out.emplace_back(std::string(k), std::string(s));
    }
  }
  if (!ok) {
    errors->push_back(
        {std::string(key), std::string(key) + " must be an object of strings"});
    return std::nullopt;
  }
  return out;
}

std::optional<hooklog::Duration> GetDuration(simdjson::dom::object obj,
                                             std::string_view key,
                                             std::vector<FieldError>* errors) {
  auto s = GetString(obj, key, errors);
  if (!s) return std::nullopt;
  auto d = hooklog::ParseDuration(*s);
  if (!d.ok() || d->count() < 0) {
    errors->push_back(
        {std::string(key), std::string(key) +
                               " must be a duration like \"30s\", \"10m\", "
                               "\"5d\" or \"0\""});
    return std::nullopt;
  }
  return *d;
}

// A circuit_breaker object: members left out take the defaults. Unknown
// members are refused (a misspelt threshold must not pass silently).
std::optional<hooklog::CircuitBreakerOptions> GetCircuitBreaker(
    simdjson::dom::object obj, const hooklog::CircuitBreakerOptions& defaults,
    std::vector<FieldError>* errors) {
  auto e = Member(obj, "circuit_breaker");
  if (!e) return std::nullopt;
  simdjson::dom::object cb_obj;
  if (e->get_object().get(cb_obj)) {
    errors->push_back(
        {"circuit_breaker", "circuit_breaker must be an object or null"});
    return std::nullopt;
  }
  const size_t before = errors->size();
  for (auto [k, v] : cb_obj) {
    static constexpr std::string_view kKnown[] = {
        "enabled",  "consecutive_failures", "window_attempts", "failure_rate",
        "open_for", "max_open_for"};
    if (std::find(std::begin(kKnown), std::end(kKnown), k) ==
        std::end(kKnown)) {
      errors->push_back({"circuit_breaker." + std::string(k),
                         "unknown circuit_breaker member"});
    }
  }
  // Field names in errors carry the "circuit_breaker." prefix.
  std::vector<FieldError> inner;
  hooklog::CircuitBreakerOptions cb = defaults;
  if (auto v = GetBool(cb_obj, "enabled", &inner)) cb.enabled = *v;
  if (auto v = GetCount(cb_obj, "consecutive_failures", &inner)) {
    cb.consecutive_failures = *v;
  }
  if (auto v = GetCount(cb_obj, "window_attempts", &inner)) {
    cb.window_attempts = *v;
  }
  simdjson::dom::element rate;
  if (!cb_obj.at_key("failure_rate").get(rate) && !rate.is_null()) {
    if (rate.get_double().get(cb.failure_rate)) {
      inner.push_back({"failure_rate", "failure_rate must be a number"});
    }
  }
  if (auto v = GetDuration(cb_obj, "open_for", &inner)) cb.open_for = *v;
  if (auto v = GetDuration(cb_obj, "max_open_for", &inner)) {
    cb.max_open_for = *v;
  }
  for (FieldError& f : inner) {
    errors->push_back(
        {"circuit_breaker." + f.field, "circuit_breaker." + f.message});
  }
  if (errors->size() != before) return std::nullopt;
  return cb;
}

std::optional<hooklog::SignatureScheme> GetScheme(
    simdjson::dom::object obj, std::vector<FieldError>* errors) {
  auto s = GetString(obj, "signature_scheme", errors);
  if (!s) return std::nullopt;
  auto r = hooklog::ParseSignatureScheme(*s);
  if (!r.ok()) {
    errors->push_back(
        {"signature_scheme", "signature_scheme must be standard or closient"});
    return std::nullopt;
  }
  return *r;
}

// Creation-time SSRF check (hooklog decision, see docs/webhookd.md): refuse
// what is private by its very spelling, so that the operator hears about it
// now rather than from a "blocked" attempt later. Names that resolve to
// private addresses are still refused by the transport at connect time.
std::optional<FieldError> PrivateTargetProblem(std::string_view url) {
  if (!hooklog::IsPrivateDestination(url)) return std::nullopt;
  return FieldError{
      "url",
      "url points to a loopback or private address; webhookd "
      "refuses those unless started with --allow-private-targets"};
}

}  // namespace

// --- errors ------------------------------------------------------------------

std::string_view ErrorCodeFor(int status) {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "FORBIDDEN";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 422:
      return "VALIDATION_ERROR";
    case 429:
      return "RATE_LIMITED";
    case 503:
      return "UNAVAILABLE";
    default:
      return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

HttpResponse ErrorResponse(int status, std::string_view message,
                           const std::vector<FieldError>* details) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Key("code").String(ErrorCodeFor(status));
  w.Key("message").String(message);
  w.Key("status").Int(status);
  w.Key("details");
  if (details) {
    w.BeginArray();
    for (const auto& d : *details) {
      w.BeginObject();
      w.Key("field").String(d.field);
      w.Key("message").String(d.message);
      w.EndObject();
    }
    w.EndArray();
  } else {
    w.Null();
  }
  w.EndObject().EndObject();
  return JsonResponse(status, std::move(w).Take());
}

HttpResponse StatusResponse(const Status& st, std::string_view default_field) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition: {
      std::string field =
          st.field().empty() ? std::string(default_field) : st.field();
      if (field.empty()) field = "body";
      return Validation(field, st.message());
    }
    case StatusCode::kNotFound:
      return ErrorResponse(404, st.message());
    case StatusCode::kAlreadyExists:
      return ErrorResponse(409, st.message());
    case StatusCode::kResourceExhausted:
      return ErrorResponse(413, st.message());
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
      return ErrorResponse(503,
                           "storage cannot accept writes right now; "
                           "nothing was changed (" +
                               st.message() + ")");
    default:
      Log(LogLevel::kError, "internal error", {{"status", st.ToString()}});
      return ErrorResponse(500, "internal error");
  }
}

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

// --- the handlers ------------------------------------------------------------

struct Api::Impl {
  Api* api;
  hooklog::Engine* engine;

  static void MethodNotAllowed(std::string_view allow, const Done& done) {
    HttpResponse res = ErrorResponse(
        405, "method not allowed; allowed: " + std::string(allow));
    res.set(http::field::allow, std::string(allow));
    done(std::move(res));
  }

  // --- endpoints ---

  void CreateEndpoint(const HttpRequest& req, const Done& done) {
    std::optional<HttpResponse> bad;
    auto body = ParseObject(req.body(), &bad);
    if (!body) return done(std::move(*bad));
    auto obj = body->object;
    std::vector<FieldError> errors;
    hooklog::EndpointSpec spec;
    if (Member(obj, "signing_secret")) {
      errors.push_back({"signing_secret",
                        "signing_secret is generated by the server and cannot "
                        "be supplied"});
    }
    if (auto url = GetString(obj, "url", &errors)) {
      spec.url = *url;
    } else if (!Member(obj, "url")) {
      errors.push_back({"url", "url is required"});
    }
    if (auto v = GetString(obj, "description", &errors)) spec.description = *v;
    if (auto v = GetStringArray(obj, "event_types", &errors)) {
      spec.event_types = *v;
    }
    if (auto v = GetStringMap(obj, "metadata", &errors)) {
      for (auto& [k, val] : *v) spec.metadata[k] = val;
    }
    if (auto v = GetStringMap(obj, "headers", &errors)) spec.headers = *v;
    if (auto v = GetScheme(obj, &errors)) spec.signature_scheme = *v;
    if (auto v = GetRate(obj, "rate_limit_per_s", &errors)) {
      spec.rate_limit_per_s = *v;
    }
    if (auto v = GetCount(obj, "max_in_flight", &errors)) {
      spec.max_in_flight = *v;
    }
    if (auto v = GetBool(obj, "fifo", &errors)) spec.fifo = *v;
    if (auto v = GetBool(obj, "is_active", &errors)) spec.enabled = *v;
    auto& protection = spec.protection;
    if (auto v = GetCount(obj, "rate_limit_burst", &errors)) {
      protection.rate_limit_burst = *v;
    }
    protection.circuit_breaker =
        GetCircuitBreaker(obj, api->options_.circuit_breaker, &errors);
    protection.auto_disable_after =
        GetDuration(obj, "auto_disable_after", &errors);
    if (!api->options_.allow_private_targets && !spec.url.empty()) {
      if (auto p = PrivateTargetProblem(spec.url)) errors.push_back(*p);
    }
    if (!errors.empty()) return done(Validation(std::move(errors)));
    const ApiOptions* dflt = &api->options_;
    engine->CreateEndpoint(
        std::move(spec),
        Safe(done, [done, dflt](hooklog::Result<hooklog::Endpoint> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          Log(LogLevel::kInfo, "endpoint created",
              {{"endpoint_id", r->id.ToString()}});
          JsonWriter w;
          WriteEndpoint(w, *r, /*full=*/true, *dflt);
          done(JsonResponse(201, std::move(w).Take()));
        }));
  }

  void ListEndpoints(const QueryParams& q, const Done& done) {
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
    if (!errors.empty()) return done(Validation(std::move(errors)));
    query.page = paging.page;
    query.page_size = paging.page_size;
    query.cursor = paging.cursor;
    const ApiOptions* dflt = &api->options_;
    engine->ListEndpoints(
        query,
        Safe(done, [done, paging,
                    dflt](hooklog::Result<hooklog::Page<hooklog::Endpoint>> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          JsonWriter w;
          w.BeginObject().Key("data").BeginArray();
          for (const auto& ep : r->items) WriteEndpoint(w, ep, false, *dflt);
          w.EndArray();
          WritePagination(w, paging.page, paging.page_size, r->total_count,
                          !paging.cursor.empty(), r->next_cursor);
          w.EndObject();
          done(JsonResponse(200, std::move(w).Take()));
        }));
  }

  void GetEndpoint(hooklog::EndpointId id, const Done& done) {
    const ApiOptions* dflt = &api->options_;
    engine->GetEndpoint(
        id, Safe(done, [done, dflt](hooklog::Result<hooklog::Endpoint> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          JsonWriter w;
          WriteEndpoint(w, *r, false, *dflt);
          done(JsonResponse(200, std::move(w).Take()));
        }));
  }

  void UpdateEndpoint(hooklog::EndpointId id, const HttpRequest& req,
                      const Done& done) {
    std::optional<HttpResponse> bad;
    auto body = ParseObject(req.body(), &bad);
    if (!body) return done(std::move(*bad));
    auto obj = body->object;
    std::vector<FieldError> errors;
    hooklog::EndpointUpdate u;
    if (Member(obj, "signing_secret")) {
      errors.push_back({"signing_secret",
                        "signing_secret cannot be updated; use "
                        "POST endpoints/{endpoint_id}/rotate-secret/"});
    }
    u.url = GetString(obj, "url", &errors);
    u.description = GetString(obj, "description", &errors);
    u.event_types = GetStringArray(obj, "event_types", &errors);
    // metadata: null or {} clears; "" removes a key; others are set.
    if (Present(obj, "metadata")) {
      auto m = GetStringMap(obj, "metadata", &errors);
      if (!Member(obj, "metadata") || (m && m->empty())) {
        u.clear_metadata = true;
      } else if (m) {
        for (auto& [k, v] : *m) u.metadata_patch[k] = v;
      }
    }
    u.headers = GetStringMap(obj, "headers", &errors);
    u.rate_limit_per_s = GetRate(obj, "rate_limit_per_s", &errors);
    u.max_in_flight = GetCount(obj, "max_in_flight", &errors);
    u.fifo = GetBool(obj, "fifo", &errors);
    u.enabled = GetBool(obj, "is_active", &errors);
    u.signature_scheme = GetScheme(obj, &errors);
    if (Present(obj, "rate_limit_burst")) {
      u.rate_limit_burst =
          GetCount(obj, "rate_limit_burst", &errors).value_or(0);
    }
    if (Present(obj, "circuit_breaker")) {
      u.circuit_breaker =
          GetCircuitBreaker(obj, api->options_.circuit_breaker, &errors);
    }
    if (Present(obj, "auto_disable_after")) {
      u.auto_disable_after = GetDuration(obj, "auto_disable_after", &errors);
    }
    if (!api->options_.allow_private_targets && u.url) {
      if (auto p = PrivateTargetProblem(*u.url)) errors.push_back(*p);
    }
    if (!errors.empty()) return done(Validation(std::move(errors)));
    const ApiOptions* dflt = &api->options_;
    engine->UpdateEndpoint(
        id, std::move(u),
        Safe(done, [done, dflt](hooklog::Result<hooklog::Endpoint> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          JsonWriter w;
          WriteEndpoint(w, *r, false, *dflt);
          done(JsonResponse(200, std::move(w).Take()));
        }));
  }

  void DeleteEndpoint(hooklog::EndpointId id, const Done& done) {
    engine->DeleteEndpoint(id, Safe(done, [done, id](Status st) {
                             if (!st.ok()) return done(StatusResponse(st));
                             Log(LogLevel::kInfo, "endpoint deleted",
                                 {{"endpoint_id", id.ToString()}});
                             HttpResponse res{http::status::no_content, 11};
                             done(std::move(res));
                           }));
  }

  void RotateSecret(hooklog::EndpointId id, const Done& done) {
    const ApiOptions* dflt = &api->options_;
    engine->RotateSecret(
        id, Safe(done, [done, dflt](hooklog::Result<hooklog::Endpoint> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          Log(LogLevel::kInfo, "secret rotated",
              {{"endpoint_id", r->id.ToString()}});
          JsonWriter w;
          WriteEndpoint(w, *r, /*full=*/true, *dflt);
          done(JsonResponse(200, std::move(w).Take()));
        }));
  }

  void SendTest(hooklog::EndpointId id, const Done& done) {
    engine->SendTest(
        id, Safe(done, [done](hooklog::Result<hooklog::DeliveryResult> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          done(JsonResponse(200, DeliveryResultJson(*r)));
        }));
  }

  // --- deliveries ---

  void ListDeliveries(const QueryParams& q, const Done& done) {
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
        errors.push_back(
            {std::string(name), std::string(name) +
                                    " must be an ISO 8601 time such as "
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
    if (!errors.empty()) return done(Validation(std::move(errors)));
    query.page = paging.page;
    query.page_size = paging.page_size;
    query.cursor = paging.cursor;
    engine->ListDeliveries(
        query,
        Safe(done, [done, paging](
                       hooklog::Result<hooklog::Page<hooklog::Delivery>> r) {
          if (!r.ok()) return done(StatusResponse(r.status(), "query"));
          JsonWriter w;
          w.BeginObject().Key("data").BeginArray();
          for (const auto& d : r->items) WriteDelivery(w, d, false);
          w.EndArray();
          WritePagination(w, paging.page, paging.page_size, r->total_count,
                          !paging.cursor.empty(), r->next_cursor);
          w.EndObject();
          done(JsonResponse(200, std::move(w).Take()));
        }));
  }

  void GetDelivery(hooklog::DeliveryId id, const Done& done) {
    engine->GetDelivery(
        id, Safe(done, [done](hooklog::Result<hooklog::Delivery> r) {
          if (!r.ok()) return done(StatusResponse(r.status()));
          JsonWriter w;
          WriteDelivery(w, *r, true);
          done(JsonResponse(200, std::move(w).Take()));
        }));
  }

  void Replay(hooklog::DeliveryId id, const Done& done) {
    engine->Replay(
        id, Safe(done, [done, id](hooklog::Result<hooklog::DeliveryResult> r) {
          if (!r.ok()) return done(StatusResponse(r.status(), "delivery_id"));
          Log(LogLevel::kInfo, "delivery replayed",
              {{"delivery_id", id.ToString()},
               {"new_delivery_id", r->delivery_id.ToString()}});
          done(JsonResponse(200, DeliveryResultJson(*r)));
        }));
  }

  // --- events ---

  void Publish(const HttpRequest& req, const Done& done) {
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
    if (!errors.empty()) return done(Validation(std::move(errors)));
    engine->Publish(
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

  // --- routing ---

  void Route(const HttpRequest& req, std::string_view path,
             const QueryParams& q, const Done& done) {
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
    if (seg.empty()) return not_found();

    if (seg[0] == "endpoints") {
      if (seg.size() == 1) {
        if (m == http::verb::get) return ListEndpoints(q, done);
        if (m == http::verb::post) return CreateEndpoint(req, done);
        return MethodNotAllowed("GET, POST", done);
      }
      if (seg.size() > 3) return not_found();
      if (seg.size() == 3 && seg[2] != "test" && seg[2] != "rotate-secret") {
        return not_found();
      }
      auto id = hooklog::EndpointId::Parse(seg[1]);
      if (seg.size() == 2) {
        if (m != http::verb::get && m != http::verb::patch &&
            m != http::verb::delete_) {
          return MethodNotAllowed("GET, PATCH, DELETE", done);
        }
      } else if (m != http::verb::post) {
        return MethodNotAllowed("POST", done);
      }
      if (!id.ok()) {
        return done(Validation("endpoint_id",
                               "endpoint_id must be a 22-character shortuuid"));
      }
      if (seg.size() == 2) {
        if (m == http::verb::get) return GetEndpoint(*id, done);
        if (m == http::verb::patch) return UpdateEndpoint(*id, req, done);
        return DeleteEndpoint(*id, done);
      }
      if (seg[2] == "test") return SendTest(*id, done);
      return RotateSecret(*id, done);
    }
    if (seg[0] == "deliveries") {
      if (seg.size() == 1) {
        if (m == http::verb::get) return ListDeliveries(q, done);
        return MethodNotAllowed("GET", done);
      }
      if (seg.size() > 3 || (seg.size() == 3 && seg[2] != "replay")) {
        return not_found();
      }
      if (seg.size() == 2 && m != http::verb::get) {
        return MethodNotAllowed("GET", done);
      }
      if (seg.size() == 3 && m != http::verb::post) {
        return MethodNotAllowed("POST", done);
      }
      auto id = hooklog::DeliveryId::Parse(seg[1]);
      if (!id.ok()) {
        return done(Validation("delivery_id",
                               "delivery_id must be a 22-character shortuuid"));
      }
      if (seg.size() == 2) return GetDelivery(*id, done);
      return Replay(*id, done);
    }
    if (seg[0] == "events" && seg.size() == 1) {
      if (m == http::verb::post) return Publish(req, done);
      return MethodNotAllowed("POST", done);
    }
    return not_found();
  }
};

Api::Api(hooklog::Engine* engine, ApiOptions options)
    : engine_(engine), options_(std::move(options)) {
  for (const auto& k : options_.api_keys) {
    std::array<unsigned char, 32> d;
    SHA256(reinterpret_cast<const unsigned char*>(k.data()), k.size(),
           d.data());
    key_digests_.push_back(d);
  }
}

bool Api::Authenticate(std::string_view key) const {
  // Hashing first gives equal-length inputs to CRYPTO_memcmp, so neither the
  // key's length nor its content leaks through timing.
  std::array<unsigned char, 32> d;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
         d.data());
  int match = 0;
  for (const auto& k : key_digests_) {
    match |= CRYPTO_memcmp(d.data(), k.data(), d.size()) == 0;
  }
  return match != 0 && !key.empty();
}

void Api::Handle(HttpRequest req, std::function<void(HttpResponse)> done) {
  std::string_view target(req.target().data(), req.target().size());
  size_t qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  std::string_view query = qmark == std::string_view::npos
                               ? std::string_view()
                               : target.substr(qmark + 1);

  if (path == "/healthz" || path == "/healthz/") {
    if (req.method() != http::verb::get) {
      return Impl::MethodNotAllowed("GET", done);
    }
    return done(JsonResponse(200, R"({"status":"ok"})"));
  }
  auto key = req.find("X-API-Key");
  if (key == req.end() || !Authenticate(std::string_view(
                              key->value().data(), key->value().size()))) {
    return done(ErrorResponse(401, "missing or invalid X-API-Key header"));
  }
  if (path == "/metrics" || path == "/metrics/") {
    if (req.method() != http::verb::get) {
      return Impl::MethodNotAllowed("GET", done);
    }
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::content_type,
            "text/plain; version=0.0.4; charset=utf-8");
    res.body() = RenderMetrics(engine_->Stats());
    res.prepare_payload();
    return done(std::move(res));
  }
  std::string_view base = kBasePath.substr(0, kBasePath.size() - 1);
  if (!path.starts_with(base) ||
      (path.size() > base.size() && path[base.size()] != '/')) {
    return done(ErrorResponse(404, "no such route: " + std::string(path)));
  }
  path.remove_prefix(base.size());
  Impl impl{this, engine_};
  impl.Route(req, path, ParseQuery(query), done);
}

}  // namespace webhookd
