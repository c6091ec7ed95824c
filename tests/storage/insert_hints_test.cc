// The memtable insert-hint groups (storage/rocksdb/insert_hints.h): which
// keys of the store's own layout get a hint, and which group each is in.
// A key in the wrong group only costs speed, so these pin the intent: the
// time-ordered keys are grouped by their list, and the keys with one group
// each (per message, per idempotency key) are left out.
#include "storage/rocksdb/insert_hints.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "storage/rocksdb/key_layout.h"

namespace hooklog {
namespace {

using namespace rocksdb_internal;

std::string GroupOf(const rocksdb::SliceTransform& t, const std::string& k) {
  if (!t.InDomain(k)) return "<none>";
  return t.Transform(k).ToString();
}

Delivery SampleDelivery(uint64_t n) {
  Delivery d;
  d.id = DeliveryId(Uuid128{0x0190'0000'0000'0000ULL + n, n});
  d.message_id = MessageId(Uuid128{0x0190'0000'0000'0000ULL, 99});
  d.endpoint_id = EndpointId(Uuid128{5, 6});
  d.event_type = "order.paid";
  d.status = DeliveryStatus::kPending;
  d.created_at = 1'790'000'000LL * kSecond + static_cast<int64_t>(n);
  return d;
}

TEST(InsertHints, LogKeysShareOneGroup) {
  auto t = LogInsertHints();
  EXPECT_EQ(GroupOf(*t, SeqKey(1)), GroupOf(*t, SeqKey(123'456'789)));
  EXPECT_EQ(GroupOf(*t, "short"), "<none>");
}

TEST(InsertHints, MessageAndDeliveryRowsAreGroupedByKindOnly) {
  auto t = RowInsertHints();
  const Delivery a = SampleDelivery(1), b = SampleDelivery(2);
  EXPECT_EQ(GroupOf(*t, RowKey(kRowDelivery, a.id)), "d");
  EXPECT_EQ(GroupOf(*t, RowKey(kRowDelivery, b.id)), "d");
  EXPECT_EQ(GroupOf(*t, RowKey(kRowMessage, a.message_id)), "m");
  // Endpoints, idempotency keys, counters: no hint.
  EXPECT_EQ(GroupOf(*t, RowKey(kRowEndpoint, a.endpoint_id)), "<none>");
  EXPECT_EQ(GroupOf(*t, IdempotencyKey("order-1-abcdefghijklmnop")), "<none>");
  EXPECT_EQ(GroupOf(*t, RowKey(kRowCounters, a.endpoint_id)), "<none>");
}

TEST(InsertHints, IndexKeysAreGroupedByTheirListWithoutTheOrderSuffix) {
  auto t = IndexInsertHints();
  const Delivery a = SampleDelivery(1), b = SampleDelivery(2);
  const auto ka = DeliveryIndexKeys(a), kb = DeliveryIndexKeys(b);
  ASSERT_EQ(ka.size(), kb.size());
  std::set<std::string> groups;
  for (size_t i = 0; i < ka.size(); ++i) {
    // The same list for both deliveries, and the group is the key without
    // its (created_at, id) suffix.
    EXPECT_EQ(GroupOf(*t, ka[i]), GroupOf(*t, kb[i]));
    EXPECT_EQ(GroupOf(*t, ka[i]),
              ka[i].substr(0, ka[i].size() - kOrderSuffixBytes));
    groups.insert(GroupOf(*t, ka[i]));
  }
  EXPECT_EQ(groups.size(), ka.size());  // one group per list
  for (const std::string& k : StatusIndexKeys(a)) {
    EXPECT_EQ(GroupOf(*t, k), k.substr(0, k.size() - kOrderSuffixBytes));
  }
  // One group per message would be one hint per message: left out.
  EXPECT_EQ(GroupOf(*t, MessageIndexKey(a)), "<none>");
}

}  // namespace
}  // namespace hooklog
