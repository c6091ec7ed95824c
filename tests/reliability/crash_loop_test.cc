// The crash loop (issue 8; docs/reliability.md).
//
// The real webhookd binary runs as a child process on one data directory
// and is killed over and over: SIGKILL at a random moment, or earlier by a
// white-box kill point (base/kill_point.h) armed for that run. Between
// kills it is restarted on the same directory. Meanwhile, in this process:
//   - a receiver that is never killed answers a seeded mix of 2xx, 500,
//     timeouts and connection resets, verifies every signature and records
//     every webhook-id it receives (and whether it answered 2xx);
//   - producers publish uniquely numbered events (one idempotency key per
//     number, retried across kills until acknowledged) and append each
//     acknowledged one to an fsynced file before counting it;
//   - a replayer replays dead letters, so the replay kill points are reached.
// Then: no more kills, the receiver heals, the daemon drains, dead letters
// are checked (attempts recorded) and replayed, SIGTERM, hooklog-admin
// verify, one more restart, and the end-to-end checks below.
//
// Environment (CI defaults in brackets):
//   HOOKLOG_CRASH_SEED     [random]  everything random derives from it
//   HOOKLOG_CRASH_CYCLES   [40]      kill cycles
//   HOOKLOG_CRASH_RATE     [40]      events published per second (total)
//   HOOKLOG_CRASH_VERIFY_EVERY [10]  hooklog-admin verify after every N kills
//   HOOKLOG_CRASH_KEEP_DIR [0]       1: keep the data directory (printed)
// The seed is printed first; a failure names it and the cycle, and
// HOOKLOG_CRASH_SEED=<seed> replays the same choices (kill times, armed
// points, receiver mix; thread timing differs, see docs/reliability.md).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/reliability/crash_support.h"
#include "tests/webhookd/support.h"
#include "tools/receiver/receiver.h"

namespace hooklog::reliability {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hooklog::receiver::Receiver;
using hooklog::receiver::RecordedRequest;
using hooklog::receiver::Reply;
using webhookd_test::Child;
using webhookd_test::TempDir;

// Three attempts, quickly: retries and dead letters happen within a cycle.
constexpr char kRetrySchedule[] = "0s,100ms,250ms";
constexpr int kAttempts = 3;
constexpr char kAttemptTimeout[] = "400ms";
// webhookd's default per-endpoint cap: at most this many attempts per
// endpoint can have been answered 2xx but not recorded when a kill lands.
constexpr uint64_t kMaxInFlightPerEndpoint = 32;
const std::vector<std::string> kPaths = {"/a", "/b"};

// The engine's kill points and the probability each is armed with per
// reach: frequent points low (they are reached hundreds of times a
// second), rare ones (dead letters, replays) high, so that an armed point
// usually fires within a cycle.
struct KillPoint {
  const char* name;
  const char* probability;
};
constexpr KillPoint kKillPoints[] = {
    {"append_before_ack", "0.01"},       {"attempt_2xx_before_record", "0.02"},
    {"reschedule_after_commit", "0.05"}, {"dead_letter_before_commit", "0.3"},
    {"dead_letter_after_commit", "0.3"}, {"replay_before_commit", "0.4"},
    {"replay_after_commit", "0.4"},
};
#ifdef HOOKLOG_CRASH_HAS_KILL_POINTS
constexpr bool kHasKillPoints = true;
#else
constexpr bool kHasKillPoints = false;
#endif

// --- the daemon ------------------------------------------------------------

struct Daemon {
  std::unique_ptr<Child> child;
  uint16_t port = 0;  // 0: died before listening
};

Daemon StartDaemon(const std::string& data_dir,
                   const std::vector<std::string>& env) {
  std::vector<std::string> argv = {WEBHOOKD_BINARY,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data-dir",
                                   data_dir,
                                   "--api-key",
                                   kKey,
                                   "--allow-private-targets",
                                   "--retry-schedule",
                                   kRetrySchedule,
                                   "--attempt-timeout",
                                   kAttemptTimeout,
                                   "--log-level",
                                   "error"};
  Daemon d;
  d.child = std::make_unique<Child>(argv, env);
  auto line = d.child->ReadLine(120s);
  std::smatch m;
  static const std::regex re(
      R"(^webhookd listening on http://127\.0\.0\.1:(\d+)$)");
  if (line && std::regex_match(*line, m, re)) {
    d.port = static_cast<uint16_t>(std::stoi(m[1]));
  }
  return d;
}

// Stops the daemon with SIGTERM; "" when it exits 0.
std::string Stop(Daemon* d) {
  d->child->Signal(SIGTERM);
  auto code = d->child->Wait(120s);
  if (code == 0) return "";
  return "webhookd exit " + std::to_string(code.value_or(-1)) +
         " after SIGTERM:\n" + d->child->Stderr();
}

TEST(CrashLoop, AcknowledgedEventsSurviveKillsAndEveryCheckHolds) {
  uint64_t seed = EnvU64("HOOKLOG_CRASH_SEED", std::random_device{}());
  const uint64_t cycles = EnvU64("HOOKLOG_CRASH_CYCLES", 40);
  const double rate = static_cast<double>(
      std::max<uint64_t>(1, EnvU64("HOOKLOG_CRASH_RATE", 40)));
  const uint64_t verify_every =
      std::max<uint64_t>(1, EnvU64("HOOKLOG_CRASH_VERIFY_EVERY", 10));
  std::printf(
      "crash loop seed: %llu (HOOKLOG_CRASH_SEED=%llu to reproduce), "
      "cycles %llu, kill points %s\n",
      static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(cycles),
      kHasKillPoints ? "compiled in" : "not compiled (random kills only)");
  std::fflush(stdout);
  RecordProperty("seed", std::to_string(seed));
  const auto start = Clock::now();
  std::mt19937_64 rng(seed);

  TempDir dir;
  const std::string data_dir = dir.path() + "/data";
  const std::string ack_path = dir.path() + "/acknowledged.log";
  const bool keep_dir = EnvU64("HOOKLOG_CRASH_KEEP_DIR", 0) != 0;
  std::string kept;
  if (keep_dir) {
    kept = "/tmp/hooklog-crash-" + std::to_string(seed);
    std::printf("keeping the data directory in %s\n", kept.c_str());
  }
  struct KeepDir {
    const std::string& from;
    const std::string& to;
    ~KeepDir() {
      if (to.empty()) return;
      std::error_code ec;
      std::filesystem::remove_all(to, ec);
      std::filesystem::copy(from, to, std::filesystem::copy_options::recursive,
                            ec);
    }
  } keep{dir.path(), kept};

  // The receiver: never killed.
  Ledger ledger(rng());
  Receiver::Options ropts;
  ropts.threads = 2;
  ropts.record = false;  // the ledger records
  auto rx = Receiver::Start(ropts);
  ASSERT_NE(rx, nullptr);
  rx->SetDefaultScript(
      [&ledger](const RecordedRequest& r) { return ledger.Decide(r); });

  // Set-up: two endpoints (each event fans out to two deliveries), without
  // kills.
  std::map<std::string, std::string> path_of;  // endpoint id -> path
  {
    Daemon d = StartDaemon(data_dir, {});
    ASSERT_NE(d.port, 0) << d.child->Stderr();
    Client c(d.port);
    for (const std::string& path : kPaths) {
      Response r = c.CallRetrying(http::verb::post, kBase + "endpoints/",
                                  R"({"url":")" + rx->Url(path) + "\"}");
      ASSERT_EQ(r.status, 201) << r.body;
      webhookd_test::Json j(r.body);
      path_of[j.Str("id")] = path;
      rx->SetSecrets(path, {j.Str("signing_secret")});
    }
    ASSERT_EQ(Stop(&d), "");
  }

  Shared shared;
  shared.ack_fd = open(ack_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(shared.ack_fd, 0);
  std::vector<std::thread> threads;
  constexpr int kProducers = 2;
  for (int i = 0; i < kProducers; ++i) {
    threads.emplace_back(Produce, &shared, rng(), rate / kProducers);
  }
  threads.emplace_back(ReplayDeadLetters, &shared, rng());
  JoinAll join_all{shared, threads};

  // --- kill cycles ---
  std::map<std::string, uint64_t> fired;  // kill point -> times fired
  uint64_t random_kills = 0, armed_cycles = 0, verifies = 0;
  std::vector<size_t> order;  // every point armed once per 7 armed cycles
  static const std::regex fired_re("hooklog: kill point ([a-z0-9_]+) fired");
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) +
                 ", HOOKLOG_CRASH_SEED=" + std::to_string(seed));
    std::vector<std::string> env;
    std::string armed = "none";
    const bool arm = kHasKillPoints && rng() % 4 != 0;  // 75 % of cycles
    const uint64_t kill_seed = rng();
    const auto life = std::chrono::milliseconds(300 + rng() % 2200);
    if (arm) {
      if (order.empty()) {
        for (size_t i = 0; i < std::size(kKillPoints); ++i) order.push_back(i);
        std::shuffle(order.begin(), order.end(), rng);
      }
      const KillPoint& kp = kKillPoints[order.back()];
      order.pop_back();
      armed = kp.name;
      env = {
          std::string("HOOKLOG_KILL_POINTS=") + kp.name + ":" + kp.probability,
          "HOOKLOG_KILL_SEED=" + std::to_string(kill_seed)};
      ++armed_cycles;
    }
    Daemon d = StartDaemon(data_dir, env);
    std::optional<int> code;
    if (d.port != 0) {
      shared.port = d.port;
      code = d.child->Wait(life);
      if (!code) {
        d.child->Signal(SIGKILL);
        code = d.child->Wait(60s);
      }
      shared.port = 0;
    } else {
      code = d.child->Wait(60s);
    }
    const std::string err = d.child->Stderr();
    ASSERT_EQ(code.value_or(-1), 128 + SIGKILL)
        << "webhookd died otherwise (armed: " << armed << "):\n"
        << err;
    std::smatch m;
    if (std::regex_search(err, m, fired_re)) {
      ASSERT_EQ(m[1].str(), armed) << err;
      ++fired[m[1].str()];
    } else {
      ASSERT_NE(d.port, 0) << "webhookd did not start:\n" << err;
      ++random_kills;
    }
    if ((cycle + 1) % verify_every == 0) {
      ++verifies;
      ASSERT_EQ(AdminVerify({data_dir}), "")
          << "after the kill of cycle " << cycle;
    }
    if ((cycle + 1) % 50 == 0) {  // progress, for long soaks
      uint64_t acked;
      {
        std::lock_guard<std::mutex> lock(shared.mu);
        acked = shared.acknowledged;
      }
      std::printf("cycle %llu/%llu: acknowledged %llu, %.0fs\n",
                  static_cast<unsigned long long>(cycle + 1),
                  static_cast<unsigned long long>(cycles),
                  static_cast<unsigned long long>(acked),
                  std::chrono::duration<double>(Clock::now() - start).count());
      std::fflush(stdout);
    }
  }

  // --- final phase: heal, drain, check dead letters, replay them ---
  ledger.Heal();
  Daemon d = StartDaemon(data_dir, {});
  ASSERT_NE(d.port, 0) << d.child->Stderr();
  shared.port = d.port;
  shared.stop = true;
  for (auto& th : threads) th.join();  // each finishes its current event
  Client c(d.port);
  uint64_t left = 0;
  ASSERT_TRUE(Drain(&c, 180s, &left)) << left << " deliveries still open";
  auto rows = ListAll(&c);
  ASSERT_TRUE(rows);
  // Dead letters: retries exhausted, every attempt recorded.
  uint64_t dead_letters = 0;
  for (const Row& row : *rows) {
    if (row.status != "dead_letter") continue;
    ++dead_letters;
    EXPECT_EQ(row.reason, "attempts_exhausted") << row.id;
    EXPECT_EQ(row.attempts, kAttempts) << row.id;
    Response r =
        c.CallRetrying(http::verb::get, kBase + "deliveries/" + row.id + "/");
    ASSERT_EQ(r.status, 200) << r.body;
    webhookd_test::Json j(r.body);
    simdjson::dom::array log;
    ASSERT_FALSE(j["attempts_log"].get_array().get(log));
    EXPECT_EQ(static_cast<int64_t>(log.size()), row.attempts) << r.body;
  }
  // Replay every (event, endpoint) that has no delivered delivery; the
  // healed receiver accepts them. A few rounds: an attempt can still time
  // out on a loaded machine.
  uint64_t final_replays = 0;
  for (int round = 0; round < 5; ++round) {
    std::set<std::pair<std::string, std::string>> delivered;
    for (const Row& row : *rows) {
      if (row.status == "delivered") {
        delivered.insert({row.event_id, row.endpoint_id});
      }
    }
    std::set<std::pair<std::string, std::string>> replayed;
    for (const Row& row : *rows) {
      std::pair<std::string, std::string> key{row.event_id, row.endpoint_id};
      if (row.status != "dead_letter" || delivered.contains(key) ||
          !replayed.insert(key).second) {
        continue;
      }
      Response r = c.CallRetrying(http::verb::post,
                                  kBase + "deliveries/" + row.id + "/replay/");
      ASSERT_EQ(r.status, 200) << r.body;
      ++final_replays;
    }
    if (replayed.empty()) break;
    ASSERT_TRUE(Drain(&c, 120s, &left)) << left << " deliveries still open";
    rows = ListAll(&c);
    ASSERT_TRUE(rows);
  }
  ASSERT_EQ(Stop(&d), "");
  shared.port = 0;

  // (3) The log is gapless and the projections equal a rebuild.
  ASSERT_EQ(AdminVerify({data_dir}), "");
  ++verifies;

  // Restart once more: the final state is what the checks read.
  Daemon last = StartDaemon(data_dir, {});
  ASSERT_NE(last.port, 0) << last.child->Stderr();
  Client c2(last.port);
  rows = ListAll(&c2);
  ASSERT_TRUE(rows);
  ASSERT_EQ(Stop(&last), "");

  // --- the checks ---
  const std::vector<Receipt> receipts = ledger.Receipts();
  const std::vector<Ack> acks = ReadAcks(ack_path);
  const int64_t published = shared.next_n;
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    EXPECT_EQ(acks.size(), shared.acknowledged);
    for (const std::string& u : shared.unexpected) ADD_FAILURE() << u;
  }
  std::map<std::string, const Row*> row_by_id;
  std::set<std::string> events_in_log;
  std::set<std::pair<std::string, std::string>> delivered;  // event, path
  uint64_t delivered_rows = 0, dead_rows = 0;
  for (const Row& row : *rows) {
    row_by_id[row.id] = &row;
    events_in_log.insert(row.event_id);
    EXPECT_TRUE(path_of.contains(row.endpoint_id)) << row.id;
    if (row.status == "delivered") {
      ++delivered_rows;
      delivered.insert({row.event_id, path_of[row.endpoint_id]});
      EXPECT_EQ(row.http_status, 200) << row.id;
    } else if (row.status == "dead_letter") {
      ++dead_rows;
    } else {
      ADD_FAILURE() << "delivery " << row.id << " is still " << row.status
                    << " after draining";
    }
  }
  // Receiver side.
  std::map<std::pair<std::string, std::string>, uint64_t> accepted;
  std::map<int64_t, std::set<std::string>> ids_of_n;
  uint64_t bad_signatures = 0, not_published = 0;
  for (const Receipt& r : receipts) {
    if (!r.signature_ok) ++bad_signatures;
    // (2) Nothing delivered that was never published: a number that was
    // sent, an id the log knows, the envelope matching the header.
    if (r.n < 0 || r.n >= published || r.webhook_id != r.body_id ||
        !events_in_log.contains(r.webhook_id)) {
      if (++not_published <= 5) {
        ADD_FAILURE() << "received " << r.path << " " << r.webhook_id
                      << " (body id " << r.body_id << ", n " << r.n
                      << ") which was never published";
      }
    }
    ids_of_n[r.n].insert(r.body_id);
    if (r.accepted) ++accepted[{r.webhook_id, r.path}];
  }
  EXPECT_EQ(not_published, 0u);
  // (4) Every signature verified.
  EXPECT_EQ(bad_signatures, 0u) << "of " << receipts.size() << " requests";
  // (1) Every acknowledged event was delivered to both endpoints: a
  // delivered row in the log and a 2xx answered by the receiver.
  uint64_t lost = 0;
  for (const Ack& a : acks) {
    ids_of_n[a.n].insert(a.event_id);
    EXPECT_EQ(a.deliveries.size(), kPaths.size()) << "event n=" << a.n;
    for (const std::string& id : a.deliveries) {
      auto it = row_by_id.find(id);
      if (it == row_by_id.end()) {
        ADD_FAILURE() << "acknowledged delivery " << id << " of event "
                      << a.event_id << " (n=" << a.n << ") is not in the log";
        ++lost;
      } else {
        EXPECT_EQ(it->second->event_id, a.event_id) << id;
      }
    }
    for (const std::string& path : kPaths) {
      const bool in_log = delivered.contains({a.event_id, path});
      const bool at_receiver = accepted.contains({a.event_id, path});
      if (!in_log || !at_receiver) {
        if (++lost <= 5) {
          ADD_FAILURE() << "acknowledged event " << a.event_id << " (n=" << a.n
                        << ") for " << path << ": delivered in the log "
                        << in_log << ", accepted by the receiver "
                        << at_receiver;
        }
      }
    }
  }
  EXPECT_EQ(lost, 0u) << "acknowledged events lost";
  // A delivered row always follows a 2xx the receiver really answered.
  for (const auto& key : delivered) {
    EXPECT_TRUE(accepted.contains(key))
        << key.first << " " << key.second
        << " is delivered but the receiver never answered it 2xx";
  }
  // Idempotency keys: one event per number, however often it was retried.
  uint64_t doubled = 0;
  for (const auto& [n, ids] : ids_of_n) {
    if (ids.size() > 1) {
      ++doubled;
      ADD_FAILURE() << "number " << n << " was published as " << ids.size()
                    << " events";
    }
  }
  // Duplicates: the same (webhook-id, endpoint) answered 2xx more than once.
  // At-least-once allows them; each must come from a 2xx that a kill
  // prevented from being recorded, so at most what was in flight per kill.
  uint64_t duplicates = 0;
  for (const auto& [key, count] : accepted) duplicates += count - 1;
  const uint64_t kills = cycles;
  EXPECT_LE(duplicates, kills * kPaths.size() * kMaxInFlightPerEndpoint);

  uint64_t fired_total = 0;
  std::string fired_list;
  for (const auto& [name, count] : fired) {
    fired_total += count;
    fired_list +=
        (fired_list.empty() ? "" : ",") + name + "=" + std::to_string(count);
  }
  if (kHasKillPoints && cycles >= 10) {
    // Armed in 75 % of the cycles with probabilities chosen to fire: none
    // firing at all means the points are not reached any more.
    EXPECT_GT(fired_total, 0u)
        << "no kill point fired in " << armed_cycles << " armed cycles";
  }
  const double wall =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "crash loop summary: cycles=%llu seed=%llu published=%lld "
      "acknowledged=%zu publish_retries=%llu doubled=%llu deliveries=%zu "
      "delivered=%llu dead_letter=%llu (replayed: %llu during the run, %llu "
      "at the end; %llu replays unanswered) requests=%zu duplicates=%llu "
      "bad_signatures=%llu kill_points_fired=%llu [%s] random_kills=%llu "
      "verifies=%llu receiver_mix=[%s] wall=%.1fs\n",
      static_cast<unsigned long long>(cycles),
      static_cast<unsigned long long>(seed), static_cast<long long>(published),
      acks.size(),
      static_cast<unsigned long long>(shared.publish_retries.load()),
      static_cast<unsigned long long>(doubled), rows->size(),
      static_cast<unsigned long long>(delivered_rows),
      static_cast<unsigned long long>(dead_letters),
      static_cast<unsigned long long>(shared.replays_ok.load()),
      static_cast<unsigned long long>(final_replays),
      static_cast<unsigned long long>(shared.replays_unanswered.load()),
      receipts.size(), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(bad_signatures),
      static_cast<unsigned long long>(fired_total), fired_list.c_str(),
      static_cast<unsigned long long>(random_kills),
      static_cast<unsigned long long>(verifies), ledger.Mix().c_str(), wall);
  std::fflush(stdout);
  (void)dead_rows;
}

}  // namespace
}  // namespace hooklog::reliability
