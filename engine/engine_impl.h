// EngineImpl: the Engine a host talks to — the front of host commands.
//
// The engine works as decide → append → apply → react. All mutable engine
// state (endpoints, non-terminal deliveries, the due queue, in-flight
// counts) is confined to one strand, so there are no locks on the hot path.
// A command is decided on the strand from that state, its events and rows
// are handed to the Committer (group commit), and only once they are
// durable is the state updated, the host answered and the next attempt
// scheduled. Reads go straight to storage, whose rows never lag the log.
//
// The units, each in its own file:
//   endpoint_machine  pure: endpoint commands and attempt outcomes → events
//   delivery_machine  pure: delivery inputs → events
//   scheduler         the due queue and its timer
//   admission         per-endpoint state; what may start now
//   attempts          the delivery lifecycle: request, outcome, commit
//   metrics           counters, EngineStats
//   gate              Shutdown's wait for entering calls and attempts
//   stats             the per-minute outcome series (recording, GetStats)
//   delivery_lists    lists over several endpoints (a merge)
//   replay_jobs       bulk replay of dead letters
//   cluster           several nodes over one store: leases, fencing, the
//                     follower of other nodes' writes
// This class validates and admits host commands (RunCommand), decides the
// endpoint and publish commands, and owns and wires the units.
//
// Thread-safety: every public method is thread-safe (Engine's contract).
// Members are confined to the strand unless marked otherwise.
// Ownership: owns storage, transport, committer, threads and every unit.
#ifndef HOOKLOG_ENGINE_ENGINE_IMPL_H_
#define HOOKLOG_ENGINE_ENGINE_IMPL_H_

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/admission.h"
#include "engine/attempts.h"
#include "engine/cluster.h"
#include "engine/endpoint_machine.h"
#include "engine/engine_state.h"
#include "engine/gate.h"
#include "engine/metrics.h"
#include "engine/replay_jobs.h"
#include "engine/scheduler.h"
#include "hooklog/engine.h"

namespace hooklog {

class EngineImpl final : public Engine {
 public:
  EngineImpl(std::unique_ptr<Storage> storage, EngineOptions options);
  ~EngineImpl() override;

  // Loads endpoints and non-terminal deliveries, creates the transport and
  // committer and starts the threads.
  Status Start();

  void CreateEndpoint(EndpointSpec spec, Callback<Endpoint> done) override;
  void GetEndpoint(EndpointId id, Callback<Endpoint> done) override;
  void ListEndpoints(EndpointQuery q, Callback<Page<Endpoint>> done) override;
  void UpdateEndpoint(EndpointId id, EndpointUpdate u,
                      Callback<Endpoint> done) override;
  void RotateSecret(EndpointId id, Callback<Endpoint> done) override;
  void DeleteEndpoint(EndpointId id, StatusCallback done) override;
  void Publish(PublishRequest req, Callback<PublishResult> done) override;
  void SendTest(EndpointId id, Callback<DeliveryResult> done) override;
  void Replay(DeliveryId id, Callback<DeliveryResult> done) override;
  void GetDelivery(DeliveryId id, Callback<Delivery> done) override;
  void ListDeliveries(DeliveryQuery q, Callback<Page<Delivery>> done) override;
  void GetMessage(MessageId id, Callback<Message> done) override;
  void GetCounters(std::vector<EndpointId> endpoint_ids,
                   Callback<EndpointCounters> done) override;
  void GetStats(StatsRequest request, Callback<StatsSeries> done) override;
  void StartReplayJob(ReplayFilter filter,
                      Callback<ReplayJobStart> done) override;
  void GetReplayJob(ReplayJobId id, Callback<ReplayJob> done) override;
  void ListReplayJobs(Callback<std::vector<ReplayJob>> done) override;
  EngineStats Stats() override;
  void Shutdown(std::chrono::milliseconds drain) override;
  boost::asio::io_context& io_context() override { return io_; }

 private:
  // An idempotency key's record as read on the caller's thread, with the
  // key's stripe epoch read before it (see Publish).
  struct IdempotencyLookup {
    size_t stripe = 0;
    uint64_t epoch = 0;
    std::optional<IdempotencyRecord> record;
  };
  static constexpr size_t kIdempotencyStripes = 64;

  // The entry of every host command: answers `done` with `valid` if it is
  // an error, else runs `decide(done)` on the strand — unless the engine is
  // shutting down, then `done` gets Unavailable. Either way `done` is
  // called exactly once.
  template <typename Done, typename Decide>
  void RunCommand(const Status& valid, Done done, Decide decide);

  // Writes an update or rotation of `before`; once durable, applies it
  // (re-enabled: unpark; FIFO switched: reorder; limits: pump).
  void CommitEndpointChange(Endpoint before, EndpointDecision d,
                            Callback<Endpoint> done);
  // Events and rows creating one delivery of `m` per target endpoint.
  std::pair<WriteBatch, PublishResult> NewDeliveries(
      const Message& m, const std::vector<EndpointId>& targets, bool is_test,
      Timestamp now);
  // The first attempt of a test or replay `row`, answered to `done`: here
  // when this node owns the endpoint, else by its owner (cluster mode).
  void AttemptNow(const Message& m, const Delivery& row,
                  Callback<DeliveryResult> done);
  void DecidePublish(PublishRequest req, std::optional<IdempotencyLookup> idem,
                     Callback<PublishResult> done);
  // Creation times are strictly increasing, so that "newest first" and a
  // FIFO endpoint's publish order are total orders even when the clock
  // does not move between two calls.
  Timestamp NextCreationTime();
  void RunOnStrand(std::function<void()> fn);

  const EngineOptions options_;
  std::unique_ptr<Storage> storage_;  // thread-safe
  boost::asio::io_context io_;
  EngineContext ctx_;
  Metrics metrics_;  // thread-safe
  // The units. Declared after ctx_ and metrics_, which they point at;
  // each points at the others (see engine_state.h).
  Attempts attempts_;
  Admission admission_;
  Scheduler scheduler_;
  ReplayJobs replay_jobs_;            // bulk replays (engine/replay_jobs.h)
  std::unique_ptr<Cluster> cluster_;  // cluster mode only (engine/cluster.h)
  // Destroyed before io_ (members are destroyed in reverse order).
  std::unique_ptr<Transport> transport_;
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work_;
  std::vector<std::thread> threads_;
  uint64_t clock_token_ = 0;

  // Confined to the strand.
  Timestamp last_created_at_ = 0;
  // Keyed publishes decided and not yet durable, with the callers waiting
  // for their answer.
  std::unordered_map<std::string, std::vector<Callback<PublishResult>>>
      idem_in_flight_;

  // Any thread.
  Gate gate_;  // held by host calls between their check and their post
  std::atomic<bool> shut_down_{false};
  // Bumped on the strand each time a keyed publish becomes durable, per
  // stripe of keys (see Publish).
  std::array<std::atomic<uint64_t>, kIdempotencyStripes> idem_epochs_{};
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_ENGINE_IMPL_H_
