// Bulk replay jobs: end to end, dedupe of a running job, pacing, resume
// after a restart over RocksDB, storage faults while a job runs, bad input.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "hooklog/verify.h"
#include "tests/engine/portal_fixture.h"

namespace hooklog::testing {
namespace {

class EngineReplayJobsTest : public PortalEngineTest {
 protected:
  void SetUp() override {
    options_.retry.schedule = {Duration(0)};  // one attempt, then dead
    options_.replay_job_page_size = 3;
  }

  // `n` dead letters per endpoint name, made with a failing receiver; then
  // the receiver answers by `then`.
  std::map<std::string, std::vector<DeliveryId>> MakeDeadLetters(
      const std::vector<std::string>& names, int n) {
    SetScript(
        [](const AttemptRequest&) { return ScriptedTransport::Http(500); });
    std::map<std::string, Endpoint> eps;
    for (const auto& name : names) eps[name] = MakeEndpoint(name);
    std::map<std::string, std::vector<DeliveryId>> out;
    for (int i = 0; i < n; ++i) {
      PublishResult p = Publish(i % 2 ? "order.paid" : "order.refunded");
      for (const DeliveryId& id : p.deliveries) {
        EXPECT_TRUE(WaitForStatus(id, DeliveryStatus::kDeadLetter, 1));
        for (const auto& [name, ep] : eps) {
          if (Get(id).endpoint_id == ep.id) out[name].push_back(id);
        }
      }
    }
    endpoints_ = eps;
    return out;
  }

  Result<ReplayJobStart> Start(ReplayFilter f) {
    return Sync<ReplayJobStart>(
        [&](auto cb) { engine_->StartReplayJob(std::move(f), cb); });
  }
  Result<ReplayJob> GetJob(const ReplayJobId& id) {
    return Sync<ReplayJob>([&](auto cb) { engine_->GetReplayJob(id, cb); });
  }
  bool WaitForJob(const ReplayJobId& id, ReplayJobState state) {
    return Eventually([&] {
      auto j = GetJob(id);
      return j.ok() && j->state == state;
    });
  }

  // replay_of -> the replays of it, over every delivery row.
  std::map<DeliveryId, std::vector<Delivery>> Replays() {
    std::map<DeliveryId, std::vector<Delivery>> out;
    for (const Delivery& d : AllDeliveries()) {
      if (d.replay_of) out[*d.replay_of].push_back(d);
    }
    return out;
  }

  std::map<std::string, Endpoint> endpoints_;
};

TEST_F(EngineReplayJobsTest,
       ReplaysEveryMatchingDeadLetterOnceThroughTheQueue) {
  Open();
  auto dead = MakeDeadLetters({"a", "b"}, 7);
  SetScript([](const AttemptRequest&) { return ScriptedTransport::Http(200); });
  auto started = Start({});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_FALSE(started->existing);
  EXPECT_EQ(started->job.total, 14u);
  EXPECT_EQ(started->job.filter, ReplayFilter{});
  EXPECT_GT(started->job.created_at, 0);
  ASSERT_TRUE(WaitForJob(started->job.id, ReplayJobState::kDone));
  auto job = GetJob(started->job.id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->replayed, 14u);
  EXPECT_EQ(job->total, 14u);
  EXPECT_GE(job->finished_at, job->created_at);
  EXPECT_TRUE(job->error.empty());
  auto replays = Replays();
  ASSERT_EQ(replays.size(), 14u);
  for (const auto& [name, ids] : dead) {
    for (const DeliveryId& id : ids) {
      ASSERT_EQ(replays[id].size(), 1u) << "replayed exactly once";
      const Delivery& r = replays[id][0];
      EXPECT_EQ(r.message_id, Get(id).message_id);
      EXPECT_EQ(r.endpoint_id, Get(id).endpoint_id);
      EXPECT_TRUE(WaitForStatus(r.id, DeliveryStatus::kDelivered, 1));
      EXPECT_EQ(Get(id).status, DeliveryStatus::kDeadLetter) << "unchanged";
    }
  }
  // A second job replays the same dead letters again (a job is a request,
  // not a state of the dead letter); the delivered replays never match.
  auto again = Start({});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->existing);
  EXPECT_NE(again->job.id, started->job.id);
  EXPECT_EQ(again->job.total, 14u);
  ASSERT_TRUE(WaitForJob(again->job.id, ReplayJobState::kDone));
  auto jobs = storage_->ListReplayJobs(false);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].id, again->job.id);  // newest first
  // The replays are ordinary kReplayed events and rows.
  auto report = VerifyStorage(storage_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok())
      << (report->mismatches.empty() ? "gap" : report->mismatches.front());
}

TEST_F(EngineReplayJobsTest, FilterSelectsEndpointsTypeAndTime) {
  Open();
  auto dead = MakeDeadLetters({"a", "b", "c"}, 6);
  SetScript([](const AttemptRequest&) { return ScriptedTransport::Http(200); });
  ReplayFilter f;
  f.endpoint_ids = {endpoints_["c"].id, endpoints_["a"].id};
  f.event_type = "order.paid";
  auto started = Start(f);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->job.total, 6u);  // 3 paid × a, c
  // Stored normalized: sorted endpoint ids.
  EXPECT_TRUE(std::is_sorted(started->job.filter.endpoint_ids.begin(),
                             started->job.filter.endpoint_ids.end()));
  ASSERT_TRUE(WaitForJob(started->job.id, ReplayJobState::kDone));
  auto replays = Replays();
  EXPECT_EQ(replays.size(), 6u);
  for (const DeliveryId& id : dead["b"]) EXPECT_EQ(replays.count(id), 0u);
  for (const auto& [orig, rs] : replays) {
    EXPECT_EQ(Get(orig).event_type, "order.paid");
  }
  // A time window holding nothing.
  ReplayFilter none;
  none.created_before = kStart - 1;
  auto empty = Start(none);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->job.total, 0u);
  ASSERT_TRUE(WaitForJob(empty->job.id, ReplayJobState::kDone));
  EXPECT_EQ(GetJob(empty->job.id)->replayed, 0u);
}

TEST_F(EngineReplayJobsTest, AnIdenticalRunningJobIsAnsweredAndPacingHolds) {
  options_.replay_job_page_size = 2;
  options_.replay_job_max_waiting = 1;
  Open();
  auto dead = MakeDeadLetters({"a"}, 5);
  // Held: the job's first replays wait for their attempt, so it paces.
  SetScript([](const AttemptRequest&) { return std::nullopt; });
  const size_t sent_before = transport_->requests().size();
  auto first = Start({});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  ASSERT_TRUE(Eventually([&] { return GetJob(first->job.id)->replayed == 2; }));
  auto second = Start({});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->existing);
  EXPECT_EQ(second->job.id, first->job.id);
  EXPECT_EQ(second->job.replayed, 2u);
  // A different filter is another job.
  ReplayFilter other;
  other.event_type = "order.paid";
  auto third = Start(other);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third->existing);
  EXPECT_NE(third->job.id, first->job.id);
  // Release the attempts one by one: the job goes on and ends.
  SetScript([](const AttemptRequest&) { return ScriptedTransport::Http(200); });
  ASSERT_TRUE(Eventually([&] {
    transport_->CompleteNext(ScriptedTransport::Http(200));
    auto j = GetJob(first->job.id);
    return j.ok() && j->state == ReplayJobState::kDone;
  }));
  EXPECT_EQ(GetJob(first->job.id)->replayed, 5u);
  ASSERT_TRUE(WaitForJob(third->job.id, ReplayJobState::kDone));
  EXPECT_GT(transport_->requests().size(), sent_before);
  // Once done, the same filter starts a new job.
  auto fourth = Start({});
  ASSERT_TRUE(fourth.ok());
  EXPECT_FALSE(fourth->existing);
  // The list has every job, newest first.
  auto all = Sync<std::vector<ReplayJob>>(
      [&](auto cb) { engine_->ListReplayJobs(cb); });
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, fourth->job.id);
  EXPECT_EQ((*all)[2].id, first->job.id);
}

TEST_F(EngineReplayJobsTest, ResumesAfterARestartWithoutRepeatsOrGaps) {
  options_.replay_job_page_size = 2;
  options_.replay_job_max_waiting = 1;
  Open(/*rocksdb=*/true);
  auto dead = MakeDeadLetters({"a"}, 7);
  SetScript([](const AttemptRequest&) { return std::nullopt; });
  auto started = Start({});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_EQ(started->job.total, 7u);
  ASSERT_TRUE(
      Eventually([&] { return GetJob(started->job.id)->replayed == 2; }));
  ASSERT_TRUE(transport_->WaitForHeld(1));
  // Paced (its replays are held): stop the engine in the middle.
  engine_->Shutdown(std::chrono::milliseconds(0));
  SetScript([](const AttemptRequest&) { return ScriptedTransport::Http(200); });
  Open(/*rocksdb=*/true);
  ASSERT_TRUE(WaitForJob(started->job.id, ReplayJobState::kDone));
  auto job = GetJob(started->job.id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->replayed, 7u);
  EXPECT_EQ(job->total, 7u);
  auto replays = Replays();
  ASSERT_EQ(replays.size(), 7u);
  for (const DeliveryId& id : dead["a"]) {
    ASSERT_EQ(replays[id].size(), 1u) << "no duplicate replay_of";
    EXPECT_TRUE(WaitForStatus(replays[id][0].id, DeliveryStatus::kDelivered));
  }
}

TEST_F(EngineReplayJobsTest, FailedStepsAreRetriedAndTheJobCompletesOnce) {
  Open();
  auto dead = MakeDeadLetters({"a", "b"}, 4);
  SetScript([](const AttemptRequest&) { return ScriptedTransport::Http(200); });
  storage_->fail_job_steps = 2;
  auto started = Start({});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_TRUE(WaitForJob(started->job.id, ReplayJobState::kDone));
  EXPECT_EQ(storage_->failed_job_steps.load(), 2);
  auto job = GetJob(started->job.id);
  EXPECT_EQ(job->replayed, 8u);
  EXPECT_EQ(job->total, 8u);
  auto replays = Replays();
  ASSERT_EQ(replays.size(), 8u);
  for (const auto& [orig, rs] : replays) EXPECT_EQ(rs.size(), 1u);
}

// Damage is not retried: the job ends failed, naming the error, and what it
// replayed before stays replayed.
TEST_F(EngineReplayJobsTest, AnErrorOtherThanUnavailableFailsTheJob) {
  options_.replay_job_page_size = 2;
  options_.replay_job_max_waiting = 1;
  Open();
  MakeDeadLetters({"a"}, 5);
  SetScript([](const AttemptRequest&) { return std::nullopt; });
  auto started = Start({});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_TRUE(
      Eventually([&] { return GetJob(started->job.id)->replayed == 2; }));
  storage_->corrupt_dead_letter_lists = true;
  SetScript([](const AttemptRequest&) { return ScriptedTransport::Http(200); });
  ASSERT_TRUE(Eventually([&] {
    transport_->CompleteNext(ScriptedTransport::Http(200));
    auto j = GetJob(started->job.id);
    return j.ok() && j->state == ReplayJobState::kFailed;
  }));
  auto job = GetJob(started->job.id);
  EXPECT_EQ(job->replayed, 2u);
  EXPECT_NE(job->error.find("injected damage"), std::string::npos)
      << job->error;
  EXPECT_GT(job->finished_at, 0);
  auto running = storage_->ListReplayJobs(true);
  ASSERT_TRUE(running.ok());
  EXPECT_TRUE(running->empty());
  EXPECT_EQ(Replays().size(), 2u);
}

TEST_F(EngineReplayJobsTest, StartFailsCleanlyWhenStorageRefusesTheJob) {
  Open();
  MakeDeadLetters({"a"}, 1);
  storage_->failing = true;
  auto r = Start({});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  storage_->failing = false;
  auto jobs = storage_->ListReplayJobs(false);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty()) << "nothing written";
  // And the same filter can start afterwards (no phantom running job).
  auto ok = Start({});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE(ok->existing);
}

TEST_F(EngineReplayJobsTest, BadInputIsRefused) {
  Open();
  Endpoint a = MakeEndpoint("a");
  ReplayFilter f;
  f.created_after = kStart + 10;
  f.created_before = kStart;
  auto r = Start(f);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "created_after");
  f = ReplayFilter{};
  f.event_type = "bad type!";
  r = Start(f);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "event_type");
  f = ReplayFilter{};
  for (size_t i = 0; i <= kMaxQueryEndpoints; ++i) {
    f.endpoint_ids.push_back(EndpointId::NewRandom());
  }
  r = Start(f);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "endpoint_id");
  const EndpointId unknown = EndpointId::NewRandom();
  f.endpoint_ids = {a.id, unknown};
  r = Start(f);
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_NE(r.status().message().find(unknown.ToString()), std::string::npos);
  ASSERT_TRUE(engine_->DeleteEndpoint(a.id).get().ok());
  f.endpoint_ids = {a.id};
  EXPECT_TRUE(Start(f).status().IsNotFound());
  EXPECT_TRUE(GetJob(ReplayJobId::NewRandom()).status().IsNotFound());
  auto jobs = storage_->ListReplayJobs(false);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty()) << "a refused job writes nothing";
}

TEST_F(EngineReplayJobsTest, OptionsAreValidated) {
  options_.replay_job_page_size = 0;
  auto e = OpenEngine(NewMemoryStorage(), options_);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  options_.replay_job_page_size = kMaxPageSize + 1;
  EXPECT_EQ(OpenEngine(NewMemoryStorage(), options_).status().code(),
            StatusCode::kInvalidArgument);
  options_.replay_job_page_size = 10;
  options_.replay_job_max_waiting = 0;
  EXPECT_EQ(OpenEngine(NewMemoryStorage(), options_).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hooklog::testing
