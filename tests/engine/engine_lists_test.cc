// Delivery lists over several endpoints (the engine's merge) and by
// message: order, cursor paging across pages, page numbers, counts, and
// bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/engine/portal_fixture.h"

namespace hooklog::testing {
namespace {

class EngineListsTest : public PortalEngineTest {
 protected:
  void SetUp() override {
    // Held: every delivery stays pending, rows never change under the lists.
    SetScript([](const AttemptRequest&) { return std::nullopt; });
    Open();
    a_ = MakeEndpoint("a");
    b_ = MakeEndpoint("b");
    c_ = MakeEndpoint("c");
    for (int i = 0; i < 9; ++i) {
      messages_.push_back(Publish(i % 3 ? "order.paid" : "order.refunded"));
      clock_->Advance(std::chrono::seconds(i % 2));  // some times tie
    }
    all_ = AllDeliveries();
    ASSERT_EQ(all_.size(), 27u);
  }

  Result<Page<Delivery>> List(DeliveryQuery q) {
    return Sync<Page<Delivery>>(
        [&](auto cb) { engine_->ListDeliveries(std::move(q), cb); });
  }

  // The expected rows: `all_` (newest first) filtered.
  std::vector<DeliveryId> Expected(
      const std::function<bool(const Delivery&)>& keep) {
    std::vector<DeliveryId> out;
    for (const Delivery& d : all_) {
      if (keep(d)) out.push_back(d.id);
    }
    return out;
  }

  // Walks every page with cursors; checks each page's count and size.
  std::vector<DeliveryId> Walk(DeliveryQuery q, uint64_t want_total) {
    std::vector<DeliveryId> out;
    for (int guard = 0; guard < 100; ++guard) {
      auto page = List(q);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_EQ(page->total_count, q.count_total ? want_total : 0u);
      for (const Delivery& d : page->items) out.push_back(d.id);
      if (page->next_cursor.empty()) break;
      EXPECT_EQ(page->items.size(), q.page_size) << "a page with a cursor";
      q.cursor = page->next_cursor;
    }
    return out;
  }

  Endpoint a_, b_, c_;
  std::vector<PublishResult> messages_;
  std::vector<Delivery> all_;
};

TEST_F(EngineListsTest, MergesEndpointsNewestFirstWithCursorsAndPages) {
  auto in_ab = [&](const Delivery& d) {
    return d.endpoint_id == a_.id || d.endpoint_id == b_.id;
  };
  const std::vector<DeliveryId> want = Expected(in_ab);
  ASSERT_EQ(want.size(), 18u);
  DeliveryQuery q;
  q.endpoint_ids = {b_.id, a_.id};
  for (uint32_t size : {1u, 4u, 7u, 18u, 50u}) {
    SCOPED_TRACE(::testing::Message() << "page size " << size);
    q.page_size = size;
    EXPECT_EQ(Walk(q, 18), want);
  }
  // Page numbers: the third page of 5.
  q.page_size = 5;
  q.page = 3;
  auto page = List(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total_count, 18u);
  std::vector<DeliveryId> got;
  for (const Delivery& d : page->items) got.push_back(d.id);
  EXPECT_EQ(got, std::vector<DeliveryId>(want.begin() + 10, want.begin() + 15));
  EXPECT_FALSE(page->next_cursor.empty());
  q.page = 4;
  page = List(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 3u);
  EXPECT_TRUE(page->next_cursor.empty());
  q.page = 9;
  page = List(q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  // Without a count (the portal's pages), and a duplicate id.
  q = DeliveryQuery{};
  q.endpoint_ids = {a_.id, b_.id, a_.id};
  q.count_total = false;
  q.page_size = 4;
  EXPECT_EQ(Walk(q, 0), want);
}

TEST_F(EngineListsTest, OtherFiltersAreAndedPerEndpoint) {
  DeliveryQuery q;
  q.endpoint_ids = {a_.id, c_.id};
  q.event_type = "order.refunded";
  q.page_size = 2;
  auto want = Expected([&](const Delivery& d) {
    return (d.endpoint_id == a_.id || d.endpoint_id == c_.id) &&
           d.event_type == "order.refunded";
  });
  ASSERT_EQ(want.size(), 6u);
  EXPECT_EQ(Walk(q, 6), want);
  // The per-message list, alone and with endpoints.
  const MessageId m = messages_[4].message_id;
  q = DeliveryQuery{};
  q.message_id = m;
  want = Expected([&](const Delivery& d) { return d.message_id == m; });
  ASSERT_EQ(want.size(), 3u);
  EXPECT_EQ(Walk(q, 3), want);
  q.endpoint_ids = {b_.id, c_.id};
  q.page_size = 1;
  want = Expected([&](const Delivery& d) {
    return d.message_id == m && d.endpoint_id != a_.id;
  });
  EXPECT_EQ(Walk(q, 2), want);
  q.status = DeliveryStatus::kDelivered;
  EXPECT_EQ(Walk(q, 0), std::vector<DeliveryId>{});
}

TEST_F(EngineListsTest, AnExactEmptySetMatchesNothing) {
  DeliveryQuery q;
  q.endpoint_ids_exact = true;  // a tenant without endpoints
  auto page = List(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->items.empty());
  EXPECT_EQ(page->total_count, 0u);
  EXPECT_TRUE(page->next_cursor.empty());
  // An unknown endpoint id is simply an endpoint without deliveries.
  q.endpoint_ids = {EndpointId::NewRandom()};
  page = List(q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  // Without the flag, an empty list is no filter at all.
  q = DeliveryQuery{};
  page = List(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total_count, 27u);
}

TEST_F(EngineListsTest, BadInputIsRefusedNamingTheField) {
  DeliveryQuery q;
  q.endpoint_id = a_.id;
  q.endpoint_ids = {b_.id};
  auto r = List(q);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "endpoint_id");
  q = DeliveryQuery{};
  q.endpoint_ids.assign(kMaxQueryEndpoints + 1, a_.id);
  r = List(q);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "endpoint_id");
  q.endpoint_ids.assign(kMaxQueryEndpoints, a_.id);  // the most is fine
  EXPECT_TRUE(List(q).ok());
  q = DeliveryQuery{};
  q.endpoint_ids = {a_.id, b_.id};
  q.cursor = "not-a-cursor";
  r = List(q);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  q.cursor.clear();
  q.page_size = kMaxPageSize + 1;
  r = List(q);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  q.page_size = 10;
  q.page = 0;
  EXPECT_EQ(List(q).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hooklog::testing
