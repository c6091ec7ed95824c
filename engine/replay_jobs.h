// ReplayJobs: bulk replay of dead letters (Engine::StartReplayJob).
//
// A job is a row (ReplayJob) holding its filter and its progress. Starting
// one writes the row; then the runner replays the matching dead letters a
// page at a time: the page is read off the strand (storage reads never
// block it), each dead letter gets a replay exactly as Engine::Replay makes
// it (same event and row, replay_of set), and the page's replays and the
// job's new progress (replayed, cursor, endpoint_index) are ONE batch, so a
// crash neither skips nor repeats a replay. The replays are adopted like
// any new delivery — scheduled in the due queue, never attempted at once —
// so they pass the endpoint's rate limit, breaker and in-flight cap.
//
// Cluster mode: a job is run by the node owning its id's partition, and its
// steps are fenced with that lease; pacing then counts only the replays to
// this node's own endpoints.
//
// Pacing: before each page the runner counts this job's replays still
// waiting for their first attempt in this process; at
// EngineOptions::replay_job_max_waiting or more it waits and looks again.
// Errors: Unavailable (storage failing) retries the same step later;
// anything else ends the job as failed with the error.
//
// Thread-safety: confined to the engine strand, except the page reads,
// which run on an io_context thread and post back.
// Ownership: owned by EngineImpl; points at its context, storage,
// Attempts and Admission.
#ifndef HOOKLOG_ENGINE_REPLAY_JOBS_H_
#define HOOKLOG_ENGINE_REPLAY_JOBS_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/admission.h"
#include "engine/attempts.h"
#include "engine/engine_state.h"
#include "hooklog/storage.h"

namespace hooklog {

class ReplayJobs {
 public:
  ReplayJobs(EngineContext* ctx, boost::asio::io_context* io, Storage* storage,
             Attempts* attempts, Admission* admission,
             std::function<Timestamp()> next_creation_time)
      : ctx_(ctx),
        io_(io),
        storage_(storage),
        attempts_(attempts),
        admission_(admission),
        next_creation_time_(std::move(next_creation_time)) {}

  // Caller's thread: the filter's checks that need no engine state
  // (InvalidArgument naming the field), with endpoint_ids sorted and made
  // unique so that equal filters compare equal.
  static Status Normalize(ReplayFilter* filter);
  // Caller's thread: the dead letters matching `filter` now.
  Result<uint64_t> CountMatching(const ReplayFilter& filter, Timestamp cutoff);

  // Strand: starts a job (or answers the running one with an equal filter)
  // with `total` counted by CountMatching.
  void Start(ReplayFilter filter, uint64_t total,
             std::function<void(Result<ReplayJobStart>)> done);
  // Strand: resumes `job` (a running job loaded at start-up).
  void Resume(ReplayJob job);
  // Strand: whether this process runs job `id`.
  bool Running(const ReplayJobId& id) const;
  // Strand, cluster mode: stops running the jobs whose partition this node
  // no longer owns (their new owner resumes them from their rows).
  void AbandonUnowned();
  // Strand: no more steps (Shutdown); the timers are cancelled.
  void Stop();

 private:
  struct Run {
    ReplayJob job;
    bool durable = false;  // the row is written
    std::vector<std::function<void(Result<ReplayJobStart>)>> waiters;
    bool step_in_flight = false;
    std::unordered_set<DeliveryId, IdHash> waiting;  // this process' replays
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  // What a step read: the page's dead letters and their messages.
  struct Page {
    std::vector<Delivery> dead;
    std::unordered_map<MessageId, Message, IdHash> messages;
    std::string next_cursor;
  };

  void Step(const ReplayJobId& id);
  void StepLater(Run* run, std::chrono::milliseconds delay);
  Result<Page> ReadPage(const ReplayJob& job);
  void OnPage(const ReplayJobId& id, Result<Page> page);
  void Fail(Run* run, const Status& st);

  EngineContext* const ctx_;
  boost::asio::io_context* const io_;
  Storage* const storage_;
  Attempts* const attempts_;
  Admission* const admission_;
  const std::function<Timestamp()> next_creation_time_;
  std::unordered_map<ReplayJobId, Run, IdHash> runs_;  // running jobs
  bool stopped_ = false;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_REPLAY_JOBS_H_
