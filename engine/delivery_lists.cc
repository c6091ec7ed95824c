#include "engine/delivery_lists.h"

#include <deque>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/validation.h"

namespace hooklog {
namespace {

// One endpoint's query, read a page at a time as the merge consumes it.
struct Stream {
  DeliveryQuery q;
  std::deque<Delivery> buffered;
  bool more = true;    // storage may hold rows after the buffered ones
  uint64_t total = 0;  // the endpoint's total_count, when counted

  // Makes sure a row is buffered when one exists.
  Status Fill(Storage* storage) {
    while (buffered.empty() && more) {
      auto page = storage->ListDeliveries(q);
      if (!page.ok()) return page.status();
      if (q.count_total) total = page->total_count;
      q.count_total = false;  // counted with the first page only
      for (Delivery& d : page->items) buffered.push_back(std::move(d));
      more = !page->next_cursor.empty();
      q.cursor = std::move(page->next_cursor);
    }
    return Status::Ok();
  }
};

bool Newer(const Delivery& a, const Delivery& b) {
  if (a.created_at != b.created_at) return a.created_at > b.created_at;
  return a.id > b.id;
}

}  // namespace

Status ValidateMultiEndpointQuery(const DeliveryQuery& q) {
  if (q.endpoint_id && (!q.endpoint_ids.empty() || q.endpoint_ids_exact)) {
    return Status::InvalidArgument(
        "endpoint_id and endpoint_ids cannot both be set", "endpoint_id");
  }
  if (q.endpoint_ids.size() > kMaxQueryEndpoints) {
    return Status::InvalidArgument(
        "at most " + std::to_string(kMaxQueryEndpoints) + " endpoint ids",
        "endpoint_id");
  }
  return ValidateDeliveryQuery(q);
}

Result<Page<Delivery>> ListMergedDeliveries(Storage* storage,
                                            const DeliveryQuery& q) {
  Page<Delivery> page;
  std::vector<Stream> streams;
  std::unordered_set<EndpointId, IdHash> seen;
  for (const EndpointId& id : q.endpoint_ids) {
    if (!seen.insert(id).second) continue;  // a duplicate would repeat rows
    Stream s;
    s.q = q;
    s.q.endpoint_ids.clear();
    s.q.endpoint_ids_exact = false;
    s.q.endpoint_id = id;
    s.q.page = 1;  // the merge skips whole pages itself
    streams.push_back(std::move(s));
  }
  for (Stream& s : streams) {
    HOOKLOG_RETURN_IF_ERROR(s.Fill(storage));
  }
  // Each stream's first page carried its endpoint's count.
  if (q.count_total) {
    for (const Stream& s : streams) page.total_count += s.total;
  }
  uint64_t to_skip = q.cursor.empty() ? uint64_t{q.page - 1} * q.page_size : 0;
  for (;;) {
    Stream* best = nullptr;
    for (Stream& s : streams) {
      if (!s.buffered.empty() &&
          (best == nullptr ||
           Newer(s.buffered.front(), best->buffered.front()))) {
        best = &s;
      }
    }
    if (best == nullptr) break;
    if (to_skip == 0 && page.items.size() == q.page_size) {
      // One more exists: the page gets a cursor.
      const Delivery& last = page.items.back();
      page.next_cursor = EncodeListCursor(last.created_at, last.id.raw());
      break;
    }
    Delivery d = std::move(best->buffered.front());
    best->buffered.pop_front();
    if (to_skip > 0) {
      --to_skip;
    } else {
      page.items.push_back(std::move(d));
    }
    HOOKLOG_RETURN_IF_ERROR(best->Fill(storage));
  }
  return page;
}

}  // namespace hooklog
