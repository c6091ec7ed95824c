// A data directory of store format 2 (tests/storage/fixtures/
// rocksdb_format2: written by tests/storage/make_fixture.cc built from main
// at 980ff1d, the last format-2 build) must open with this build, upgrade
// to format 4, answer every query as before, verify clean and keep
// delivering; opened read-only it is not upgraded and still answers.
//
// What it holds (make_fixture.cc): endpoints a (delivered), b (failed, next
// attempt an hour later), r (rate_limited), p (pending, attempt in flight
// when the engine stopped), e (deleted: dead_letter); four order.paid and
// two order.refunded messages, the last with idempotency key
// fixture-v2-key; b takes order.*, r only order.refunded: 26 deliveries.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"
#include "hooklog/testing/fake_clock.h"
#include "hooklog/verify.h"
#include "tests/storage/status_lists.h"
#include "tests/storage/temp_dir.h"
#include "tests/support/scripted_transport.h"

namespace hooklog {
namespace {

namespace fs = std::filesystem;
using testing::ExpectStatusListsAgree;
using testing::ScriptedTransport;
using testing::TempDir;

constexpr char kA[] = "MxoYMyufL3g9w4snv3NTv4";
constexpr char kB[] = "Gdzk9odV9umsDt7anD58BW";
constexpr char kE[] = "atSZbjMFziFjisBVm3Pms7";
constexpr char kP[] = "RgvgHSzQBYBAHKipXFFsPB";
constexpr char kR[] = "afEUnMkY3CyUNsdoJrtDpy";

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
  fs::copy(HOOKLOG_FIXTURE_DIR "/rocksdb_format2", to,
           fs::copy_options::recursive);
  return to;
}

// What the fixture holds, whatever the format it is read in.
void ExpectFixtureContents(Storage* store) {
  auto totals = store->GetTotals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(Count(*totals, DeliveryStatus::kDelivered), 6u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kFailed), 6u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kRateLimited), 2u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kPending), 6u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kDeadLetter), 6u);
  const std::pair<const char*, DeliveryStatus> ends[] = {
      {kA, DeliveryStatus::kDelivered},
      {kB, DeliveryStatus::kFailed},
      {kR, DeliveryStatus::kRateLimited},
      {kP, DeliveryStatus::kPending},
      {kE, DeliveryStatus::kDeadLetter}};
  for (const auto& [endpoint, status] : ends) {
    SCOPED_TRACE(endpoint);
    DeliveryQuery q;
    q.endpoint_id = Id(endpoint);
    q.status = status;
    auto page = store->ListDeliveries(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_EQ(page->items.size(), endpoint == kR ? 2u : 6u);
    EXPECT_EQ(page->total_count, page->items.size());
    // Every delivery is also found by its message.
    for (const Delivery& d : page->items) {
      DeliveryQuery by_message;
      by_message.message_id = d.message_id;
      by_message.endpoint_id = d.endpoint_id;
      auto m = store->ListDeliveries(by_message);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      ASSERT_EQ(m->items.size(), 1u);
      EXPECT_EQ(m->items[0].id, d.id);
    }
  }
  DeliveryQuery refunded_dead;
  refunded_dead.status = DeliveryStatus::kDeadLetter;
  refunded_dead.event_type = "order.refunded";
  auto page = store->ListDeliveries(refunded_dead);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_count, 2u);
  auto idem = store->GetIdempotency("fixture-v2-key");
  ASSERT_TRUE(idem.ok());
  ASSERT_TRUE(idem->has_value());
  EXPECT_EQ((*idem)->deliveries.size(), 5u);
  EndpointQuery all;
  all.include_deleted = true;
  EXPECT_EQ(store->ListEndpoints(all)->total_count, 5u);
  EXPECT_TRUE(store->GetEndpoint(Id(kE))->deleted);
  // LoadActive: every endpoint and exactly the non-terminal deliveries
  // (read from the 'T' index after the upgrade, from 'due' before it).
  size_t loaded_endpoints = 0;
  std::map<DeliveryStatus, size_t> loaded;
  ASSERT_TRUE(store
                  ->LoadActive([&](const Endpoint&) { ++loaded_endpoints; },
                               [&](const Delivery& d) { ++loaded[d.status]; })
                  .ok());
  EXPECT_EQ(loaded_endpoints, 5u);
  const std::map<DeliveryStatus, size_t> want_loaded = {
      {DeliveryStatus::kPending, 6},
      {DeliveryStatus::kFailed, 6},
      {DeliveryStatus::kRateLimited, 2}};
  EXPECT_EQ(loaded, want_loaded);
  ExpectStatusListsAgree(store);
}

TEST(Format2DataDirectoryTest, OpensUpgradesAnswersAndVerifies) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open == 0 ? "first open (upgrade)" : "reopen");
    auto s = OpenRocksDbStorage(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(GetRocksDbStats(s->get())->format_version, 4u);
    ExpectFixtureContents(s->get());
    auto report = VerifyStorage(s->get());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->ok())
        << (report->mismatches.empty() ? "log not gapless"
                                       : report->mismatches.front());
    EXPECT_EQ(report->deliveries, 26u);
    EXPECT_EQ(report->messages, 6u);
  }
}

// What the upgrade leaves on disk, read with RocksDB directly: no 'D'
// entry of the format-2 status masks, no due entry, the four status-free
// 'D' entries and the 'M' entry of each of the 26 deliveries, and two 'T'
// entries for each of the 20 not delivered.
TEST(Format2DataDirectoryTest, UpgradeReplacesTheFormat2Indexes) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  { ASSERT_TRUE(OpenRocksDbStorage(path).ok()); }
  std::vector<std::string> names;
  ASSERT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names)
    cfs.push_back({n, rocksdb::ColumnFamilyOptions()});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs,
                                           &handles, &raw)
                  .ok());
  std::map<std::string, uint64_t> keys;  // by family and first two bytes
  for (auto* h : handles) {
    std::unique_ptr<rocksdb::Iterator> it(
        raw->NewIterator(rocksdb::ReadOptions(), h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (h->GetName() == "index") {
        const std::string k = it->key().ToString();
        // 'D' and 'T' by their mask / sub byte; 'M', 'N' alone.
        const size_t n = (k[0] == 'D' || k[0] == 'T') ? 2 : 1;
        keys["index " + k.substr(0, n)]++;
      } else {
        keys[h->GetName()]++;
      }
    }
    EXPECT_TRUE(it->status().ok());
  }
  for (auto* h : handles) (void)raw->DestroyColumnFamilyHandle(h);
  delete raw;
  EXPECT_EQ(keys.count("due"), 0u);
  for (char mask : {'\x02', '\x03', '\x06', '\x07'}) {
    EXPECT_EQ(keys.count(std::string("index D") + mask), 0u) << int{mask};
  }
  for (char mask : {'\x00', '\x01', '\x04', '\x05'}) {
    EXPECT_EQ((keys[std::string("index D") + mask]), 26u) << int{mask};
  }
  EXPECT_EQ((keys[std::string("index T") + '\x00']), 20u);
  EXPECT_EQ((keys[std::string("index T") + '\x01']), 20u);
  EXPECT_EQ(keys["index M"], 26u);
  EXPECT_EQ(keys["index N"], 5u);
}

// Read-only cannot upgrade: the store stays format 2 and answers every
// query from its format-2 indexes.
TEST(Format2DataDirectoryTest, ReadOnlyOpenAnswersWithoutUpgrading) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  RocksDbOptions ro;
  ro.read_only = true;
  {
    auto s = OpenRocksDbStorage(path, ro);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(GetRocksDbStats(s->get())->format_version, 2u);
    ExpectFixtureContents(s->get());
  }
  auto s = OpenRocksDbStorage(path, ro);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(GetRocksDbStats(s->get())->format_version, 2u);
}

// After the upgrade the engine resumes every non-terminal delivery (on a
// clock two hours after the fixture was written, so that b's failed and
// r's rate-limited ones, which waited an hour, are due whenever the test
// runs): p's 6 pending, b's 6 failed and r's 2 rate-limited ones are
// delivered, so is a new message, and the status indexes follow.
TEST(Format2DataDirectoryTest, KeepsDelivering) {
  TempDir dir;
  const std::string path = CopyFixture(dir);
  {
    auto s = OpenRocksDbStorage(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    DeliveryQuery newest;
    newest.page_size = 1;
    auto first = (*s)->ListDeliveries(newest);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(first->items.size(), 1u);
    EngineOptions o;
    o.clock = std::make_shared<testing::FakeClock>(
        first->items[0].created_at +
        std::chrono::duration_cast<Duration>(std::chrono::hours(2)).count());
    ScriptedTransport* transport = nullptr;
    o.transport_factory = ScriptedTransport::Factory(
        &transport,
        [](const AttemptRequest&) { return ScriptedTransport::Http(200); });
    auto engine = OpenEngine(std::move(*s), o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    // New work too: order.paid goes to a, b and p.
    PublishRequest p;
    p.event_type = "order.paid";
    p.payload = "{\"order\":6}";
    auto published = (*engine)->Publish(p).get();
    ASSERT_TRUE(published.ok()) << published.status().ToString();
    EXPECT_EQ(published->deliveries.size(), 3u);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    uint64_t delivered = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      EngineStats st = (*engine)->Stats();
      delivered =
          st.deliveries_by_status[static_cast<int>(DeliveryStatus::kDelivered)];
      if (delivered == 23) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(delivered, 23u);
    ASSERT_NE(transport, nullptr);
    // p's 6, b's 6, r's 2, and the new 3; never e's (deleted).
    EXPECT_EQ(transport->requests().size(), 17u);
    for (const AttemptRequest& r : transport->requests()) {
      EXPECT_EQ(r.url.find("/hooks/e"), std::string::npos) << r.url;
    }
    (*engine)->Shutdown(std::chrono::seconds(5));
  }
  auto s = OpenRocksDbStorage(path);
  ASSERT_TRUE(s.ok());
  auto report = VerifyStorage(s->get());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  auto totals = (*s)->GetTotals();
  EXPECT_EQ(Count(*totals, DeliveryStatus::kDelivered), 23u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kPending), 0u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kRateLimited), 0u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kFailed), 0u);
  EXPECT_EQ(Count(*totals, DeliveryStatus::kDeadLetter), 6u);
  DeliveryQuery pending;
  pending.status = DeliveryStatus::kPending;
  auto page = (*s)->ListDeliveries(pending);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  ExpectStatusListsAgree(s->get());
}

}  // namespace
}  // namespace hooklog
