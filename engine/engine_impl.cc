#include "engine/engine_impl.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <functional>
#include <future>
#include <limits>
#include <utility>

#include "base/kill_point.h"
#include "engine/delivery_lists.h"
#include "engine/delivery_machine.h"
#include "engine/endpoint_machine.h"
#include "engine/projection.h"
#include "engine/stats.h"
#include "engine/validation.h"

namespace hooklog {
namespace {

namespace asio = boost::asio;

Status ShuttingDown() { return Status::Unavailable("engine is shutting down"); }

Status EndpointNotFound(const EndpointId& id) {
  return Status::NotFound("endpoint " + id.ToString() + " not found");
}

// The batch writing an endpoint decision: its events and the new row.
WriteBatch EndpointBatch(EndpointDecision* d) {
  WriteBatch b;
  b.events = std::move(d->events);
  b.endpoints.push_back(d->endpoint);
  return b;
}

}  // namespace

EngineImpl::EngineImpl(std::unique_ptr<Storage> storage, EngineOptions options)
    : options_(std::move(options)),
      storage_(std::move(storage)),
      ctx_(options_, options_.clock ? options_.clock : SystemClock(),
           asio::make_strand(io_),
           options_.jitter_seed != 0 ? options_.jitter_seed
                                     : Uuid128::NewRandom().lo),
      attempts_(&ctx_, storage_.get(), &admission_, &scheduler_, &metrics_),
      admission_(&ctx_, &attempts_.active(), &scheduler_, &attempts_),
      scheduler_(&ctx_, &metrics_, &admission_),
      replay_jobs_(&ctx_, &io_, storage_.get(), &attempts_, &admission_,
                   [this] { return NextCreationTime(); }),
      work_(io_.get_executor()) {}

EngineImpl::~EngineImpl() { Shutdown(std::chrono::seconds(0)); }

Status EngineImpl::Start() {
  const bool clustered = !options_.cluster.node_id.empty();
  if (clustered) {
    cluster_ =
        std::make_unique<Cluster>(&ctx_, &io_, storage_.get(), &attempts_,
                                  &admission_, &metrics_, &replay_jobs_);
    ctx_.ownership = cluster_.get();
    HOOKLOG_RETURN_IF_ERROR(cluster_->Join());
  }
  // Read before loading: the follower replays from here, so that nothing
  // another node writes while this one loads is missed.
  const uint64_t loaded_after = storage_->LastSequence();
  Status st = storage_->LoadActive(
      [&](const Endpoint& ep) {
        admission_.StateOf(ep);
        if (!ep.deleted) metrics_.AddEndpoint();
        last_created_at_ = std::max(last_created_at_, ep.created_at);
      },
      [&](const Delivery& d) {
        // Cluster mode: deliveries are loaded per partition as it is
        // leased (Cluster), none here.
        if (clustered) return;
        attempts_.active()[d.id].row = d;
        last_created_at_ = std::max(last_created_at_, d.created_at);
      });
  if (!st.ok()) return st;
  auto jobs = storage_->ListReplayJobs(/*running_only=*/true);
  if (!jobs.ok()) return jobs.status();
  if (clustered) jobs->clear();  // resumed by their partition's owner
  transport_ = options_.transport_factory
                   ? options_.transport_factory(io_)
                   : NewCurlTransport(io_, options_.transport);
  if (!transport_) return Status::InvalidArgument("transport factory failed");
  attempts_.set_transport(transport_.get());
  Committer::Hooks hooks;
  if (cluster_) {
    hooks.appended = [c = cluster_.get()](const WriteBatch& b) {
      c->OnAppended(b);
    };
    hooks.fenced = [c = cluster_.get()](const std::vector<uint32_t>& p) {
      c->OnFenced(p);
    };
    hooks.append_mu = cluster_->append_mu();
  }
  ctx_.committer = std::make_unique<Committer>(
      storage_.get(), options_.max_batch_events, std::move(hooks));
  if (cluster_) cluster_->Start(loaded_after);
  // A clock that jumps (a test's fake clock) makes the scheduler look now.
  clock_token_ = ctx_.clock->AddObserver(
      [this] { asio::post(ctx_.strand, [this] { scheduler_.OnTimer(); }); });
  asio::post(ctx_.strand, [this] {
    for (auto& [id, a] : attempts_.active()) {
      attempts_.Schedule(id, &a, a.row.next_attempt_at);
    }
    admission_.ForEach([this](EndpointState& es) {
      if (es.ep.fifo) admission_.ResetFifo(&es);
    });
  });
  // Jobs interrupted by a stop (or a crash) continue where their row says.
  asio::post(ctx_.strand, [this, jobs = std::move(*jobs)]() mutable {
    for (ReplayJob& j : jobs) replay_jobs_.Resume(std::move(j));
  });
  const int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  return Status::Ok();
}

template <typename Done, typename Decide>
void EngineImpl::RunCommand(const Status& valid, Done done, Decide decide) {
  if (!valid.ok()) return done(valid);
  // Held until the handler is posted, so that Shutdown cannot take the
  // strand's last turn between our check and our post (see gate.h).
  Gate::Holder entry(&gate_);
  if (!entry) return done(ShuttingDown());
  asio::post(ctx_.strand, [this, done = std::move(done),
                           decide = std::move(decide)]() mutable {
    if (ctx_.stopping) return done(ShuttingDown());
    decide(std::move(done));
  });
}

// --- endpoints -------------------------------------------------------------

void EngineImpl::CreateEndpoint(EndpointSpec spec, Callback<Endpoint> done) {
  const Status valid = ValidateEndpointSpec(spec);
  RunCommand(valid, std::move(done),
             [this, spec = std::move(spec)](Callback<Endpoint> done) {
               EndpointDecision d =
                   DecideCreateEndpoint(spec, NextCreationTime());
               WriteBatch b = EndpointBatch(&d);
               // Visible to publishes decided after this one; they are
               // appended after it, so the log never references an
               // endpoint before it exists.
               admission_.StateOf(d.endpoint);
               ctx_.Commit(std::move(b), [this, ep = std::move(d.endpoint),
                                          done = std::move(done)](Status st) {
                 if (!st.ok()) {
                   admission_.Forget(ep.id);
                   return done(st);
                 }
                 metrics_.AddEndpoint();
                 done(ep);
               });
             });
}

void EngineImpl::GetEndpoint(EndpointId id, Callback<Endpoint> done) {
  auto r = storage_->GetEndpoint(id);
  if (r.ok() && r->deleted) {
    return done(Status::NotFound("endpoint " + id.ToString() + " was deleted"));
  }
  done(std::move(r));
}

void EngineImpl::ListEndpoints(EndpointQuery q, Callback<Page<Endpoint>> done) {
  Status st = ValidateEndpointQuery(q);
  if (!st.ok()) return done(st);
  done(storage_->ListEndpoints(q));
}

void EngineImpl::UpdateEndpoint(EndpointId id, EndpointUpdate u,
                                Callback<Endpoint> done) {
  const Status valid = ValidateEndpointUpdate(u);
  RunCommand(valid, std::move(done),
             [this, id, u = std::move(u)](Callback<Endpoint> done) {
               EndpointState* live = admission_.Live(id);
               if (live == nullptr) return done(EndpointNotFound(id));
               auto d = DecideUpdateEndpoint(live->ep, u, ctx_.Now());
               if (!d.ok()) return done(d.status());
               CommitEndpointChange(live->ep, std::move(*d), std::move(done));
             });
}

void EngineImpl::RotateSecret(EndpointId id, Callback<Endpoint> done) {
  RunCommand(
      Status::Ok(), std::move(done), [this, id](Callback<Endpoint> done) {
        EndpointState* live = admission_.Live(id);
        if (live == nullptr) return done(EndpointNotFound(id));
        CommitEndpointChange(live->ep,
                             DecideRotateSecret(live->ep, ctx_.Now(),
                                                options_.secret_rotation_grace),
                             std::move(done));
      });
}

void EngineImpl::CommitEndpointChange(Endpoint before, EndpointDecision d,
                                      Callback<Endpoint> done) {
  const EventType type = d.events.front().type;
  WriteBatch b = EndpointBatch(&d);
  admission_.StateOf(d.endpoint);
  ctx_.Commit(std::move(b),
              [this, before = std::move(before), ep = std::move(d.endpoint),
               type, done = std::move(done)](Status st) {
                EndpointState& es = admission_.StateOf(st.ok() ? ep : before);
                if (!st.ok()) return done(st);
                if (type == EventType::kEndpointEnabled) {
                  // Auto-disable must not fire again on its first failure.
                  es.guard.ClearFailures();
                  admission_.Unpark(&es);
                }
                if (ep.fifo != before.fifo) admission_.ResetFifo(&es);
                admission_.Pump(&es, SIZE_MAX);  // limits may have been raised
                done(ep);
              });
}

void EngineImpl::DeleteEndpoint(EndpointId id, StatusCallback done) {
  RunCommand(Status::Ok(), std::move(done), [this, id](StatusCallback done) {
    EndpointState* live = admission_.Live(id);
    if (live == nullptr) return done(EndpointNotFound(id));
    const Timestamp now = ctx_.Now();
    Endpoint before = live->ep;
    EndpointDecision d = DecideDeleteEndpoint(before, now);
    WriteBatch b = EndpointBatch(&d);
    // Deliveries waiting for an attempt are dead-lettered with it; those
    // in flight are when their attempt comes back (Attempts).
    std::vector<DeliveryId> ended;
    for (auto& [did, a] : attempts_.active()) {
      if (a.row.endpoint_id != id || a.busy) continue;
      Event e = DecideEndpointDeleted(a.row, now);
      Delivery row = a.row;
      ApplyToDelivery(e, &row);
      b.events.push_back(std::move(e));
      AddStats(&b, row.endpoint_id, now, DeadLetterStats());
      b.deliveries.push_back(std::move(row));
      a.busy = true;
      attempts_.Unschedule(&a);
      ended.push_back(did);
    }
    live->ep = std::move(d.endpoint);
    // The owner's dead letters are fenced (another node deleting the
    // endpoint has none: the owner ends them when it follows the delete).
    if (!ended.empty()) ctx_.Fence(&b, id.raw());
    ctx_.Commit(std::move(b),
                [this, id, before = std::move(before), ended = std::move(ended),
                 done = std::move(done)](Status st) {
                  if (!st.ok()) {
                    admission_.Find(id)->ep = before;
                    for (const DeliveryId& did : ended) {
                      Active& a = attempts_.active()[did];
                      a.busy = false;
                      attempts_.Schedule(did, &a, ctx_.Now());
                    }
                    return done(st);
                  }
                  for (const DeliveryId& did : ended) attempts_.Finish(did);
                  metrics_.RemoveEndpoint();
                  done(Status::Ok());
                });
  });
}

// --- publishing ------------------------------------------------------------

void EngineImpl::Publish(PublishRequest req, Callback<PublishResult> done) {
  Status valid = ValidateEventType(req.event_type, "type");
  if (valid.ok()) {
    valid = ValidatePayload(req.payload, options_.max_payload_bytes);
  }
  if (valid.ok() && req.idempotency_key.size() > 256) {
    valid = Status::InvalidArgument("idempotency_key is longer than 256 bytes",
                                    "idempotency_key");
  }
  // A key is looked up here, on the caller's thread, to keep the storage
  // read off the strand. The strand then knows whether the answer may be
  // stale: a publish with this key is still being written (it waits for
  // that one's answer), or one became durable since the read (the key's
  // stripe epoch moved: it reads again; rare, see DecidePublish).
  std::optional<IdempotencyLookup> idem;
  if (valid.ok() && !req.idempotency_key.empty()) {
    IdempotencyLookup l;
    l.stripe =
        std::hash<std::string>{}(req.idempotency_key) % kIdempotencyStripes;
    l.epoch = idem_epochs_[l.stripe].load();
    auto rec = storage_->GetIdempotency(req.idempotency_key);
    if (rec.ok()) {
      l.record = std::move(*rec);
      idem = std::move(l);
    } else {
      valid = rec.status();
    }
  }
  RunCommand(valid, std::move(done),
             [this, req = std::move(req),
              idem = std::move(idem)](Callback<PublishResult> done) mutable {
               DecidePublish(std::move(req), std::move(idem), std::move(done));
             });
}

void EngineImpl::DecidePublish(PublishRequest req,
                               std::optional<IdempotencyLookup> idem,
                               Callback<PublishResult> done) {
  const std::string key = req.idempotency_key;
  const size_t stripe = idem ? idem->stripe : 0;
  if (!key.empty()) {
    // A publish with this key is being written: answer with its result.
    auto waiting = idem_in_flight_.find(key);
    if (waiting != idem_in_flight_.end()) {
      waiting->second.push_back(std::move(done));
      return;
    }
    if (idem_epochs_[stripe].load() != idem->epoch) {
      // A keyed publish became durable between the caller's read and now,
      // maybe with this key: the read may have missed it. Taking a stripe
      // (not the key) makes this cheap to track and rare enough to read
      // again here.
      auto rec = storage_->GetIdempotency(key);
      if (!rec.ok()) return done(rec.status());
      idem->record = std::move(*rec);
    }
    const auto& rec = idem->record;
    if (rec &&
        rec->created_at + options_.idempotency_window.count() > ctx_.Now()) {
      return done(PublishResult{rec->message_id, rec->deliveries, true});
    }
    idem_in_flight_[key];
  }
  const Timestamp now = NextCreationTime();
  Message m;
  m.id = MessageId::NewTimeOrdered();
  m.event_type = std::move(req.event_type);
  m.payload = std::move(req.payload);
  m.idempotency_key = key;
  m.created_at = now;
  std::vector<EndpointId> targets;
  admission_.ForEach([&](const EndpointState& es) {
    if (es.ep.enabled && !es.ep.deleted && es.ep.Matches(m.event_type)) {
      targets.push_back(es.ep.id);
    }
  });
  auto [batch, result] = NewDeliveries(m, targets, /*is_test=*/false, now);
  std::vector<Delivery> rows = batch.deliveries;
  ctx_.Commit(std::move(batch), [this, key, stripe, result = std::move(result),
                                 rows = std::move(rows), m = std::move(m),
                                 done = std::move(done)](Status st) {
    if (st.ok()) attempts_.Adopt(m, rows);
    Result<PublishResult> answer =
        st.ok() ? Result<PublishResult>(result) : Result<PublishResult>(st);
    done(answer);
    if (!key.empty()) {
      // Durable: from now on the record is in storage. Bumped before the
      // key leaves idem_in_flight_, so that a publish that read storage
      // before this write always notices one or the other.
      if (st.ok()) idem_epochs_[stripe].fetch_add(1);
      auto waiters = std::move(idem_in_flight_[key]);
      idem_in_flight_.erase(key);
      for (auto& w : waiters) {
        if (!st.ok()) {
          w(st);
        } else {
          PublishResult dup = result;
          dup.duplicate = true;
          w(dup);
        }
      }
    }
  });
}

void EngineImpl::SendTest(EndpointId id, Callback<DeliveryResult> done) {
  RunCommand(
      Status::Ok(), std::move(done), [this, id](Callback<DeliveryResult> done) {
        if (admission_.Live(id) == nullptr) {
          return done(EndpointNotFound(id));
        }
        const Timestamp now = NextCreationTime();
        Message m;
        m.id = MessageId::NewTimeOrdered();
        m.event_type = "ping";
        m.payload = "{}";
        m.created_at = now;
        auto [batch, result] = NewDeliveries(m, {id}, /*is_test=*/true, now);
        std::vector<Delivery> rows = batch.deliveries;
        ctx_.Commit(std::move(batch),
                    [this, m = std::move(m), rows = std::move(rows),
                     done = std::move(done)](Status st) mutable {
                      if (!st.ok()) return done(st);
                      AttemptNow(m, rows.front(), std::move(done));
                    });
      });
}

void EngineImpl::Replay(DeliveryId id, Callback<DeliveryResult> done) {
  // Read here, on the caller's thread, not on the strand: only a
  // dead_letter delivery is replayed, and a terminal row (and its message)
  // never changes again. A row read just before it became dead_letter is
  // refused, as if the call had come a moment earlier.
  auto original = storage_->GetDelivery(id);
  if (!original.ok()) return done(original.status());
  std::optional<Message> message;
  if (original->status == DeliveryStatus::kDeadLetter) {
    auto m = storage_->GetMessage(original->message_id);
    if (!m.ok()) return done(m.status());
    message = std::move(*m);
  }
  RunCommand(
      Status::Ok(), std::move(done),
      [this, original = std::move(*original),
       message = std::move(message)](Callback<DeliveryResult> done) mutable {
        EndpointState* es = admission_.Find(original.endpoint_id);
        if (es == nullptr || es->ep.deleted) {
          return done(Status::FailedPrecondition("the endpoint of delivery " +
                                                 original.id.ToString() +
                                                 " was deleted"));
        }
        const Timestamp now = NextCreationTime();
        auto event = DecideReplay(original, DeliveryId::NewTimeOrdered(), now);
        if (!event.ok()) return done(event.status());
        Delivery row;
        ApplyToDelivery(*event, &row);
        WriteBatch b;
        b.events.push_back(std::move(*event));
        b.deliveries.push_back(row);
        HOOKLOG_KILL_POINT("replay_before_commit");
        ctx_.Commit(std::move(b),
                    [this, m = std::move(*message), row = std::move(row),
                     done = std::move(done)](Status st) mutable {
                      if (!st.ok()) return done(st);
                      HOOKLOG_KILL_POINT("replay_after_commit");
                      AttemptNow(m, row, std::move(done));
                    });
      });
}

void EngineImpl::AttemptNow(const Message& m, const Delivery& row,
                            Callback<DeliveryResult> done) {
  if (ctx_.Owns(row.endpoint_id.raw())) {
    return attempts_.Adopt(m, {row}, std::move(done));
  }
  // Another node owns the endpoint: it attempts the delivery when it
  // follows this write; the answer is its first attempt, read from the log.
  cluster_->AwaitForwarded(row.id, std::move(done));
}

std::pair<WriteBatch, PublishResult> EngineImpl::NewDeliveries(
    const Message& m, const std::vector<EndpointId>& targets, bool is_test,
    Timestamp now) {
  WriteBatch b;
  PublishResult result;
  result.message_id = m.id;
  Event accepted;
  accepted.type = EventType::kMessageAccepted;
  accepted.aggregate = m.id.raw();
  accepted.time = now;
  accepted.body = MessageAccepted{m};
  b.events.push_back(std::move(accepted));
  b.messages.push_back(m);
  for (const EndpointId& eid : targets) {
    DeliveryId did = DeliveryId::NewTimeOrdered();
    Event e = DecideEnqueue(did, m, eid, is_test, now, ctx_.Now(),
                            options_.retry, &ctx_.jitter);
    Delivery row;
    ApplyToDelivery(e, &row);
    b.events.push_back(std::move(e));
    b.deliveries.push_back(std::move(row));
    result.deliveries.push_back(did);
  }
  if (!m.idempotency_key.empty()) {
    b.idempotency.push_back(
        IdempotencyRecord{m.idempotency_key, m.id, result.deliveries, now});
  }
  return {std::move(b), std::move(result)};
}

Timestamp EngineImpl::NextCreationTime() {
  last_created_at_ = std::max(ctx_.Now(), last_created_at_ + 1);
  return last_created_at_;
}

// --- reads -----------------------------------------------------------------

void EngineImpl::GetDelivery(DeliveryId id, Callback<Delivery> done) {
  done(storage_->GetDelivery(id));
}

void EngineImpl::ListDeliveries(DeliveryQuery q,
                                Callback<Page<Delivery>> done) {
  Status st = ValidateMultiEndpointQuery(q);
  if (!st.ok()) return done(st);
  if (!q.endpoint_ids.empty() || q.endpoint_ids_exact) {
    return done(ListMergedDeliveries(storage_.get(), q));
  }
  done(storage_->ListDeliveries(q));
}

void EngineImpl::GetMessage(MessageId id, Callback<Message> done) {
  done(storage_->GetMessage(id));
}

void EngineImpl::GetCounters(std::vector<EndpointId> endpoint_ids,
                             Callback<EndpointCounters> done) {
  if (endpoint_ids.empty()) return done(storage_->GetTotals());
  EndpointCounters sum;
  for (const EndpointId& id : endpoint_ids) {
    auto c = storage_->GetCounters(id);
    if (!c.ok()) return done(c.status());
    for (int i = 0; i < kDeliveryStatusCount; ++i) {
      sum.by_status[i] += c->by_status[i];
    }
    sum.attempts += c->attempts;
  }
  done(sum);
}

// Off the strand, like every read: the stored minutes are summed here.
void EngineImpl::GetStats(StatsRequest request, Callback<StatsSeries> done) {
  Status st = ValidateStatsRequest(request);
  if (!st.ok()) return done(st);
  done(ReadStatsSeries(storage_.get(), request));
}

void EngineImpl::StartReplayJob(ReplayFilter filter,
                                Callback<ReplayJobStart> done) {
  Status valid = ReplayJobs::Normalize(&filter);
  // Counted here, on the caller's thread (a count may scan an index).
  uint64_t total = 0;
  if (valid.ok()) {
    // Everything stored now: the job, decided after this, is created later
    // than every delivery counted here.
    auto n = replay_jobs_.CountMatching(filter,
                                        std::numeric_limits<Timestamp>::max());
    if (n.ok()) {
      total = *n;
    } else {
      valid = n.status();
    }
  }
  RunCommand(valid, std::move(done),
             [this, filter = std::move(filter),
              total](Callback<ReplayJobStart> done) mutable {
               replay_jobs_.Start(std::move(filter), total, std::move(done));
             });
}

void EngineImpl::GetReplayJob(ReplayJobId id, Callback<ReplayJob> done) {
  done(storage_->GetReplayJob(id));
}

void EngineImpl::ListReplayJobs(Callback<std::vector<ReplayJob>> done) {
  done(storage_->ListReplayJobs(/*running_only=*/false));
}

EngineStats EngineImpl::Stats() {
  EngineStats s = metrics_.Stats(storage_.get(), ctx_.committer.get(),
                                 admission_.in_flight());
  if (ctx_.committer) s.storage_reachable = ctx_.committer->storage_reachable();
  if (cluster_) cluster_->FillStats(&s);
  return s;
}

// --- shutdown --------------------------------------------------------------

void EngineImpl::Shutdown(std::chrono::milliseconds drain) {
  if (threads_.empty() || shut_down_.exchange(true)) return;
  ctx_.stopping = true;
  // Calls that entered before this post their handler before we go on (it
  // answers Unavailable); later ones are refused at the gate.
  gate_.Close();
  // Let attempts in flight finish and be recorded, up to `drain`.
  admission_.in_flight_counter().WaitForZero(std::chrono::steady_clock::now() +
                                             drain);
  // Whatever is still in flight is abandoned: its delivery stays as last
  // recorded (non-terminal) and is attempted again after restart.
  ctx_.aborting = true;
  if (transport_) transport_->Shutdown();
  ctx_.clock->RemoveObserver(clock_token_);
  RunOnStrand([this] {
    scheduler_.Cancel();
    replay_jobs_.Stop();  // no new step; a step being written completes
    attempts_.FailWaiters(ShuttingDown());
    if (cluster_) cluster_->FailForwarded(ShuttingDown());
  });
  if (ctx_.committer) ctx_.committer->Stop();  // writes decisions made
  // Only now are the leases handed back: every decision this node made
  // under them is written.
  if (cluster_) cluster_->Stop();
  RunOnStrand([] {});  // their completions have run
  work_.reset();
  io_.stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void EngineImpl::RunOnStrand(std::function<void()> fn) {
  std::promise<void> p;
  auto fut = p.get_future();
  asio::post(ctx_.strand, [&] {
    fn();
    p.set_value();
  });
  fut.wait();
}

// --- the public entry points -----------------------------------------------

namespace {

// Adapts a callback API to a future.
template <typename T, typename Call>
std::future<T> AsFuture(Call&& call) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  call([p](T v) { p->set_value(std::move(v)); });
  return f;
}

}  // namespace

std::future<Result<Endpoint>> Engine::CreateEndpoint(EndpointSpec spec) {
  return AsFuture<Result<Endpoint>>(
      [&](auto cb) { CreateEndpoint(std::move(spec), cb); });
}
std::future<Result<Endpoint>> Engine::GetEndpoint(EndpointId id) {
  return AsFuture<Result<Endpoint>>([&](auto cb) { GetEndpoint(id, cb); });
}
std::future<Result<Page<Endpoint>>> Engine::ListEndpoints(EndpointQuery q) {
  return AsFuture<Result<Page<Endpoint>>>(
      [&](auto cb) { ListEndpoints(std::move(q), cb); });
}
std::future<Result<Endpoint>> Engine::UpdateEndpoint(EndpointId id,
                                                     EndpointUpdate u) {
  return AsFuture<Result<Endpoint>>(
      [&](auto cb) { UpdateEndpoint(id, std::move(u), cb); });
}
std::future<Status> Engine::DeleteEndpoint(EndpointId id) {
  return AsFuture<Status>([&](auto cb) { DeleteEndpoint(id, cb); });
}
std::future<Result<Endpoint>> Engine::RotateSecret(EndpointId id) {
  return AsFuture<Result<Endpoint>>([&](auto cb) { RotateSecret(id, cb); });
}
std::future<Result<PublishResult>> Engine::Publish(PublishRequest r) {
  return AsFuture<Result<PublishResult>>(
      [&](auto cb) { Publish(std::move(r), cb); });
}
std::future<Result<DeliveryResult>> Engine::SendTest(EndpointId id) {
  return AsFuture<Result<DeliveryResult>>([&](auto cb) { SendTest(id, cb); });
}
std::future<Result<DeliveryResult>> Engine::Replay(DeliveryId id) {
  return AsFuture<Result<DeliveryResult>>([&](auto cb) { Replay(id, cb); });
}
std::future<Result<Delivery>> Engine::GetDelivery(DeliveryId id) {
  return AsFuture<Result<Delivery>>([&](auto cb) { GetDelivery(id, cb); });
}
std::future<Result<Page<Delivery>>> Engine::ListDeliveries(DeliveryQuery q) {
  return AsFuture<Result<Page<Delivery>>>(
      [&](auto cb) { ListDeliveries(std::move(q), cb); });
}

Result<std::unique_ptr<Engine>> OpenEngine(std::unique_ptr<Storage> storage,
                                           EngineOptions options) {
  if (!storage) return Status::InvalidArgument("storage is required");
  if (options.retry.schedule.empty()) {
    return Status::InvalidArgument("retry schedule needs at least one entry",
                                   "retry_schedule");
  }
  if (options.retry.jitter < 0 || options.retry.jitter >= 1) {
    return Status::InvalidArgument("jitter must be in [0, 1)", "jitter");
  }
  if (options.max_payload_bytes == 0 || options.global_max_in_flight == 0 ||
      options.default_max_in_flight == 0) {
    return Status::InvalidArgument(
        "max_payload_bytes and in-flight limits must be positive");
  }
  if (options.replay_job_page_size == 0 ||
      options.replay_job_page_size > kMaxPageSize) {
    return Status::InvalidArgument(
        "replay_job_page_size must be 1.." + std::to_string(kMaxPageSize),
        "replay_job_page_size");
  }
  if (options.replay_job_max_waiting == 0) {
    return Status::InvalidArgument("replay_job_max_waiting must be positive",
                                   "replay_job_max_waiting");
  }
  HOOKLOG_RETURN_IF_ERROR(ValidateCircuitBreaker(options.circuit_breaker));
  HOOKLOG_RETURN_IF_ERROR(ValidateClusterOptions(options.cluster));
  if (options.auto_disable_after.count() < 0) {
    return Status::InvalidArgument("auto_disable_after must not be negative",
                                   "auto_disable_after");
  }
  auto engine =
      std::make_unique<EngineImpl>(std::move(storage), std::move(options));
  HOOKLOG_RETURN_IF_ERROR(engine->Start());
  return std::unique_ptr<Engine>(std::move(engine));
}

const char* Version() { return HOOKLOG_VERSION; }

}  // namespace hooklog
