// ExpectStatusListsAgree: checks a store's status-filtered delivery lists
// against its unfiltered list, for the fixture tests (format upgrades move
// the status indexes, so every combination is checked on real data).
//
// Thread-safety: test helper, one thread. Ownership: borrows the store.
#ifndef HOOKLOG_TESTS_STORAGE_STATUS_LISTS_H_
#define HOOKLOG_TESTS_STORAGE_STATUS_LISTS_H_

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hooklog/storage.h"

namespace hooklog::testing {

// Every delivery `q` lists, newest first, walked with cursors of
// `page_size`; the first page's total_count in *total.
inline std::vector<Delivery> WalkDeliveries(Storage* store, DeliveryQuery q,
                                            uint32_t page_size,
                                            uint64_t* total) {
  std::vector<Delivery> out;
  q.page_size = page_size;
  for (bool first = true;; first = false) {
    auto page = store->ListDeliveries(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) break;
    if (first) *total = page->total_count;
    for (Delivery& d : page->items) out.push_back(std::move(d));
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  return out;
}

// For every status, alone and with every endpoint and event type (and
// both), with and without a created_after bound: the list, walked by
// cursor and by page number, is exactly the unfiltered list's deliveries
// that match, in the same order, and total_count counts them.
inline void ExpectStatusListsAgree(Storage* store) {
  uint64_t total = 0;
  const std::vector<Delivery> all =
      WalkDeliveries(store, DeliveryQuery{}, 7, &total);
  ASSERT_EQ(total, all.size());
  ASSERT_FALSE(all.empty());
  std::set<EndpointId> endpoints;
  std::set<std::string> types;
  for (const Delivery& d : all) {
    endpoints.insert(d.endpoint_id);
    types.insert(d.event_type);
  }
  std::vector<std::optional<EndpointId>> endpoint_filters = {std::nullopt};
  for (const EndpointId& e : endpoints) endpoint_filters.push_back(e);
  std::vector<std::optional<std::string>> type_filters = {std::nullopt};
  for (const std::string& t : types) type_filters.push_back(t);
  const Timestamp middle = all[all.size() / 2].created_at;
  for (int s = 0; s < kDeliveryStatusCount; ++s) {
    for (const auto& endpoint : endpoint_filters) {
      for (const auto& type : type_filters) {
        for (bool bounded : {false, true}) {
          DeliveryQuery q;
          q.status = static_cast<DeliveryStatus>(s);
          q.endpoint_id = endpoint;
          q.event_type = type;
          if (bounded) q.created_after = middle;
          std::vector<DeliveryId> want;
          for (const Delivery& d : all) {
            if (d.status == *q.status &&
                (!endpoint || d.endpoint_id == *endpoint) &&
                (!type || d.event_type == *type) &&
                (!bounded || d.created_at >= middle)) {
              want.push_back(d.id);
            }
          }
          SCOPED_TRACE(std::string(DeliveryStatusName(*q.status)) +
                       (endpoint ? " endpoint " + endpoint->ToString() : "") +
                       (type ? " type " + *type : "") +
                       (bounded ? " created_after" : ""));
          uint64_t count = 0;
          std::vector<DeliveryId> got;
          for (const Delivery& d : WalkDeliveries(store, q, 2, &count)) {
            EXPECT_EQ(d.status, *q.status);
            got.push_back(d.id);
          }
          EXPECT_EQ(got, want);
          EXPECT_EQ(count, want.size());
          // Page numbers: page 2 of size 2 is the third and fourth match.
          q.page = 2;
          q.page_size = 2;
          auto page = store->ListDeliveries(q);
          ASSERT_TRUE(page.ok()) << page.status().ToString();
          std::vector<DeliveryId> second;
          for (const Delivery& d : page->items) second.push_back(d.id);
          std::vector<DeliveryId> want_second;
          for (size_t i = 2; i < 4 && i < want.size(); ++i) {
            want_second.push_back(want[i]);
          }
          EXPECT_EQ(second, want_second);
          EXPECT_EQ(page->next_cursor.empty(), want.size() <= 4);
        }
      }
    }
  }
}

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_STORAGE_STATUS_LISTS_H_
