#include "engine/gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace hooklog {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(Gate, CloseWaitsForHoldersAndRefusesNewOnes) {
  Gate gate;
  auto holder = std::make_unique<Gate::Holder>(&gate);
  ASSERT_TRUE(*holder);
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    gate.Close();
    closed = true;
  });
  // Close() has marked the gate closed but cannot return while we hold it.
  while (!gate.closed()) std::this_thread::yield();
  EXPECT_FALSE(Gate::Holder(&gate)) << "entered a closing gate";
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(closed) << "Close() returned while the gate was held";
  holder.reset();
  closer.join();
  EXPECT_TRUE(closed);
  EXPECT_FALSE(gate.TryEnter());
}

TEST(Gate, CloseWithoutHoldersReturnsAtOnce) {
  Gate gate;
  { Gate::Holder h(&gate); }
  gate.Close();
  EXPECT_FALSE(gate.TryEnter());
}

TEST(InFlightCounter, WaitForZeroWakesWhenTheLastLeaves) {
  InFlightCounter n;
  n.Add();
  n.Add();
  auto waited = std::async(std::launch::async, [&] {
    return n.WaitForZero(steady_clock::now() + std::chrono::seconds(30));
  });
  EXPECT_EQ(waited.wait_for(milliseconds(20)), std::future_status::timeout);
  n.Sub();
  EXPECT_EQ(waited.wait_for(milliseconds(20)), std::future_status::timeout);
  n.Sub();
  // Woken by the notification, long before the 30 s deadline.
  ASSERT_EQ(waited.wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  EXPECT_TRUE(waited.get());
  EXPECT_EQ(n.value(), 0u);
}

TEST(InFlightCounter, WaitForZeroGivesUpAtTheDeadline) {
  InFlightCounter n;
  n.Add();
  const auto start = steady_clock::now();
  EXPECT_FALSE(n.WaitForZero(start + milliseconds(30)));
  EXPECT_GE(steady_clock::now() - start, milliseconds(30));
  EXPECT_TRUE(InFlightCounter().WaitForZero(steady_clock::now()));
}

}  // namespace
}  // namespace hooklog
