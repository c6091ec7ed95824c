// RocksDB-specific behaviour: open errors, read-only mode, retention,
// verification of a store written like the engine writes, hooklog-admin, and
// fault injection through ForwardingStorage.

#include "hooklog/rocksdb_storage.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "engine/projection.h"
#include "hooklog/testing/fake_clock.h"
#include "tests/storage/event_stream.h"
#include "tests/storage/temp_dir.h"

namespace hooklog {
namespace {

using testing::EngineLikeWriter;
using testing::FakeClock;
using testing::TempDir;

constexpr Timestamp kStart = 1'790'000'000LL * kSecond;

std::unique_ptr<Storage> MustOpen(const std::string& path,
                                  RocksDbOptions options = {}) {
  auto s = OpenRocksDbStorage(path, std::move(options));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

void WriteStream(Storage* s, int batches, uint32_t seed = 1) {
  EngineLikeWriter w(seed, kStart);
  for (int i = 0; i < batches; ++i) {
    WriteBatch b = w.NextBatch();
    auto r = s->Append(&b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(w.Commit(b).ok());
  }
}

TEST(RocksDbStorageTest, WrittenLikeTheEngineVerifiesClean) {
  TempDir dir;
  auto s = MustOpen(dir.Sub("db"));
  WriteStream(s.get(), 400);
  auto report = VerifyStorage(s.get());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok())
      << (report->mismatches.empty() ? "" : report->mismatches.front());
  EXPECT_GT(report->deliveries, 50u);
  EXPECT_EQ(report->events, s->LastSequence());
}

TEST(RocksDbStorageTest, MissingDirectoryWithoutCreateIsNotFound) {
  TempDir dir;
  RocksDbOptions options;
  options.create_if_missing = false;
  auto s = OpenRocksDbStorage(dir.Sub("absent"), options);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find(dir.Sub("absent")), std::string::npos);
}

TEST(RocksDbStorageTest, SecondOpenerIsUnavailable) {
  TempDir dir;
  auto first = MustOpen(dir.Sub("db"));
  auto second = OpenRocksDbStorage(dir.Sub("db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable)
      << second.status().ToString();
  EXPECT_NE(second.status().message().find(dir.Sub("db")), std::string::npos);
  EXPECT_NE(second.status().message().find("locked"), std::string::npos);
  // Read-only opening works next to the writer.
  RocksDbOptions ro;
  ro.read_only = true;
  auto reader = OpenRocksDbStorage(dir.Sub("db"), ro);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
}

TEST(RocksDbStorageTest, NewerFormatVersionIsFailedPrecondition) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  { auto s = MustOpen(path); }
  {
    // Pretend a future hooklog wrote this directory.
    std::vector<std::string> names;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names)
      cfs.push_back({n, rocksdb::ColumnFamilyOptions()});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == "meta") meta = h;
    }
    ASSERT_NE(meta, nullptr);
    const char v[4] = {7, 0, 0, 0};
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), meta, "format_version",
                        rocksdb::Slice(v, 4))
                    .ok());
    for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  auto s = OpenRocksDbStorage(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find(path), std::string::npos);
  EXPECT_NE(s.status().message().find("newer"), std::string::npos);
}

TEST(RocksDbStorageTest, DamagedDirectoryIsCorruption) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  {
    auto s = MustOpen(path);
    WriteStream(s.get(), 20);
  }
  std::ofstream(path + "/CURRENT", std::ios::trunc) << "garbage-no-newline";
  auto s = OpenRocksDbStorage(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find(path), std::string::npos);
}

TEST(RocksDbStorageTest, ReadOnlySeesDataAndRejectsAppends) {
  TempDir dir;
  {
    auto s = MustOpen(dir.Sub("db"));
    WriteStream(s.get(), 30);
  }
  RocksDbOptions options;
  options.read_only = true;
  auto s = MustOpen(dir.Sub("db"), options);
  ASSERT_NE(s, nullptr);
  EXPECT_GT(s->LastSequence(), 0u);
  WriteBatch b;
  b.events.push_back(Event{});
  EXPECT_EQ(s->Append(&b).status().code(), StatusCode::kFailedPrecondition);
  auto report = VerifyStorage(s.get());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
}

// Retention: terminal deliveries whose last activity is older than the
// retention are pruned with their index entries, counters and (once no
// delivery row refers to it) their message; everything else stays.
class RetentionTest : public ::testing::Test {
 protected:
  Delivery MakeDelivery(uint64_t n, DeliveryStatus status, Timestamp created,
                        const MessageId& msg) {
    Delivery d;
    d.id = DeliveryId(Uuid128{n, n});
    d.message_id = msg;
    d.endpoint_id = endpoint_.id;
    d.event_type = "a";
    d.status = status;
    d.attempts = 1;
    d.created_at = created;
    d.last_attempted_at = created + kSecond;
    d.next_attempt_at = IsTerminal(status) ? 0 : created + kSecond;
    return d;
  }
  void Append(Storage* s, std::vector<Message> ms, std::vector<Delivery> ds) {
    WriteBatch b;
    for (const auto& d : ds) {
      b.events.push_back(
          Event{0, d.created_at, EventType::kEnqueued, d.id.raw(), {}});
    }
    b.messages = std::move(ms);
    b.deliveries = std::move(ds);
    ASSERT_TRUE(s->Append(&b).ok());
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(kStart);
  Endpoint endpoint_{.id = EndpointId(Uuid128{9, 9}), .created_at = kStart};
};

TEST_F(RetentionTest, PrunesOldTerminalDeliveriesOnly) {
  TempDir dir;
  RocksDbOptions options;
  options.clock = clock_;
  options.retention = std::chrono::hours(24);
  options.prune_interval = Duration(0);
  auto s = MustOpen(dir.Sub("db"), options);
  Message old_msg{MessageId(Uuid128{1, 1}), "a", "{}", "", kStart};
  Message shared_msg{MessageId(Uuid128{2, 2}), "a", "{}", "", kStart};
  WriteBatch eb;
  eb.endpoints.push_back(endpoint_);
  ASSERT_TRUE(s->Append(&eb).ok());
  Append(s.get(), {old_msg, shared_msg},
         {MakeDelivery(1, DeliveryStatus::kDelivered, kStart, old_msg.id),
          MakeDelivery(2, DeliveryStatus::kDeadLetter, kStart, shared_msg.id),
          MakeDelivery(3, DeliveryStatus::kFailed, kStart, shared_msg.id)});
  clock_->Advance(std::chrono::hours(20));
  Append(
      s.get(), {},
      {MakeDelivery(4, DeliveryStatus::kDelivered, clock_->Now(), old_msg.id)});
  const uint64_t last_seq = s->LastSequence();

  auto pruned = PruneRocksDbStorage(s.get());
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 0u) << "nothing is older than 24 h yet";

  clock_->Advance(std::chrono::hours(5));  // 25 h after the first three
  pruned = PruneRocksDbStorage(s.get());
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2u);
  EXPECT_TRUE(s->GetDelivery(DeliveryId(Uuid128{1, 1})).status().IsNotFound());
  EXPECT_TRUE(s->GetDelivery(DeliveryId(Uuid128{2, 2})).status().IsNotFound());
  EXPECT_TRUE(s->GetDelivery(DeliveryId(Uuid128{3, 3})).ok()) << "not terminal";
  EXPECT_TRUE(s->GetDelivery(DeliveryId(Uuid128{4, 4})).ok()) << "too recent";
  // Messages still referenced by a delivery row stay.
  EXPECT_TRUE(s->GetMessage(old_msg.id).ok());
  EXPECT_TRUE(s->GetMessage(shared_msg.id).ok());
  DeliveryQuery q;
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->total_count, 2u);
  q.status = DeliveryStatus::kDelivered;
  page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u);
  auto counters = s->GetCounters(endpoint_.id);
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->by_status[1], 1u);
  EXPECT_EQ(counters->by_status[4], 0u);
  EXPECT_EQ(counters->attempts, 2u);
  // The log is untouched and gapless.
  EXPECT_EQ(s->LastSequence(), last_seq);
  std::vector<Event> log;
  ASSERT_TRUE(s->ReadLog(1, 100, &log).ok());
  ASSERT_EQ(log.size(), last_seq);

  // Once the last delivery of old_msg goes, its payload goes too.
  clock_->Advance(std::chrono::hours(25));
  pruned = PruneRocksDbStorage(s.get());
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1u);
  EXPECT_TRUE(s->GetMessage(old_msg.id).status().IsNotFound());
  EXPECT_TRUE(s->GetMessage(shared_msg.id).ok()) << "delivery 3 still needs it";
  auto stats = GetRocksDbStats(s.get());
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pruned_deliveries, 3u);
}

// A message's rows are counted by its 'M' entries (format 4): when all of
// them go in one pruning chunk the payload goes in the same write, and a
// message with a row left keeps it.
TEST_F(RetentionTest, MessageGoesWithItsLastRowsInOneChunk) {
  TempDir dir;
  RocksDbOptions options;
  options.clock = clock_;
  options.retention = std::chrono::hours(24);
  options.prune_interval = Duration(0);
  auto s = MustOpen(dir.Sub("db"), options);
  Message both_old{MessageId(Uuid128{1, 1}), "a", "{}", "", kStart};
  Message one_left{MessageId(Uuid128{2, 2}), "a", "{}", "", kStart};
  Append(s.get(), {both_old, one_left},
         {MakeDelivery(1, DeliveryStatus::kDelivered, kStart, both_old.id),
          MakeDelivery(2, DeliveryStatus::kDeadLetter, kStart, both_old.id),
          MakeDelivery(3, DeliveryStatus::kDelivered, kStart, one_left.id),
          MakeDelivery(4, DeliveryStatus::kPending, kStart, one_left.id)});
  clock_->Advance(std::chrono::hours(25));
  auto pruned = PruneRocksDbStorage(s.get());
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 3u);
  EXPECT_TRUE(s->GetMessage(both_old.id).status().IsNotFound());
  EXPECT_TRUE(s->GetMessage(one_left.id).ok()) << "delivery 4 still needs it";
  DeliveryQuery q;
  q.message_id = one_left.id;
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, DeliveryId(Uuid128{4, 4}));
}

// Stats buckets older than the retention window go with the deliveries,
// in every series; pruned deliveries also leave the message index.
TEST_F(RetentionTest, PrunesOldStatsBucketsAndMessageIndexEntries) {
  TempDir dir;
  RocksDbOptions options;
  options.clock = clock_;
  options.retention = std::chrono::hours(24);
  options.prune_interval = Duration(0);
  auto s = MustOpen(dir.Sub("db"), options);
  const Timestamp m0 = kStart / kStatsMinute * kStatsMinute;
  const std::optional<EndpointId> all, ep = endpoint_.id,
                                       other = EndpointId(Uuid128{8, 8});
  WriteBatch b;
  b.endpoints.push_back(endpoint_);
  StatsCounts one;
  one.delivered = 1;
  one.attempts = 1;
  for (const auto& series : {all, ep, other}) {
    for (int h : {0, 10, 30}) {
      b.stats.push_back({series, m0 + h * 60 * kStatsMinute, one});
    }
  }
  ASSERT_TRUE(s->Append(&b).ok());
  Message msg{MessageId(Uuid128{1, 1}), "a", "{}", "", kStart};
  Append(s.get(), {msg},
         {MakeDelivery(1, DeliveryStatus::kDelivered, kStart, msg.id)});
  clock_->Advance(std::chrono::hours(35));  // cutoff: 11 h after kStart
  auto pruned = PruneRocksDbStorage(s.get());
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 1u);
  for (const auto& series : {all, ep, other}) {
    auto got = s->ReadStats({series, m0, m0 + 100 * 60 * kStatsMinute});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ((*got)[0].minute, m0 + 30 * 60 * kStatsMinute);
  }
  DeliveryQuery q;
  q.message_id = msg.id;
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->items.empty()) << "a pruned row left its index entry";
  EXPECT_EQ(page->total_count, 0u);
}

TEST_F(RetentionTest, BackgroundPrunerRunsWhileAppendsContinue) {
  TempDir dir;
  RocksDbOptions options;
  options.clock = clock_;
  options.retention = std::chrono::hours(1);
  options.prune_interval = std::chrono::milliseconds(5);
  auto s = MustOpen(dir.Sub("db"), options);
  Message msg{MessageId(Uuid128{1, 1}), "a", "{}", "", kStart};
  std::vector<Delivery> ds;
  for (uint64_t i = 1; i <= 600; ++i) {
    ds.push_back(MakeDelivery(i, DeliveryStatus::kDelivered, kStart, msg.id));
  }
  Append(s.get(), {msg}, ds);
  clock_->Advance(std::chrono::hours(2));
  // Appends keep succeeding while the pruner works.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  uint64_t n = 10'000;
  while (std::chrono::steady_clock::now() < deadline) {
    Append(
        s.get(), {},
        {MakeDelivery(n++, DeliveryStatus::kPending, clock_->Now(), msg.id)});
    auto totals = s->GetTotals();
    ASSERT_TRUE(totals.ok());
    if (totals->by_status[1] == 0) break;
  }
  auto totals = s->GetTotals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->by_status[1], 0u) << "pruner did not run";
  EXPECT_EQ(totals->by_status[0], n - 10'000);
  EXPECT_TRUE(s->GetMessage(msg.id).ok());
}

// Retention vs VerifyStorage: a pruned store verifies clean (the watermark
// tells pruning from damage), and damage is still reported.
TEST(RetentionVerifyTest, PrunedStoreVerifiesCleanAndDamageIsReported) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  auto clock = std::make_shared<FakeClock>(kStart);
  RocksDbOptions options;
  options.clock = clock;
  options.retention = std::chrono::hours(1);
  options.prune_interval = Duration(0);
  uint64_t pruned = 0;
  MessageId active_msg;
  {
    auto s = MustOpen(path, options);
    WriteStream(s.get(), 400);
    EXPECT_EQ(s->PrunedBefore(), 0);
    // The stream's clock advances a few milliseconds per batch: a cutoff
    // in its middle prunes only part of the terminal deliveries.
    clock->Advance(std::chrono::hours(1) + std::chrono::milliseconds(700));
    auto r = PruneRocksDbStorage(s.get());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    pruned = *r;
    ASSERT_GT(pruned, 0u);
    EXPECT_EQ(s->PrunedBefore(), clock->Now() - options.retention.count());
    auto report = VerifyStorage(s.get());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->ok())
        << report->mismatches.size() << " mismatches, first: "
        << (report->mismatches.empty() ? "" : report->mismatches.front());
    EXPECT_EQ(report->pruned_deliveries, pruned);
    EXPECT_LT(report->pruned_deliveries, report->deliveries) << "partial";
    ASSERT_TRUE(
        s->LoadActive([](const Endpoint&) {},
                      [&](const Delivery& d) { active_msg = d.message_id; })
            .ok());
    ASSERT_FALSE(active_msg.raw() == Uuid128{});
  }
  {
    // The watermark survives reopening.
    auto s = MustOpen(path, options);
    EXPECT_EQ(s->PrunedBefore(), clock->Now() - options.retention.count());
    auto report = VerifyStorage(s.get());
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->ok());
  }
  {
    // Damage retention cannot explain: the message of a non-terminal
    // delivery gone.
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"log", "rows", "index", "due", "meta",
                             rocksdb::kDefaultColumnFamilyName.c_str()}) {
      cfs.push_back({name, rocksdb::ColumnFamilyOptions()});
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw)
            .ok());
    std::string key(1, 'm');
    for (uint64_t half : {active_msg.raw().hi, active_msg.raw().lo}) {
      for (int i = 7; i >= 0; --i) key.push_back(char(half >> (8 * i)));
    }
    ASSERT_TRUE(raw->Delete(rocksdb::WriteOptions(), handles[1], key).ok());
    for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  auto s = MustOpen(path, options);
  auto report = VerifyStorage(s.get());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok());
  bool named = false;
  for (const auto& m : report->mismatches) {
    named |= m.find(active_msg.ToString()) != std::string::npos;
  }
  EXPECT_TRUE(named) << "the missing message is reported";
  EXPECT_EQ(report->pruned_deliveries, pruned);
}

// The memory store never prunes: its watermark is 0.
TEST(RetentionVerifyTest, MemoryStoreHasNoWatermark) {
  EXPECT_EQ(NewMemoryStorage()->PrunedBefore(), 0);
}

// Fault injection: a wrapper whose Append fails with Unavailable.
class FailingStorage : public ForwardingStorage {
 public:
  using ForwardingStorage::ForwardingStorage;
  Result<uint64_t> Append(WriteBatch* batch) override {
    if (failing.load()) return Status::Unavailable("injected: disk on fire");
    return ForwardingStorage::Append(batch);
  }
  std::atomic<bool> failing{false};
};

TEST(FaultInjectionTest, ForwardsAndAFailedAppendLeavesNothing) {
  TempDir dir;
  FailingStorage s(MustOpen(dir.Sub("db")));
  EngineLikeWriter w(3, kStart);
  for (int i = 0; i < 20; ++i) {
    WriteBatch b = w.NextBatch();
    ASSERT_TRUE(s.Append(&b).ok());
    ASSERT_TRUE(w.Commit(b).ok());
  }
  const uint64_t last = s.LastSequence();
  EXPECT_EQ(last, s.target()->LastSequence());
  s.failing = true;
  WriteBatch b = w.NextBatch();
  auto r = s.Append(&b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable());
  EXPECT_EQ(s.LastSequence(), last);
  for (const auto& d : b.deliveries) {
    auto got = s.GetDelivery(d.id);
    if (got.ok()) {
      // Existing rows keep their old content.
      EXPECT_EQ(*got, w.projection().deliveries().at(d.id));
    } else {
      EXPECT_TRUE(got.status().IsNotFound());
    }
  }
  auto report = VerifyStorage(&s);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  s.failing = false;  // recovers
  b = w.NextBatch();
  r = s.Append(&b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(b.events.front().seq, last + 1);
}

// hooklog-admin verify: exit 0 on a consistent store, 1 on a mismatch,
// 2 when the directory cannot be opened.
TEST(HooklogAdminTest, VerifyExitCodes) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  const std::string admin = HOOKLOG_ADMIN_PATH;
  {
    auto s = MustOpen(path);
    WriteStream(s.get(), 50);
  }
  auto run = [&](const std::string& args) {
    int rc = std::system(
        (admin + " " + args + " > " + dir.Sub("out.txt") + " 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  EXPECT_EQ(run("verify " + path), 0);
  EXPECT_EQ(run("stats " + path), 0);
  EXPECT_EQ(run("verify " + dir.Sub("nothing-here")), 2);
  EXPECT_EQ(run("bogus " + path), 2);
  {
    // Damage one projection row behind the log's back.
    auto s = MustOpen(path);
    EngineLikeWriter w(1, kStart);
    ASSERT_TRUE(w.LoadFrom(s.get()).ok());
    ASSERT_FALSE(w.projection().deliveries().empty());
    Delivery d = w.projection().deliveries().begin()->second;
    d.attempts += 7;
    WriteBatch b;
    b.deliveries.push_back(d);
    ASSERT_TRUE(s->Append(&b).ok());
  }
  EXPECT_EQ(run("verify " + path), 1);
  std::ifstream in(dir.Sub("out.txt"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("MISMATCH"), std::string::npos) << text;
}

}  // namespace
}  // namespace hooklog
