// EngineLikeWriter: produces batches the way the engine does (events plus the
// rows they project to, computed with engine/projection.h), so that
// VerifyStorage can check a store written by it. Used by the crash test's
// child, the verify tests and the benchmarks.
//
// Thread-safety: not thread-safe.
#ifndef HOOKLOG_TESTS_STORAGE_EVENT_STREAM_H_
#define HOOKLOG_TESTS_STORAGE_EVENT_STREAM_H_

#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/projection.h"
#include "hooklog/storage.h"

namespace hooklog::testing {

class EngineLikeWriter {
 public:
  EngineLikeWriter(uint32_t seed, Timestamp start) : rng_(seed), now_(start) {}

  // The next batch, built from the state committed so far.
  WriteBatch NextBatch() {
    now_ += 1000 + rng_() % 5000;
    Builder b(this);
    if (projection_.endpoints().size() < 3 || rng_() % 40 == 0) {
      b.NewEndpoint();
    } else {
      switch (rng_() % 6) {
        case 0:
        case 1:
          b.Publish();
          break;
        case 5:
          b.Replay();
          break;
        default:
          b.Progress(1 + rng_() % 4);
      }
    }
    for (auto& [id, d] : b.deliveries) b.batch.deliveries.push_back(d);
    for (auto& [key, rec] : b.idem) b.batch.idempotency.push_back(rec);
    return std::move(b.batch);
  }

  // Applies an appended batch (its events carry their sequence numbers).
  Status Commit(const WriteBatch& batch) {
    for (const Event& e : batch.events) {
      HOOKLOG_RETURN_IF_ERROR(projection_.Apply(e));
    }
    return Status::Ok();
  }

  // Rebuilds the state from a store's log (after a reopen).
  Status LoadFrom(Storage* s) {
    projection_ = Projection();
    std::vector<Event> chunk;
    uint64_t next = 1;
    for (;;) {
      chunk.clear();
      HOOKLOG_RETURN_IF_ERROR(s->ReadLog(next, 4096, &chunk));
      if (chunk.empty()) return Status::Ok();
      for (const Event& e : chunk) {
        HOOKLOG_RETURN_IF_ERROR(projection_.Apply(e));
        now_ = std::max(now_, e.time);
      }
      next = chunk.back().seq + 1;
    }
  }

  const Projection& projection() const { return projection_; }

 private:
  struct Builder {
    explicit Builder(EngineLikeWriter* w) : w(w) {}

    void Add(Event e) {
      e.time = w->now_;
      switch (e.type) {
        case EventType::kEndpointCreated:
        case EventType::kEndpointUpdated: {
          Endpoint ep = std::get<EndpointSnapshot>(e.body).endpoint;
          batch.endpoints.push_back(ep);
          break;
        }
        case EventType::kMessageAccepted: {
          const Message& m = std::get<MessageAccepted>(e.body).message;
          batch.messages.push_back(m);
          if (!m.idempotency_key.empty()) {
            idem[m.idempotency_key] =
                IdempotencyRecord{m.idempotency_key, m.id, {}, m.created_at};
          }
          break;
        }
        default: {
          DeliveryId id(e.aggregate);
          Delivery d;
          if (auto it = deliveries.find(id); it != deliveries.end()) {
            d = it->second;
          } else if (auto p = w->projection_.deliveries().find(id);
                     p != w->projection_.deliveries().end()) {
            d = p->second;
          }
          ApplyToDelivery(e, &d);
          deliveries[id] = d;
          if (e.type == EventType::kEnqueued) {
            for (auto& [key, rec] : idem) {
              if (rec.message_id == d.message_id) rec.deliveries.push_back(id);
            }
          }
        }
      }
      batch.events.push_back(std::move(e));
    }

    void NewEndpoint() {
      Endpoint ep;
      ep.id = EndpointId::NewRandom();
      ep.url = "https://example.com/" + ep.id.ToString();
      ep.secrets = {{"whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", 0}};
      ep.metadata = {{"n", std::to_string(w->rng_() % 10)}};
      ep.created_at = ep.updated_at = w->now_;
      Add(Event{0, 0, EventType::kEndpointCreated, ep.id.raw(),
                EndpointSnapshot{ep}});
    }

    void Publish() {
      Message m;
      m.id = MessageId::NewRandom();
      m.event_type = w->rng_() % 2 ? "invoice.paid" : "user.created";
      m.payload = "{\"pad\":\"" + std::string(60 + w->rng_() % 60, 'x') + "\"}";
      if (w->rng_() % 4 == 0) m.idempotency_key = m.id.ToString();
      m.created_at = w->now_;
      Add(Event{0, 0, EventType::kMessageAccepted, m.id.raw(),
                MessageAccepted{m}});
      for (const auto& [eid, ep] : w->projection_.endpoints()) {
        if (w->rng_() % 2) continue;
        DeliveryCreated c{m.id,    eid,          m.event_type,
                          w->now_, std::nullopt, false};
        Add(Event{0, 0, EventType::kEnqueued, Uuid128::NewRandom(), c});
      }
    }

    void Progress(int n) {
      std::vector<DeliveryId> active;
      for (const auto& [id, d] : w->projection_.deliveries()) {
        if (!IsTerminal(d.status)) active.push_back(id);
      }
      if (active.empty()) return Publish();
      for (int i = 0; i < n; ++i) {
        const DeliveryId id = active[w->rng_() % active.size()];
        if (deliveries.count(id)) continue;  // one change per row per batch
        switch (w->rng_() % 5) {
          case 0: {  // delivered
            Attempted a{{w->now_, 200, "ok", ErrorClass::kNone, 12},
                        DeliveryStatus::kDelivered,
                        0,
                        false};
            Add(Event{0, 0, EventType::kAttempted, id.raw(), a});
            break;
          }
          case 1:
          case 2: {  // failed
            Attempted a{{w->now_, std::nullopt, std::nullopt,
                         ErrorClass::kTimeout, 15000},
                        DeliveryStatus::kFailed,
                        w->now_ + 60 * kSecond,
                        true};
            Add(Event{0, 0, EventType::kAttempted, id.raw(), a});
            break;
          }
          case 3:
            Add(Event{0, 0, EventType::kRateLimited, id.raw(),
                      RateLimited{w->now_ + kSecond, w->now_}});
            break;
          default:
            Add(Event{0, 0, EventType::kDeadLettered, id.raw(),
                      DeadLettered{DeadLetterReason::kAttemptsExhausted}});
        }
      }
    }

    void Replay() {
      for (const auto& [id, d] : w->projection_.deliveries()) {
        if (d.status != DeliveryStatus::kDeadLetter || w->rng_() % 3) continue;
        DeliveryCreated c{d.message_id, d.endpoint_id, d.event_type, w->now_,
                          id,           false};
        Add(Event{0, 0, EventType::kReplayed, Uuid128::NewRandom(), c});
        return;
      }
      Publish();
    }

    EngineLikeWriter* w;
    WriteBatch batch;
    std::map<DeliveryId, Delivery> deliveries;
    std::map<std::string, IdempotencyRecord> idem;
  };

  friend struct Builder;

  std::mt19937 rng_;
  Timestamp now_;
  Projection projection_;
};

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_STORAGE_EVENT_STREAM_H_
