// The engine: decide → append → apply → react.
//
// All mutable engine state (endpoints, non-terminal deliveries, the due
// queue, in-flight counts) is confined to one strand, so there are no locks
// on the hot path. A command is decided on the strand from that state, its
// events and rows are handed to the Committer (group commit), and only once
// they are durable is the state updated, the host answered and the next
// attempt scheduled. Reads go straight to storage, whose rows never lag the
// log.
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <future>
#include <set>
#include <thread>
#include <unordered_map>

#include "engine/committer.h"
#include "engine/delivery_machine.h"
#include "engine/endpoint_guard.h"
#include "base/kill_point.h"
#include "engine/projection.h"
#include "engine/validation.h"
#include "hooklog/engine.h"
#include "hooklog/signing.h"

namespace hooklog {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

// A failed append leaves the attempt unrecorded; it is retried after this.
constexpr Duration kRetryAfterStorageFailure = std::chrono::seconds(1);
// Most deliveries dispatched per timer tick before yielding the strand.
constexpr size_t kMaxDispatchPerTick = 4096;

Status ShuttingDown() { return Status::Unavailable("engine is shutting down"); }

Event EndpointEvent(EventType type, const Endpoint& ep, Timestamp now) {
  Event e;
  e.type = type;
  e.aggregate = ep.id.raw();
  e.time = now;
  e.body = EndpointSnapshot{ep};
  return e;
}

DeliveryResult ResultOf(const Delivery& d) {
  return DeliveryResult{d.id, d.status, d.http_status_code, d.response_body};
}

// The body POSTed for a message. Event types are [A-Za-z0-9._-] and the
// payload is validated JSON, so plain concatenation yields valid JSON.
std::string Envelope(const Message& m) {
  std::string out;
  out.reserve(m.payload.size() + m.event_type.size() + 96);
  out += R"({"id":")";
  out += EventIdString(m.id);
  out += R"(","type":")";
  out += m.event_type;
  out += R"(","created_at":")";
  out += FormatIso8601(m.created_at);
  out += R"(","data":)";
  out += m.payload;
  out += '}';
  return out;
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(std::unique_ptr<Storage> storage, EngineOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? options_.clock : SystemClock()),
        storage_(std::move(storage)),
        strand_(asio::make_strand(io_)),
        timer_(strand_),
        work_(io_.get_executor()),
        jitter_(options_.jitter_seed != 0 ? options_.jitter_seed
                                          : Uuid128::NewRandom().lo) {}

  ~EngineImpl() override { Shutdown(std::chrono::seconds(0)); }

  Status Start() {
    Status st = storage_->LoadActive(
        [&](const Endpoint& ep) {
          StateOf(ep);
          if (!ep.deleted) endpoint_count_++;
          last_created_at_ = std::max(last_created_at_, ep.created_at);
        },
        [&](const Delivery& d) {
          active_[d.id].row = d;
          last_created_at_ = std::max(last_created_at_, d.created_at);
        });
    if (!st.ok()) return st;
    transport_ = options_.transport_factory
                     ? options_.transport_factory(io_)
                     : NewCurlTransport(io_, options_.transport);
    if (!transport_) return Status::InvalidArgument("transport factory failed");
    committer_ =
        std::make_unique<Committer>(storage_.get(), options_.max_batch_events);
    clock_token_ = clock_->AddObserver(
        [this] { asio::post(strand_, [this] { OnTimer(); }); });
    asio::post(strand_, [this] {
      for (auto& [id, a] : active_) Schedule(id, &a, a.row.next_attempt_at);
      for (auto& [eid, es] : endpoints_) {
        if (es.ep.fifo) ResetFifo(&es);
      }
    });
    int n = std::max(1, options_.threads);
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
    return Status::Ok();
  }

  // --- endpoints -----------------------------------------------------------

  void CreateEndpoint(EndpointSpec spec, Callback<Endpoint> done) override {
    Status st = ValidateEndpointSpec(spec);
    if (!st.ok()) return done(st);
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_, [this, spec = std::move(spec),
                         done = std::move(done)]() mutable {
      if (stopping_) return done(ShuttingDown());
      Timestamp now = NextCreationTime();
      Endpoint ep;
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
      WriteBatch b;
      b.events.push_back(EndpointEvent(EventType::kEndpointCreated, ep, now));
      b.endpoints.push_back(ep);
      // Visible to publishes decided after this one; they are appended
      // after it, so the log never references an endpoint before it exists.
      StateOf(ep);
      Commit(std::move(b), [this, ep, done = std::move(done)](Status st) {
        if (!st.ok()) {
          endpoints_.erase(ep.id);
          return done(st);
        }
        endpoint_count_++;
        done(ep);
      });
    });
  }

  void GetEndpoint(EndpointId id, Callback<Endpoint> done) override {
    auto r = storage_->GetEndpoint(id);
    if (r.ok() && r->deleted) {
      return done(
          Status::NotFound("endpoint " + id.ToString() + " was deleted"));
    }
    done(std::move(r));
  }

  void ListEndpoints(EndpointQuery q, Callback<Page<Endpoint>> done) override {
    Status st = ValidateEndpointQuery(q);
    if (!st.ok()) return done(st);
    done(storage_->ListEndpoints(q));
  }

  void UpdateEndpoint(EndpointId id, EndpointUpdate u,
                      Callback<Endpoint> done) override {
    Status st = ValidateEndpointUpdate(u);
    if (!st.ok()) return done(st);
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_,
               [this, id, u = std::move(u), done = std::move(done)]() mutable {
                 if (stopping_) return done(ShuttingDown());
                 EndpointState* live = LiveEndpoint(id);
                 if (live == nullptr) return done(EndpointNotFound(id));
                 const Endpoint before = live->ep;
                 Endpoint ep = before;
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
                 Status meta = ValidateMetadata(ep.metadata);
                 if (!meta.ok()) return done(meta);
                 if (u.headers) ep.headers = *u.headers;
                 if (u.rate_limit_per_s)
                   ep.rate_limit_per_s = *u.rate_limit_per_s;
                 if (u.max_in_flight) ep.max_in_flight = *u.max_in_flight;
                 if (u.fifo) ep.fifo = *u.fifo;
                 if (u.http2) ep.http2 = *u.http2;
                 if (u.signature_scheme)
                   ep.signature_scheme = *u.signature_scheme;
                 if (u.rate_limit_burst)
                   ep.protection.rate_limit_burst = *u.rate_limit_burst;
                 if (u.circuit_breaker)
                   ep.protection.circuit_breaker = *u.circuit_breaker;
                 if (u.auto_disable_after)
                   ep.protection.auto_disable_after = *u.auto_disable_after;
                 EventType type = EventType::kEndpointUpdated;
                 if (u.enabled && *u.enabled != before.enabled) {
                   ep.enabled = *u.enabled;
                   ep.disabled_reason = ep.enabled ? "" : "manual";
                   type = ep.enabled ? EventType::kEndpointEnabled
                                     : EventType::kEndpointDisabled;
                 }
                 ep.updated_at = clock_->Now();
                 CommitEndpointChange(type, before, ep, std::move(done));
               });
  }

  void RotateSecret(EndpointId id, Callback<Endpoint> done) override {
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_, [this, id, done = std::move(done)]() mutable {
      if (stopping_) return done(ShuttingDown());
      EndpointState* live = LiveEndpoint(id);
      if (live == nullptr) return done(EndpointNotFound(id));
      Timestamp now = clock_->Now();
      const Endpoint before = live->ep;
      Endpoint ep = before;
      std::vector<SigningSecret> secrets = {{NewSigningSecret(), 0}};
      for (SigningSecret s : ep.secrets) {
        if (s.expires_at == 0) {
          s.expires_at = now + options_.secret_rotation_grace.count();
        }
        if (s.expires_at > now) secrets.push_back(s);
      }
      ep.secrets = std::move(secrets);
      ep.updated_at = now;
      CommitEndpointChange(EventType::kEndpointSecretRotated, before, ep,
                           std::move(done));
    });
  }

  void DeleteEndpoint(EndpointId id, StatusCallback done) override {
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_, [this, id, done = std::move(done)]() mutable {
      if (stopping_) return done(ShuttingDown());
      EndpointState* live = LiveEndpoint(id);
      if (live == nullptr) return done(EndpointNotFound(id));
      Timestamp now = clock_->Now();
      const Endpoint before = live->ep;
      Endpoint ep = before;
      ep.deleted = true;
      ep.updated_at = now;
      WriteBatch b;
      b.events.push_back(EndpointEvent(EventType::kEndpointDeleted, ep, now));
      b.endpoints.push_back(ep);
      // Deliveries waiting for an attempt are dead-lettered with it; those
      // in flight are when their attempt comes back (OnAttemptDone).
      std::vector<DeliveryId> ended;
      for (auto& [did, a] : active_) {
        if (a.row.endpoint_id != id || a.busy) continue;
        Event e = DecideEndpointDeleted(a.row, now);
        Delivery row = a.row;
        ApplyToDelivery(e, &row);
        b.events.push_back(std::move(e));
        b.deliveries.push_back(std::move(row));
        a.busy = true;
        Unschedule(&a);
        ended.push_back(did);
      }
      live->ep = ep;
      Commit(std::move(b), [this, id, before, ended = std::move(ended),
                            done = std::move(done)](Status st) mutable {
        if (!st.ok()) {
          endpoints_.at(id).ep = before;
          for (const DeliveryId& did : ended) {
            Active& a = active_[did];
            a.busy = false;
            Schedule(did, &a, clock_->Now());
          }
          return done(st);
        }
        for (const DeliveryId& did : ended) Finish(did);
        endpoint_count_--;
        done(Status::Ok());
      });
    });
  }

  // --- publishing ----------------------------------------------------------

  void Publish(PublishRequest req, Callback<PublishResult> done) override {
    Status st = ValidateEventType(req.event_type, "type");
    if (st.ok()) st = ValidatePayload(req.payload, options_.max_payload_bytes);
    if (st.ok() && req.idempotency_key.size() > 256) {
      st = Status::InvalidArgument("idempotency_key is longer than 256 bytes",
                                   "idempotency_key");
    }
    if (!st.ok()) return done(st);
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_, [this, req = std::move(req),
                         done = std::move(done)]() mutable {
      if (stopping_) return done(ShuttingDown());
      const std::string key = req.idempotency_key;
      if (!key.empty()) {
        // A publish with this key is being written: answer with its result.
        auto waiting = idem_in_flight_.find(key);
        if (waiting != idem_in_flight_.end()) {
          waiting->second.push_back(std::move(done));
          return;
        }
        auto rec = storage_->GetIdempotency(key);
        if (!rec.ok()) return done(rec.status());
        if (rec->has_value() &&
            (*rec)->created_at + options_.idempotency_window.count() >
                clock_->Now()) {
          return done(
              PublishResult{(*rec)->message_id, (*rec)->deliveries, true});
        }
        idem_in_flight_[key];
      }
      Timestamp now = NextCreationTime();
      Message m;
      m.id = MessageId::NewRandom();
      m.event_type = std::move(req.event_type);
      m.payload = std::move(req.payload);
      m.idempotency_key = key;
      m.created_at = now;
      std::vector<EndpointId> targets;
      for (const auto& [eid, es] : endpoints_) {
        if (es.ep.enabled && !es.ep.deleted && es.ep.Matches(m.event_type)) {
          targets.push_back(eid);
        }
      }
      auto [batch, result] = NewDeliveries(m, targets, /*is_test=*/false, now);
      std::vector<Delivery> rows = batch.deliveries;
      Commit(std::move(batch), [this, key, result = result,
                                rows = std::move(rows), m,
                                done = std::move(done)](Status st) mutable {
        if (st.ok()) AdoptNewDeliveries(m, rows);
        Result<PublishResult> answer =
            st.ok() ? Result<PublishResult>(result) : Result<PublishResult>(st);
        done(answer);
        if (!key.empty()) {
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
    });
  }

  void SendTest(EndpointId id, Callback<DeliveryResult> done) override {
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_, [this, id, done = std::move(done)]() mutable {
      if (stopping_) return done(ShuttingDown());
      EndpointState* live = LiveEndpoint(id);
      if (live == nullptr) return done(EndpointNotFound(id));
      Timestamp now = NextCreationTime();
      Message m;
      m.id = MessageId::NewRandom();
      m.event_type = "ping";
      m.payload = "{}";
      m.created_at = now;
      auto [batch, result] = NewDeliveries(m, {id}, /*is_test=*/true, now);
      std::vector<Delivery> rows = batch.deliveries;
      Commit(std::move(batch), [this, m, rows = std::move(rows),
                                done = std::move(done)](Status st) mutable {
        if (!st.ok()) return done(st);
        AdoptNewDeliveries(m, rows, std::move(done));
      });
    });
  }

  void Replay(DeliveryId id, Callback<DeliveryResult> done) override {
    EntryGuard entry(this);
    if (!entry) return done(ShuttingDown());
    asio::post(strand_, [this, id, done = std::move(done)]() mutable {
      if (stopping_) return done(ShuttingDown());
      auto original = storage_->GetDelivery(id);
      if (!original.ok()) return done(original.status());
      auto ep = endpoints_.find(original->endpoint_id);
      if (ep == endpoints_.end() || ep->second.ep.deleted) {
        return done(Status::FailedPrecondition("the endpoint of delivery " +
                                               id.ToString() + " was deleted"));
      }
      Timestamp now = NextCreationTime();
      auto event = DecideReplay(*original, DeliveryId::NewRandom(), now);
      if (!event.ok()) return done(event.status());
      Delivery row;
      ApplyToDelivery(*event, &row);
      WriteBatch b;
      b.events.push_back(std::move(*event));
      b.deliveries.push_back(row);
      auto message = storage_->GetMessage(row.message_id);
      if (!message.ok()) return done(message.status());
      HOOKLOG_KILL_POINT("replay_before_commit");
      Commit(std::move(b), [this, m = std::move(*message), row,
                            done = std::move(done)](Status st) mutable {
        if (!st.ok()) return done(st);
        HOOKLOG_KILL_POINT("replay_after_commit");
        AdoptNewDeliveries(m, {row}, std::move(done));
      });
    });
  }

  // --- reads ---------------------------------------------------------------

  void GetDelivery(DeliveryId id, Callback<Delivery> done) override {
    done(storage_->GetDelivery(id));
  }
  void ListDeliveries(DeliveryQuery q, Callback<Page<Delivery>> done) override {
    Status st = ValidateDeliveryQuery(q);
    if (!st.ok()) return done(st);
    done(storage_->ListDeliveries(q));
  }
  void GetMessage(MessageId id, Callback<Message> done) override {
    done(storage_->GetMessage(id));
  }

  EngineStats Stats() override {
    EngineStats s;
    auto totals = storage_->GetTotals();
    if (totals.ok()) {
      std::copy(std::begin(totals->by_status), std::end(totals->by_status),
                s.deliveries_by_status);
    }
    s.endpoints = endpoint_count_.load();
    s.attempts_ok = attempts_ok_.load();
    s.attempts_failed = attempts_failed_.load();
    s.attempts_rate_limited = attempts_rate_limited_.load();
    s.in_flight = in_flight_.load();
    s.due_queue_depth = due_depth_.load();
    s.last_sequence = storage_->LastSequence();
    if (committer_) {
      s.appends = committer_->appends();
      s.append_latency_us_total = committer_->append_latency_us_total();
    }
    for (int i = 0; i <= EngineStats::kLatencyBuckets; ++i) {
      s.latency_buckets[i] = latency_buckets_[i].load();
    }
    s.latency_sum_ms = double(latency_sum_us_.load()) / 1000.0;
    return s;
  }

  void Shutdown(std::chrono::milliseconds drain) override {
    if (threads_.empty() || shut_down_.exchange(true)) return;
    stopping_ = true;
    // Calls that passed their check before stopping_ was set post their
    // handler before we go on (see EntryGuard).
    while (entering_.load() > 0) std::this_thread::yield();
    // Let attempts in flight finish and be recorded, up to `drain`.
    auto deadline = std::chrono::steady_clock::now() + drain;
    while (in_flight_.load() > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Whatever is still in flight is abandoned: its delivery stays as last
    // recorded (non-terminal) and is attempted again after restart.
    aborting_ = true;
    if (transport_) transport_->Shutdown();
    clock_->RemoveObserver(clock_token_);
    RunOnStrand([this] {
      timer_.cancel();
      for (auto& [id, a] : active_) {
        for (auto& w : a.waiters) w(ShuttingDown());
        a.waiters.clear();
      }
    });
    if (committer_) committer_->Stop();  // writes decisions already made
    RunOnStrand([] {});                  // their completions have run
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  asio::io_context& io_context() override { return io_; }

 private:
  // Held by a public call from its shutdown check until its handler is
  // posted. Shutdown sets stopping_ and then waits for every holder, so no
  // handler is posted after the strand's last turn (its callback would never
  // run). Both sides use sequentially consistent atomics: either the call
  // sees stopping_, or Shutdown sees the call's count.
  class EntryGuard {
   public:
    explicit EntryGuard(EngineImpl* e) : e_(e) { e_->entering_.fetch_add(1); }
    ~EntryGuard() { e_->entering_.fetch_sub(1); }
    EntryGuard(const EntryGuard&) = delete;
    EntryGuard& operator=(const EntryGuard&) = delete;
    explicit operator bool() const { return !e_->stopping_.load(); }

   private:
    EngineImpl* e_;
  };

  struct Active {
    Delivery row;
    bool busy = false;        // in flight, or a decision about it is being
                              // written: nothing else may decide for it
    bool immediate = false;   // operator-initiated first attempt (test,
                              // replay): bypasses the enabled flag and caps
    bool probe = false;       // the half-open breaker's probe
    Timestamp scheduled = 0;  // key in due_, 0 when not scheduled
    std::vector<Callback<DeliveryResult>> waiters;  // first attempt
  };
  struct EndpointState {
    explicit EndpointState(const EngineOptions& o) : guard(o.circuit_breaker) {}
    Endpoint ep;
    EndpointGuard guard;  // pause, breaker, rate limit
    uint32_t in_flight = 0;
    std::deque<DeliveryId> ready;    // due, waiting for the guard or a slot
    bool listed = false;             // in ready_endpoints_
    Timestamp wake_at = 0;           // key in wakeups_, 0 when none
    std::vector<DeliveryId> parked;  // due while the endpoint is disabled
    // FIFO endpoints: non-terminal deliveries in publish order.
    std::set<std::pair<Timestamp, DeliveryId>> fifo;
  };
  struct Body {
    std::shared_ptr<const std::string> envelope;
    size_t refs = 0;
  };

  void Commit(WriteBatch b, std::function<void(Status)> on_strand) {
    committer_->Submit(
        std::move(b), [this, f = std::move(on_strand)](Status st) mutable {
          asio::post(strand_, [f = std::move(f), st]() mutable { f(st); });
        });
  }

  void RunOnStrand(std::function<void()> fn) {
    std::promise<void> p;
    auto fut = p.get_future();
    asio::post(strand_, [&] {
      fn();
      p.set_value();
    });
    fut.wait();
  }

  void CommitEndpointChange(EventType type, const Endpoint& before,
                            const Endpoint& ep, Callback<Endpoint> done) {
    WriteBatch b;
    b.events.push_back(EndpointEvent(type, ep, ep.updated_at));
    b.endpoints.push_back(ep);
    StateOf(ep);
    Commit(std::move(b),
           [this, before, ep, type, done = std::move(done)](Status st) {
             EndpointState& es = StateOf(st.ok() ? ep : before);
             if (!st.ok()) return done(st);
             if (type == EventType::kEndpointEnabled) {
               es.guard.ClearFailures();
               Unpark(ep.id);
             }
             if (ep.fifo != before.fifo) ResetFifo(&es);
             PumpEndpoint(&es, SIZE_MAX);  // limits may have been raised
             done(ep);
           });
  }

  // Events and rows creating one delivery of `m` per target endpoint.
  std::pair<WriteBatch, PublishResult> NewDeliveries(
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
      DeliveryId did = DeliveryId::NewRandom();
      Event e = DecideEnqueue(did, m, eid, is_test, now, clock_->Now(),
                              options_.retry, &jitter_);
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

  // New durable deliveries join the active set; with `waiter` (test,
  // replay) the one delivery is attempted at once and the waiter answered
  // after that attempt.
  void AdoptNewDeliveries(const Message& m, const std::vector<Delivery>& rows,
                          Callback<DeliveryResult> waiter = nullptr) {
    if (rows.empty()) return;
    Body& body = bodies_[m.id];
    if (!body.envelope) {
      body.envelope = std::make_shared<const std::string>(Envelope(m));
    }
    for (const Delivery& row : rows) {
      Active& a = active_[row.id];
      a.row = row;
      body.refs++;
      auto eit = endpoints_.find(row.endpoint_id);
      if (eit != endpoints_.end() && eit->second.ep.fifo && !row.is_test) {
        eit->second.fifo.insert({row.created_at, row.id});
      }
      if (waiter) {
        a.immediate = true;
        a.waiters.push_back(std::move(waiter));
        Dispatch(row.id, &a);
      } else {
        Schedule(row.id, &a, row.next_attempt_at);
      }
    }
  }

  // The endpoint's state unless it is unknown or deleted.
  EndpointState* LiveEndpoint(const EndpointId& id) {
    auto it = endpoints_.find(id);
    return it == endpoints_.end() || it->second.ep.deleted ? nullptr
                                                           : &it->second;
  }
  static Status EndpointNotFound(const EndpointId& id) {
    return Status::NotFound("endpoint " + id.ToString() + " not found");
  }

  // Creation times are strictly increasing, so that "newest first" and a
  // FIFO endpoint's publish order are total orders even when the clock
  // does not move between two calls.
  Timestamp NextCreationTime() {
    last_created_at_ = std::max(clock_->Now(), last_created_at_ + 1);
    return last_created_at_;
  }

  // --- scheduling ----------------------------------------------------------

  void Schedule(const DeliveryId& id, Active* a, Timestamp at) {
    Unschedule(a);
    if (at == 0) at = clock_->Now();
    a->scheduled = at;
    due_.insert({at, id});
    due_depth_ = due_.size();
    if (timer_at_ == 0 || at < timer_at_) ArmTimer(at);
  }

  void Unschedule(Active* a) {
    if (a->scheduled != 0) {
      due_.erase({a->scheduled, a->row.id});
      a->scheduled = 0;
      due_depth_ = due_.size();
    }
  }

  void ArmTimer(Timestamp at) {
    timer_at_ = at;
    Timestamp now = clock_->Now();
    timer_.expires_after(
        std::chrono::microseconds(std::max<Timestamp>(0, at - now)));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      OnTimer();
    });
  }

  void OnTimer() {
    if (aborting_) return;
    timer_at_ = 0;
    Timestamp now = clock_->Now();
    while (!wakeups_.empty() && wakeups_.begin()->first <= now) {
      EndpointId eid = wakeups_.begin()->second;
      wakeups_.erase(wakeups_.begin());
      auto eit = endpoints_.find(eid);
      if (eit == endpoints_.end()) continue;
      eit->second.wake_at = 0;
      PumpEndpoint(&eit->second, SIZE_MAX);
    }
    size_t n = 0;
    while (!due_.empty() && due_.begin()->first <= now) {
      if (++n > kMaxDispatchPerTick) {
        // Yield so that host calls are not starved by a large backlog.
        asio::post(strand_, [this] { OnTimer(); });
        return;
      }
      DeliveryId id = due_.begin()->second;
      due_.erase(due_.begin());
      due_depth_ = due_.size();
      auto it = active_.find(id);
      if (it == active_.end()) continue;
      it->second.scheduled = 0;
      Dispatch(id, &it->second);
    }
    Timestamp next = 0;
    if (!due_.empty()) next = due_.begin()->first;
    if (!wakeups_.empty() && (next == 0 || wakeups_.begin()->first < next)) {
      next = wakeups_.begin()->first;
    }
    if (next != 0) ArmTimer(next);
  }

  uint32_t CapOf(const EndpointState& es) const {
    return es.ep.max_in_flight != 0 ? es.ep.max_in_flight
                                    : options_.default_max_in_flight;
  }

  // The endpoint's state, created on first use with the engine's options.
  EndpointState& StateOf(const Endpoint& ep) {
    auto [it, inserted] = endpoints_.try_emplace(ep.id, options_);
    EndpointState& es = it->second;
    es.ep = ep;
    es.guard.SetRateLimit(ep.rate_limit_per_s, EffectiveRateLimitBurst(ep));
    es.guard.SetBreakerOptions(
        ep.protection.circuit_breaker.value_or(options_.circuit_breaker));
    if (inserted) es.guard.Restore(ep.circuit_open_until, ep.failing_since);
    return es;
  }

  // Is `id` the delivery a FIFO endpoint may attempt now (its oldest
  // non-terminal one)?
  static bool IsFifoHead(const EndpointState& es, const DeliveryId& id) {
    return es.fifo.empty() || es.fifo.begin()->second == id;
  }

  void Dispatch(const DeliveryId& id, Active* a) {
    if (a->busy || stopping_) return;
    auto eit = endpoints_.find(a->row.endpoint_id);
    if (eit == endpoints_.end() || eit->second.ep.deleted) {
      // Its endpoint was deleted while it was in flight or before a crash.
      EndDelivery(id, a, DecideEndpointDeleted(a->row, clock_->Now()));
      return;
    }
    EndpointState& es = eit->second;
    if (a->immediate) {
      // Operator-initiated (test ping, replay): bypasses every gate.
      StartAttempt(id, a, &es);
      return;
    }
    if (!a->row.is_test && !es.ep.enabled) {
      es.parked.push_back(id);
      return;
    }
    // A FIFO endpoint's later deliveries wait, unscheduled, until they
    // become the oldest (Finish schedules the next one).
    if (es.ep.fifo && !a->row.is_test && !IsFifoHead(es, id)) return;
    es.ready.push_back(id);
    PumpEndpoint(&es, SIZE_MAX);
  }

  // Starts up to `limit` of the endpoint's ready deliveries as its guard
  // (pause, breaker, cap, rate) and the global cap allow. Returns how many.
  size_t PumpEndpoint(EndpointState* es, size_t limit) {
    size_t started = 0;
    const Timestamp now = clock_->Now();
    while (!es->ready.empty() && started < limit) {
      auto it = active_.find(es->ready.front());
      if (it == active_.end() || it->second.busy) {
        es->ready.pop_front();
        continue;
      }
      if (in_flight_.load() >= options_.global_max_in_flight) {
        ListReady(es);  // Pump() serves it, round-robin, as slots free up
        break;
      }
      auto admission = es->guard.TryAcquire(now, es->in_flight, CapOf(*es));
      if (!admission.allowed) {
        if (admission.retry_at != 0) WakeAt(es, admission.retry_at);
        break;
      }
      es->ready.pop_front();
      it->second.probe = admission.probe;
      StartAttempt(it->first, &it->second, es);
      ++started;
    }
    return started;
  }

  void ListReady(EndpointState* es) {
    if (!es->listed) {
      es->listed = true;
      ready_endpoints_.push_back(es->ep.id);
    }
  }

  // After a global slot frees: one start per waiting endpoint per round,
  // so that one busy endpoint cannot starve the others.
  void Pump() {
    size_t rounds = ready_endpoints_.size();
    while (rounds-- > 0 && in_flight_.load() < options_.global_max_in_flight) {
      EndpointId eid = ready_endpoints_.front();
      ready_endpoints_.pop_front();
      auto eit = endpoints_.find(eid);
      if (eit == endpoints_.end()) continue;
      EndpointState& es = eit->second;
      es.listed = false;
      PumpEndpoint(&es, 1);
      if (!es.ready.empty()) ListReady(&es);
    }
  }

  // Asks OnTimer to pump the endpoint at `at` (a token, the end of a pause
  // or of the breaker's open period).
  void WakeAt(EndpointState* es, Timestamp at) {
    if (es->wake_at != 0 && es->wake_at <= at) return;
    if (es->wake_at != 0) wakeups_.erase({es->wake_at, es->ep.id});
    es->wake_at = at;
    wakeups_.insert({at, es->ep.id});
    if (timer_at_ == 0 || at < timer_at_) ArmTimer(at);
  }

  void Unpark(const EndpointId& eid) {
    auto eit = endpoints_.find(eid);
    if (eit == endpoints_.end()) return;
    std::vector<DeliveryId> parked = std::move(eit->second.parked);
    eit->second.parked.clear();
    Timestamp now = clock_->Now();
    for (const DeliveryId& id : parked) {
      auto it = active_.find(id);
      if (it != active_.end()) Schedule(id, &it->second, now);
    }
  }

  // Rebuilds a FIFO endpoint's order from its active deliveries (start-up,
  // FIFO switched on), or releases them all (FIFO switched off).
  void ResetFifo(EndpointState* es) {
    es->fifo.clear();
    const Timestamp now = clock_->Now();
    for (auto& [id, a] : active_) {
      if (a.row.endpoint_id != es->ep.id || a.row.is_test) continue;
      if (es->ep.fifo) {
        es->fifo.insert({a.row.created_at, id});
      } else if (!a.busy && a.scheduled == 0) {
        Schedule(id, &a, std::max(now, a.row.next_attempt_at));
      }
    }
    if (es->ep.fifo) ScheduleFifoHead(es);
  }

  void ScheduleFifoHead(EndpointState* es) {
    if (es->fifo.empty()) return;
    auto it = active_.find(es->fifo.begin()->second);
    if (it != active_.end() && !it->second.busy && it->second.scheduled == 0) {
      Schedule(it->first, &it->second, it->second.row.next_attempt_at);
    }
  }

  std::shared_ptr<const std::string> EnvelopeFor(const MessageId& mid) {
    Body& body = bodies_[mid];
    if (!body.envelope) {
      auto m = storage_->GetMessage(mid);
      if (!m.ok()) return nullptr;
      body.envelope = std::make_shared<const std::string>(Envelope(*m));
    }
    return body.envelope;
  }

  void StartAttempt(const DeliveryId& id, Active* a, EndpointState* es) {
    auto body = EnvelopeFor(a->row.message_id);
    if (!body) {
      // The message row is unreadable right now (storage failing); try
      // again later rather than lose the delivery.
      Schedule(id, a, clock_->Now() + kRetryAfterStorageFailure.count());
      return;
    }
    a->busy = true;
    a->immediate = false;
    es->in_flight++;
    in_flight_++;
    AttemptRequest req;
    req.url = es->ep.url;
    req.body = *body;
    req.webhook_id = EventIdString(a->row.message_id);
    req.delivery_id = id.ToString();
    req.event_type = a->row.event_type;
    req.scheme = es->ep.signature_scheme;
    Timestamp now = clock_->Now();
    for (const SigningSecret& s : es->ep.secrets) {
      if (s.expires_at == 0 || s.expires_at > now)
        req.secrets.push_back(s.secret);
    }
    req.headers = es->ep.headers;
    req.http2 = es->ep.http2;
    req.connect_timeout = options_.connect_timeout;
    req.timeout = options_.attempt_timeout;
    transport_->Send(std::move(req), [this, id, now](AttemptResult r) {
      asio::post(strand_, [this, id, now, r = std::move(r)]() mutable {
        OnAttemptDone(id, now, std::move(r));
      });
    });
  }

  void OnAttemptDone(const DeliveryId& id, Timestamp started, AttemptResult r) {
    in_flight_--;
    auto it = active_.find(id);
    if (it == active_.end()) return;
    Active& a = it->second;
    const bool was_probe = std::exchange(a.probe, false);
    auto eit = endpoints_.find(a.row.endpoint_id);
    EndpointState* es = eit == endpoints_.end() ? nullptr : &eit->second;
    if (es != nullptr && es->in_flight > 0) es->in_flight--;
    if (aborting_) return;  // stays as last recorded; resumes after restart
    RecordLatency(r);
    if (r.http_status_code && *r.http_status_code / 100 == 2) {
      HOOKLOG_KILL_POINT("attempt_2xx_before_record");
    }
    const Timestamp now = clock_->Now();
    Decision d =
        DecideAttempt(a.row, r, started, now, options_.retry, &jitter_);
    WriteBatch b;
    Delivery row = a.row;
    for (Event& e : d.events) {
      ApplyToDelivery(e, &row);
      b.events.push_back(std::move(e));
    }
    const bool endpoint_gone = es == nullptr || es->ep.deleted;
    if (endpoint_gone && !IsTerminal(row.status)) {
      Event e = DecideEndpointDeleted(row, now);
      ApplyToDelivery(e, &row);
      b.events.push_back(std::move(e));
    }
    std::vector<OperationalEvent> ops;
    std::optional<Endpoint> before;
    if (!endpoint_gone) {
      before = es->ep;
      UpdateEndpointHealth(es, r, d, was_probe, now, &b, &ops);
      if (es->ep == *before) before.reset();
    }
    if (row.status == DeliveryStatus::kDeadLetter) {
      ops.push_back(
          {OperationalEvent::Kind::kDeliveryDeadLettered, row.endpoint_id,
           row.id,
           std::string(DeadLetterReasonName(row.dead_letter_reason.value_or(
               DeadLetterReason::kAttemptsExhausted))),
           now});
    } else if (row.status == DeliveryStatus::kDelivered &&
               row.failed_attempts > 0) {
      ops.push_back({OperationalEvent::Kind::kDeliveryRecovered,
                     row.endpoint_id, row.id, "", now});
    }
    b.deliveries.push_back(row);
    if (row.status == DeliveryStatus::kDeadLetter) {
      HOOKLOG_KILL_POINT("dead_letter_before_commit");
    }
    Commit(
        std::move(b), [this, id, row, before, ops = std::move(ops)](Status st) {
          auto it = active_.find(id);
          if (it == active_.end()) return;
          Active& a = it->second;
          a.busy = false;
          auto eit = endpoints_.find(row.endpoint_id);
          if (!st.ok()) {
            if (before && eit != endpoints_.end()) eit->second.ep = *before;
            for (auto& w : a.waiters) w(st);
            a.waiters.clear();
            Schedule(id, &a, clock_->Now() + kRetryAfterStorageFailure.count());
          } else {
            CountOutcome(row);
            a.row = row;
            for (auto& w : a.waiters) w(ResultOf(row));
            a.waiters.clear();
            if (IsTerminal(row.status)) {
              if (row.status == DeliveryStatus::kDeadLetter) {
                HOOKLOG_KILL_POINT("dead_letter_after_commit");
              }
              Finish(id);
            } else if (eit != endpoints_.end() && eit->second.ep.fifo &&
                       !row.is_test && !IsFifoHead(eit->second, id)) {
              // Not its turn (FIFO switched on while it was in flight).
            } else {
              // The retry is durable; its timer is not armed yet.
              HOOKLOG_KILL_POINT("reschedule_after_commit");
              Schedule(id, &a, row.next_attempt_at);
            }
            Emit(ops);
          }
          if (eit != endpoints_.end()) PumpEndpoint(&eit->second, SIZE_MAX);
          Pump();
        });
    Pump();
  }

  // Feeds an attempt's outcome to the endpoint's guard and records what
  // changes for the endpoint: circuit opened/closed, disabled after 410 or
  // after failing for auto_disable_after. Endpoint events go into `b`.
  void UpdateEndpointHealth(EndpointState* es, const AttemptResult& r,
                            const Decision& d, bool was_probe, Timestamp now,
                            WriteBatch* b, std::vector<OperationalEvent>* ops) {
    const int code = r.http_status_code.value_or(0);
    using Outcome = EndpointGuard::Outcome;
    Outcome outcome = r.http_status_code && IsSuccess(code) ? Outcome::kSuccess
                      : code == 429 ? Outcome::kRateLimited
                                    : Outcome::kFailure;
    std::optional<Duration> pause;
    if (r.retry_after && (code == 429 || code == 503)) {
      pause = std::clamp(std::chrono::duration_cast<Duration>(*r.retry_after),
                         options_.retry.min_retry_after,
                         options_.retry.max_retry_after);
    }
    Endpoint& ep = es->ep;
    auto endpoint_event = [&](EventType type, OperationalEvent::Kind kind,
                              std::string reason) {
      ep.updated_at = now;
      b->events.push_back(EndpointEvent(type, ep, now));
      ops->push_back({kind, ep.id, std::nullopt, std::move(reason), now});
    };
    switch (es->guard.OnResult(outcome, now, pause, was_probe)) {
      case EndpointGuard::Transition::kOpened:
        ep.circuit_open_until = es->guard.open_until();
        ep.failing_since = es->guard.failing_since();
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
    const Timestamp failing_since = es->guard.failing_since();
    std::string disable;
    if (d.disable_endpoint) {
      disable = "gone_410";
    } else if (const Duration after = ep.protection.auto_disable_after.value_or(
                   options_.auto_disable_after);
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
    if (!b->events.empty() &&
        std::holds_alternative<EndpointSnapshot>(b->events.back().body)) {
      b->endpoints.push_back(ep);
    }
  }

  void Emit(const std::vector<OperationalEvent>& ops) {
    if (!options_.on_operational_event) return;
    for (const OperationalEvent& op : ops) options_.on_operational_event(op);
  }

  // Ends a non-busy delivery with one terminal event.
  void EndDelivery(const DeliveryId& id, Active* a, Event e) {
    Delivery row = a->row;
    ApplyToDelivery(e, &row);
    WriteBatch b;
    b.events.push_back(std::move(e));
    b.deliveries.push_back(row);
    a->busy = true;
    Commit(std::move(b), [this, id, row](Status st) {
      auto it = active_.find(id);
      if (it == active_.end()) return;
      it->second.busy = false;
      if (!st.ok()) {
        Schedule(id, &it->second,
                 clock_->Now() + kRetryAfterStorageFailure.count());
        return;
      }
      it->second.row = row;
      for (auto& w : it->second.waiters) w(ResultOf(row));
      Finish(id);
    });
  }

  // Forgets a delivery that reached a terminal state.
  void Finish(const DeliveryId& id) {
    auto it = active_.find(id);
    if (it == active_.end()) return;
    Unschedule(&it->second);
    auto eit = endpoints_.find(it->second.row.endpoint_id);
    if (eit != endpoints_.end() && !eit->second.fifo.empty()) {
      eit->second.fifo.erase({it->second.row.created_at, id});
      ScheduleFifoHead(&eit->second);
    }
    auto body = bodies_.find(it->second.row.message_id);
    if (body != bodies_.end() && --body->second.refs == 0) bodies_.erase(body);
    active_.erase(it);
  }

  void CountOutcome(const Delivery& row) {
    const int code = row.http_status_code.value_or(0);
    if (row.http_status_code && IsSuccess(code)) {
      attempts_ok_++;
    } else if (code == 429) {
      attempts_rate_limited_++;
    } else {
      attempts_failed_++;
    }
  }

  void RecordLatency(const AttemptResult& r) {
    double ms = double(r.latency.count()) / 1000.0;
    int i = 0;
    while (i < EngineStats::kLatencyBuckets &&
           ms > EngineStats::kLatencyBoundsMs[i]) {
      ++i;
    }
    latency_buckets_[i]++;
    latency_sum_us_ += static_cast<uint64_t>(r.latency.count());
  }

  const EngineOptions options_;
  const std::shared_ptr<Clock> clock_;
  std::unique_ptr<Storage> storage_;
  asio::io_context io_;
  // Destroyed before io_ (members are destroyed in reverse order).
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Committer> committer_;
  Strand strand_;
  asio::steady_timer timer_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      work_;
  std::vector<std::thread> threads_;
  uint64_t clock_token_ = 0;

  // Confined to strand_.
  Jitter jitter_;
  std::unordered_map<EndpointId, EndpointState, IdHash> endpoints_;
  std::unordered_map<DeliveryId, Active, IdHash> active_;
  std::unordered_map<MessageId, Body, IdHash> bodies_;
  std::set<std::pair<Timestamp, DeliveryId>> due_;
  std::set<std::pair<Timestamp, EndpointId>> wakeups_;
  std::deque<EndpointId> ready_endpoints_;
  Timestamp timer_at_ = 0;
  Timestamp last_created_at_ = 0;
  std::unordered_map<std::string, std::vector<Callback<PublishResult>>>
      idem_in_flight_;

  // Read from any thread.
  std::atomic<bool> stopping_{false};
  std::atomic<int> entering_{0};  // EntryGuard holders
  std::atomic<bool> aborting_{false};
  std::atomic<bool> shut_down_{false};
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> due_depth_{0};
  std::atomic<uint64_t> endpoint_count_{0};
  std::atomic<uint64_t> attempts_ok_{0};
  std::atomic<uint64_t> attempts_failed_{0};
  std::atomic<uint64_t> attempts_rate_limited_{0};
  std::atomic<uint64_t> latency_buckets_[EngineStats::kLatencyBuckets + 1] = {};
  std::atomic<uint64_t> latency_sum_us_{0};
};

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
  HOOKLOG_RETURN_IF_ERROR(ValidateCircuitBreaker(options.circuit_breaker));
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
