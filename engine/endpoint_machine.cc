#include "engine/endpoint_machine.h"

#include <algorithm>
#include <string>

#include "engine/validation.h"
#include "hooklog/signing.h"

namespace hooklog {

Event EndpointEvent(EventType type, const Endpoint& ep, Timestamp now) {
  Event e;
  e.type = type;
  e.aggregate = ep.id.raw();
  e.time = now;
  e.body = EndpointSnapshot{ep};
  return e;
}

EndpointDecision DecideCreateEndpoint(const EndpointSpec& spec, Timestamp now) {
  EndpointDecision out;
  Endpoint& ep = out.endpoint;
  ep.id = EndpointId::NewRandom();
  ep.url = spec.url;
  ep.secrets = {SigningSecret{NewSigningSecret(), 0}};
  ep.enabled = spec.enabled;
  ep.disabled_reason = spec.enabled ? "" : "manual";
  if (spec.event_types) ep.event_types = *spec.event_types;
  ep.description = spec.description;
  ep.metadata = spec.metadata;
  ep.headers = spec.headers;
  ep.rate_limit_per_s = spec.rate_limit_per_s;
  ep.max_in_flight = spec.max_in_flight;
  ep.fifo = spec.fifo;
  ep.http2 = spec.http2;
  ep.signature_scheme = spec.signature_scheme;
  ep.protection = spec.protection;
  ep.created_at = ep.updated_at = now;
  out.events.push_back(EndpointEvent(EventType::kEndpointCreated, ep, now));
  return out;
}

Result<EndpointDecision> DecideUpdateEndpoint(const Endpoint& current,
                                              const EndpointUpdate& u,
                                              Timestamp now) {
  EndpointDecision out;
  Endpoint& ep = out.endpoint;
  ep = current;
  if (u.url) ep.url = *u.url;
  if (u.description) ep.description = *u.description;
  if (u.event_types) ep.event_types = *u.event_types;
  if (u.clear_metadata) ep.metadata.clear();
  for (const auto& [k, v] : u.metadata_patch) {
    if (v.empty()) {
      ep.metadata.erase(k);
    } else {
      ep.metadata[k] = v;
    }
  }
  // ValidateEndpointUpdate checked the patch alone; only the merged result
  // can be over the limits (e.g. too many keys in all).
  HOOKLOG_RETURN_IF_ERROR(ValidateMetadata(ep.metadata));
  if (u.headers) ep.headers = *u.headers;
  if (u.rate_limit_per_s) ep.rate_limit_per_s = *u.rate_limit_per_s;
  if (u.max_in_flight) ep.max_in_flight = *u.max_in_flight;
  if (u.fifo) ep.fifo = *u.fifo;
  if (u.http2) ep.http2 = *u.http2;
  if (u.signature_scheme) ep.signature_scheme = *u.signature_scheme;
  if (u.rate_limit_burst) ep.protection.rate_limit_burst = *u.rate_limit_burst;
  if (u.circuit_breaker) ep.protection.circuit_breaker = *u.circuit_breaker;
  if (u.auto_disable_after) {
    ep.protection.auto_disable_after = *u.auto_disable_after;
  }
  EventType type = EventType::kEndpointUpdated;
  if (u.enabled && *u.enabled != current.enabled) {
    ep.enabled = *u.enabled;
    ep.disabled_reason = ep.enabled ? "" : "manual";
    type =
        ep.enabled ? EventType::kEndpointEnabled : EventType::kEndpointDisabled;
  }
  ep.updated_at = now;
  out.events.push_back(EndpointEvent(type, ep, now));
  return out;
}

EndpointDecision DecideRotateSecret(const Endpoint& current, Timestamp now,
                                    Duration grace) {
  EndpointDecision out;
  Endpoint& ep = out.endpoint;
  ep = current;
  std::vector<SigningSecret> secrets = {{NewSigningSecret(), 0}};
  for (SigningSecret s : current.secrets) {
    if (s.expires_at == 0) s.expires_at = now + grace.count();
    if (s.expires_at > now) secrets.push_back(std::move(s));
  }
  ep.secrets = std::move(secrets);
  ep.updated_at = now;
  out.events.push_back(
      EndpointEvent(EventType::kEndpointSecretRotated, ep, now));
  return out;
}

EndpointDecision DecideDeleteEndpoint(const Endpoint& current, Timestamp now) {
  EndpointDecision out;
  out.endpoint = current;
  out.endpoint.deleted = true;
  out.endpoint.updated_at = now;
  out.events.push_back(
      EndpointEvent(EventType::kEndpointDeleted, out.endpoint, now));
  return out;
}

EndpointDecision DecideEndpointHealth(const Endpoint& current,
                                      EndpointGuard* guard,
                                      const AttemptResult& r, Timestamp started,
                                      bool was_probe, Timestamp now,
                                      const EngineOptions& options,
                                      Jitter* jitter) {
  using Outcome = EndpointGuard::Outcome;
  const int code = r.http_status_code.value_or(0);
  const Outcome outcome = r.http_status_code && IsSuccess(code)
                              ? Outcome::kSuccess
                          : code == 429 ? Outcome::kRateLimited
                                        : Outcome::kFailure;
  std::optional<Duration> pause;
  if (r.retry_after && (code == 429 || code == 503)) {
    pause = std::clamp(std::chrono::duration_cast<Duration>(*r.retry_after),
                       options.retry.min_retry_after,
                       options.retry.max_retry_after);
  } else if (code == 429) {
    // Without Retry-After the receiver gave no hint: back the whole
    // endpoint off, longer with each 429 in a row, rather than retry each
    // of its deliveries on the ordinary schedule.
    const Duration backoff = guard->RateLimitBackoff(started);
    if (backoff.count() > 0) {
      pause = jitter->Apply(backoff, kRateLimitBackoffJitter);
    }
  }

  EndpointDecision out;
  Endpoint& ep = out.endpoint;
  ep = current;
  // Each event carries the endpoint as it is after that event.
  auto endpoint_event = [&](EventType type, OperationalEvent::Kind kind,
                            std::string reason) {
    ep.updated_at = now;
    out.events.push_back(EndpointEvent(type, ep, now));
    out.ops.push_back({kind, ep.id, std::nullopt, std::move(reason), now});
  };
  switch (guard->OnResult(outcome, now, pause, was_probe)) {
    case EndpointGuard::Transition::kOpened:
      ep.circuit_open_until = guard->open_until();
      ep.failing_since = guard->failing_since();
      endpoint_event(EventType::kCircuitOpened,
                     OperationalEvent::Kind::kCircuitOpened, "failing");
      break;
    case EndpointGuard::Transition::kClosed:
      ep.circuit_open_until = 0;
      ep.failing_since = 0;
      endpoint_event(EventType::kCircuitClosed,
                     OperationalEvent::Kind::kCircuitClosed, "");
      break;
    case EndpointGuard::Transition::kNone:
      break;
  }
  const Timestamp failing_since = guard->failing_since();
  std::string disable;
  // The delivery machine dead-letters the delivery on the same 410
  // (Decision::disable_endpoint).
  if (r.http_status_code && code == 410) {
    disable = "gone_410";
  } else if (const Duration after = ep.protection.auto_disable_after.value_or(
                 options.auto_disable_after);
             outcome == Outcome::kFailure && after.count() > 0 &&
             failing_since != 0 && now - failing_since >= after.count()) {
    disable = "failing";
  }
  if (!disable.empty() && ep.enabled) {
    ep.enabled = false;
    ep.disabled_reason = disable;
    endpoint_event(EventType::kEndpointDisabled,
                   OperationalEvent::Kind::kEndpointDisabled, disable);
  }
  return out;
}

}  // namespace hooklog
