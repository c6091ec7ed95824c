// The statistics routes: the outcome/latency series with current counts
// (stats/) and the per-endpoint table (stats/endpoints/), over the caller's
// scope.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "webhookd/routes_common.h"

namespace webhookd {
namespace {

using hooklog::Timestamp;
using hooklog::cli::JsonWriter;

constexpr std::pair<std::string_view, int> kBuckets[] = {
    {"1m", 1}, {"5m", 5}, {"15m", 15}, {"1h", 60}, {"6h", 360}, {"1d", 1440}};

Timestamp Now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Points a series of `bucket` over [from, to) has, from rounded down.
uint64_t PointCount(Timestamp from, Timestamp to, Timestamp bucket) {
  const Timestamp start = from - ((from % bucket) + bucket) % bucket;
  return static_cast<uint64_t>((to - start + bucket - 1) / bucket);
}

// The window of a stats request: from, to (defaults: the last hour).
struct Window {
  Timestamp from = 0;
  Timestamp to = 0;
};

Window ParseWindow(const QueryParams& q, std::vector<FieldError>* errors) {
  Window w;
  auto to = TimeParam(q, "to", errors);
  auto from = TimeParam(q, "from", errors);
  w.to = to.value_or(Now());
  w.from = from.value_or(w.to - 3600 * hooklog::kSecond);
  if ((to || !FindParam(q, "to")) && (from || !FindParam(q, "from")) &&
      w.from >= w.to) {
    errors->push_back({"from", "from must be before to"});
  }
  return w;
}

std::optional<double> SuccessRate(const hooklog::StatsCounts& c) {
  const uint64_t ended = c.delivered + c.failed + c.dead_letter;
  if (ended == 0) return std::nullopt;
  return static_cast<double>(c.delivered) / static_cast<double>(ended);
}

void WriteOptDouble(JsonWriter& w, std::optional<double> v) {
  if (v) {
    w.Double(*v);
  } else {
    w.Null();
  }
}

void WriteCounts(JsonWriter& w, const hooklog::StatsCounts& c) {
  w.Key("delivered").Uint(c.delivered);
  w.Key("failed").Uint(c.failed);
  w.Key("rate_limited").Uint(c.rate_limited);
  w.Key("dead_letter").Uint(c.dead_letter);
  w.Key("attempts").Uint(c.attempts);
  w.Key("success_rate");
  WriteOptDouble(w, SuccessRate(c));
  w.Key("latency_p50_ms");
  WriteOptDouble(w, c.LatencyQuantileMs(0.5));
  w.Key("latency_p99_ms");
  WriteOptDouble(w, c.LatencyQuantileMs(0.99));
}

uint64_t Status(const hooklog::EndpointCounters& c, hooklog::DeliveryStatus s) {
  return c.by_status[static_cast<int>(s)];
}

std::string StatsJson(const hooklog::StatsSeries& s, std::string_view bucket,
                      const hooklog::EndpointCounters& counts) {
  using S = hooklog::DeliveryStatus;
  JsonWriter w;
  w.BeginObject();
  w.Key("from").String(hooklog::FormatIso8601(s.from));
  w.Key("to").String(hooklog::FormatIso8601(s.to));
  w.Key("bucket").String(bucket);
  w.Key("points").BeginArray();
  for (const auto& p : s.points) {
    w.BeginObject();
    w.Key("start").String(hooklog::FormatIso8601(p.start));
    WriteCounts(w, p.counts);
    w.EndObject();
  }
  w.EndArray();
  w.Key("total").BeginObject();
  WriteCounts(w, s.total);
  w.EndObject();
  w.Key("counts").BeginObject();
  w.Key("pending").Uint(Status(counts, S::kPending));
  w.Key("delivered").Uint(Status(counts, S::kDelivered));
  w.Key("failed").Uint(Status(counts, S::kFailed));
  w.Key("rate_limited").Uint(Status(counts, S::kRateLimited));
  w.Key("dead_letter").Uint(Status(counts, S::kDeadLetter));
  w.Key("attempts").Uint(counts.attempts);
  w.EndObject();
  w.EndObject();
  return std::move(w).Take();
}

// Series and counts for `ids` (nullopt: everything), answered as stats/.
void AnswerStats(hooklog::Engine* engine, hooklog::StatsRequest request,
                 std::string bucket_name,
                 std::optional<std::vector<hooklog::EndpointId>> ids,
                 const Done& done) {
  // A scope's set is exact: without endpoints every point is zero (an
  // empty list would otherwise mean every endpoint).
  const bool none = ids && ids->empty();
  if (ids) {
    request.endpoint_ids = *ids;
    request.endpoint_ids_exact = true;
  }
  std::vector<hooklog::EndpointId> counter_ids = request.endpoint_ids;
  engine->GetStats(
      std::move(request),
      Safe(done, [engine, done, none, bucket_name = std::move(bucket_name),
                  counter_ids = std::move(counter_ids)](
                     hooklog::Result<hooklog::StatsSeries> s) {
        if (!s.ok()) return done(StatusResponse(s.status(), "bucket"));
        if (none) {
          return done(JsonResponse(200, StatsJson(*s, bucket_name, {})));
        }
        auto series = std::make_shared<hooklog::StatsSeries>(std::move(*s));
        engine->GetCounters(
            counter_ids,
            Safe(done, [done, series, bucket_name](
                           hooklog::Result<hooklog::EndpointCounters> c) {
              if (!c.ok()) return done(StatusResponse(c.status()));
              done(JsonResponse(200, StatsJson(*series, bucket_name, *c)));
            }));
      }));
}

// --- stats/endpoints/
// ---------------------------------------------------------

struct EndpointRow {
  hooklog::Endpoint endpoint;
  hooklog::StatsCounts totals;
  uint64_t in_flight = 0;
};

struct TableWalk {
  hooklog::Engine* engine;
  Done done;
  hooklog::StatsRequest request;  // endpoint_ids set per row
  std::vector<EndpointRow> rows;
  size_t next = 0;
  uint32_t limit = 10;
  std::optional<hooklog::Status> error;
};

void WriteTable(const std::shared_ptr<TableWalk>& t) {
  if (t->error) return t->done(StatusResponse(*t->error));
  auto& rows = t->rows;
  std::stable_sort(rows.begin(), rows.end(),
                   [](const EndpointRow& a, const EndpointRow& b) {
                     const uint64_t fa = a.totals.failed + a.totals.dead_letter;
                     const uint64_t fb = b.totals.failed + b.totals.dead_letter;
                     if (fa != fb) return fa > fb;
                     return a.totals.attempts > b.totals.attempts;
                   });
  if (rows.size() > t->limit) rows.resize(t->limit);
  JsonWriter w;
  w.BeginObject().Key("data").BeginArray();
  for (const auto& r : rows) {
    const hooklog::Endpoint& ep = r.endpoint;
    w.BeginObject();
    w.Key("endpoint_id").String(ep.id.ToString());
    w.Key("url").String(ep.url);
    w.Key("description").String(ep.description);
    w.Key("circuit_state")
        .String(ep.circuit_open_until != 0 ? "open" : "closed");
    w.Key("failing_since");
    if (ep.failing_since == 0) {
      w.Null();
    } else {
      w.String(hooklog::FormatIso8601(ep.failing_since));
    }
    w.Key("disabled_reason");
    if (ep.enabled) {
      w.Null();
    } else {
      w.String(ep.disabled_reason.empty() ? "manual" : ep.disabled_reason);
    }
    w.Key("is_active").Bool(ep.enabled);
    w.Key("attempts").Uint(r.totals.attempts);
    w.Key("delivered").Uint(r.totals.delivered);
    w.Key("failed").Uint(r.totals.failed);
    w.Key("rate_limited").Uint(r.totals.rate_limited);
    w.Key("dead_letter").Uint(r.totals.dead_letter);
    w.Key("success_rate");
    WriteOptDouble(w, SuccessRate(r.totals));
    w.Key("in_flight").Uint(r.in_flight);
    w.EndObject();
  }
  w.EndArray().EndObject();
  t->done(JsonResponse(200, std::move(w).Take()));
}

// Fetches row t->next's totals and counts, then calls `then`.
void FetchRow(const std::shared_ptr<TableWalk>& t, std::function<void()> then) {
  EndpointRow* row = &t->rows[t->next];
  hooklog::StatsRequest req = t->request;
  req.endpoint_ids = {row->endpoint.id};
  req.endpoint_ids_exact = true;
  t->engine->GetStats(
      std::move(req), [t, row, then = std::move(then)](
                          hooklog::Result<hooklog::StatsSeries> s) {
        if (!s.ok()) {
          t->error = s.status();
          return then();
        }
        row->totals = s->total;
        t->engine->GetCounters(
            {row->endpoint.id},
            [t, row, then](hooklog::Result<hooklog::EndpointCounters> c) {
              using S = hooklog::DeliveryStatus;
              if (c.ok()) {
                row->in_flight = Status(*c, S::kPending) +
                                 Status(*c, S::kFailed) +
                                 Status(*c, S::kRateLimited);
              } else {
                t->error = c.status();
              }
              then();
            });
      });
}

// One row after the other. Engine reads usually answer inline, so this
// loops instead of recursing while they do (a thousand endpoints would
// otherwise nest a thousand frames), and resumes from the callback when
// one answers later.
void RunTable(std::shared_ptr<TableWalk> t) {
  while (t->next < t->rows.size() && !t->error) {
    // 0: pending, 1: answered inline, 2: this loop returned first.
    auto state = std::make_shared<std::atomic<int>>(0);
    FetchRow(t, [t, state] {
      ++t->next;
      if (state->exchange(1) == 2) RunTable(t);
    });
    if (state->exchange(2) == 0) return;
  }
  try {
    WriteTable(t);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "response failed", {{"what", e.what()}});
    t->done(ErrorResponse(500, "internal error"));
  }
}

}  // namespace

void GetStats(const RouteContext& ctx, const QueryParams& q, const Done& done) {
  std::vector<FieldError> errors;
  Window win = ParseWindow(q, &errors);
  std::string bucket_name = "1m";
  int minutes = 1;
  if (const std::string* v = FindParam(q, "bucket")) {
    minutes = 0;
    for (const auto& [name, m] : kBuckets) {
      if (*v == name) {
        bucket_name = std::string(name);
        minutes = m;
      }
    }
    if (minutes == 0) {
      errors.push_back(
          {"bucket", "bucket must be one of 1m, 5m, 15m, 1h, 6h, 1d"});
    }
  }
  std::optional<hooklog::EndpointId> endpoint_id;
  if (const std::string* v = FindParam(q, "endpoint_id")) {
    auto id = hooklog::EndpointId::Parse(*v);
    if (id.ok()) {
      endpoint_id = *id;
    } else {
      errors.push_back(BadIdError("endpoint_id"));
    }
  }
  if (errors.empty() &&
      PointCount(win.from, win.to, minutes * hooklog::kStatsMinute) >
          hooklog::kMaxStatsPoints) {
    errors.push_back({"bucket", "at most " +
                                    std::to_string(hooklog::kMaxStatsPoints) +
                                    " points: choose a larger bucket or a "
                                    "shorter window"});
  }
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  hooklog::StatsRequest request;
  request.from = win.from;
  request.to = win.to;
  request.bucket = std::chrono::minutes(minutes);
  hooklog::Engine* engine = ctx.engine;
  if (endpoint_id) {
    const hooklog::EndpointId id = *endpoint_id;
    return RequireEndpoint(ctx, id, done, [=] {
      AnswerStats(engine, request, bucket_name,
                  std::vector<hooklog::EndpointId>{id}, done);
    });
  }
  WithScopeIds(ctx, done, [=](auto ids) {
    AnswerStats(engine, request, bucket_name, std::move(ids), done);
  });
}

void GetEndpointStats(const RouteContext& ctx, const QueryParams& q,
                      const Done& done) {
  std::vector<FieldError> errors;
  Window win = ParseWindow(q, &errors);
  uint32_t limit = 10;
  if (const std::string* v = FindParam(q, "limit")) {
    if (!ParsePositive(*v, kMaxScopeEndpoints, &limit)) {
      errors.push_back({"limit", "limit must be an integer from 1 to " +
                                     std::to_string(kMaxScopeEndpoints)});
    }
  }
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  // One bucket spanning the window would shift it (buckets start at
  // multiples of their width); the finest bucket that fits sums exactly.
  auto t = std::make_shared<TableWalk>();
  t->engine = ctx.engine;
  t->done = done;
  t->limit = limit;
  t->request.from = win.from;
  t->request.to = win.to;
  for (const auto& [name, m] : kBuckets) {
    t->request.bucket = std::chrono::minutes(m);
    if (PointCount(win.from, win.to, m * hooklog::kStatsMinute) <=
        hooklog::kMaxStatsPoints) {
      break;
    }
  }
  if (PointCount(win.from, win.to, t->request.bucket.count()) >
      hooklog::kMaxStatsPoints) {
    return done(ValidationResponse(
        "from", "the window is too long (at most " +
                    std::to_string(hooklog::kMaxStatsPoints) + " days)"));
  }
  // Operators: every non-deleted endpoint; tenants: theirs.
  const hooklog::Metadata scope =
      ctx.tenant() ? ctx.principal->metadata : hooklog::Metadata{};
  ListScopeEndpoints(
      ctx.engine, scope,
      Safe(done, [t](hooklog::Result<std::vector<hooklog::Endpoint>> r) {
        if (!r.ok()) return t->done(StatusResponse(r.status(), "scope"));
        for (auto& ep : *r)
          t->rows.push_back(EndpointRow{std::move(ep), {}, 0});
        RunTable(t);
      }));
}

}  // namespace webhookd
