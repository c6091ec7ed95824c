// The in-memory Storage: ordered maps under one reader/writer lock.
//
// Appends are atomic because the whole batch is applied under the exclusive
// lock; "durable" means "visible to every later read" here, since nothing
// survives the process.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>

#include "hooklog/storage.h"
#include "storage/lease_table.h"
#include "storage/query_match.h"

namespace hooklog {
namespace {

// Newest first: created_at descending, then id descending.
struct ListKey {
  Timestamp created_at;
  Uuid128 id;
  bool operator<(const ListKey& o) const {
    return std::tie(o.created_at, o.id) < std::tie(created_at, id);
  }
};

// One page of the rows of `rows` (a map by typed id) named by `index`
// that `match`.
template <typename Map, typename Match,
          typename Row = typename Map::mapped_type>
Result<Page<Row>> ListFrom(const std::set<ListKey>& index, const Map& rows,
                           uint32_t page, uint32_t page_size,
                           const std::string& cursor, bool count_total,
                           Match&& match) {
  auto lookup = [&](const Uuid128& id) -> const Row* {
    auto it = rows.find(typename Map::key_type(id));
    return it == rows.end() ? nullptr : &it->second;
  };
  Page<Row> out;
  auto it = index.begin();
  uint64_t skip = 0;
  if (!cursor.empty()) {
    ListKey k{};
    HOOKLOG_RETURN_IF_ERROR(DecodeListCursor(cursor, &k.created_at, &k.id));
    it = index.upper_bound(k);
  } else {
    skip = uint64_t(page - 1) * page_size;
  }
  bool more = false;
  for (; it != index.end(); ++it) {
    const Row* row = lookup(it->id);
    if (row == nullptr || !match(*row)) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    if (out.items.size() == page_size) {
      more = true;
      break;
    }
    out.items.push_back(*row);
  }
  if (count_total) {
    for (const ListKey& k : index) {
      const Row* row = lookup(k.id);
      if (row != nullptr && match(*row)) ++out.total_count;
    }
  }
  if (more && !out.items.empty()) {
    out.next_cursor = EncodeListCursor(out.items.back().created_at,
                                       out.items.back().id.raw());
  }
  return out;
}

// The row of `id` in `rows`, or NotFound naming `what` and the id.
template <typename Map, typename Key>
Result<typename Map::mapped_type> Find(const Map& rows, const Key& id,
                                       const char* what) {
  auto it = rows.find(id);
  if (it == rows.end()) {
    return Status::NotFound(std::string(what) + " " + id.ToString() +
                            " not found");
  }
  return it->second;
}

class MemoryStorage : public Storage {
 public:
  explicit MemoryStorage(std::shared_ptr<Clock> clock)
      : clock_(clock ? std::move(clock) : SystemClock()) {}

  Result<uint64_t> Append(WriteBatch* batch) override {
    std::unique_lock lock(mu_);
    batch->fenced.clear();
    if (!batch->fences.empty() &&
        !leases_.CheckFences(batch->fences, clock_->Now(), &batch->fenced)) {
      return Status::FailedPrecondition(
          "the batch's partition lease has lapsed or passed to another node");
    }
    for (Event& e : batch->events) {
      e.seq = ++last_seq_;
      log_.push_back(e);
    }
    for (const Endpoint& e : batch->endpoints) {
      auto [it, inserted] = endpoints_.insert_or_assign(e.id, e);
      if (inserted) endpoint_index_.insert({e.created_at, e.id.raw()});
      counters_.try_emplace(e.id);
    }
    for (const Message& m : batch->messages) messages_[m.id] = m;
    for (const Delivery& d : batch->deliveries) {
      auto it = deliveries_.find(d.id);
      if (it != deliveries_.end()) {
        Count(it->second, -1);
        it->second = d;
      } else {
        deliveries_.emplace(d.id, d);
        delivery_index_.insert({d.created_at, d.id.raw()});
      }
      Count(d, +1);
    }
    for (const IdempotencyRecord& r : batch->idempotency) {
      idempotency_[r.key] = r;
    }
    for (const StatsBucket& b : batch->stats) {
      stats_[{b.endpoint_id, b.minute}].Add(b.counts);
    }
    for (const ReplayJob& j : batch->replay_jobs) replay_jobs_[j.id] = j;
    if (!batch->events.empty()) appended_.notify_all();
    return last_seq_;
  }

  Result<LeaseView> SyncLeases(const LeaseSync& sync) override {
    HOOKLOG_RETURN_IF_ERROR(ValidateLeaseSync(sync));
    std::unique_lock lock(mu_);
    return leases_.Sync(sync, clock_->Now());
  }

  void WaitForAppends(Duration timeout) override {
    std::unique_lock lock(mu_);
    appended_.wait_for(lock, timeout);
  }

  uint64_t LastSequence() const override {
    std::shared_lock lock(mu_);
    return last_seq_;
  }

  Status ReadLog(uint64_t from_seq, size_t max_events,
                 std::vector<Event>* out) override {
    std::shared_lock lock(mu_);
    if (from_seq == 0) from_seq = 1;
    for (uint64_t s = from_seq; s <= last_seq_ && max_events > 0;
         ++s, --max_events) {
      out->push_back(log_[s - 1]);
    }
    return Status::Ok();
  }

  Result<Endpoint> GetEndpoint(const EndpointId& id) override {
    std::shared_lock lock(mu_);
    return Find(endpoints_, id, "endpoint");
  }

  Result<Page<Endpoint>> ListEndpoints(const EndpointQuery& q) override {
    std::shared_lock lock(mu_);
    return ListFrom(endpoint_index_, endpoints_, q.page, q.page_size, q.cursor,
                    /*count_total=*/true, [&](const Endpoint& e) {
                      return storage_internal::MatchesEndpointQuery(q, e);
                    });
  }

  Result<Message> GetMessage(const MessageId& id) override {
    std::shared_lock lock(mu_);
    return Find(messages_, id, "message");
  }

  Result<Delivery> GetDelivery(const DeliveryId& id) override {
    std::shared_lock lock(mu_);
    return Find(deliveries_, id, "delivery");
  }

  Result<Page<Delivery>> ListDeliveries(const DeliveryQuery& q) override {
    std::shared_lock lock(mu_);
    auto match = [&](const Delivery& d) {
      if (q.message_id && d.message_id != *q.message_id) return false;
      if (q.endpoint_id && d.endpoint_id != *q.endpoint_id) return false;
      if (q.status && d.status != *q.status) return false;
      if (q.event_type && d.event_type != *q.event_type) return false;
      if (q.created_after && d.created_at < *q.created_after) return false;
      if (q.created_before && d.created_at > *q.created_before) return false;
      return true;
    };
    return ListFrom(delivery_index_, deliveries_, q.page, q.page_size, q.cursor,
                    q.count_total, match);
  }

  Result<EndpointCounters> GetCounters(const EndpointId& id) override {
    std::shared_lock lock(mu_);
    // Counters exist exactly for the stored endpoints.
    return Find(counters_, id, "endpoint");
  }

  Result<EndpointCounters> GetTotals() override {
    std::shared_lock lock(mu_);
    return totals_;
  }

  Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) override {
    std::shared_lock lock(mu_);
    auto it = idempotency_.find(std::string(key));
    if (it == idempotency_.end()) {
      return std::optional<IdempotencyRecord>();
    }
    return std::optional<IdempotencyRecord>(it->second);
  }

  Result<std::vector<StatsBucket>> ReadStats(const StatsQuery& q) override {
    std::shared_lock lock(mu_);
    std::vector<StatsBucket> out;
    for (auto it = stats_.lower_bound({q.endpoint_id, q.from});
         it != stats_.end() && it->first.first == q.endpoint_id &&
         it->first.second < q.to;
         ++it) {
      out.push_back({q.endpoint_id, it->first.second, it->second});
    }
    return out;
  }

  Result<ReplayJob> GetReplayJob(const ReplayJobId& id) override {
    std::shared_lock lock(mu_);
    return Find(replay_jobs_, id, "replay job");
  }

  Result<std::vector<ReplayJob>> ListReplayJobs(bool running_only) override {
    std::shared_lock lock(mu_);
    std::vector<ReplayJob> out;
    for (const auto& [id, j] : replay_jobs_) {
      if (!running_only || j.state == ReplayJobState::kRunning) {
        out.push_back(j);
      }
    }
    std::sort(
        out.begin(), out.end(), [](const ReplayJob& a, const ReplayJob& b) {
          return std::tie(b.created_at, b.id) < std::tie(a.created_at, a.id);
        });
    return out;
  }

  Status LoadActive(
      const std::function<void(const Endpoint&)>& on_endpoint,
      const std::function<void(const Delivery&)>& on_delivery) override {
    std::shared_lock lock(mu_);
    for (const auto& [id, e] : endpoints_) on_endpoint(e);
    for (const auto& [id, d] : deliveries_) {
      if (!IsTerminal(d.status)) on_delivery(d);
    }
    return Status::Ok();
  }

 private:
  // REQUIRES: mu_ held exclusively.
  void Count(const Delivery& d, int sign) {
    for (EndpointCounters* c : {&counters_[d.endpoint_id], &totals_}) {
      c->by_status[static_cast<int>(d.status)] += uint64_t(int64_t(sign));
      c->attempts += uint64_t(int64_t(sign) * int64_t(d.attempts));
    }
  }

  const std::shared_ptr<Clock> clock_;
  mutable std::shared_mutex mu_;
  std::condition_variable_any appended_;  // notified under mu_ by Append
  LeaseTable leases_;
  uint64_t last_seq_ = 0;
  std::vector<Event> log_;
  std::unordered_map<EndpointId, Endpoint, IdHash> endpoints_;
  std::set<ListKey> endpoint_index_;
  std::unordered_map<MessageId, Message, IdHash> messages_;
  std::unordered_map<DeliveryId, Delivery, IdHash> deliveries_;
  std::set<ListKey> delivery_index_;
  std::unordered_map<EndpointId, EndpointCounters, IdHash> counters_;
  EndpointCounters totals_;
  std::map<std::string, IdempotencyRecord, std::less<>> idempotency_;
  // (series, minute) -> counts; nullopt (the all-endpoints series) sorts
  // first, and each series' minutes are contiguous.
  std::map<std::pair<std::optional<EndpointId>, Timestamp>, StatsCounts> stats_;
  std::unordered_map<ReplayJobId, ReplayJob, IdHash> replay_jobs_;
};

}  // namespace

std::unique_ptr<Storage> NewMemoryStorage(std::shared_ptr<Clock> clock) {
  return std::make_unique<MemoryStorage>(std::move(clock));
}

}  // namespace hooklog
