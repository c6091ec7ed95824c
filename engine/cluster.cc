#include "engine/cluster.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

namespace hooklog {
namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

constexpr size_t kFollowBatch = 1024;

bool IsEndpointEvent(EventType t) {
  return t >= EventType::kEndpointCreated && t <= EventType::kCircuitClosed;
}

// A first attempt as the waiter of a forwarded test or replay sees it.
DeliveryResult ResultOfAttempt(const DeliveryId& id, const Attempted& a) {
  return DeliveryResult{id, a.status_after, a.record.http_status_code,
                        a.record.response_body};
}

}  // namespace

uint32_t PartitionOf(const Uuid128& key, uint32_t partitions) {
  // The id's two halves mixed (splitmix64's finalizer): ids are random or
  // time-ordered, and either way every bit should move the partition.
  uint64_t x = key.hi ^ (key.lo * 0x9e3779b97f4a7c15ULL);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<uint32_t>(x % partitions);
}

Cluster::Cluster(EngineContext* ctx, asio::io_context* io, Storage* storage,
                 Attempts* attempts, Admission* admission, Metrics* metrics,
                 ReplayJobs* jobs)
    : ctx_(ctx),
      io_(io),
      storage_(storage),
      attempts_(attempts),
      admission_(admission),
      metrics_(metrics),
      jobs_(jobs),
      opts_(ctx->options.cluster),
      renew_every_(opts_.lease_ttl / 3) {}

Cluster::~Cluster() { Stop(); }

Status Cluster::Join() {
  std::lock_guard<std::mutex> lock(mu_);
  const LeaseSync hello = NextSync(/*leaving=*/false);
  const SteadyTime started = steady_clock::now();
  auto view = storage_->SyncLeases(hello);
  if (!view.ok()) return view.status();
  // Holds nothing yet: the first view only decides what to acquire.
  syncs_++;
  OnView(*view, hello, started);
  return Status::Ok();
}

void Cluster::Start(uint64_t follow_after) {
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  follow_thread_ =
      std::thread([this, follow_after] { FollowLoop(follow_after + 1); });
}

void Cluster::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !lease_thread_.joinable()) return;
    stop_ = true;
    cv_.notify_all();
  }
  follow_stop_ = true;
  if (follow_thread_.joinable()) follow_thread_.join();
  if (lease_thread_.joinable()) lease_thread_.join();
}

// --- ownership (strand) ------------------------------------------------------

bool Cluster::Owns(const Uuid128& key) const {
  auto it = owned_.find(PartitionOf(key, opts_.partitions));
  return it != owned_.end() && steady_clock::now() < it->second.valid_until;
}

void Cluster::Fence(WriteBatch* b, const Uuid128& key) const {
  const uint32_t p = PartitionOf(key, opts_.partitions);
  auto it = owned_.find(p);
  // Not owned: fenced with epoch 0, which no grant has, so the store
  // refuses it (a decision must never be written without its lease).
  b->fences.push_back({p, it == owned_.end() ? 0 : it->second.epoch});
}

// --- the lease thread --------------------------------------------------------

LeaseSync Cluster::NextSync(bool leaving) {
  LeaseSync s;
  s.node_id = opts_.node_id;
  s.partitions = opts_.partitions;
  s.ttl = opts_.lease_ttl;
  s.leaving = leaving;
  for (const auto& [p, epoch] : held_) {
    (leaving ? s.release : s.renew).push_back({p, epoch});
  }
  if (!leaving) {
    s.release = to_release_;
    s.acquire = to_acquire_;
  } else {
    s.release.insert(s.release.end(), to_release_.begin(), to_release_.end());
  }
  return s;
}

void Cluster::LeaseLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  SteadyTime next = steady_clock::now();  // Join's view asked for work
  for (;;) {
    cv_.wait_until(lock, next, [&] { return stop_ || wake_; });
    if (stop_) break;
    wake_ = false;
    const LeaseSync sync = NextSync(false);
    lock.unlock();
    const SteadyTime started = steady_clock::now();
    auto view = storage_->SyncLeases(sync);
    lock.lock();
    if (view.ok()) {
      syncs_++;
      reachable_ = true;
      next = OnView(*view, sync, started);
      lock.unlock();
      ScanReplayJobs();
      lock.lock();
    } else {
      sync_failures_++;
      if (view.status().code() == StatusCode::kUnavailable) reachable_ = false;
      // Past the last renewal's validity nothing is attempted here any more
      // (Owns); the count says so too.
      if (started >= valid_until_) owned_count_ = 0;
      // What was asked is asked again; the held leases are renewed if they
      // are still ours when the store answers.
      next = started + std::min<std::chrono::microseconds>(
                           renew_every_, std::chrono::milliseconds(500));
    }
  }
  // Leaving: hand everything back at once, so that the others take over
  // without waiting for the leases to lapse.
  const LeaseSync last = NextSync(/*leaving=*/true);
  held_.clear();
  lock.unlock();
  if (storage_->SyncLeases(last).ok()) released_ += last.release.size();
  owned_count_ = 0;
}

// REQUIRES: mu_ held.
Cluster::SteadyTime Cluster::OnView(const LeaseView& v, const LeaseSync& sent,
                                    SteadyTime started) {
  const uint32_t total = opts_.partitions;
  std::map<uint32_t, uint64_t> mine;
  std::vector<uint32_t> free;
  Timestamp next_foreign_lapse = 0;
  for (const PartitionLease& l : v.leases) {
    const bool held = v.now < l.expires_at;
    if (held && l.owner == opts_.node_id) {
      mine[l.partition] = l.epoch;
    } else if (!held) {
      free.push_back(l.partition);
    } else if (next_foreign_lapse == 0 || l.expires_at < next_foreign_lapse) {
      next_foreign_lapse = l.expires_at;
    }
  }
  for (const auto& [p, epoch] : held_) {
    auto it = mine.find(p);
    bool released = false;
    for (const LeaseFence& f : sent.release) released |= f.partition == p;
    if (!released && (it == mine.end() || it->second != epoch)) lost_++;
  }
  for (const auto& [p, epoch] : mine) {
    auto it = held_.find(p);
    if (it == held_.end() || it->second != epoch) acquired_++;
  }
  released_ += sent.release.size();
  held_ = mine;

  // A fair share: total / live nodes, the remainder going one each to the
  // first nodes by name, so that the shares add up to exactly total. Above
  // it, the highest partitions are handed back (dropped here first,
  // released at the next sync); below it, lapsed ones are taken, starting
  // at a place that depends on the node so that nodes joining together
  // rarely race for the same ones.
  const size_t nodes = std::max<size_t>(1, v.nodes.size());
  nodes_ = nodes;
  const size_t rank = std::find(v.nodes.begin(), v.nodes.end(), opts_.node_id) -
                      v.nodes.begin();
  const size_t fair = total / nodes + (rank < total % nodes ? 1 : 0);
  to_release_.clear();
  to_acquire_.clear();
  while (held_.size() > fair) {
    auto last = std::prev(held_.end());
    to_release_.push_back({last->first, last->second});
    held_.erase(last);
  }
  if (held_.size() < fair && !free.empty()) {
    const size_t start = std::hash<std::string>{}(opts_.node_id) % free.size();
    for (size_t i = 0;
         i < free.size() && held_.size() + to_acquire_.size() < fair; ++i) {
      to_acquire_.push_back(free[(start + i) % free.size()]);
    }
  }
  owned_count_ = held_.size();
  valid_until_ = started + (opts_.lease_ttl - renew_every_);

  // Owned here until two renewals are missed (ttl - ttl/3 after this
  // sync began): the store's lease outlives that by ttl / 3, so this node
  // has stopped before any other may be granted it.
  asio::post(ctx_->strand,
             [this, held = held_, valid_until = valid_until_]() mutable {
               Mirror(std::move(held), valid_until);
             });

  SteadyTime next = started + renew_every_;
  if (!to_release_.empty() || !to_acquire_.empty()) {
    next = std::min(next, started + renew_every_ / 4);
  }
  // Right after another node's lease may lapse (it died or was paused),
  // rather than up to ttl / 3 later: takeover within ttl plus a little.
  if (next_foreign_lapse != 0) {
    auto lapse = started +
                 std::chrono::microseconds(next_foreign_lapse - v.now) +
                 std::chrono::milliseconds(20);
    next = std::min(next, lapse);
  }
  return next;
}

void Cluster::ScanReplayJobs() {
  // A running job is driven by the owner of its id's partition; one whose
  // node died, or that another node created, is picked up here.
  auto jobs = storage_->ListReplayJobs(/*running_only=*/true);
  if (!jobs.ok() || jobs->empty()) return;
  asio::post(ctx_->strand, [this, jobs = std::move(*jobs)]() mutable {
    for (ReplayJob& j : jobs) {
      if (Owns(j.id.raw()) && !jobs_->Running(j.id))
        jobs_->Resume(std::move(j));
    }
  });
}

// --- the follower thread -----------------------------------------------------

void Cluster::OnAppended(const WriteBatch& merged) {
  if (merged.events.empty()) return;
  std::lock_guard<std::mutex> lock(own_mu_);
  own_ranges_.emplace_back(merged.events.front().seq, merged.events.back().seq);
  for (const Event& e : merged.events) {
    if (IsEndpointEvent(e.type))
      own_endpoint_seq_[EndpointId(e.aggregate)] = e.seq;
  }
}

void Cluster::OnFenced(const std::vector<uint32_t>& partitions) {
  fenced_++;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint32_t p : partitions) {
      if (held_.erase(p) > 0) lost_++;
    }
    owned_count_ = held_.size();
    wake_ = true;  // resync now: the share may be taken again elsewhere
    cv_.notify_all();
  }
  asio::post(ctx_->strand, [this, partitions] {
    for (uint32_t p : partitions) DropPartition(p);
  });
}

void Cluster::DropOwn(std::vector<Event>* events) {
  // Waits out an Append in progress: its events may be among those read.
  std::lock_guard<std::mutex> appending(append_mu_);
  std::lock_guard<std::mutex> lock(own_mu_);
  auto own = [&](const Event& e) {
    while (!own_ranges_.empty() && own_ranges_.front().second < e.seq) {
      own_ranges_.pop_front();
    }
    if (!own_ranges_.empty() && own_ranges_.front().first <= e.seq) {
      return true;
    }
    if (IsEndpointEvent(e.type)) {
      // A change of ours came after it: the endpoint is already newer here.
      auto it = own_endpoint_seq_.find(EndpointId(e.aggregate));
      return it != own_endpoint_seq_.end() && it->second > e.seq;
    }
    return false;
  };
  events->erase(std::remove_if(events->begin(), events->end(), own),
                events->end());
}

void Cluster::FollowLoop(uint64_t next) {
  std::vector<Event> events;
  while (!follow_stop_) {
    storage_->WaitForAppends(opts_.follow_interval);
    for (;;) {
      events.clear();
      if (!storage_->ReadLog(next, kFollowBatch, &events).ok() ||
          events.empty()) {
        break;
      }
      next = events.back().seq + 1;
      const bool more = events.size() == kFollowBatch;
      DropOwn(&events);
      if (!events.empty()) {
        followed_ += events.size();
        asio::post(ctx_->strand, [this, e = std::move(events)]() mutable {
          OnForeign(std::move(e));
        });
        events = {};
      }
      if (!more || follow_stop_) break;
    }
  }
}

// --- the strand --------------------------------------------------------------

void Cluster::Mirror(std::map<uint32_t, uint64_t> held,
                     SteadyTime valid_until) {
  std::vector<uint32_t> gone;
  for (const auto& [p, o] : owned_) {
    auto it = held.find(p);
    if (it == held.end() || it->second != o.epoch) gone.push_back(p);
  }
  for (uint32_t p : gone) DropPartition(p);
  for (const auto& [p, epoch] : held) {
    auto it = owned_.find(p);
    if (it != owned_.end()) {
      it->second.valid_until = valid_until;
    } else {
      owned_[p] = Owned{epoch, valid_until};
      AdoptPartition(p, epoch);
    }
  }
}

void Cluster::AdoptPartition(uint32_t p, uint64_t epoch) {
  // The previous owner's breaker state is the row's.
  admission_->ForEach([&](EndpointState& es) {
    if (PartitionOf(es.ep.id.raw(), opts_.partitions) == p) {
      es.guard.Restore(es.ep.circuit_open_until, es.ep.failing_since);
    }
  });
  LoadPartition(p, epoch);
}

void Cluster::LoadPartition(uint32_t p, uint64_t epoch) {
  std::vector<EndpointId> endpoints;
  admission_->ForEach([&](EndpointState& es) {
    if (PartitionOf(es.ep.id.raw(), opts_.partitions) == p) {
      endpoints.push_back(es.ep.id);
    }
  });
  if (endpoints.empty()) return;
  // Read on an io thread: the strand never waits for storage.
  asio::post(*io_, [this, p, epoch, endpoints = std::move(endpoints)] {
    auto rows = std::make_shared<std::vector<Delivery>>();
    Status st = storage_->LoadActiveOf(
        endpoints, [&](const Delivery& d) { rows->push_back(d); });
    asio::post(ctx_->strand, [this, p, epoch, st, rows] {
      auto it = owned_.find(p);
      if (it == owned_.end() || it->second.epoch != epoch) return;  // gone
      if (!st.ok()) {
        // Try again shortly while the lease is ours.
        auto timer = std::make_shared<asio::steady_timer>(
            ctx_->strand, std::chrono::seconds(1));
        timer->async_wait([this, p, epoch, timer](boost::system::error_code) {
          LoadPartition(p, epoch);
        });
        return;
      }
      for (const Delivery& d : *rows) attempts_->AdoptLoaded(d);
      admission_->ForEach([&](EndpointState& es) {
        if (es.ep.fifo && PartitionOf(es.ep.id.raw(), opts_.partitions) == p) {
          admission_->ResetFifo(&es);
        }
      });
    });
  });
}

void Cluster::DropPartition(uint32_t p) {
  if (owned_.erase(p) == 0) return;
  std::vector<DeliveryId> idle;
  for (auto& [id, a] : attempts_->active()) {
    if (PartitionOf(a.row.endpoint_id.raw(), opts_.partitions) != p) continue;
    if (a.busy) {
      a.dropped = true;  // forgotten when its attempt or write returns
    } else {
      idle.push_back(id);
    }
  }
  for (const DeliveryId& id : idle) {
    Active& a = attempts_->active()[id];
    for (auto& w : a.waiters) {
      w(Status::Unavailable(
          "this node lost the endpoint's partition; its new "
          "owner attempts the delivery"));
    }
    attempts_->Forget(id);
  }
  admission_->ForEach([&](EndpointState& es) {
    if (PartitionOf(es.ep.id.raw(), opts_.partitions) != p) return;
    es.ready.clear();
    es.parked.clear();
    es.fifo.clear();
  });
  jobs_->AbandonUnowned();
}

void Cluster::OnForeign(std::vector<Event> events) {
  auto messages =
      std::make_shared<std::unordered_map<MessageId, Message, IdHash>>();
  std::vector<std::pair<DeliveryId, MessageId>> created;
  for (Event& e : events) {
    if (IsEndpointEvent(e.type)) {
      ApplyEndpoint(std::get<EndpointSnapshot>(e.body).endpoint);
      continue;
    }
    const DeliveryId id(e.aggregate);
    switch (e.type) {
      case EventType::kMessageAccepted: {
        Message& m = std::get<MessageAccepted>(e.body).message;
        messages->emplace(m.id, std::move(m));
        break;
      }
      case EventType::kEnqueued:
      case EventType::kReplayed: {
        const auto& c = std::get<DeliveryCreated>(e.body);
        if (Owns(c.endpoint_id.raw()) && !attempts_->active().count(id)) {
          created.emplace_back(id, c.message_id);
        }
        break;
      }
      case EventType::kAttempted:
        if (forwarded_.count(id)) {
          Answer(id, ResultOfAttempt(id, std::get<Attempted>(e.body)));
        }
        break;
      case EventType::kDeadLettered:
        if (forwarded_.count(id)) {
          Answer(id, DeliveryResult{id, DeliveryStatus::kDeadLetter, {}, {}});
        }
        break;
      default:
        break;
    }
  }
  if (!created.empty()) AdoptForeign(std::move(created), std::move(messages));
}

void Cluster::AdoptForeign(
    std::vector<std::pair<DeliveryId, MessageId>> ids,
    std::shared_ptr<std::unordered_map<MessageId, Message, IdHash>> messages) {
  // The row is read again rather than rebuilt from the event: the event may
  // be older than what this node loaded when it acquired the partition
  // (the follower lags), and a stale row would attempt a delivery twice.
  asio::post(*io_, [this, ids = std::move(ids), messages] {
    auto rows = std::make_shared<std::vector<Delivery>>();
    for (const auto& [id, mid] : ids) {
      auto d = storage_->GetDelivery(id);
      if (d.ok() && !IsTerminal(d->status)) rows->push_back(std::move(*d));
    }
    asio::post(ctx_->strand, [this, rows, messages] {
      for (const Delivery& d : *rows) {
        auto m = messages->find(d.message_id);
        // A test another node forwarded bypasses the queue, as it would
        // there.
        const bool immediate = d.is_test && d.attempts == 0;
        if (m != messages->end()) {
          attempts_->Adopt(m->second, {d}, nullptr, immediate);
        } else if (Owns(d.endpoint_id.raw())) {
          attempts_->AdoptLoaded(d);  // envelope read when due
        }
      }
    });
  });
}

void Cluster::ApplyEndpoint(const Endpoint& ep) {
  EndpointState* es = admission_->Find(ep.id);
  if (es == nullptr) {
    admission_->StateOf(ep);
    if (!ep.deleted) metrics_->AddEndpoint();
    return;
  }
  const Endpoint before = es->ep;
  admission_->StateOf(ep);
  if (ep.deleted && !before.deleted) metrics_->RemoveEndpoint();
  if (!Owns(ep.id.raw())) return;
  // As the node that made the change would react (EngineImpl).
  if (ep.deleted && !before.deleted) {
    std::vector<DeliveryId> orphans;
    for (auto& [id, a] : attempts_->active()) {
      if (a.row.endpoint_id == ep.id && !a.busy) orphans.push_back(id);
    }
    for (const DeliveryId& id : orphans) {
      Active& a = attempts_->active()[id];
      attempts_->Unschedule(&a);
      admission_->Admit(id, &a);  // endpoint gone: dead-lettered
    }
    return;
  }
  if (ep.enabled && !before.enabled) {
    es->guard.ClearFailures();
    admission_->Unpark(es);
  }
  if (ep.fifo != before.fifo) admission_->ResetFifo(es);
  admission_->Pump(es, SIZE_MAX);
}

void Cluster::AwaitForwarded(const DeliveryId& id,
                             Callback<DeliveryResult> done) {
  Forwarded& f = forwarded_[id];
  f.done = std::move(done);
  f.timer = std::make_unique<asio::steady_timer>(
      ctx_->strand, ctx_->options.attempt_timeout + opts_.forward_timeout);
  f.timer->async_wait([this, id](boost::system::error_code ec) {
    if (ec) return;
    // The attempt may be in the log already (read late): look once.
    asio::post(*io_, [this, id] {
      auto row = storage_->GetDelivery(id);
      asio::post(ctx_->strand, [this, id, row = std::move(row)] {
        if (row.ok() && row->attempts > 0) {
          return Answer(
              id, DeliveryResult{row->id, row->status, row->http_status_code,
                                 row->response_body});
        }
        Answer(id, Status::Unavailable(
                       "the node owning this endpoint has not attempted the "
                       "delivery yet; it stays queued and will be"));
      });
    });
  });
}

void Cluster::Answer(const DeliveryId& id, Result<DeliveryResult> r) {
  auto it = forwarded_.find(id);
  if (it == forwarded_.end()) return;
  auto done = std::move(it->second.done);
  if (it->second.timer) it->second.timer->cancel();
  forwarded_.erase(it);
  done(std::move(r));
}

void Cluster::FailForwarded(const Status& st) {
  auto waiting = std::move(forwarded_);
  forwarded_.clear();
  for (auto& [id, f] : waiting) {
    if (f.timer) f.timer->cancel();
    f.done(st);
  }
}

void Cluster::FillStats(EngineStats* s) const {
  s->partitions_owned = owned_count_;
  s->partitions_total = opts_.partitions;
  s->cluster_nodes = nodes_;
  s->lease_syncs = syncs_;
  s->lease_sync_failures = sync_failures_;
  s->leases_acquired = acquired_;
  s->leases_released = released_;
  s->leases_lost = lost_;
  s->fenced_appends = fenced_;
  s->log_followed = followed_;
  s->storage_reachable = s->storage_reachable && reachable_;
}

}  // namespace hooklog
