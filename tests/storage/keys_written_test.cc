// How many keys each kind of write puts into the RocksDB store (store
// format 4, docs/storage.md "Keys per delivery"): counted from the
// rocksdb::WriteBatch of each Append (RocksDbStorage::KeysWritten). The
// numbers are the format: a change here is a change of the write path's
// cost, so it must be deliberate.
#include <gtest/gtest.h>

#include "hooklog/rocksdb_storage.h"
#include "storage/rocksdb/store.h"
#include "tests/storage/temp_dir.h"

namespace hooklog {
namespace {

using rocksdb_internal::RocksDbStorage;
using testing::TempDir;

constexpr Timestamp kT0 = 1'790'000'000LL * kSecond;

class KeysWrittenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenRocksDbStorage(dir_.Sub("db"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    rocks_ = *RocksDbStorage::From(store_.get());
  }

  // Keys written by appending `b`.
  uint64_t KeysOf(WriteBatch b) {
    const uint64_t before = rocks_->KeysWritten();
    auto r = store_->Append(&b);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return rocks_->KeysWritten() - before;
  }

  static Delivery NewDelivery(uint64_t n) {
    Delivery d;
    d.id = DeliveryId(Uuid128{7, n});
    d.message_id = MessageId(Uuid128{8, n});
    d.endpoint_id = EndpointId(Uuid128{9, 1});
    d.event_type = "invoice.paid";
    d.status = DeliveryStatus::kPending;
    d.created_at = kT0 + static_cast<Timestamp>(n);
    d.next_attempt_at = d.created_at;
    return d;
  }

  static WriteBatch Create(const Delivery& d) {
    Message m;
    m.id = d.message_id;
    m.event_type = d.event_type;
    m.payload = "{}";
    m.created_at = d.created_at;
    WriteBatch b;
    b.events.push_back(Event{0, kT0, EventType::kMessageAccepted, m.id.raw(),
                             MessageAccepted{m}});
    b.events.push_back(Event{
        0, kT0, EventType::kEnqueued, d.id.raw(),
        DeliveryCreated{m.id, d.endpoint_id, m.event_type, kT0, {}, false}});
    b.messages.push_back(m);
    b.deliveries.push_back(d);
    return b;
  }

  static WriteBatch Attempt(Delivery* d, DeliveryStatus after) {
    Attempted a;
    a.record.at = kT0;
    a.record.http_status_code = after == DeliveryStatus::kDelivered ? 200 : 500;
    a.status_after = after;
    WriteBatch b;
    b.events.push_back(Event{0, kT0, EventType::kAttempted, d->id.raw(), a});
    d->status = after;
    d->attempts += 1;
    d->last_attempted_at = kT0;
    d->next_attempt_at = IsTerminal(after) ? 0 : d->next_attempt_at + kSecond;
    d->attempts_log.push_back(a.record);
    b.deliveries.push_back(*d);
    return b;
  }

  TempDir dir_;
  std::unique_ptr<Storage> store_;
  RocksDbStorage* rocks_ = nullptr;
};

// Per batch, whatever it holds: meta totals and meta last_seq (2), plus the
// counters row of each endpoint it touches (1 here).
constexpr uint64_t kPerBatch = 3;

TEST_F(KeysWrittenTest, NewDelivery) {
  // 2 events, message row, delivery row, 4 'D' entries, its 'M' entry, 2
  // 'T' entries (pending). Format 2 also wrote the message's reference
  // count and the due entry, and 8 'D' entries.
  EXPECT_EQ(KeysOf(Create(NewDelivery(1))), kPerBatch + 2 + 2 + 4 + 1 + 2);
}

TEST_F(KeysWrittenTest, PendingToDeliveredMovesNoListIndex) {
  Delivery d = NewDelivery(1);
  KeysOf(Create(d));
  // 1 event, the row, the 2 pending 'T' entries deleted. Format 2 wrote
  // 14 (4 status-index entries deleted, 4 written, the due entry deleted).
  EXPECT_EQ(KeysOf(Attempt(&d, DeliveryStatus::kDelivered)),
            kPerBatch + 1 + 1 + 2);
}

TEST_F(KeysWrittenTest, RetryMovesOnlyTheStatusEntries) {
  Delivery d = NewDelivery(1);
  KeysOf(Create(d));
  // pending -> failed: 1 event, the row, 2 'T' entries deleted and 2
  // written (format 2 also moved the due entry: deleted + written).
  EXPECT_EQ(KeysOf(Attempt(&d, DeliveryStatus::kFailed)),
            kPerBatch + 1 + 1 + 4);
  // failed -> failed (another failed attempt): no index entry moves.
  EXPECT_EQ(KeysOf(Attempt(&d, DeliveryStatus::kFailed)), kPerBatch + 1 + 1);
  // failed -> dead_letter: 'T' entries moved.
  EXPECT_EQ(KeysOf(Attempt(&d, DeliveryStatus::kDeadLetter)),
            kPerBatch + 1 + 1 + 4);
}

// The engine's pattern in batches of K: per delivery, on creation 2 events,
// message, row, 4 'D', 'M', 2 'T' (11; format 2: 15 with 8 'D', the
// message's reference count and the due entry), then on delivery event,
// row, 2 'T' (4; format 2: 11).
TEST_F(KeysWrittenTest, BatchOfDeliveries) {
  constexpr uint64_t kK = 100;
  std::vector<Delivery> rows;
  WriteBatch create;
  for (uint64_t n = 0; n < kK; ++n) {
    rows.push_back(NewDelivery(n));
    WriteBatch one = Create(rows.back());
    for (Event& e : one.events) create.events.push_back(std::move(e));
    create.messages.push_back(one.messages[0]);
    create.deliveries.push_back(rows.back());
  }
  EXPECT_EQ(KeysOf(std::move(create)), kPerBatch + kK * 11);
  WriteBatch deliver;
  for (Delivery& d : rows) {
    WriteBatch one = Attempt(&d, DeliveryStatus::kDelivered);
    deliver.events.push_back(std::move(one.events[0]));
    deliver.deliveries.push_back(d);
  }
  EXPECT_EQ(KeysOf(std::move(deliver)), kPerBatch + kK * 4);
}

}  // namespace
}  // namespace hooklog
