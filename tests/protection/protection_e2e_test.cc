// Endpoint protection with real parts: the engine, the libcurl transport
// and the Beast test receiver over loopback. These check behaviour (rates,
// caps, isolation); speed is measured in bench/, not here.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "hooklog/engine.h"
#include "tools/receiver/receiver.h"

namespace hooklog {
namespace {

using receiver::Receiver;
using receiver::Reply;
using std::chrono::milliseconds;
using std::chrono::seconds;

class ProtectionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Receiver::Options ro;
    ro.threads = 2;
    receiver_ = Receiver::Start(ro);
    ASSERT_NE(receiver_, nullptr);
  }

  void Open(EngineOptions o = {}) {
    o.transport.allow_private_targets = true;
    auto e = OpenEngine(NewMemoryStorage(), o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
  }

  Endpoint MakeEndpoint(EndpointSpec spec) {
    auto r = engine_->CreateEndpoint(spec).get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Endpoint{};
  }

  void PublishN(int n, const std::string& type = "t") {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(engine_->Publish({type, "{}", ""}).get().ok());
    }
  }

  uint64_t Delivered(const EndpointId& id) {
    DeliveryQuery q;
    q.endpoint_id = id;
    q.status = DeliveryStatus::kDelivered;
    q.page_size = 1;
    return engine_->ListDeliveries(q).get()->total_count;
  }

  bool WaitDelivered(const EndpointId& id, uint64_t n, seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Delivered(id) >= n) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ProtectionE2eTest, TokenBucketRateIsWithinTenPercentOfTheLimit) {
  Open();
  const double rate = 20;
  Endpoint ep =
      MakeEndpoint({.url = receiver_->Url("/rated"), .rate_limit_per_s = rate});
  const int n = 130;  // the burst (20), then ~5.5 s at the rate
  PublishN(n);
  ASSERT_TRUE(WaitDelivered(ep.id, n, seconds(30)));
  auto reqs = receiver_->RequestsFor("/rated");
  ASSERT_EQ(reqs.size(), size_t(n));
  std::vector<std::chrono::steady_clock::time_point> at;
  for (const auto& r : reqs) at.push_back(r.arrival_steady);
  std::sort(at.begin(), at.end());
  // After the initial burst the bucket refills at `rate`.
  const int burst = int(rate);
  double seconds_spent =
      std::chrono::duration<double>(at.back() - at[burst - 1]).count();
  double measured = double(n - burst) / seconds_spent;
  EXPECT_NEAR(measured, rate, rate * 0.10)
      << "measured " << measured << " req/s over " << seconds_spent << " s";
}

TEST_F(ProtectionE2eTest, InFlightCapsAreNeverExceeded) {
  EngineOptions o;
  o.global_max_in_flight = 8;
  Open(o);
  receiver_->SetDefaultReply(Reply{.delay = milliseconds(150)});
  Endpoint a = MakeEndpoint({.url = receiver_->Url("/a"), .max_in_flight = 5});
  Endpoint b = MakeEndpoint({.url = receiver_->Url("/b"), .max_in_flight = 5});
  PublishN(40);
  ASSERT_TRUE(WaitDelivered(a.id, 40, seconds(30)));
  ASSERT_TRUE(WaitDelivered(b.id, 40, seconds(30)));
  // The receiver counted requests being answered at once.
  EXPECT_LE(receiver_->max_concurrent(), 8u);
  EXPECT_GE(receiver_->max_concurrent(), 6u);  // both endpoints used slots
  EXPECT_EQ(receiver_->total(), 80u);
}

TEST_F(ProtectionE2eTest, TimingOutEndpointDoesNotHoldBackAHealthyOne) {
  EngineOptions o;
  o.attempt_timeout = milliseconds(3000);
  Open(o);
  receiver_->SetReply("/stuck", Reply{.action = Reply::Action::kNeverAnswer});
  Endpoint stuck =
      MakeEndpoint({.url = receiver_->Url("/stuck"),
                    .event_types = std::vector<std::string>{"stuck"}});
  Endpoint healthy =
      MakeEndpoint({.url = receiver_->Url("/ok"),
                    .event_types = std::vector<std::string>{"ok"}});
  // The stuck endpoint's backlog alone would take 1000 / 32 × 3 s ≈ 94 s
  // to get through once; the healthy one must not wait behind it.
  const auto start = std::chrono::steady_clock::now();
  PublishN(1000, "stuck");
  PublishN(500, "ok");
  ASSERT_TRUE(WaitDelivered(healthy.id, 500, seconds(30)));
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  // The stuck endpoint never held more than its cap (32) at a time.
  const double bound = 32 * (elapsed / 3.0 + 1);
  EXPECT_LE(double(receiver_->RequestsFor("/stuck").size()), bound);
  EXPECT_EQ(Delivered(stuck.id), 0u);
}

}  // namespace
}  // namespace hooklog
