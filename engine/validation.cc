#include "engine/validation.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

#include "hooklog/storage.h"

namespace hooklog {
namespace {

bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower((unsigned char)c));
  return out;
}

// Unicode code points in `s`, which is valid UTF-8 (or about to be refused
// for not being so): every byte that is not a continuation byte starts one.
// The documented limits are in characters, and "é" must count once, not as
// its two bytes.
size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// One metadata entry (of a spec or of an update's patch).
Status ValidateMetadataEntry(std::string_view k, std::string_view v) {
  if (k.empty() || CodePoints(k) > kMaxMetadataKeyLength ||
      CodePoints(v) > kMaxMetadataValueLength) {
    return Status::InvalidArgument(
        "metadata keys are 1..128 characters, values at most 512", "metadata");
  }
  return Status::Ok();
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

// True for hosts that a resolver would read as an IPv4 address in a form
// other than canonical dotted decimal: "2130706433", "0x7f.1", "0177.0.0.1",
// "127.1". Such forms are the classic way around naive SSRF filters, so they
// are refused outright.
bool IsObfuscatedIpv4(std::string_view host) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      parts.push_back(host.substr(start, i - start));
      start = i + 1;
    }
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();  // "a.b."
  bool numeric_like = !parts.empty();
  bool obfuscated = false;
  for (std::string_view p : parts) {
    if (p.size() > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
      obfuscated = true;  // hex
      continue;
    }
    if (!AllDigits(p)) {
      numeric_like = false;
      break;
    }
    if (p.size() > 1 && p[0] == '0') obfuscated = true;  // octal
  }
  if (!numeric_like) return false;
  return obfuscated || parts.size() != 4;
}

}  // namespace

Status ValidateUrl(std::string_view url) {
  auto bad = [](std::string msg) {
    return Status::InvalidArgument(std::move(msg), "url");
  };
  if (url.empty()) return bad("url is required");
  if (url.size() > kMaxUrlLength)
    return bad("url is longer than 2048 characters");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad("url contains whitespace or a control character");
    }
  }
  std::string lower = Lower(url.substr(0, 8));
  size_t rest;
  if (lower.starts_with("https://")) {
    rest = 8;
  } else if (lower.starts_with("http://")) {
    rest = 7;
  } else {
    return bad("url must start with http:// or https://");
  }
  std::string_view after = url.substr(rest);
  size_t end = after.find_first_of("/?#");
  std::string_view authority = after.substr(0, end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("url must not contain user information (user:pass@)");
  }
  if (authority.empty()) return bad("url has no host");
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return bad("url has a malformed IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') return bad("url has a malformed IPv6 host");
      port = tail.substr(1);
      if (port.empty()) return bad("url has an empty port");
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") !=
                            std::string_view::npos) {
      return bad("url has a malformed IPv6 host");
    }
    // The character set alone lets "[::::]" or "[1:.2]" through (found by
    // fuzz/: url); curl would then refuse the URL at every attempt.
    in6_addr v6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
      return bad("url has a malformed IPv6 host");
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("url has an empty port");
    }
    if (host.empty()) return bad("url has no host");
    for (char c : host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
            c == '.' || c == '_')) {
        return bad("url host contains an invalid character");
      }
    }
    if (IsObfuscatedIpv4(host)) {
      return bad(
          "url host is an IPv4 address in octal, hexadecimal, decimal "
          "or shortened form; write it as a.b.c.d");
    }
  }
  if (!port.empty()) {
    if (!AllDigits(port) || port.size() > 5) return bad("url has a bad port");
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return bad("url port must be between 1 and 65535");
  }
  return Status::Ok();
}

Status ValidateEventType(std::string_view type, std::string_view field) {
  if (type.empty() || type.size() > kMaxEventTypeLength) {
    return Status::InvalidArgument(
        "event type must be 1 to 100 characters of [A-Za-z0-9._-]",
        std::string(field));
  }
  for (char c : type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-')) {
      return Status::InvalidArgument(
          "event type may contain only [A-Za-z0-9._-]", std::string(field));
    }
  }
  return Status::Ok();
}

Status ValidateEventTypeFilter(const std::vector<std::string>& filter) {
  for (const std::string& f : filter) {
    if (f == "*") continue;
    std::string_view t = f;
    if (t.ends_with(".*")) t.remove_suffix(2);
    HOOKLOG_RETURN_IF_ERROR(ValidateEventType(t, "event_types"));
  }
  return Status::Ok();
}

Status ValidateHeaders(const HeaderList& headers) {
  if (headers.size() > kMaxHeaders) {
    return Status::InvalidArgument("at most 32 custom headers", "headers");
  }
  for (const auto& [name, value] : headers) {
    std::string field = "headers." + name.substr(0, 64);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return Status::InvalidArgument(
          "header name must be a non-empty HTTP token", "headers");
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return Status::InvalidArgument(
            "header value must not contain CR, LF or NUL", field);
      }
    }
    if (name.size() + value.size() > kMaxHeaderBytes) {
      return Status::InvalidArgument("header is larger than 4 KiB", field);
    }
    std::string lower = Lower(name);
    if (lower == "content-length" || lower == "content-type" ||
        lower == "host" || lower == "transfer-encoding" ||
        lower.starts_with("webhook-") || lower.starts_with("x-closient-")) {
      return Status::InvalidArgument(
          "header '" + name + "' is reserved; hooklog sets it", field);
    }
  }
  return Status::Ok();
}

Status ValidateMetadata(const Metadata& metadata) {
  if (metadata.size() > kMaxMetadataKeys) {
    return Status::InvalidArgument("at most 50 metadata keys", "metadata");
  }
  for (const auto& [k, v] : metadata) {
    HOOKLOG_RETURN_IF_ERROR(ValidateMetadataEntry(k, v));
    if (!simdjson::validate_utf8(k.data(), k.size()) ||
        !simdjson::validate_utf8(v.data(), v.size())) {
      return Status::InvalidArgument("metadata must be valid UTF-8",
                                     "metadata");
    }
  }
  return Status::Ok();
}

Status ValidatePayload(std::string_view json, size_t max_bytes) {
  if (json.size() > max_bytes) {
    return Status::ResourceExhausted(
        "payload is " + std::to_string(json.size()) + " bytes; the limit is " +
        std::to_string(max_bytes));
  }
  if (!simdjson::validate_utf8(json.data(), json.size())) {
    return Status::InvalidArgument("payload is not valid UTF-8", "data");
  }
  // The DOM parser validates the whole document (the on-demand API would
  // only check what is read). One parser per thread: allocation is reused.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  auto error = parser.parse(padded).get(doc);
  if (error) {
    return Status::InvalidArgument(std::string("payload is not valid JSON: ") +
                                       simdjson::error_message(error),
                                   "data");
  }
  return Status::Ok();
}

namespace {

Status ValidateLimits(std::optional<double> rate, std::optional<uint32_t> cap) {
  if (rate && (!std::isfinite(*rate) || *rate < 0 || *rate > 1e6)) {
    return Status::InvalidArgument(
        "rate_limit_per_s must be between 0 (none) and 1000000",
        "rate_limit_per_s");
  }
  if (cap && *cap > kMaxInFlightLimit) {
    return Status::InvalidArgument("max_in_flight must be at most 100000",
                                   "max_in_flight");
  }
  return Status::Ok();
}

Status ValidateBurst(std::optional<uint32_t> burst) {
  if (burst && *burst > kMaxRateLimitBurst) {
    return Status::InvalidArgument("rate_limit_burst must be at most 1000000",
                                   "rate_limit_burst");
  }
  return Status::Ok();
}

Status ValidateAutoDisableAfter(std::optional<Duration> after) {
  if (after && after->count() < 0) {
    return Status::InvalidArgument(
        "auto_disable_after must be 0 (never) or a positive duration",
        "auto_disable_after");
  }
  return Status::Ok();
}

Status ValidateDescription(const std::string& d) {
  if (!simdjson::validate_utf8(d.data(), d.size()) ||
      CodePoints(d) > kMaxDescriptionLength) {
    return Status::InvalidArgument(
        "description must be valid UTF-8 of at most 255 characters",
        "description");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateClusterOptions(const ClusterOptions& o) {
  if (o.node_id.empty()) return Status::Ok();
  if (o.node_id.size() > 128) {
    return Status::InvalidArgument("node id must be 1..128 bytes", "node_id");
  }
  if (o.partitions == 0 || o.partitions > 4096) {
    return Status::InvalidArgument("partitions must be 1..4096", "partitions");
  }
  if (o.lease_ttl < std::chrono::milliseconds(300)) {
    return Status::InvalidArgument("lease ttl must be at least 300ms",
                                   "lease_ttl");
  }
  if (o.follow_interval <= Duration(0) || o.follow_interval > o.lease_ttl) {
    return Status::InvalidArgument(
        "follow interval must be positive and at most the lease ttl",
        "follow_interval");
  }
  if (o.forward_timeout <= Duration(0)) {
    return Status::InvalidArgument("forward timeout must be positive",
                                   "forward_timeout");
  }
  return Status::Ok();
}

Status ValidateCircuitBreaker(const CircuitBreakerOptions& o) {
  auto bad = [](std::string what, std::string_view field) {
    return Status::InvalidArgument(
        "circuit_breaker." + std::string(field) + " " + what,
        "circuit_breaker." + std::string(field));
  };
  if (o.consecutive_failures == 0 || o.consecutive_failures > 1'000'000) {
    return bad("must be between 1 and 1000000", "consecutive_failures");
  }
  if (o.window_attempts == 0 || o.window_attempts > 10'000) {
    return bad("must be between 1 and 10000", "window_attempts");
  }
  if (!std::isfinite(o.failure_rate) || o.failure_rate <= 0 ||
      o.failure_rate > 1) {
    return bad("must be in (0, 1]", "failure_rate");
  }
  if (o.open_for.count() <= 0) return bad("must be positive", "open_for");
  if (o.max_open_for < o.open_for) {
    return bad("must be at least open_for", "max_open_for");
  }
  return Status::Ok();
}

Status ValidateEndpointSpec(const EndpointSpec& spec) {
  HOOKLOG_RETURN_IF_ERROR(ValidateUrl(spec.url));
  HOOKLOG_RETURN_IF_ERROR(ValidateDescription(spec.description));
  if (spec.event_types) {
    HOOKLOG_RETURN_IF_ERROR(ValidateEventTypeFilter(*spec.event_types));
  }
  HOOKLOG_RETURN_IF_ERROR(ValidateMetadata(spec.metadata));
  HOOKLOG_RETURN_IF_ERROR(ValidateHeaders(spec.headers));
  HOOKLOG_RETURN_IF_ERROR(
      ValidateLimits(spec.rate_limit_per_s, spec.max_in_flight));
  HOOKLOG_RETURN_IF_ERROR(ValidateBurst(spec.protection.rate_limit_burst));
  if (spec.protection.circuit_breaker) {
    HOOKLOG_RETURN_IF_ERROR(
        ValidateCircuitBreaker(*spec.protection.circuit_breaker));
  }
  return ValidateAutoDisableAfter(spec.protection.auto_disable_after);
}

Status ValidateEndpointUpdate(const EndpointUpdate& u) {
  if (u.url) HOOKLOG_RETURN_IF_ERROR(ValidateUrl(*u.url));
  if (u.description)
    HOOKLOG_RETURN_IF_ERROR(ValidateDescription(*u.description));
  if (u.event_types) {
    HOOKLOG_RETURN_IF_ERROR(ValidateEventTypeFilter(*u.event_types));
  }
  for (const auto& [k, v] : u.metadata_patch) {
    HOOKLOG_RETURN_IF_ERROR(ValidateMetadataEntry(k, v));
  }
  if (u.headers) HOOKLOG_RETURN_IF_ERROR(ValidateHeaders(*u.headers));
  HOOKLOG_RETURN_IF_ERROR(ValidateLimits(u.rate_limit_per_s, u.max_in_flight));
  HOOKLOG_RETURN_IF_ERROR(ValidateBurst(u.rate_limit_burst));
  if (u.circuit_breaker && *u.circuit_breaker) {
    HOOKLOG_RETURN_IF_ERROR(ValidateCircuitBreaker(**u.circuit_breaker));
  }
  return ValidateAutoDisableAfter(u.auto_disable_after ? *u.auto_disable_after
                                                       : std::nullopt);
}

namespace {

Status ValidatePaging(uint32_t page, uint32_t page_size,
                      const std::string& cursor) {
  if (page_size == 0 || page_size > kMaxPageSize) {
    return Status::InvalidArgument(
        "page_size must be 1.." + std::to_string(kMaxPageSize), "page_size");
  }
  if (page == 0)
    return Status::InvalidArgument("page must be 1 or more", "page");
  if (!cursor.empty()) {
    Timestamp ts;
    Uuid128 id;
    return DecodeListCursor(cursor, &ts, &id);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateEndpointQuery(const EndpointQuery& query) {
  return ValidatePaging(query.page, query.page_size, query.cursor);
}

Status ValidateDeliveryQuery(const DeliveryQuery& query) {
  return ValidatePaging(query.page, query.page_size, query.cursor);
}

}  // namespace hooklog
