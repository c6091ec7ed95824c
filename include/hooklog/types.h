// Domain records: endpoints, messages, deliveries, attempts, and the query
// shapes used to list them.
//
// These are plain values (copyable, comparable) so that the same structs serve
// as engine state, projection rows stored by a Storage adapter, and answers to
// the host. See docs/state_machine.md for how a Delivery changes.
//
// Thread-safety: values.
#ifndef HOOKLOG_TYPES_H_
#define HOOKLOG_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hooklog/clock.h"
#include "hooklog/ids.h"

namespace hooklog {

// Exactly the five statuses of the Closient contract.
enum class DeliveryStatus : uint8_t {
  kPending = 0,      // enqueued or replayed, awaiting its next attempt
  kDelivered = 1,    // terminal success (2xx)
  kFailed = 2,       // last attempt failed; waiting in retry backoff
  kRateLimited = 3,  // last attempt got 429; retried on its own budget
  kDeadLetter = 4,   // terminal failure; only a replay attempts it again
};
inline constexpr int kDeliveryStatusCount = 5;
std::string_view DeliveryStatusName(DeliveryStatus s);  // "pending", ...
Result<DeliveryStatus> ParseDeliveryStatus(std::string_view name);
inline bool IsTerminal(DeliveryStatus s) {
  return s == DeliveryStatus::kDelivered || s == DeliveryStatus::kDeadLetter;
}

// Why an attempt produced no HTTP response. kNone when a response (any
// status code) was received.
enum class ErrorClass : uint8_t {
  kNone = 0,
  kDns = 1,
  kConnect = 2,
  kTls = 3,
  kTimeout = 4,
  kReset = 5,
  kTooLarge = 6,  // response body over the capture cap
  kBlocked = 7,   // SSRF guard refused the address
  kOther = 8,
};
std::string_view ErrorClassName(ErrorClass e);  // "none", "dns", ...

enum class SignatureScheme : uint8_t {
  kStandard = 0,  // Standard Webhooks 1.0 (webhook-id/-timestamp/-signature)
  kClosient = 1,  // X-Closient-Signature: t=...,v1=<hex>
};
std::string_view SignatureSchemeName(SignatureScheme s);  // "standard", ...
Result<SignatureScheme> ParseSignatureScheme(std::string_view name);

// Why a delivery was dead-lettered.
enum class DeadLetterReason : uint8_t {
  kAttemptsExhausted = 0,
  kGone = 1,  // 410 from the endpoint
  kEndpointDeleted = 2,
  kRateLimitBudget = 3,  // 429s for longer than the rate-limit budget
  kEndpointDisabled = 4,
};
std::string_view DeadLetterReasonName(DeadLetterReason r);

struct SigningSecret {
  std::string secret;        // "whsec_" + base64 of the key bytes
  Timestamp expires_at = 0;  // 0: current; otherwise stops signing then
  friend bool operator==(const SigningSecret&, const SigningSecret&) = default;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;
using Metadata = std::map<std::string, std::string>;

// Per-endpoint circuit breaker (see engine/endpoint_guard.h). While open, an
// endpoint's due deliveries wait without being attempted and without
// spending attempts; then one probe decides. EngineOptions::circuit_breaker
// holds the defaults; an endpoint may carry its own (EndpointProtection).
struct CircuitBreakerOptions {
  bool enabled = true;
  // Opens after this many failed attempts in a row...
  uint32_t consecutive_failures = 10;
  // ...or when at least `failure_rate` of the last `window_attempts`
  // attempts failed (429s are not failures).
  uint32_t window_attempts = 50;
  double failure_rate = 0.8;
  // First open period; doubles after each failed probe, up to the maximum.
  Duration open_for = std::chrono::seconds(30);
  Duration max_open_for = std::chrono::minutes(10);
  friend bool operator==(const CircuitBreakerOptions&,
                         const CircuitBreakerOptions&) = default;
};

// An endpoint's own protection settings; each one left unset follows the
// engine's default (EngineOptions), so changing a default changes every
// endpoint that did not choose otherwise.
struct EndpointProtection {
  // Token-bucket burst for rate_limit_per_s; 0: max(1, floor(rate)).
  uint32_t rate_limit_burst = 0;
  // nullopt: EngineOptions::circuit_breaker.
  std::optional<CircuitBreakerOptions> circuit_breaker;
  // Disable the endpoint after failing continuously this long; 0: never.
  // nullopt: EngineOptions::auto_disable_after.
  std::optional<Duration> auto_disable_after;
  friend bool operator==(const EndpointProtection&,
                         const EndpointProtection&) = default;
};

struct Endpoint {
  EndpointId id;
  std::string url;
  // Newest first. secrets[0] is the current one; older ones sign until their
  // expires_at (rotation window).
  std::vector<SigningSecret> secrets;
  bool enabled = true;
  std::string disabled_reason;  // "" when enabled; "gone_410", "manual", ...
  std::vector<std::string> event_types = {"*"};
  std::string description;
  Metadata metadata;
  HeaderList headers;           // custom request headers
  double rate_limit_per_s = 0;  // 0: no limit
  uint32_t max_in_flight = 0;   // 0: the engine default
  bool fifo = false;
  bool http2 = false;  // opt-in (docs/transport.md: the curl 7.88 trap)
  SignatureScheme signature_scheme = SignatureScheme::kStandard;
  EndpointProtection protection;
  bool deleted = false;
  Timestamp created_at = 0;
  Timestamp updated_at = 0;
  // Circuit breaker state, written by circuit events: open until this time
  // (0: closed), and the start of the run of failures that opened it.
  Timestamp circuit_open_until = 0;
  Timestamp failing_since = 0;

  // True when `event_type` passes the event_types filter ("*", exact,
  // "prefix.*").
  bool Matches(std::string_view event_type) const;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// The token-bucket size the endpoint gets: protection.rate_limit_burst, or
// by default the rate's integer part (at least 1); 0 when it has no limit.
uint32_t EffectiveRateLimitBurst(const Endpoint& ep);

// What a host supplies to create an endpoint. The secret is generated.
struct EndpointSpec {
  std::string url;
  std::string description;
  std::optional<std::vector<std::string>> event_types;  // default {"*"}
  Metadata metadata;
  HeaderList headers;
  double rate_limit_per_s = 0;
  uint32_t max_in_flight = 0;
  bool fifo = false;
  bool http2 = false;
  bool enabled = true;
  SignatureScheme signature_scheme = SignatureScheme::kStandard;
  EndpointProtection protection;
};

// A partial update: a field left empty (nullopt) is unchanged.
struct EndpointUpdate {
  std::optional<std::string> url;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> event_types;
  // Metadata merge: clear_metadata empties it first; then each key of
  // metadata_patch is set, or removed when its value is "".
  bool clear_metadata = false;
  Metadata metadata_patch;
  std::optional<HeaderList> headers;
  std::optional<double> rate_limit_per_s;
  std::optional<uint32_t> max_in_flight;
  std::optional<bool> fifo;
  std::optional<bool> http2;
  std::optional<bool> enabled;  // true re-enables and resumes deliveries
  std::optional<SignatureScheme> signature_scheme;
  // Protection: nullopt leaves a setting unchanged; for the two nested
  // optionals, an engaged nullopt returns the setting to the engine default.
  std::optional<uint32_t> rate_limit_burst;
  std::optional<std::optional<CircuitBreakerOptions>> circuit_breaker;
  std::optional<std::optional<Duration>> auto_disable_after;
};

// A published event. The body sent to endpoints is the envelope
// {"id":"evt_<id>","type":...,"created_at":...,"data":<payload>}.
struct Message {
  MessageId id;
  std::string event_type;
  std::string payload;  // validated JSON, exactly as published
  std::string idempotency_key;
  Timestamp created_at = 0;
  friend bool operator==(const Message&, const Message&) = default;
};

// "evt_" + shortuuid: the event id shown in the API and sent as webhook-id.
std::string EventIdString(const MessageId& id);

struct AttemptRecord {
  Timestamp at = 0;
  std::optional<int> http_status_code;
  std::optional<std::string> response_body;  // <= 256 characters
  ErrorClass error = ErrorClass::kNone;
  uint32_t latency_ms = 0;
  friend bool operator==(const AttemptRecord&, const AttemptRecord&) = default;
};

struct Delivery {
  DeliveryId id;
  MessageId message_id;
  EndpointId endpoint_id;
  std::string event_type;
  DeliveryStatus status = DeliveryStatus::kPending;
  uint32_t attempts = 0;         // every attempt made, 429s included
  uint32_t failed_attempts = 0;  // attempts that count against the schedule
  Timestamp created_at = 0;
  Timestamp next_attempt_at = 0;  // 0 when terminal
  Timestamp last_attempted_at = 0;
  Timestamp rate_limited_since = 0;          // start of the current 429 streak
  std::optional<int> http_status_code;       // of the last attempt
  std::optional<std::string> response_body;  // of the last attempt
  ErrorClass last_error = ErrorClass::kNone;
  std::optional<DeliveryId> replay_of;
  std::optional<DeadLetterReason> dead_letter_reason;
  bool is_test = false;
  // The most recent attempts, oldest first (at most kMaxAttemptsLog).
  std::vector<AttemptRecord> attempts_log;

  static constexpr size_t kMaxAttemptsLog = 32;
  friend bool operator==(const Delivery&, const Delivery&) = default;
};

// The seed's DeliveryResult: the answer of send-test and replay.
struct DeliveryResult {
  DeliveryId delivery_id;
  DeliveryStatus status = DeliveryStatus::kPending;
  std::optional<int> http_status_code;
  std::optional<std::string> response_body;
};

// Listing: filters, then either a page number or an opaque cursor.
// Results are newest first (created_at, then id, descending).
struct DeliveryQuery {
  std::optional<EndpointId> endpoint_id;
  // Any of these endpoints (empty: no such filter). Answered by the engine,
  // which merges one storage query per endpoint (at most
  // kMaxQueryEndpoints); adapters never see it set.
  std::vector<EndpointId> endpoint_ids;
  // true: endpoint_ids is the exact set even when it is empty, so an empty
  // list matches nothing (an empty page, total_count 0) instead of meaning
  // "no filter". For hosts that scope a caller to its endpoints (a portal
  // tenant with no endpoint gets nothing). Engine only, like endpoint_ids.
  bool endpoint_ids_exact = false;
  // Only this message's deliveries (few: one per endpoint, plus replays).
  std::optional<MessageId> message_id;
  std::optional<DeliveryStatus> status;
  std::optional<std::string> event_type;    // exact
  std::optional<Timestamp> created_after;   // inclusive
  std::optional<Timestamp> created_before;  // inclusive
  uint32_t page = 1;        // 1-based; ignored when cursor is set
  uint32_t page_size = 50;  // 1..kMaxPageSize
  std::string cursor;       // from a previous page's next_cursor
  bool count_total = true;  // compute total_count (costs a scan)
};

struct EndpointQuery {
  Metadata metadata;  // AND of key=value
  uint32_t page = 1;
  uint32_t page_size = 50;
  std::string cursor;
  bool include_deleted = false;
};

inline constexpr uint32_t kMaxPageSize = 50;
inline constexpr size_t kMaxQueryEndpoints = 1000;

template <typename T>
struct Page {
  std::vector<T> items;
  uint64_t total_count = 0;  // matching rows (when counted)
  std::string next_cursor;   // empty on the last page
};

struct EndpointCounters {
  uint64_t by_status[kDeliveryStatusCount] = {};
  uint64_t attempts = 0;
  friend bool operator==(const EndpointCounters&,
                         const EndpointCounters&) = default;
};

struct EngineStats {
  uint64_t endpoints = 0;
  uint64_t deliveries_by_status[kDeliveryStatusCount] = {};
  uint64_t attempts_ok = 0;      // 2xx
  uint64_t attempts_failed = 0;  // non-2xx or no response, 429 excluded
  uint64_t attempts_rate_limited = 0;
  uint64_t in_flight = 0;
  uint64_t due_queue_depth = 0;  // non-terminal deliveries scheduled
  uint64_t last_sequence = 0;
  // Storage append latency, microseconds (since start).
  uint64_t appends = 0;
  uint64_t append_latency_us_total = 0;
  // Attempt latency histogram (milliseconds, upper bounds below).
  static constexpr int kLatencyBuckets = 10;
  static constexpr double kLatencyBoundsMs[kLatencyBuckets] = {
      5, 10, 25, 50, 100, 250, 500, 1000, 5000, 15000};
  uint64_t latency_buckets[kLatencyBuckets + 1] = {};  // last: +Inf
  double latency_sum_ms = 0;
  // Cluster mode (EngineOptions::cluster); all 0 for a single node.
  uint64_t partitions_owned = 0;
  uint64_t partitions_total = 0;
  uint64_t cluster_nodes = 0;  // live nodes in the last lease view
  uint64_t lease_syncs = 0;    // successful SyncLeases round trips
  uint64_t lease_sync_failures = 0;
  uint64_t leases_acquired = 0;
  uint64_t leases_released = 0;   // given up on purpose (rebalance, stop)
  uint64_t leases_lost = 0;       // lapsed, stolen or fenced
  uint64_t fenced_appends = 0;    // batches refused for a lost lease
  uint64_t log_followed = 0;      // other nodes' events read from the log
  bool storage_reachable = true;  // the last lease sync / append got through
};

// --- Delivery statistics: the time series behind the portal's charts -----
//
// The engine counts attempt outcomes per endpoint and per minute and
// records them in the same atomic Append as the attempts themselves, so the
// series is exactly as durable as the log (see docs/state_machine.md).

// Attempt latency histogram: bucket i counts latencies <= bound i (ms);
// the last bucket counts everything above the last bound.
inline constexpr int kStatsLatencyBuckets = 16;
inline constexpr uint32_t kStatsLatencyBoundsMs[kStatsLatencyBuckets - 1] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000};

// Outcome counts over some span of time. Each attempt counts once, as
// delivered (2xx), rate_limited (429), dead_letter (the attempt that
// dead-lettered its delivery) or failed (any other failed attempt); a
// delivery dead-lettered without an attempt (endpoint deleted or disabled)
// adds to dead_letter only.
struct StatsCounts {
  uint64_t delivered = 0;
  uint64_t failed = 0;
  uint64_t rate_limited = 0;
  uint64_t dead_letter = 0;
  uint64_t attempts = 0;
  uint64_t latency_sum_ms = 0;
  uint64_t latency[kStatsLatencyBuckets] = {};

  void Add(const StatsCounts& other);
  bool empty() const { return *this == StatsCounts{}; }
  // Estimated latency quantile (0 < q <= 1) in ms, interpolated inside the
  // histogram bucket that holds it; nullopt without attempts.
  std::optional<double> LatencyQuantileMs(double q) const;
  friend bool operator==(const StatsCounts&, const StatsCounts&) = default;
};

inline constexpr Timestamp kStatsMinute = 60 * kSecond;

// One stored minute of one series.
struct StatsBucket {
  std::optional<EndpointId> endpoint_id;  // nullopt: all endpoints together
  Timestamp minute = 0;                   // a multiple of kStatsMinute
  StatsCounts counts;
  friend bool operator==(const StatsBucket&, const StatsBucket&) = default;
};

// A storage read of one series: minutes in [from, to), oldest first.
struct StatsQuery {
  std::optional<EndpointId> endpoint_id;  // nullopt: the all-endpoints series
  Timestamp from = 0;
  Timestamp to = 0;
};

// What the engine answers: `bucket`-wide points covering [from, to), every
// point present (zeros included), oldest first.
struct StatsRequest {
  Timestamp from = 0;  // rounded down to a multiple of `bucket`
  Timestamp to = 0;    // exclusive; from < to
  Duration bucket = std::chrono::minutes(1);  // a whole number of minutes
  // Sum of these endpoints' series; empty: the all-endpoints series.
  std::vector<EndpointId> endpoint_ids;
  // true: endpoint_ids is the exact set even when empty (then every point
  // is zero), as DeliveryQuery::endpoint_ids_exact.
  bool endpoint_ids_exact = false;
};
inline constexpr size_t kMaxStatsPoints = 10080;  // a week of minutes

struct StatsPoint {
  Timestamp start = 0;
  StatsCounts counts;
  friend bool operator==(const StatsPoint&, const StatsPoint&) = default;
};

struct StatsSeries {
  Timestamp from = 0;
  Timestamp to = 0;
  Duration bucket{};
  std::vector<StatsPoint> points;
  StatsCounts total;  // sum of the points
};

// --- Bulk replay of dead letters ------------------------------------------

enum class ReplayJobState : uint8_t {
  kRunning = 0,
  kDone = 1,
  kFailed = 2,  // stopped by an error (ReplayJob::error)
};
std::string_view ReplayJobStateName(ReplayJobState s);  // "running", ...

// Which dead letters a job replays; filters ANDed. Only dead letters created
// before the job started are considered (its own replays never match).
struct ReplayFilter {
  std::vector<EndpointId> endpoint_ids;  // any of (empty: every endpoint)
  std::optional<std::string> event_type;
  std::optional<Timestamp> created_after;   // inclusive
  std::optional<Timestamp> created_before;  // inclusive
  friend bool operator==(const ReplayFilter&, const ReplayFilter&) = default;
};

// A bulk replay: its filter, progress, and where it resumes after a
// restart. Stored as a row; its progress is recorded in the same Append as
// the replays it made, so a restart neither skips nor repeats one.
struct ReplayJob {
  ReplayJobId id;
  ReplayFilter filter;
  ReplayJobState state = ReplayJobState::kRunning;
  uint64_t total = 0;     // dead letters matching when the job started
  uint64_t replayed = 0;  // new deliveries enqueued so far
  // Resume point: index into filter.endpoint_ids (0 without them) and the
  // storage list cursor within that endpoint ("" = from the start).
  uint32_t endpoint_index = 0;
  std::string cursor;
  std::string error;  // why it failed; "" otherwise
  Timestamp created_at = 0;
  Timestamp updated_at = 0;
  Timestamp finished_at = 0;  // 0 while running
  friend bool operator==(const ReplayJob&, const ReplayJob&) = default;
};

// The answer to starting a job: the job, and whether it is one already
// running with the same filter (then nothing new was started).
struct ReplayJobStart {
  ReplayJob job;
  bool existing = false;
};

}  // namespace hooklog

#endif  // HOOKLOG_TYPES_H_
