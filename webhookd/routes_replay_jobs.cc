// Bulk replay: POST deliveries/replay/ starts a job over the dead letters a
// filter matches; replay-jobs/ shows jobs and their progress. Tenants only
// replay, and see, jobs over their own endpoints.
#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "webhookd/routes_common.h"

namespace webhookd {
namespace {

using hooklog::cli::JsonWriter;

void WriteTimeOrNull(JsonWriter& w, hooklog::Timestamp t) {
  if (t == 0) {
    w.Null();
  } else {
    w.String(hooklog::FormatIso8601(t));
  }
}

void WriteJob(JsonWriter& w, const hooklog::ReplayJob& job,
              std::optional<bool> existing) {
  w.BeginObject();
  w.Key("id").String(job.id.ToString());
  w.Key("status").String(hooklog::ReplayJobStateName(job.state));
  w.Key("total").Uint(job.total);
  w.Key("replayed").Uint(job.replayed);
  w.Key("filter").BeginObject();
  w.Key("endpoint_ids").BeginArray();
  for (const auto& id : job.filter.endpoint_ids) w.String(id.ToString());
  w.EndArray();
  w.Key("event_type");
  if (job.filter.event_type) {
    w.String(*job.filter.event_type);
  } else {
    w.Null();
  }
  w.Key("created_after");
  WriteTimeOrNull(w, job.filter.created_after.value_or(0));
  w.Key("created_before");
  WriteTimeOrNull(w, job.filter.created_before.value_or(0));
  w.EndObject();
  w.Key("error");
  if (job.error.empty()) {
    w.Null();
  } else {
    w.String(job.error);
  }
  w.Key("created_at").String(hooklog::FormatIso8601(job.created_at));
  w.Key("updated_at").String(hooklog::FormatIso8601(job.updated_at));
  w.Key("finished_at");
  WriteTimeOrNull(w, job.finished_at);
  if (existing) w.Key("existing").Bool(*existing);
  w.EndObject();
}

// A tenant sees a job only when every endpoint it covers is in its scope
// (a job over every endpoint is an operator's).
bool JobInScope(const hooklog::ReplayJob& job,
                const std::optional<std::vector<hooklog::EndpointId>>& ids) {
  if (!ids) return true;
  if (job.filter.endpoint_ids.empty()) return false;
  std::set<hooklog::EndpointId> allowed(ids->begin(), ids->end());
  return std::all_of(
      job.filter.endpoint_ids.begin(), job.filter.endpoint_ids.end(),
      [&](const hooklog::EndpointId& id) { return allowed.contains(id); });
}

void Start(hooklog::Engine* engine, hooklog::ReplayFilter filter,
           const Done& done) {
  engine->StartReplayJob(
      std::move(filter),
      Safe(done, [done](hooklog::Result<hooklog::ReplayJobStart> r) {
        if (!r.ok()) return done(StatusResponse(r.status()));
        if (!r->existing) {
          Log(LogLevel::kInfo, "replay job started",
              {{"replay_job_id", r->job.id.ToString()}});
        }
        JsonWriter w;
        WriteJob(w, r->job, r->existing);
        done(JsonResponse(r->existing ? 200 : 202, std::move(w).Take()));
      }));
}

}  // namespace

void StartReplayJob(const RouteContext& ctx, const HttpRequest& req,
                    const Done& done) {
  std::optional<HttpResponse> bad;
  auto body = ParseObject(req.body(), &bad);
  if (!body) return done(std::move(*bad));
  auto obj = body->object;
  std::vector<FieldError> errors;
  hooklog::ReplayFilter filter;
  std::optional<hooklog::EndpointId> endpoint_id;
  if (auto v = GetString(obj, "endpoint_id", &errors)) {
    auto id = hooklog::EndpointId::Parse(*v);
    if (id.ok()) {
      endpoint_id = *id;
    } else {
      errors.push_back(BadIdError("endpoint_id"));
    }
  }
  if (auto v = GetString(obj, "event_type", &errors)) {
    filter.event_type = EventTypeFilter(*v, &errors);
  }
  for (std::string_view name : {"created_after", "created_before"}) {
    auto v = GetString(obj, name, &errors);
    if (!v) continue;
    auto t = hooklog::ParseIso8601(*v);
    if (!t.ok()) {
      errors.push_back({std::string(name), std::string(name) +
                                               " must be an ISO 8601 time such "
                                               "as 2026-11-26T23:07:04Z"});
    } else if (name == "created_after") {
      filter.created_after = *t;
    } else {
      // Inclusive of its whole second, as in GET deliveries/.
      bool whole =
          v->find('.') == std::string::npos && *t % hooklog::kSecond == 0;
      filter.created_before = whole ? *t + hooklog::kSecond - 1 : *t;
    }
  }
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  hooklog::Engine* engine = ctx.engine;
  if (endpoint_id) {
    filter.endpoint_ids = {*endpoint_id};
    return RequireEndpoint(ctx, *endpoint_id, done, [engine, filter, done] {
      Start(engine, filter, done);
    });
  }
  WithScopeIds(ctx, done, [engine, filter, done](auto ids) mutable {
    if (ids) {
      // An empty filter would be every endpoint: never a tenant's job.
      if (ids->empty()) {
        return done(ValidationResponse(
            "endpoint_id",
            "your portal link covers no endpoints: nothing to "
            "replay"));
      }
      filter.endpoint_ids = std::move(*ids);
    }
    Start(engine, std::move(filter), done);
  });
}

void GetReplayJob(const RouteContext& ctx, std::string_view text,
                  const Done& done) {
  auto id = hooklog::ReplayJobId::Parse(text);
  if (!id.ok()) {
    return done(ValidationResponse(BadIdError("replay_job_id").field,
                                   BadIdError("replay_job_id").message));
  }
  RouteContext c = ctx;
  const hooklog::ReplayJobId job_id = *id;
  ctx.engine->GetReplayJob(
      job_id,
      Safe(done, [c, done, job_id](hooklog::Result<hooklog::ReplayJob> r) {
        if (!r.ok()) return done(StatusResponse(r.status()));
        auto job = std::make_shared<hooklog::ReplayJob>(std::move(*r));
        WithScopeIds(c, done, [done, job, job_id](auto ids) {
          if (!JobInScope(*job, ids)) {
            return done(OutOfScopeResponse("replay job " + job_id.ToString() +
                                           " not found"));
          }
          JsonWriter w;
          WriteJob(w, *job, std::nullopt);
          done(JsonResponse(200, std::move(w).Take()));
        });
      }));
}

void ListReplayJobs(const RouteContext& ctx, const Done& done) {
  ctx.engine->ListReplayJobs(Safe(
      done, [ctx, done](hooklog::Result<std::vector<hooklog::ReplayJob>> jobs) {
        if (!jobs.ok()) return done(StatusResponse(jobs.status()));
        auto list =
            std::make_shared<std::vector<hooklog::ReplayJob>>(std::move(*jobs));
        WithScopeIds(ctx, done, [done, list](auto ids) {
          JsonWriter w;
          w.BeginObject().Key("data").BeginArray();
          for (const auto& job : *list) {
            if (JobInScope(job, ids)) WriteJob(w, job, std::nullopt);
          }
          w.EndArray().EndObject();
          done(JsonResponse(200, std::move(w).Take()));
        });
      }));
}

}  // namespace webhookd
