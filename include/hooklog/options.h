// EngineOptions: every knob of the engine, with its default.
//
// Thread-safety: a value, read once by OpenEngine.
#ifndef HOOKLOG_OPTIONS_H_
#define HOOKLOG_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hooklog/clock.h"
#include "hooklog/ids.h"
#include "hooklog/transport.h"
#include "hooklog/types.h"  // CircuitBreakerOptions

namespace hooklog {

// When attempts happen. schedule[i] is the delay before attempt i+1, counted
// from the previous attempt (schedule[0] from enqueue); its length is the
// number of attempts before dead_letter.
struct RetryPolicy {
  // Standard Webhooks' suggestion: immediately, 5 s, 5 min, 30 min, 2 h,
  // 5 h, 10 h, 14 h, 20 h, 24 h.
  std::vector<Duration> schedule = DefaultSchedule();
  // Each delay is multiplied by a uniform factor in [1-jitter, 1+jitter].
  double jitter = 0.2;
  // 429s (and 502/503/504 with Retry-After) wait Retry-After clamped to
  // [min_retry_after, max_retry_after]; without the header, the schedule's
  // next delay (at least min_retry_after), and a 429 without it also pauses
  // the whole endpoint (1 s doubling per consecutive 429, up to 10 min,
  // ±20 %; docs/protection.md), which the delivery waits for too.
  Duration min_retry_after = std::chrono::seconds(1);
  Duration max_retry_after = std::chrono::hours(24);
  // A delivery answered only 429 for this long is dead-lettered.
  Duration rate_limit_budget = std::chrono::hours(24);

  static std::vector<Duration> DefaultSchedule();
};

// Something an operator should know about, reported once it is durable.
struct OperationalEvent {
  enum class Kind {
    kEndpointDisabled,  // 410 Gone, or failing for auto_disable_after
    kCircuitOpened,
    kCircuitClosed,
    kDeliveryDeadLettered,  // reason in `reason`
    kDeliveryRecovered,     // delivered after failed attempts
  };
  Kind kind;
  EndpointId endpoint_id;
  std::optional<DeliveryId> delivery_id;
  std::string reason;  // "gone_410", "failing", "attempts_exhausted", ...
  Timestamp at = 0;
};
std::string_view OperationalEventKindName(OperationalEvent::Kind kind);

// Running as one node of several sharing one store (docs/scale-out.md).
// Endpoints are hashed into `partitions`; the node leases a fair share of
// them through Storage::SyncLeases and attempts only their deliveries,
// follows the other nodes' writes through the store's log, and fences every
// write it makes as a partition's owner with the lease's epoch.
struct ClusterOptions {
  // Empty: a single node (the engine attempts every delivery and takes no
  // leases). Otherwise this node's name, unique in the cluster (1..128
  // bytes).
  std::string node_id;
  // Fixed for the life of the store (the first node's count is kept; a node
  // with another count is refused). 1..4096.
  uint32_t partitions = 64;
  // A lease lasts this long without renewal; renewed every ttl / 3. A node
  // that cannot renew stops attempting at ttl - renew interval on its own
  // clock, before anyone else may take over.
  Duration lease_ttl = std::chrono::seconds(10);
  // The longest wait between two reads of other nodes' writes when the
  // store sends no notification (Storage::WaitForAppends).
  Duration follow_interval = std::chrono::milliseconds(100);
  // Test sends and replays received by a node that does not own the
  // endpoint are attempted by the owner; the caller is answered when the
  // owner's first attempt is in the log, or with Unavailable after
  // attempt_timeout + this.
  Duration forward_timeout = std::chrono::seconds(10);
};

struct EngineOptions {
  RetryPolicy retry;

  // Largest accepted payload (JSON bytes).
  size_t max_payload_bytes = 256 * 1024;
  // How long the previous secret keeps signing after a rotation.
  Duration secret_rotation_grace = std::chrono::hours(24);
  // How long an idempotency key returns the first publish's answer.
  Duration idempotency_window = std::chrono::hours(24);

  std::chrono::milliseconds attempt_timeout{15000};
  std::chrono::milliseconds connect_timeout{5000};

  // In-flight attempts per endpoint when the endpoint sets none, and in all.
  uint32_t default_max_in_flight = 32;
  uint32_t global_max_in_flight = 10000;

  // Defaults for endpoints that do not set their own
  // (Endpoint::protection).
  CircuitBreakerOptions circuit_breaker;
  // An endpoint whose attempts have all failed for this long is disabled
  // (reason "failing"); 0 never disables. Re-enabling resumes it.
  Duration auto_disable_after = std::chrono::hours(24 * 5);

  // Called on an engine thread for each operational event, exactly once,
  // after it is durable. Must not block.
  std::function<void(const OperationalEvent&)> on_operational_event;

  // Threads running the engine's io_context (engine work and transport).
  int threads = 2;
  // Seed of the retry jitter; 0 picks a random one. Tests set it.
  uint64_t jitter_seed = 0;
  // Most events written by one storage Append (the engine batches the work
  // of many callers into one durable write: group commit).
  size_t max_batch_events = 8192;

  // Bulk replay jobs (Engine::StartReplayJob): dead letters read and
  // replayed per step (1..kMaxPageSize; each step is one Append), and the
  // most replays of one job that may wait for their first attempt before
  // the job enqueues more (pacing, so that a million dead letters do not
  // land in the due queue at once).
  uint32_t replay_job_page_size = 50;
  size_t replay_job_max_waiting = 2000;

  // Several nodes over one store; off by default (ClusterOptions::node_id).
  ClusterOptions cluster;

  // Where time comes from; SystemClock() when null.
  std::shared_ptr<Clock> clock;

  // The transport; NewCurlTransport(io, transport) when null.
  std::function<std::unique_ptr<Transport>(boost::asio::io_context&)>
      transport_factory;
  TransportOptions transport;
};

}  // namespace hooklog

#endif  // HOOKLOG_OPTIONS_H_
