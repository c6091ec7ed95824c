// ShardedTransport's placement rules, with shards that hold their attempts
// until the test finishes them (a fake only to make placement
// deterministic; load_test.cc runs the real curl shards at 5,000 attempts).
#include "transport/sharded_transport.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace hooklog::transport_internal {
namespace {

class HoldingTransport final : public Transport {
 public:
  void Send(AttemptRequest, std::function<void(AttemptResult)> done) override {
    if (shut_down_) {
      AttemptResult r;
      r.error = ErrorClass::kOther;
      done(std::move(r));
      return;
    }
    held_.push_back(std::move(done));
  }
  void Shutdown() override { shut_down_ = true; }
  size_t InFlight() const override { return held_.size(); }

  // Completes the oldest held attempt.
  void FinishOne() {
    auto done = std::move(held_.front());
    held_.erase(held_.begin());
    done(AttemptResult{});
  }
  bool shut_down() const { return shut_down_; }

 private:
  std::vector<std::function<void(AttemptResult)>> held_;
  bool shut_down_ = false;
};

struct Fixture {
  std::vector<HoldingTransport*> made;
  std::unique_ptr<ShardedTransport> t;
  Fixture(size_t per_shard, size_t max_shards) {
    t = std::make_unique<ShardedTransport>(
        [this] {
          auto s = std::make_unique<HoldingTransport>();
          made.push_back(s.get());
          return s;
        },
        per_shard, max_shards);
  }
  void Send(int* completed) {
    t->Send(AttemptRequest{}, [completed](AttemptResult) { ++*completed; });
  }
};

TEST(ShardedTransportTest, OneShardUntilItIsFull) {
  Fixture f(/*per_shard=*/3, /*max_shards=*/4);
  int completed = 0;
  for (int i = 0; i < 3; ++i) f.Send(&completed);
  EXPECT_EQ(f.t->shards(), 1u);
  EXPECT_EQ(f.made[0]->InFlight(), 3u);
  f.Send(&completed);  // every shard full: a second one
  EXPECT_EQ(f.t->shards(), 2u);
  EXPECT_EQ(f.made[1]->InFlight(), 1u);
  EXPECT_EQ(f.t->InFlight(), 4u);
}

TEST(ShardedTransportTest, PrefersTheLeastBusyShard) {
  Fixture f(2, 4);
  int completed = 0;
  for (int i = 0; i < 4; ++i) f.Send(&completed);  // 2 + 2
  ASSERT_EQ(f.t->shards(), 2u);
  f.made[0]->FinishOne();
  f.made[0]->FinishOne();
  EXPECT_EQ(completed, 2);
  f.Send(&completed);  // shard 0 is idle now: no third shard
  EXPECT_EQ(f.t->shards(), 2u);
  EXPECT_EQ(f.made[0]->InFlight(), 1u);
}

TEST(ShardedTransportTest, NeverMoreThanMaxShards) {
  Fixture f(1, 3);
  int completed = 0;
  for (int i = 0; i < 9; ++i) f.Send(&completed);
  EXPECT_EQ(f.t->shards(), 3u);
  for (HoldingTransport* s : f.made) EXPECT_EQ(s->InFlight(), 3u);
}

TEST(ShardedTransportTest, ShutdownReachesEveryShardAndStopsGrowth) {
  Fixture f(1, 8);
  int completed = 0;
  f.Send(&completed);
  f.Send(&completed);
  ASSERT_EQ(f.t->shards(), 2u);
  f.t->Shutdown();
  for (HoldingTransport* s : f.made) EXPECT_TRUE(s->shut_down());
  f.Send(&completed);  // refused by a shard, no new shard made
  EXPECT_EQ(f.t->shards(), 2u);
  EXPECT_EQ(completed, 1);
}

TEST(ShardedTransportTest, BadLimitsAreClamped) {
  Fixture f(0, 1000);  // per_shard 0 → 1; max → kMaxShards
  int completed = 0;
  for (size_t i = 0; i < ShardedTransport::kMaxShards + 5; ++i) {
    f.Send(&completed);
  }
  EXPECT_EQ(f.t->shards(), ShardedTransport::kMaxShards);
}

}  // namespace
}  // namespace hooklog::transport_internal
