// Engine: the embeddable webhook delivery engine.
//
// A host opens an Engine over a Storage and calls it to manage endpoints,
// publish events, send tests, replay dead letters and query deliveries. The
// engine signs and POSTs each delivery through its Transport, retries with
// backoff, dead-letters what keeps failing, and records every state change as
// an event in the storage's log before acknowledging it.
//
//   auto engine = hooklog::OpenEngine(hooklog::NewMemoryStorage(), {});
//   auto ep = engine.value()->CreateEndpoint({.url = "https://..."}).get();
//   engine.value()->Publish({.event_type = "order.paid",
//                            .payload = R"({"id":1})"}).get();
//
// Thread-safety: every method is thread-safe and non-blocking. Each call
// completes exactly once, through its callback or its future. Callbacks run
// on an engine thread, or on the calling thread before the call returns (read
// calls answer inline); they must not block. Writes are acknowledged only
// once durable in storage.
//
// Ownership: the engine owns its storage and transport. Destroying it calls
// Shutdown() and waits for its threads.
#ifndef HOOKLOG_ENGINE_H_
#define HOOKLOG_ENGINE_H_

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hooklog/ids.h"
#include "hooklog/options.h"
#include "hooklog/status.h"
#include "hooklog/storage.h"
#include "hooklog/types.h"

namespace hooklog {

struct PublishRequest {
  std::string event_type;       // [A-Za-z0-9._-]{1,256}
  std::string payload;          // JSON, UTF-8, <= max_payload_bytes
  std::string idempotency_key;  // optional; same key within the window →
                                // the same answer, no new deliveries
};

struct PublishResult {
  MessageId message_id;
  std::vector<DeliveryId> deliveries;  // one per matching enabled endpoint
  bool duplicate = false;              // answered from the idempotency key
};

class Engine {
 public:
  template <typename T>
  using Callback = std::function<void(Result<T>)>;
  using StatusCallback = std::function<void(Status)>;

  virtual ~Engine() = default;

  // Endpoints. Create generates the signing secret. Errors: InvalidArgument
  // (field named in Status::field()), NotFound, FailedPrecondition for an
  // update of a deleted endpoint, Unavailable when storage is failing.
  virtual void CreateEndpoint(EndpointSpec spec, Callback<Endpoint> done) = 0;
  virtual void GetEndpoint(EndpointId id, Callback<Endpoint> done) = 0;
  virtual void ListEndpoints(EndpointQuery query,
                             Callback<Page<Endpoint>> done) = 0;
  virtual void UpdateEndpoint(EndpointId id, EndpointUpdate update,
                              Callback<Endpoint> done) = 0;
  // Stops all future attempts; non-terminal deliveries are dead-lettered
  // (reason endpoint_deleted). History is kept.
  virtual void DeleteEndpoint(EndpointId id, StatusCallback done) = 0;
  // New current secret; the previous one keeps signing for
  // EngineOptions::secret_rotation_grace.
  virtual void RotateSecret(EndpointId id, Callback<Endpoint> done) = 0;

  // Fans out to one delivery per matching enabled endpoint. Acknowledged once
  // durable.
  virtual void Publish(PublishRequest request,
                       Callback<PublishResult> done) = 0;
  // A synthetic "ping" (data {}) to one endpoint, ignoring its event-type
  // filter and its enabled flag; completes after the first attempt.
  virtual void SendTest(EndpointId id, Callback<DeliveryResult> done) = 0;
  // Only from dead_letter (else FailedPrecondition): a NEW delivery of the
  // same message to the same endpoint, replay_of = the original (which is
  // unchanged); completes after its first attempt.
  virtual void Replay(DeliveryId id, Callback<DeliveryResult> done) = 0;

  virtual void GetDelivery(DeliveryId id, Callback<Delivery> done) = 0;
  virtual void ListDeliveries(DeliveryQuery query,
                              Callback<Page<Delivery>> done) = 0;
  virtual void GetMessage(MessageId id, Callback<Message> done) = 0;
  // Delivery counts by status and attempts, summed over `endpoint_ids`
  // (NotFound for an unknown one), or over all endpoints when empty.
  virtual void GetCounters(std::vector<EndpointId> endpoint_ids,
                           Callback<EndpointCounters> done) = 0;

  // The outcome and latency time series (see StatsRequest). InvalidArgument
  // (field "from", "to", "bucket" or "endpoint_id") for a bad request or
  // more than kMaxStatsPoints points.
  virtual void GetStats(StatsRequest request, Callback<StatsSeries> done) = 0;

  // Bulk replay: starts a job that replays, through the normal queue and
  // the endpoints' protections, every dead letter matching `filter`, and
  // answers once the job is durable (before any replay). A job already
  // running with an equal filter is answered instead (existing = true).
  // Jobs survive restarts and resume where they stopped.
  virtual void StartReplayJob(ReplayFilter filter,
                              Callback<ReplayJobStart> done) = 0;
  virtual void GetReplayJob(ReplayJobId id, Callback<ReplayJob> done) = 0;
  // Every replay job, newest first.
  virtual void ListReplayJobs(Callback<std::vector<ReplayJob>> done) = 0;

  // A snapshot of counters; cheap, safe from any thread.
  virtual EngineStats Stats() = 0;

  // Stops accepting calls (they complete with Unavailable), waits up to
  // `drain` for in-flight attempts to finish and be recorded, then aborts
  // the rest (they stay pending in the log and resume on the next start).
  // Idempotent; blocks until done.
  virtual void Shutdown(
      std::chrono::milliseconds drain = std::chrono::seconds(10)) = 0;

  // The io_context the engine's threads run; a host may post its own work
  // to it (webhookd serves HTTP on it).
  virtual boost::asio::io_context& io_context() = 0;

  // Future-returning forms of the calls above.
  std::future<Result<Endpoint>> CreateEndpoint(EndpointSpec spec);
  std::future<Result<Endpoint>> GetEndpoint(EndpointId id);
  std::future<Result<Page<Endpoint>>> ListEndpoints(EndpointQuery query);
  std::future<Result<Endpoint>> UpdateEndpoint(EndpointId id,
                                               EndpointUpdate update);
  std::future<Status> DeleteEndpoint(EndpointId id);
  std::future<Result<Endpoint>> RotateSecret(EndpointId id);
  std::future<Result<PublishResult>> Publish(PublishRequest request);
  std::future<Result<DeliveryResult>> SendTest(EndpointId id);
  std::future<Result<DeliveryResult>> Replay(DeliveryId id);
  std::future<Result<Delivery>> GetDelivery(DeliveryId id);
  std::future<Result<Page<Delivery>>> ListDeliveries(DeliveryQuery query);
};

// Opens an engine over `storage`: loads endpoints and non-terminal
// deliveries (no log replay) and resumes them. InvalidArgument for bad
// options; the storage's error when it cannot be read.
Result<std::unique_ptr<Engine>> OpenEngine(std::unique_ptr<Storage> storage,
                                           EngineOptions options = {});

// The library version, "0.1.0".
const char* Version();

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_H_
