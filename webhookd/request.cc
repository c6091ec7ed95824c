#include "webhookd/request.h"

#include <algorithm>
#include <charconv>
#include <iterator>

namespace webhookd {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

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

}  // namespace webhookd
