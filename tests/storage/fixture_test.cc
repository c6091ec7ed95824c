// A data directory written by an earlier build (tests/storage/fixtures/
// rocksdb_v3: webhookd at commit b69b3a1, event format v3, before the
// storage code was split by concern) must open with this build, answer
// queries, verify clean and keep delivering. It pins the on-disk format
// across refactors; a new format must keep this test passing (migrate on
// open or read both).
//
// How it was made: webhookd --retry-schedule 0s,300ms,300ms with four
// endpoints — A (ok receiver; metadata team=billing, event_types order.*,
// rate_limit_per_s 50, circuit_breaker.consecutive_failures 7,
// auto_disable_after 3d, secret rotated once), B (a receiver answering 500;
// FIFO), C (created disabled), D (deleted after its deliveries) — six
// publishes of order.paid and one of order.refunded with idempotency key
// fixture-key-1, then SIGTERM while B's deliveries were still retrying.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/verify.h"
#include "tests/storage/status_lists.h"
#include "tests/storage/temp_dir.h"
#include "tests/support/scripted_transport.h"

namespace hooklog {
namespace {

namespace fs = std::filesystem;
using testing::ScriptedTransport;
using testing::TempDir;

constexpr char kA[] = "MStzEKvAt7kJKr97toqtYB";
constexpr char kB[] = "i3tWtCSSAMzKSD4unHzVwa";
constexpr char kC[] = "7YLsdmgXKari3jjjXGuhC5";
constexpr char kD[] = "kysiMM5kWsdCJZZ2uMveGp";

EndpointId Id(const char* s) {
  auto id = EndpointId::Parse(s);
  EXPECT_TRUE(id.ok()) << s;
  return id.ok() ? *id : EndpointId{};
}

uint64_t Count(const EndpointCounters& c, DeliveryStatus s) {
  return c.by_status[static_cast<int>(s)];
}

// A private copy: opening writes (a new WAL, the LOCK file).
std::string CopyFixture(const TempDir& dir) {
  const std::string to = dir.Sub("db");
  fs::copy(HOOKLOG_FIXTURE_DIR "/rocksdb_v3", to, fs::copy_options::recursive);
  return to;
}

TEST(EarlierDataDirectoryTest, OpensAnswersQueriesAndVerifies) {
  TempDir dir;
  auto s = OpenRocksDbStorage(CopyFixture(dir));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Storage* store = s->get();

  auto report = VerifyStorage(store);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok())
      << (report->mismatches.empty() ? "log not gapless"
                                     : report->mismatches.front());
  EXPECT_EQ(report->deliveries, 21u);
  EXPECT_EQ(report->messages, 7u);

  auto totals = store->GetTotals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(Count(*totals, DeliveryStatus::kDelivered), 14u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kDeadLetter), 3u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kFailed), 1u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kPending), 3u);

  EndpointQuery live;
  auto endpoints = store->ListEndpoints(live);
  ASSERT_TRUE(endpoints.ok());
  EXPECT_EQ(endpoints->total_count, 3u);  // D was deleted
  EndpointQuery all;
  all.include_deleted = true;
  EXPECT_EQ(store->ListEndpoints(all)->total_count, 4u);
  EndpointQuery billing;
  billing.metadata["team"] = "billing";
  auto only_a = store->ListEndpoints(billing);
  ASSERT_TRUE(only_a.ok());
  ASSERT_EQ(only_a->items.size(), 1u);
  EXPECT_EQ(only_a->items[0].id, Id(kA));

  auto a = store->GetEndpoint(Id(kA));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->event_types, std::vector<std::string>{"order.*"});
  EXPECT_EQ(a->rate_limit_per_s, 50);
  ASSERT_TRUE(a->protection.circuit_breaker.has_value());
  EXPECT_EQ(a->protection.circuit_breaker->consecutive_failures, 7u);
  ASSERT_TRUE(a->protection.auto_disable_after.has_value());
  EXPECT_EQ(*a->protection.auto_disable_after,
            std::chrono::duration_cast<Duration>(std::chrono::hours(72)));
  EXPECT_EQ(a->secrets.size(), 2u);  // rotated: the old one in its grace
  EXPECT_TRUE(store->GetEndpoint(Id(kB))->fifo);
  EXPECT_FALSE(store->GetEndpoint(Id(kC))->enabled);
  EXPECT_TRUE(store->GetEndpoint(Id(kD))->deleted);

  DeliveryQuery dead;
  dead.status = DeliveryStatus::kDeadLetter;
  dead.endpoint_id = Id(kB);
  auto dead_page = store->ListDeliveries(dead);
  ASSERT_TRUE(dead_page.ok());
  EXPECT_EQ(dead_page->total_count, 3u);
  for (const Delivery& d : dead_page->items) {
    EXPECT_EQ(d.http_status_code, 500);
    EXPECT_EQ(d.attempts_log.size(), 3u);
  }

  auto idem = store->GetIdempotency("fixture-key-1");
  ASSERT_TRUE(idem.ok());
  ASSERT_TRUE(idem->has_value());
  EXPECT_EQ((*idem)->deliveries.size(), 3u);
}

// The fixture is store format 1: opening it builds the per-message index
// (format 2) and the status index (format 4), so every delivery is found by
// its message, also after a reopen, and the upgraded directory records the
// new format.
TEST(EarlierDataDirectoryTest, DeliveriesAreFoundByMessageAfterUpgrade) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open == 0 ? "first open (upgrade)" : "reopen");
    auto s = OpenRocksDbStorage(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Storage* store = s->get();
    auto stats = GetRocksDbStats(store);
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->format_version, 4u);
    // Every delivery, grouped by message.
    std::map<MessageId, std::vector<DeliveryId>> by_message;
    DeliveryQuery all;
    for (;;) {
      auto page = store->ListDeliveries(all);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      for (const Delivery& d : page->items) {
        by_message[d.message_id].push_back(d.id);
      }
      if (page->next_cursor.empty()) break;
      all.cursor = page->next_cursor;
    }
    ASSERT_EQ(by_message.size(), 7u);
    size_t found = 0;
    for (const auto& [message, ids] : by_message) {
      DeliveryQuery q;
      q.message_id = message;
      auto page = store->ListDeliveries(q);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      std::vector<DeliveryId> got;
      for (const Delivery& d : page->items) {
        EXPECT_EQ(d.message_id, message);
        got.push_back(d.id);
      }
      EXPECT_EQ(got, ids) << message.ToString();  // both newest first
      EXPECT_EQ(page->total_count, ids.size());
      found += got.size();
    }
    EXPECT_EQ(found, 21u);
    testing::ExpectStatusListsAgree(store);
    auto report = VerifyStorage(store);
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->ok());
  }
}

// Read-only cannot upgrade: the store opens and answers, but a message list
// says what to do instead of answering wrongly.
TEST(EarlierDataDirectoryTest, ReadOnlyOpenDoesNotUpgrade) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  RocksDbOptions ro;
  ro.read_only = true;
  auto s = OpenRocksDbStorage(path, ro);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  DeliveryQuery q;
  auto page = (*s)->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->items.empty());
  q.message_id = page->items[0].message_id;
  auto by_message = (*s)->ListDeliveries(q);
  EXPECT_EQ(by_message.status().code(), StatusCode::kFailedPrecondition)
      << by_message.status().ToString();
  EXPECT_EQ(GetRocksDbStats(s->get())->format_version, 1u);
  // Status lists come from the format 1 indexes.
  testing::ExpectStatusListsAgree(s->get());
}

TEST(EarlierDataDirectoryTest, KeepsDelivering) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  {
    auto s = OpenRocksDbStorage(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EngineOptions o;
    ScriptedTransport* transport = nullptr;
    o.transport_factory = ScriptedTransport::Factory(
        &transport,
        [](const AttemptRequest&) { return ScriptedTransport::Http(200); });
    auto engine = OpenEngine(std::move(*s), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    // B's four non-terminal deliveries resume, one at a time (FIFO).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    uint64_t delivered = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      EngineStats st = (*engine)->Stats();
      delivered =
          st.deliveries_by_status[static_cast<int>(DeliveryStatus::kDelivered)];
      if (delivered == 18) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(delivered, 18u);
    ASSERT_NE(transport, nullptr);
    for (const AttemptRequest& r : transport->requests()) {
      EXPECT_NE(r.url.find("/hooks/b"), std::string::npos) << r.url;
    }
    (*engine)->Shutdown(std::chrono::seconds(5));
  }
  auto s = OpenRocksDbStorage(path);
  ASSERT_TRUE(s.ok());
  auto report = VerifyStorage(s->get());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(Count(*(*s)->GetTotals(), DeliveryStatus::kDeadLetter), 3u);
}

}  // namespace
}  // namespace hooklog
