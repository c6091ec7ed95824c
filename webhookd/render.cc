#include "webhookd/render.h"

#include <utility>

#include "hooklog/clock.h"
#include "hooklog/signing.h"

namespace webhookd {

using hooklog::cli::JsonWriter;

namespace {

std::string Iso(hooklog::Timestamp t) { return hooklog::FormatIso8601(t); }

void WriteTimeOrNull(JsonWriter& w, hooklog::Timestamp t) {
  if (t == 0) {
    w.Null();
  } else {
    w.String(Iso(t));
  }
}

// The request as the transport builds it (transport/curl_transport.cc,
// BuildHeaders): signature headers by scheme, then the fixed ones, then the
// endpoint's own; the body is the envelope (hooklog::WebhookEnvelope).
void WriteRequest(JsonWriter& w, const DeliveryRequest& r) {
  if (r.endpoint == nullptr || r.message == nullptr) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Key("method").String("POST");
  w.Key("url").String(r.endpoint->url);
  w.Key("header_names").BeginArray();
  if (r.endpoint->signature_scheme == hooklog::SignatureScheme::kClosient) {
    w.String("X-Closient-Signature");
    w.String("X-Closient-Event-Type");
    w.String("X-Closient-Delivery-ID");
  } else {
    w.String("webhook-id");
    w.String("webhook-timestamp");
    w.String("webhook-signature");
  }
  w.String("Content-Type");
  w.String("User-Agent");
  for (const auto& [name, value] : r.endpoint->headers) w.String(name);
  w.EndArray();
  w.Key("body").String(hooklog::WebhookEnvelope(*r.message));
  w.EndObject();
}

}  // namespace

std::string MaskSecret(const std::string& secret) {
  std::string masked = "whsec_\xE2\x80\xA6";  // "whsec_…"
  if (secret.size() >= 4) masked += secret.substr(secret.size() - 4);
  return masked;
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

void WriteDelivery(JsonWriter& w, const hooklog::Delivery& d, bool with_log,
                   const DeliveryRequest* request) {
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
  if (request) {
    w.Key("request");
    WriteRequest(w, *request);
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
                     std::optional<uint64_t> total, bool cursor_mode,
                     const std::string& next_cursor) {
  w.Key("pagination").BeginObject();
  w.Key("page").Uint(page);
  w.Key("page_size").Uint(page_size);
  w.Key("total_count");
  if (total) {
    w.Uint(*total)
        .Key("total_pages")
        .Uint((*total + page_size - 1) / page_size);
  } else {
    w.Null().Key("total_pages").Null();
  }
  w.Key("has_next")
      .Bool(cursor_mode || !total ? !next_cursor.empty()
                                  : uint64_t{page} * page_size < *total);
  w.Key("has_previous").Bool(cursor_mode || page > 1);
  w.EndObject();
  w.Key("next_cursor");
  if (next_cursor.empty()) {
    w.Null();
  } else {
    w.String(next_cursor);
  }
}

std::string EndpointJson(const hooklog::Endpoint& ep, bool full,
                         const ApiOptions& defaults) {
  JsonWriter w;
  WriteEndpoint(w, ep, full, defaults);
  return std::move(w).Take();
}

}  // namespace webhookd
