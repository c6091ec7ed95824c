#include "engine/replay_jobs.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <limits>
#include <string>
#include <utility>
#include <variant>

#include "engine/delivery_machine.h"
#include "engine/projection.h"
#include "engine/validation.h"

namespace hooklog {
namespace {

namespace asio = boost::asio;

constexpr std::chrono::milliseconds kPaceRecheck{100};
constexpr std::chrono::milliseconds kRetryAfterError{1000};

// The dead letters a job considers: the filter's, created no later than
// the job (its own replays, and everything after it, never match).
DeliveryQuery DeadLetterQuery(const ReplayFilter& f, Timestamp cutoff) {
  DeliveryQuery q;
  q.status = DeliveryStatus::kDeadLetter;
  q.event_type = f.event_type;
  q.created_after = f.created_after;
  q.created_before = std::min(
      f.created_before.value_or(std::numeric_limits<Timestamp>::max()), cutoff);
  q.count_total = false;
  return q;
}

}  // namespace

Status ReplayJobs::Normalize(ReplayFilter* f) {
  if (f->endpoint_ids.size() > kMaxQueryEndpoints) {
    return Status::InvalidArgument(
        "at most " + std::to_string(kMaxQueryEndpoints) + " endpoint ids",
        "endpoint_id");
  }
  if (f->created_after && f->created_before &&
      *f->created_after > *f->created_before) {
    return Status::InvalidArgument("created_after is after created_before",
                                   "created_after");
  }
  if (f->event_type) {
    HOOKLOG_RETURN_IF_ERROR(ValidateEventType(*f->event_type, "event_type"));
  }
  std::sort(f->endpoint_ids.begin(), f->endpoint_ids.end());
  f->endpoint_ids.erase(
      std::unique(f->endpoint_ids.begin(), f->endpoint_ids.end()),
      f->endpoint_ids.end());
  return Status::Ok();
}

Result<uint64_t> ReplayJobs::CountMatching(const ReplayFilter& f,
                                           Timestamp cutoff) {
  DeliveryQuery q = DeadLetterQuery(f, cutoff);
  q.count_total = true;
  q.page_size = 1;
  uint64_t total = 0;
  const size_t n = std::max<size_t>(1, f.endpoint_ids.size());
  for (size_t i = 0; i < n; ++i) {
    if (!f.endpoint_ids.empty()) q.endpoint_id = f.endpoint_ids[i];
    auto page = storage_->ListDeliveries(q);
    if (!page.ok()) return page.status();
    total += page->total_count;
  }
  return total;
}

void ReplayJobs::Start(ReplayFilter filter, uint64_t total,
                       std::function<void(Result<ReplayJobStart>)> done) {
  for (const EndpointId& id : filter.endpoint_ids) {
    const EndpointState* es = admission_->Find(id);
    if (es == nullptr || es->ep.deleted) {
      return done(Status::NotFound("endpoint " + id.ToString() + " not found"));
    }
  }
  for (auto& [id, run] : runs_) {
    if (run.job.filter != filter) continue;
    if (!run.durable) {
      run.waiters.push_back(std::move(done));  // answered once it is
      return;
    }
    return done(ReplayJobStart{run.job, true});
  }
  ReplayJob job;
  job.id = ReplayJobId::NewRandom();
  job.filter = std::move(filter);
  job.total = total;
  job.created_at = next_creation_time_();
  job.updated_at = job.created_at;
  Run& run = runs_[job.id];
  run.job = job;
  WriteBatch b;
  b.replay_jobs.push_back(job);
  ctx_->Commit(std::move(b),
               [this, id = job.id, done = std::move(done)](Status st) {
                 auto it = runs_.find(id);
                 if (it == runs_.end())
                   return done(Status::Unavailable("replay job vanished"));
                 Run& run = it->second;
                 auto waiters = std::move(run.waiters);
                 if (!st.ok()) {
                   runs_.erase(it);
                   done(st);
                   for (auto& w : waiters) w(st);
                   return;
                 }
                 run.durable = true;
                 done(ReplayJobStart{run.job, false});
                 for (auto& w : waiters) w(ReplayJobStart{run.job, true});
                 // Cluster mode: the owner of the job's partition runs it
                 // (Cluster picks up running jobs at each lease sync).
                 if (!ctx_->Owns(id.raw())) return void(runs_.erase(id));
                 Step(id);
               });
}

void ReplayJobs::Resume(ReplayJob job) {
  const ReplayJobId id = job.id;
  Run& run = runs_[id];
  run.job = std::move(job);
  run.durable = true;
  Step(id);
}

bool ReplayJobs::Running(const ReplayJobId& id) const {
  return runs_.count(id) > 0;
}

void ReplayJobs::AbandonUnowned() {
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second.durable && !ctx_->Owns(it->first.raw())) {
      if (it->second.timer) it->second.timer->cancel();
      it = runs_.erase(it);  // its new owner resumes it from its row
    } else {
      ++it;
    }
  }
}

void ReplayJobs::Stop() {
  stopped_ = true;
  for (auto& [id, run] : runs_) {
    if (run.timer) run.timer->cancel();
  }
}

void ReplayJobs::StepLater(Run* run, std::chrono::milliseconds delay) {
  if (stopped_) return;
  if (!run->timer) {
    run->timer = std::make_unique<asio::steady_timer>(ctx_->strand);
  }
  run->timer->expires_after(delay);
  run->timer->async_wait(
      [this, id = run->job.id](boost::system::error_code ec) {
        if (!ec) Step(id);
      });
}

void ReplayJobs::Step(const ReplayJobId& id) {
  if (stopped_ || ctx_->stopping) return;
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.step_in_flight) return;
  Run& run = it->second;
  if (!ctx_->Owns(id.raw())) return void(runs_.erase(it));
  // Pacing: this job's replays not attempted yet (adopted, then waiting in
  // the due queue or behind the endpoint's protections).
  ActiveMap& active = attempts_->active();
  for (auto w = run.waiting.begin(); w != run.waiting.end();) {
    auto a = active.find(*w);
    if (a == active.end() || a->second.row.attempts > 0) {
      w = run.waiting.erase(w);
    } else {
      ++w;
    }
  }
  if (run.waiting.size() >= ctx_->options.replay_job_max_waiting) {
    return StepLater(&run, kPaceRecheck);
  }
  run.step_in_flight = true;
  // The reads go to an io thread: the strand never waits for storage.
  asio::post(*io_, [this, id, job = run.job] {
    Result<Page> page = ReadPage(job);
    asio::post(ctx_->strand, [this, id, page = std::move(page)]() mutable {
      OnPage(id, std::move(page));
    });
  });
}

Result<ReplayJobs::Page> ReplayJobs::ReadPage(const ReplayJob& job) {
  DeliveryQuery q = DeadLetterQuery(job.filter, job.created_at);
  if (!job.filter.endpoint_ids.empty()) {
    if (job.endpoint_index >= job.filter.endpoint_ids.size()) return Page{};
    q.endpoint_id = job.filter.endpoint_ids[job.endpoint_index];
  }
  q.page_size =
      std::clamp<uint32_t>(ctx_->options.replay_job_page_size, 1, kMaxPageSize);
  q.cursor = job.cursor;
  auto list = storage_->ListDeliveries(q);
  if (!list.ok()) return list.status();
  Page page;
  page.next_cursor = std::move(list->next_cursor);
  for (Delivery& d : list->items) {
    if (!page.messages.count(d.message_id)) {
      auto m = storage_->GetMessage(d.message_id);
      if (m.status().IsNotFound()) continue;  // gone with retention: skip
      if (!m.ok()) return m.status();
      page.messages.emplace(d.message_id, std::move(*m));
    }
    page.dead.push_back(std::move(d));
  }
  return page;
}

void ReplayJobs::OnPage(const ReplayJobId& id, Result<Page> page) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  Run& run = it->second;
  if (stopped_ || ctx_->stopping) {
    run.step_in_flight = false;
    return;
  }
  if (!page.ok()) {
    run.step_in_flight = false;
    if (page.status().code() == StatusCode::kUnavailable) {
      return StepLater(&run, kRetryAfterError);
    }
    return Fail(&run, page.status());
  }
  // Kept alive by the completion: `adopted` points into its messages.
  auto held = std::make_shared<Page>(std::move(*page));
  WriteBatch b;
  std::vector<std::pair<const Message*, Delivery>> adopted;
  for (const Delivery& d : held->dead) {
    // As Engine::Replay: not for an endpoint deleted since.
    const EndpointState* es = admission_->Find(d.endpoint_id);
    if (es == nullptr || es->ep.deleted) continue;
    auto e =
        DecideReplay(d, DeliveryId::NewTimeOrdered(), next_creation_time_());
    if (!e.ok()) continue;  // not a dead letter: cannot happen (terminal)
    // Due now by the clock, as a publish's first attempt: creation times
    // may run ahead of it (they are made unique), and a replay must not
    // wait for the clock to catch up.
    auto& created = std::get<DeliveryCreated>(e->body);
    created.next_attempt_at = std::min(created.next_attempt_at, ctx_->Now());
    Delivery row;
    ApplyToDelivery(*e, &row);
    b.events.push_back(std::move(*e));
    b.deliveries.push_back(row);
    adopted.emplace_back(&held->messages.at(d.message_id), std::move(row));
  }
  ReplayJob job = run.job;
  // Creation times may run a little ahead of the clock (they are unique).
  const Timestamp now = std::max(ctx_->Now(), job.created_at);
  job.replayed += adopted.size();
  // Dead-lettered after the count (created before the job): still ours.
  job.total = std::max(job.total, job.replayed);
  job.updated_at = now;
  if (held->next_cursor.empty()) {
    ++job.endpoint_index;
    job.cursor.clear();
    if (job.endpoint_index >=
        std::max<size_t>(1, job.filter.endpoint_ids.size())) {
      job.state = ReplayJobState::kDone;
      job.finished_at = now;
    }
  } else {
    job.cursor = held->next_cursor;
  }
  b.replay_jobs.push_back(job);
  ctx_->Fence(&b, id.raw());
  ctx_->Commit(std::move(b), [this, id, job, held,
                              adopted = std::move(adopted)](Status st) mutable {
    // Durable replays are adopted (those of this node's endpoints) even if
    // the job itself has moved to another node meanwhile.
    if (st.ok()) {
      for (auto& [m, row] : adopted) attempts_->Adopt(*m, {row});
    }
    auto it = runs_.find(id);
    if (it == runs_.end()) return;
    Run& run = it->second;
    run.step_in_flight = false;
    if (!st.ok()) {
      // Nothing of the step was written: the same step again.
      if (st.code() == StatusCode::kUnavailable) {
        return StepLater(&run, kRetryAfterError);
      }
      // The job's partition moved: its new owner continues from the row.
      if (IsLeaseLost(st)) return void(runs_.erase(it));
      return Fail(&run, st);
    }
    run.job = job;
    for (auto& [m, row] : adopted) run.waiting.insert(row.id);
    if (job.state != ReplayJobState::kRunning) {
      runs_.erase(it);
      return;
    }
    // Posted: other work on the strand goes between two steps.
    asio::post(ctx_->strand, [this, id] { Step(id); });
  });
}

void ReplayJobs::Fail(Run* run, const Status& st) {
  ReplayJob job = run->job;
  job.state = ReplayJobState::kFailed;
  job.error = st.message();
  job.updated_at = std::max(ctx_->Now(), job.created_at);
  job.finished_at = job.updated_at;
  run->step_in_flight = true;
  WriteBatch b;
  b.replay_jobs.push_back(job);
  ctx_->Fence(&b, job.id.raw());
  ctx_->Commit(std::move(b), [this, job](Status written) {
    auto it = runs_.find(job.id);
    if (it == runs_.end()) return;
    it->second.step_in_flight = false;
    if (IsLeaseLost(written)) return void(runs_.erase(it));
    if (!written.ok()) return StepLater(&it->second, kRetryAfterError);
    runs_.erase(it);
  });
}

}  // namespace hooklog
