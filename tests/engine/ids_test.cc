#include "hooklog/ids.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

namespace hooklog {
namespace {

TEST(ShortUuid, KnownValues) {
  EXPECT_EQ(Uuid128{}.ToString(), "2222222222222222222222");
  EXPECT_EQ((Uuid128{0, 1}).ToString(), "2222222222222222222223");
  EXPECT_EQ((Uuid128{~0ULL, ~0ULL}).ToString(), "oZEq7ovRbLq6UnGMPwc8B5");
  EXPECT_EQ((Uuid128{0x0123456789abcdefULL, 0xfedcba9876543210ULL}).ToString(),
            "2DYiVtse6TvbAwFi4dbvih");
}

TEST(ShortUuid, RoundTripsRandomIds) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Uuid128 u = Uuid128::NewRandom();
    std::string s = u.ToString();
    ASSERT_EQ(s.size(), 22u);
    auto back = Uuid128::Parse(s);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, u);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ShortUuid, RejectsWrongLength) {
  EXPECT_TRUE(Uuid128::Parse("").status().IsInvalidArgument());
  EXPECT_TRUE(
      Uuid128::Parse("222222222222222222222").status().IsInvalidArgument());
  EXPECT_TRUE(
      Uuid128::Parse("22222222222222222222222").status().IsInvalidArgument());
}

TEST(ShortUuid, RejectsForeignCharacters) {
  // 0, 1, I, O, l are not in the alphabet; nor are '-' and non-ASCII bytes.
  for (const char* bad : {"0222222222222222222222", "1222222222222222222222",
                          "I222222222222222222222", "O222222222222222222222",
                          "l222222222222222222222", "-222222222222222222222",
                          "\xc3\xa9"
                          "22222222222222222222"}) {
    EXPECT_TRUE(Uuid128::Parse(bad).status().IsInvalidArgument()) << bad;
  }
}

TEST(ShortUuid, RejectsValuesOf2To128OrMore) {
  EXPECT_TRUE(Uuid128::Parse("oZEq7ovRbLq6UnGMPwc8B5").ok());
  EXPECT_TRUE(
      Uuid128::Parse("oZEq7ovRbLq6UnGMPwc8B6").status().IsInvalidArgument());
  EXPECT_TRUE(
      Uuid128::Parse("zzzzzzzzzzzzzzzzzzzzzz").status().IsInvalidArgument());
}

TEST(ShortUuid, StrongTypesParse) {
  auto id = DeliveryId::Parse("2DYiVtse6TvbAwFi4dbvih");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToString(), "2DYiVtse6TvbAwFi4dbvih");
  EXPECT_FALSE(EndpointId::Parse("not-an-id").ok());
}

TEST(TimeOrderedIds, LaterIdsCompareGreaterAndAllDiffer) {
  std::set<Uuid128> seen;
  Uuid128 first = Uuid128::NewTimeOrdered();
  for (int i = 0; i < 10000; ++i) {
    const Uuid128 u = Uuid128::NewTimeOrdered();
    ASSERT_FALSE(u.empty());
    ASSERT_TRUE(seen.insert(u).second) << "duplicate id";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const Uuid128 later = Uuid128::NewTimeOrdered();
  EXPECT_GT(later, first);
  EXPECT_GT(later, *seen.rbegin());
  // The top 48 bits are the wall clock's milliseconds.
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(static_cast<int64_t>(later.hi >> 16), now_ms);
  EXPECT_GT(static_cast<int64_t>(later.hi >> 16), now_ms - 60'000);
  // And they round-trip as shortuuids like any id.
  auto parsed = Uuid128::Parse(later.ToString());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, later);
}

// The random bits are drawn ahead into a per-thread pool: a forked child
// must not hand out the bytes its parent has not used yet, or both would
// make the same ids.
TEST(TimeOrderedIds, AForkedChildNeverRepeatsTheParentsIds) {
  (void)Uuid128::NewTimeOrdered();  // this thread's pool is now filled
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr int kIds = 50;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    for (int i = 0; i < kIds; ++i) {
      const Uuid128 u = Uuid128::NewTimeOrdered();
      if (write(fds[1], &u.lo, sizeof u.lo) != sizeof u.lo) _exit(1);
    }
    _exit(0);
  }
  close(fds[1]);
  std::set<uint64_t> child;
  uint64_t lo = 0;
  while (read(fds[0], &lo, sizeof lo) == sizeof lo) child.insert(lo);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(child.size(), static_cast<size_t>(kIds));
  for (int i = 0; i < kIds; ++i) {
    EXPECT_EQ(child.count(Uuid128::NewTimeOrdered().lo), 0u)
        << "the child made an id the parent makes too";
  }
}

}  // namespace
}  // namespace hooklog
