// Input validation for everything a host (or webhookd) hands the engine.
//
// Each check returns InvalidArgument naming the offending field, and is run
// before anything is decided, so that rejected input changes nothing.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_ENGINE_VALIDATION_H_
#define HOOKLOG_ENGINE_VALIDATION_H_

#include <string_view>
#include <vector>

#include "hooklog/options.h"
#include "hooklog/status.h"
#include "hooklog/types.h"

namespace hooklog {

// Lengths of text a person writes (description, metadata keys and values)
// are in characters, i.e. Unicode code points of the UTF-8 text, not bytes.
inline constexpr size_t kMaxUrlLength = 2048;
inline constexpr size_t kMaxDescriptionLength = 255;
inline constexpr size_t kMaxEventTypeLength = 100;  // docs/api.md
inline constexpr size_t kMaxHeaderBytes = 4096;  // name + value of one header
inline constexpr size_t kMaxHeaders = 32;
inline constexpr size_t kMaxMetadataKeys = 50;
inline constexpr size_t kMaxMetadataKeyLength = 128;
inline constexpr size_t kMaxMetadataValueLength = 512;
inline constexpr uint32_t kMaxInFlightLimit = 100000;
inline constexpr uint32_t kMaxRateLimitBurst = 1000000;

// http/https only, <= 2048 characters, a host, no userinfo, a numeric port in
// 1..65535 if any, no IPv4 literal in octal/hex/decimal/short form, no
// whitespace or control characters.
Status ValidateUrl(std::string_view url);
// [A-Za-z0-9._-]{1,256}
Status ValidateEventType(std::string_view type, std::string_view field);
// Filter entries: "*", an event type, or "<event type>.*".
Status ValidateEventTypeFilter(const std::vector<std::string>& filter);
// Token names; values without CR, LF or NUL; <= 4 KiB each; not reserved
// (content-length, content-type, host, transfer-encoding, webhook-*,
// x-closient-*).
Status ValidateHeaders(const HeaderList& headers);
Status ValidateMetadata(const Metadata& metadata);
// Well-formed JSON in valid UTF-8, at most `max_bytes`.
Status ValidatePayload(std::string_view json, size_t max_bytes);
// Thresholds >= 1, window 1..10000, failure_rate in (0, 1], open_for > 0,
// max_open_for >= open_for. Field names are "circuit_breaker.<member>".
Status ValidateCircuitBreaker(const CircuitBreakerOptions& options);
// EngineOptions::cluster (nothing to check on a single node).
Status ValidateClusterOptions(const ClusterOptions& options);
Status ValidateEndpointSpec(const EndpointSpec& spec);
// List queries, before they reach Storage (whose List* REQUIRE them valid):
// page_size 1..kMaxPageSize, page >= 1, a cursor that DecodeListCursor
// accepts (or none).
Status ValidateEndpointQuery(const EndpointQuery& query);
Status ValidateDeliveryQuery(const DeliveryQuery& query);
Status ValidateEndpointUpdate(const EndpointUpdate& update);

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_VALIDATION_H_
