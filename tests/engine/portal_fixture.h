// Shared set-up of the engine tests for the portal's calls (stats, lists
// over several endpoints, replay jobs): an engine over a memory or RocksDB
// store behind a switchable fault injector, a fake clock starting on a
// whole hour, and a scripted transport answering by URL.
//
// Thread-safety: a fixture is used by one test thread; the storage
// wrapper's switches are atomic (the engine's threads read them).
#ifndef HOOKLOG_TESTS_ENGINE_PORTAL_FIXTURE_H_
#define HOOKLOG_TESTS_ENGINE_PORTAL_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/testing/fake_clock.h"
#include "tests/storage/temp_dir.h"
#include "tests/support/scripted_transport.h"

namespace hooklog::testing {

// Appends can be refused: all of them, or the next N that write replay job
// progress (a step of a job: job row plus replays).
class SwitchableStorage : public ForwardingStorage {
 public:
  explicit SwitchableStorage(Storage* target) : ForwardingStorage(target) {}
  explicit SwitchableStorage(std::unique_ptr<Storage> owned)
      : ForwardingStorage(std::move(owned)) {}
  Result<uint64_t> Append(WriteBatch* batch) override {
    if (failing) return Status::Unavailable("injected write failure");
    if (!batch->replay_jobs.empty() && !batch->deliveries.empty() &&
        fail_job_steps.load() > 0) {
      fail_job_steps--;
      failed_job_steps++;
      return Status::Unavailable("injected write failure (job step)");
    }
    return ForwardingStorage::Append(batch);
  }
  // Lists of dead letters answer Corruption (a replay job's page read).
  Result<Page<Delivery>> ListDeliveries(const DeliveryQuery& q) override {
    if (corrupt_dead_letter_lists && q.status == DeliveryStatus::kDeadLetter) {
      return Status::Corruption("injected damage");
    }
    return ForwardingStorage::ListDeliveries(q);
  }
  std::atomic<bool> failing{false};
  std::atomic<bool> corrupt_dead_letter_lists{false};
  std::atomic<int> fail_job_steps{0};
  std::atomic<int> failed_job_steps{0};
};

// The answer of a callback-style engine call, waited for.
template <typename T, typename Call>
Result<T> Sync(Call call) {
  auto p = std::make_shared<std::promise<Result<T>>>();
  auto f = p->get_future();
  call([p](Result<T> r) { p->set_value(std::move(r)); });
  return f.get();
}

class PortalEngineTest : public ::testing::Test {
 protected:
  // An hour boundary, so that minute and 5-minute buckets line up with it.
  static constexpr Timestamp kStart = 1'789'999'200LL * kSecond;

  void TearDown() override { engine_.reset(); }

  // Opens (or reopens, on the same data) an engine.
  void Open(bool rocksdb = false) {
    engine_.reset();
    std::unique_ptr<SwitchableStorage> wrapper;
    if (rocksdb) {
      auto s = OpenRocksDbStorage(dir_.Sub("db"));
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      // Owned by the wrapper: closing the engine closes the store.
      wrapper = std::make_unique<SwitchableStorage>(std::move(*s));
    } else {
      if (!store_) store_ = NewMemoryStorage();
      wrapper = std::make_unique<SwitchableStorage>(store_.get());
    }
    storage_ = wrapper.get();
    EngineOptions o = options_;
    o.clock = clock_;
    o.jitter_seed = 1;
    o.transport_factory = ScriptedTransport::Factory(
        &transport_, [this](const AttemptRequest& r) { return Answer(r); });
    auto e = OpenEngine(std::move(wrapper), o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }

  // The transport's answer: by the URL's last path segment.
  std::optional<AttemptResult> Answer(const AttemptRequest& r) {
    std::function<std::optional<AttemptResult>(const AttemptRequest&)> s;
    {
      std::lock_guard<std::mutex> lock(script_mu_);
      s = script_;
    }
    if (s) return s(r);
    return ScriptedTransport::Http(200);
  }
  void SetScript(
      std::function<std::optional<AttemptResult>(const AttemptRequest&)> s) {
    std::lock_guard<std::mutex> lock(script_mu_);
    script_ = std::move(s);
  }

  Endpoint MakeEndpoint(const std::string& name) {
    EndpointSpec spec;
    spec.url = "https://example.com/" + name;
    auto r = engine_->CreateEndpoint(spec).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Endpoint{};
  }

  PublishResult Publish(const std::string& type = "order.paid") {
    auto r = engine_->Publish({type, R"({"n":1})", ""}).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PublishResult{};
  }

  Delivery Get(const DeliveryId& id) {
    auto r = engine_->GetDelivery(id).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Delivery{};
  }

  // Polls until `done()` (the engine is asynchronous); false after a
  // generous while (a hang, not a timing assertion).
  static bool Eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 6000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

  bool WaitForStatus(const DeliveryId& id, DeliveryStatus want,
                     uint32_t attempts = 0) {
    return Eventually([&] {
      auto d = engine_->GetDelivery(id).get();
      return d.ok() && d->status == want && d->attempts >= attempts;
    });
  }

  // Every delivery row, newest first (a storage walk, no engine merge).
  std::vector<Delivery> AllDeliveries() {
    std::vector<Delivery> out;
    DeliveryQuery q;
    for (;;) {
      auto page = storage_->ListDeliveries(q);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      out.insert(out.end(), page->items.begin(), page->items.end());
      if (page->next_cursor.empty()) break;
      q.cursor = page->next_cursor;
    }
    return out;
  }

  TempDir dir_;
  EngineOptions options_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(kStart);
  std::unique_ptr<Storage> store_;  // the memory store, across reopens
  SwitchableStorage* storage_ = nullptr;
  ScriptedTransport* transport_ = nullptr;
  std::mutex script_mu_;
  std::function<std::optional<AttemptResult>(const AttemptRequest&)> script_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_ENGINE_PORTAL_FIXTURE_H_
