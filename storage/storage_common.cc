// Pieces of the Storage contract shared by every adapter.
#include <cstdio>
#include <thread>

#include "hooklog/storage.h"

namespace hooklog {
namespace {

template <typename T>
void MoveAppend(std::vector<T>* to, std::vector<T>* from) {
  to->insert(to->end(), std::make_move_iterator(from->begin()),
             std::make_move_iterator(from->end()));
}

constexpr std::string_view kCursorPrefix = "c1";
constexpr size_t kCursorLength = 2 + 48;

}  // namespace

void WriteBatch::Merge(WriteBatch&& other) {
  MoveAppend(&events, &other.events);
  MoveAppend(&endpoints, &other.endpoints);
  MoveAppend(&messages, &other.messages);
  MoveAppend(&deliveries, &other.deliveries);
  MoveAppend(&idempotency, &other.idempotency);
  MoveAppend(&stats, &other.stats);
  MoveAppend(&replay_jobs, &other.replay_jobs);
  MoveAppend(&fences, &other.fences);
}

Result<LeaseView> Storage::SyncLeases(const LeaseSync&) {
  return Status::FailedPrecondition(
      "this storage does not support partition leases (cluster mode needs a "
      "shared store such as PostgreSQL)");
}

void Storage::WaitForAppends(Duration timeout) {
  std::this_thread::sleep_for(timeout);
}

Status Storage::LoadActiveOf(
    const std::vector<EndpointId>& endpoints,
    const std::function<void(const Delivery&)>& on_delivery) {
  for (const EndpointId& id : endpoints) {
    for (DeliveryStatus st : {DeliveryStatus::kPending, DeliveryStatus::kFailed,
                              DeliveryStatus::kRateLimited}) {
      DeliveryQuery q;
      q.endpoint_id = id;
      q.status = st;
      q.page_size = kMaxPageSize;
      q.count_total = false;
      for (;;) {
        Result<Page<Delivery>> r = ListDeliveries(q);
        if (!r.ok()) return r.status();
        const Page<Delivery>& page = *r;
        for (const Delivery& d : page.items) on_delivery(d);
        if (page.next_cursor.empty()) break;
        q.cursor = page.next_cursor;
      }
    }
  }
  return Status::Ok();
}

// A cursor is "c1" + 48 hex digits: created_at, id.hi, id.lo. It is opaque
// to clients; the version prefix lets the format change later.
std::string EncodeListCursor(Timestamp created_at, const Uuid128& id) {
  char buf[kCursorLength + 1];
  std::snprintf(buf, sizeof buf, "c1%016llx%016llx%016llx",
                static_cast<unsigned long long>(created_at),
                static_cast<unsigned long long>(id.hi),
                static_cast<unsigned long long>(id.lo));
  return buf;
}

Status DecodeListCursor(std::string_view cursor, Timestamp* created_at,
                        Uuid128* id) {
  auto bad = [] {
    return Status::InvalidArgument("cursor is not one this server issued",
                                   "cursor");
  };
  if (cursor.size() != kCursorLength || !cursor.starts_with(kCursorPrefix)) {
    return bad();
  }
  uint64_t parts[3] = {0, 0, 0};
  for (size_t i = 0; i < 48; ++i) {
    char c = cursor[2 + i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return bad();
    }
    parts[i / 16] = (parts[i / 16] << 4) | uint64_t(v);
  }
  *created_at = static_cast<Timestamp>(parts[0]);
  id->hi = parts[1];
  id->lo = parts[2];
  return Status::Ok();
}

}  // namespace hooklog
