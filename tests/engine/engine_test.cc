// Engine behaviour through the public API, with a fake clock and a scripted
// transport so that every step is deterministic.
#include "hooklog/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "engine/projection.h"
#include "hooklog/signing.h"
#include "hooklog/testing/fake_clock.h"
#include "tests/support/scripted_transport.h"

namespace hooklog {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeClock;
using testing::ScriptedTransport;

// Storage whose writes can be switched off, to test Unavailable paths.
class FlakyStorage : public ForwardingStorage {
 public:
  explicit FlakyStorage(Storage* target) : ForwardingStorage(target) {}
  Result<uint64_t> Append(WriteBatch* batch) override {
    if (failing) return Status::Unavailable("injected write failure");
    return ForwardingStorage::Append(batch);
  }
  std::atomic<bool> failing{false};
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(ScriptedTransport::Script script = nullptr) {
    if (!memory_) memory_ = NewMemoryStorage();
    auto flaky = std::make_unique<FlakyStorage>(memory_.get());
    flaky_ = flaky.get();
    EngineOptions o;
    o.clock = clock_;
    o.jitter_seed = 1;
    o.retry.schedule = {Duration(0), seconds(10), seconds(100)};
    o.transport_factory = ScriptedTransport::Factory(&transport_, script);
    auto e = OpenEngine(std::move(flaky), o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }

  void Reopen() {
    engine_.reset();
    Open();
  }

  Endpoint MakeEndpoint(EndpointSpec spec = {}) {
    if (spec.url.empty()) spec.url = "https://example.com/hook";
    auto r = engine_->CreateEndpoint(spec).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Endpoint{};
  }

  PublishResult MustPublish(std::string type = "order.paid",
                            std::string key = "") {
    auto r = engine_->Publish({type, R"({"n":1})", key}).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PublishResult{};
  }

  Delivery Get(const DeliveryId& id) {
    auto r = engine_->GetDelivery(id).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Delivery{};
  }

  // Polls until the delivery reaches `want` (the engine is asynchronous).
  Delivery WaitFor(const DeliveryId& id, DeliveryStatus want,
                   uint32_t attempts = 0) {
    for (int i = 0; i < 2000; ++i) {
      Delivery d = Get(id);
      if (d.status == want && d.attempts >= attempts) return d;
      std::this_thread::sleep_for(milliseconds(2));
    }
    ADD_FAILURE() << "delivery never reached " << DeliveryStatusName(want);
    return Get(id);
  }

  void ExpectConsistent() {
    auto report = VerifyStorage(memory_.get());
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->ok())
        << (report->mismatches.empty() ? "gap" : report->mismatches.front());
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::unique_ptr<Storage> memory_;
  FlakyStorage* flaky_ = nullptr;
  ScriptedTransport* transport_ = nullptr;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, PublishDeliversSignedEnvelope) {
  Endpoint ep = MakeEndpoint();
  EXPECT_TRUE(ep.secrets[0].secret.starts_with("whsec_"));
  PublishResult pub = MustPublish();
  ASSERT_EQ(pub.deliveries.size(), 1u);
  ASSERT_TRUE(transport_->WaitForHeld(1));
  AttemptRequest req = transport_->requests()[0];
  EXPECT_EQ(req.url, "https://example.com/hook");
  EXPECT_EQ(req.webhook_id, "evt_" + pub.message_id.ToString());
  EXPECT_EQ(req.delivery_id, pub.deliveries[0].ToString());
  EXPECT_EQ(req.secrets, std::vector<std::string>{ep.secrets[0].secret});
  EXPECT_NE(req.body.find(R"("type":"order.paid")"), std::string::npos);
  EXPECT_NE(req.body.find(R"("data":{"n":1})"), std::string::npos);
  EXPECT_EQ(Get(pub.deliveries[0]).status, DeliveryStatus::kPending);

  transport_->CompleteNext(ScriptedTransport::Http(200, "thanks"));
  Delivery d = WaitFor(pub.deliveries[0], DeliveryStatus::kDelivered);
  EXPECT_EQ(d.attempts, 1u);
  EXPECT_EQ(d.http_status_code, 200);
  EXPECT_EQ(d.response_body, "thanks");
  EXPECT_EQ(d.last_attempted_at, clock_->Now());
  ExpectConsistent();
}

TEST_F(EngineTest, FanOutFollowsFiltersAndEnabledFlag) {
  Endpoint all = MakeEndpoint();
  Endpoint orders =
      MakeEndpoint({.url = "https://a.example/x",
                    .event_types = std::vector<std::string>{"order.*"}});
  MakeEndpoint({.url = "https://b.example/x",
                .event_types = std::vector<std::string>{}});
  MakeEndpoint({.url = "https://c.example/x", .enabled = false});
  EXPECT_EQ(MustPublish("order.paid").deliveries.size(), 2u);
  EXPECT_EQ(MustPublish("user.created").deliveries.size(), 1u);
  (void)all;
  (void)orders;
}

TEST_F(EngineTest, RetriesOnTheScheduleThenDeadLettersAndReplays) {
  MakeEndpoint();
  PublishResult pub = MustPublish();
  DeliveryId id = pub.deliveries[0];
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(500, "oops"));
  Delivery d = WaitFor(id, DeliveryStatus::kFailed, 1);
  EXPECT_EQ(d.http_status_code, 500);
  // Not due yet: nothing is sent before the backoff elapses.
  clock_->Advance(seconds(5));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(transport_->requests().size(), 1u);
  clock_->Advance(seconds(10));  // past 10 s ± 20 %
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Error(ErrorClass::kTimeout));
  d = WaitFor(id, DeliveryStatus::kFailed, 2);
  EXPECT_FALSE(d.http_status_code.has_value());
  EXPECT_FALSE(d.response_body.has_value());
  EXPECT_EQ(d.last_error, ErrorClass::kTimeout);
  clock_->Advance(seconds(130));
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(503));
  d = WaitFor(id, DeliveryStatus::kDeadLetter, 3);
  EXPECT_EQ(d.attempts_log.size(), 3u);

  // Replay: a new delivery, the original untouched.
  auto replay = std::async([&] { return engine_->Replay(id).get(); });
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(202, "ok"));
  auto r = replay.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->delivery_id, id);
  EXPECT_EQ(r->status, DeliveryStatus::kDelivered);
  EXPECT_EQ(r->http_status_code, 202);
  Delivery replayed = Get(r->delivery_id);
  EXPECT_EQ(replayed.replay_of, id);
  EXPECT_EQ(Get(id).status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(Get(id).attempts, 3u);
  // The same webhook-id across retries and the replay.
  auto reqs = transport_->requests();
  ASSERT_EQ(reqs.size(), 4u);
  for (const auto& q : reqs) EXPECT_EQ(q.webhook_id, reqs[0].webhook_id);
  ExpectConsistent();
}

TEST_F(EngineTest, ReplayOfNonDeadLetterIsRefused) {
  MakeEndpoint();
  PublishResult pub = MustPublish();
  auto r = engine_->Replay(pub.deliveries[0]).get();
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  auto missing = engine_->Replay(DeliveryId::NewRandom()).get();
  EXPECT_TRUE(missing.status().IsNotFound());
}

TEST_F(EngineTest, SendTestWaitsForFirstAttemptAndIgnoresFilters) {
  Endpoint ep = MakeEndpoint({.url = "https://example.com/x",
                              .event_types = std::vector<std::string>{},
                              .enabled = false});
  auto fut = std::async([&] { return engine_->SendTest(ep.id).get(); });
  ASSERT_TRUE(transport_->WaitForHeld(1));
  EXPECT_NE(
      transport_->requests()[0].body.find(R"("type":"ping","created_at")"),
      std::string::npos);
  EXPECT_NE(transport_->requests()[0].body.find(R"("data":{})"),
            std::string::npos);
  transport_->CompleteNext(ScriptedTransport::Error(ErrorClass::kConnect));
  auto r = fut.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, DeliveryStatus::kFailed);
  EXPECT_FALSE(r->http_status_code.has_value());
  EXPECT_FALSE(r->response_body.has_value());
  EXPECT_TRUE(
      engine_->SendTest(EndpointId::NewRandom()).get().status().IsNotFound());
}

TEST_F(EngineTest, GoneDisablesTheEndpoint) {
  Endpoint ep = MakeEndpoint();
  PublishResult pub = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(410, "gone"));
  WaitFor(pub.deliveries[0], DeliveryStatus::kDeadLetter);
  auto got = engine_->GetEndpoint(ep.id).get();
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->enabled);
  EXPECT_EQ(got->disabled_reason, "gone_410");
  EXPECT_TRUE(MustPublish().deliveries.empty());
  // Re-enabling resumes publishing to it.
  EndpointUpdate u;
  u.enabled = true;
  ASSERT_TRUE(engine_->UpdateEndpoint(ep.id, u).get().ok());
  EXPECT_EQ(MustPublish().deliveries.size(), 1u);
  ExpectConsistent();
}

TEST_F(EngineTest, DisabledEndpointHoldsDeliveriesUntilReEnabled) {
  Endpoint ep = MakeEndpoint();
  PublishResult pub = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(500));
  WaitFor(pub.deliveries[0], DeliveryStatus::kFailed, 1);
  EndpointUpdate off;
  off.enabled = false;
  ASSERT_TRUE(engine_->UpdateEndpoint(ep.id, off).get().ok());
  clock_->Advance(seconds(20));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(transport_->requests().size(), 1u);
  EndpointUpdate on;
  on.enabled = true;
  ASSERT_TRUE(engine_->UpdateEndpoint(ep.id, on).get().ok());
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(200));
  WaitFor(pub.deliveries[0], DeliveryStatus::kDelivered);
}

TEST_F(EngineTest, DeleteEndpointDeadLettersItsDeliveries) {
  Endpoint ep = MakeEndpoint();
  PublishResult pub = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(500));
  WaitFor(pub.deliveries[0], DeliveryStatus::kFailed, 1);
  ASSERT_TRUE(engine_->DeleteEndpoint(ep.id).get().ok());
  Delivery d = Get(pub.deliveries[0]);
  EXPECT_EQ(d.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(d.dead_letter_reason, DeadLetterReason::kEndpointDeleted);
  EXPECT_TRUE(engine_->GetEndpoint(ep.id).get().status().IsNotFound());
  EXPECT_TRUE(engine_->DeleteEndpoint(ep.id).get().IsNotFound());
  EXPECT_TRUE(engine_->UpdateEndpoint(ep.id, {}).get().status().IsNotFound());
  EXPECT_TRUE(engine_->RotateSecret(ep.id).get().status().IsNotFound());
  EXPECT_TRUE(engine_->SendTest(ep.id).get().status().IsNotFound());
  EXPECT_EQ(engine_->Replay(pub.deliveries[0]).get().status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(MustPublish().deliveries.empty());
  ExpectConsistent();
}

TEST_F(EngineTest, InFlightDeliveryOfDeletedEndpointEndsAfterItsAttempt) {
  Endpoint ep = MakeEndpoint();
  PublishResult pub = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  ASSERT_TRUE(engine_->DeleteEndpoint(ep.id).get().ok());
  transport_->CompleteNext(ScriptedTransport::Http(500));
  Delivery d = WaitFor(pub.deliveries[0], DeliveryStatus::kDeadLetter);
  EXPECT_EQ(d.attempts, 1u);
  EXPECT_EQ(d.dead_letter_reason, DeadLetterReason::kEndpointDeleted);
  ExpectConsistent();
}

TEST_F(EngineTest, RotateSecretSignsWithBothDuringGrace) {
  Endpoint ep = MakeEndpoint();
  auto rotated = engine_->RotateSecret(ep.id).get();
  ASSERT_TRUE(rotated.ok());
  ASSERT_EQ(rotated->secrets.size(), 2u);
  EXPECT_NE(rotated->secrets[0].secret, ep.secrets[0].secret);
  EXPECT_EQ(rotated->secrets[1].secret, ep.secrets[0].secret);
  EXPECT_EQ(rotated->secrets[1].expires_at,
            clock_->Now() + Duration(hours(24)).count());
  MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  EXPECT_EQ(transport_->requests()[0].secrets.size(), 2u);
  transport_->CompleteNext(ScriptedTransport::Http(200));
  clock_->Advance(hours(25));
  MustPublish();
  ASSERT_TRUE(transport_->WaitForRequests(2));
  EXPECT_EQ(transport_->requests()[1].secrets,
            std::vector<std::string>{rotated->secrets[0].secret});
}

TEST_F(EngineTest, IdempotencyKeyReturnsTheSameAnswer) {
  MakeEndpoint();
  PublishResult a = MustPublish("order.paid", "key-1");
  PublishResult b = MustPublish("order.paid", "key-1");
  EXPECT_FALSE(a.duplicate);
  EXPECT_TRUE(b.duplicate);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.deliveries, b.deliveries);
  // Concurrent publishes with one key: one message.
  std::vector<std::future<Result<PublishResult>>> futs;
  for (int i = 0; i < 8; ++i) {
    futs.push_back(engine_->Publish({"order.paid", "{}", "key-2"}));
  }
  std::set<MessageId> ids;
  for (auto& f : futs) ids.insert(f.get()->message_id);
  EXPECT_EQ(ids.size(), 1u);
  // After the window, the key publishes anew.
  clock_->Advance(hours(25));
  PublishResult c = MustPublish("order.paid", "key-1");
  EXPECT_FALSE(c.duplicate);
  EXPECT_NE(c.message_id, a.message_id);
}

// The key is looked up on the caller's thread and the decision is made on
// the strand: publishes racing with one key (one of them may become durable
// between another's read and its decision) still make one message, and
// every other caller gets its answer marked duplicate.
TEST_F(EngineTest, RacingPublishesWithOneKeyMakeOneMessage) {
  MakeEndpoint();
  constexpr int kCallers = 4;
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE(round);
    const std::string key = "race-" + std::to_string(round);
    std::atomic<int> ready{0};
    std::vector<std::future<Result<PublishResult>>> calls;
    for (int c = 0; c < kCallers; ++c) {
      calls.push_back(std::async(std::launch::async, [&, c] {
        ready++;
        while (ready.load() < kCallers) std::this_thread::yield();
        // Stagger a little, so that some read after others' writes.
        std::this_thread::sleep_for(
            std::chrono::microseconds(c * 40 * (round % 4)));
        return engine_->Publish({"order.paid", "{}", key}).get();
      }));
    }
    std::set<MessageId> messages;
    int originals = 0;
    for (auto& f : calls) {
      auto r = f.get();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      messages.insert(r->message_id);
      originals += !r->duplicate;
    }
    EXPECT_EQ(messages.size(), 1u);
    EXPECT_EQ(originals, 1);
  }
}

TEST_F(EngineTest, BadInputIsRejectedAndChangesNothing) {
  Endpoint ep = MakeEndpoint();
  uint64_t seq = memory_->LastSequence();
  auto bad_url = engine_->CreateEndpoint({.url = "ftp://x"}).get();
  EXPECT_TRUE(bad_url.status().IsInvalidArgument());
  EXPECT_EQ(bad_url.status().field(), "url");
  auto bad_header = engine_
                        ->CreateEndpoint({.url = "https://e.com",
                                          .headers = {{"X-A", "1\r\nX-B: 2"}}})
                        .get();
  EXPECT_TRUE(bad_header.status().IsInvalidArgument());
  EXPECT_TRUE(engine_->Publish({"bad type", "{}", ""})
                  .get()
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(engine_->Publish({"t", "{not json", ""})
                  .get()
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(engine_->Publish({"t", "\"\xff\"", ""})
                  .get()
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(engine_->Publish({"t", std::string(300 * 1024, ' '), ""})
                .get()
                .status()
                .code(),
            StatusCode::kResourceExhausted);
  EndpointUpdate u;
  u.url = "http://0x7f.0.0.1/";
  EXPECT_TRUE(
      engine_->UpdateEndpoint(ep.id, u).get().status().IsInvalidArgument());
  EXPECT_TRUE(engine_->UpdateEndpoint(EndpointId::NewRandom(), {})
                  .get()
                  .status()
                  .IsNotFound());
  EXPECT_EQ(memory_->LastSequence(), seq);
  auto again = engine_->GetEndpoint(ep.id).get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, ep);
}

TEST_F(EngineTest, MetadataMergeOnUpdate) {
  Endpoint ep = MakeEndpoint(
      {.url = "https://e.com", .metadata = {{"team", "a"}, {"env", "prod"}}});
  EndpointUpdate u;
  u.metadata_patch = {{"team", "b"}, {"env", ""}, {"new", "x"}};
  auto r = engine_->UpdateEndpoint(ep.id, u).get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->metadata, (Metadata{{"team", "b"}, {"new", "x"}}));
  EndpointUpdate clear;
  clear.clear_metadata = true;
  EXPECT_TRUE(engine_->UpdateEndpoint(ep.id, clear).get()->metadata.empty());
}

TEST_F(EngineTest, StorageFailureRefusesWritesKeepsStateAndRecovers) {
  MakeEndpoint();
  PublishResult before = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  flaky_->failing = true;
  uint64_t seq = memory_->LastSequence();
  auto refused = engine_->Publish({"order.paid", "{}", ""}).get();
  EXPECT_TRUE(refused.status().IsUnavailable());
  EXPECT_TRUE(engine_->CreateEndpoint({.url = "https://e.com"})
                  .get()
                  .status()
                  .IsUnavailable());
  // An attempt finishing now cannot be recorded: it will be made again,
  // 1 s after the failed write. Wait until the engine has rescheduled it
  // (before the clock moves, or the retry would be later than expected).
  transport_->CompleteNext(ScriptedTransport::Http(200));
  for (int i = 0; i < 5000; ++i) {
    EngineStats s = engine_->Stats();
    if (s.in_flight == 0 && s.due_queue_depth == 1) break;
    std::this_thread::sleep_for(milliseconds(2));
  }
  ASSERT_EQ(engine_->Stats().due_queue_depth, 1u);
  EXPECT_EQ(memory_->LastSequence(), seq);
  EXPECT_EQ(Get(before.deliveries[0]).status, DeliveryStatus::kPending);
  flaky_->failing = false;
  clock_->Advance(seconds(2));
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(200));
  WaitFor(before.deliveries[0], DeliveryStatus::kDelivered);
  EXPECT_EQ(MustPublish().deliveries.size(), 1u);
  ExpectConsistent();
}

TEST_F(EngineTest, RestartResumesNonTerminalDeliveries) {
  MakeEndpoint();
  PublishResult pub = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(500));
  WaitFor(pub.deliveries[0], DeliveryStatus::kFailed, 1);
  Reopen();
  clock_->Advance(seconds(15));
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(200));
  Delivery d = WaitFor(pub.deliveries[0], DeliveryStatus::kDelivered);
  EXPECT_EQ(d.attempts, 2u);
}

TEST_F(EngineTest, ShutdownLeavesInFlightAttemptsPending) {
  MakeEndpoint();
  PublishResult pub = MustPublish();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  engine_->Shutdown(milliseconds(10));
  EXPECT_TRUE(engine_->Publish({"a", "{}", ""}).get().status().IsUnavailable());
  EXPECT_EQ(Get(pub.deliveries[0]).status, DeliveryStatus::kPending);
  Reopen();
  ASSERT_TRUE(transport_->WaitForHeld(1));
  transport_->CompleteNext(ScriptedTransport::Http(200));
  WaitFor(pub.deliveries[0], DeliveryStatus::kDelivered);
}

// Every call made while Shutdown runs gets its callback, exactly once:
// either its result or Unavailable. None may be left hanging (a caller
// waiting on a future would block forever).
TEST_F(EngineTest, EveryCallRacingShutdownCompletes) {
  MakeEndpoint();
  std::atomic<int> calls{0}, callbacks{0}, unavailable{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      while (!go) std::this_thread::yield();
      for (bool stop = false; !stop;) {
        calls++;
        std::promise<Status> p;
        auto f = p.get_future();
        engine_->Publish({"order.paid", "{}", ""},
                         [&](Result<PublishResult> r) {
                           callbacks++;
                           p.set_value(r.status());
                         });
        ASSERT_EQ(f.wait_for(seconds(10)), std::future_status::ready)
            << "a call was never answered";
        if (f.get().IsUnavailable()) {
          unavailable++;
          stop = true;
        }
      }
    });
  }
  go = true;
  std::this_thread::sleep_for(milliseconds(20));
  engine_->Shutdown(milliseconds(0));
  for (auto& c : callers) c.join();
  EXPECT_EQ(callbacks.load(), calls.load());
  EXPECT_EQ(unavailable.load(), 4);
}

TEST_F(EngineTest, ListsNewestFirstWithFiltersAndCursor) {
  Endpoint a = MakeEndpoint();
  Endpoint b = MakeEndpoint({.url = "https://b.example/"});
  transport_->SetScript([](const AttemptRequest&) {
    return std::optional<AttemptResult>(ScriptedTransport::Http(200));
  });
  std::vector<DeliveryId> all;
  for (int i = 0; i < 120; ++i) {
    clock_->Advance(milliseconds(1));
    auto p = MustPublish(i % 2 ? "order.paid" : "user.created");
    all.insert(all.end(), p.deliveries.begin(), p.deliveries.end());
  }
  DeliveryQuery q;
  q.endpoint_id = a.id;
  q.event_type = "order.paid";
  q.page_size = 25;
  auto page = engine_->ListDeliveries(q).get();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_count, 60u);
  ASSERT_EQ(page->items.size(), 25u);
  for (size_t i = 1; i < page->items.size(); ++i) {
    EXPECT_GE(page->items[i - 1].created_at, page->items[i].created_at);
  }
  size_t seen = 0;
  std::string cursor;
  do {
    q.cursor = cursor;
    auto p = engine_->ListDeliveries(q).get();
    ASSERT_TRUE(p.ok());
    for (const auto& d : p->items) {
      EXPECT_EQ(d.endpoint_id, a.id);
      EXPECT_EQ(d.event_type, "order.paid");
    }
    seen += p->items.size();
    cursor = p->next_cursor;
  } while (!cursor.empty());
  EXPECT_EQ(seen, 60u);
  q.cursor = "garbage";
  EXPECT_TRUE(engine_->ListDeliveries(q).get().status().IsInvalidArgument());
  (void)b;
}

TEST_F(EngineTest, OptionsAreValidated) {
  EngineOptions o;
  o.retry.schedule.clear();
  EXPECT_TRUE(OpenEngine(NewMemoryStorage(), o).status().IsInvalidArgument());
  EXPECT_TRUE(OpenEngine(nullptr, {}).status().IsInvalidArgument());
}

}  // namespace
}  // namespace hooklog
