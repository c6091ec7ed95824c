// Crash test: a child process appends acknowledged batches and reports each
// acknowledged sequence through a pipe; we SIGKILL it at random moments,
// reopen the store and check that every acknowledged event is there, the log
// is gapless and the projections match the log (VerifyStorage).
//
// Reproduce a run with HOOKLOG_CRASH_SEED=<seed printed below>.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>

#include "engine/projection.h"
#include "hooklog/rocksdb_storage.h"
#include "tests/storage/temp_dir.h"

namespace hooklog {
namespace {

using Clock = std::chrono::steady_clock;

struct Child {
  pid_t pid = -1;
  int fd = -1;
};

Child Spawn(const std::string& dir, uint32_t seed) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const std::string seed_str = std::to_string(seed);
    execl(HOOKLOG_CRASH_CHILD, HOOKLOG_CRASH_CHILD, dir.c_str(),
          seed_str.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Reads acknowledged sequences until `deadline` (or EOF when deadline is
// nullopt). Returns the highest one seen.
uint64_t ReadAcks(int fd, std::optional<Clock::time_point> deadline,
                  uint64_t max_seen, std::string* partial) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      *deadline - Clock::now())
                      .count();
      if (left <= 0) return max_seen;
      timeout_ms = static_cast<int>(left);
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0) return max_seen;
    if (r < 0) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return max_seen;  // EOF: the child is gone
    partial->append(buf, static_cast<size_t>(n));
    size_t whole = partial->size() / 8 * 8;
    for (size_t i = 0; i < whole; i += 8) {
      uint64_t seq;
      std::memcpy(&seq, partial->data() + i, 8);
      max_seen = std::max(max_seen, seq);
    }
    partial->erase(0, whole);
  }
}

TEST(CrashTest, AcknowledgedAppendsSurviveSigkill) {
  uint32_t seed = std::random_device{}();
  if (const char* env = std::getenv("HOOKLOG_CRASH_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  }
  std::printf("crash test seed: %u (HOOKLOG_CRASH_SEED=%u to reproduce)\n",
              seed, seed);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);
  testing::TempDir dir;
  const std::string path = dir.Sub("db");
  constexpr int kCycles = 50;
  const auto start = Clock::now();
  uint64_t max_acked = 0;
  int cycles_with_acks = 0;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) + " seed " +
                 std::to_string(seed));
    Child child = Spawn(path, rng());
    ASSERT_GT(child.pid, 0);
    std::string partial;
    // Wait for the first acknowledgement (the child has opened the store),
    // then let it run a random while more: 0..80 ms.
    uint64_t cycle_max = 0;
    const auto first_deadline = Clock::now() + std::chrono::seconds(10);
    while (cycle_max == 0 && Clock::now() < first_deadline) {
      cycle_max =
          ReadAcks(child.fd, Clock::now() + std::chrono::milliseconds(2),
                   cycle_max, &partial);
    }
    if (cycle == 0) {
      // While the child holds the directory, another opener gets
      // Unavailable naming the path.
      auto other = OpenRocksDbStorage(path);
      ASSERT_FALSE(other.ok());
      EXPECT_EQ(other.status().code(), StatusCode::kUnavailable)
          << other.status().ToString();
    }
    cycle_max =
        ReadAcks(child.fd, Clock::now() + std::chrono::milliseconds(rng() % 80),
                 cycle_max, &partial);
    kill(child.pid, SIGKILL);
    // Everything the child wrote to the pipe before dying was acknowledged.
    cycle_max = ReadAcks(child.fd, std::nullopt, cycle_max, &partial);
    close(child.fd);
    int status = 0;
    waitpid(child.pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child exited on its own with status " << status;
    if (cycle_max > 0) ++cycles_with_acks;
    max_acked = std::max(max_acked, cycle_max);

    RocksDbOptions options;
    options.prune_interval = Duration(0);
    auto s = OpenRocksDbStorage(path, options);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_GE((*s)->LastSequence(), max_acked)
        << "an acknowledged append was lost";
    auto report = VerifyStorage(s->get());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->gapless);
    ASSERT_EQ(report->events, (*s)->LastSequence())
        << "the log must hold every seq from 1 to the last";
    ASSERT_TRUE(report->ok()) << report->mismatches.front();
  }
  const double secs =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "crash test: %d kill cycles, last acknowledged seq %llu, %.1f s\n",
      kCycles, static_cast<unsigned long long>(max_acked), secs);
  EXPECT_EQ(cycles_with_acks, kCycles);
  // No assertion on `secs`: speed is the benchmarks' business, and
  // sanitizer builds run this several times slower; ctest's timeout bounds
  // it.
}

}  // namespace
}  // namespace hooklog
