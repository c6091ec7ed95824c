// Rendering: the JSON bodies of endpoints, deliveries, delivery results and
// the pagination envelope, written with JsonWriter in docs/api.md's field
// order.
//
// Times are ISO 8601 in UTC; an unset time (0) is null. Endpoints show the
// protection settings that apply (their own, else the daemon's defaults),
// and the signing secret only in full when `full` (create, rotate).
//
// Thread-safety: pure functions over their arguments.
#ifndef HOOKLOG_WEBHOOKD_RENDER_H_
#define HOOKLOG_WEBHOOKD_RENDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hooklog/engine.h"
#include "tools/cli/json_writer.h"
#include "webhookd/api.h"

namespace webhookd {

// "whsec_…" and the secret's last four characters.
std::string MaskSecret(const std::string& secret);

void WriteEndpoint(hooklog::cli::JsonWriter& w, const hooklog::Endpoint& ep,
                   bool full, const ApiOptions& defaults);
// What GET deliveries/{id}/ shows of the request an attempt sends: method,
// url, the header names (signature headers, then Content-Type, User-Agent,
// the endpoint's own) and the envelope body.
struct DeliveryRequest {
  const hooklog::Endpoint* endpoint;  // null: unknown (deleted) → null
  const hooklog::Message* message;
};

// `with_log`: include attempts_log (GET deliveries/{id}/ only); `request`
// (also only there) adds "request".
void WriteDelivery(hooklog::cli::JsonWriter& w, const hooklog::Delivery& d,
                   bool with_log, const DeliveryRequest* request = nullptr);
// The body of send-test and replay.
std::string DeliveryResultJson(const hooklog::DeliveryResult& r);
// One endpoint as a whole body.
std::string EndpointJson(const hooklog::Endpoint& ep, bool full,
                         const ApiOptions& defaults);

// The pagination envelope ("pagination" and "next_cursor" members). In page
// mode the counts come from total_count; in cursor mode `page` echoes the
// request and has_next follows the cursor. `next_cursor` is what the client
// gets (an API cursor), empty on the last page. Without `total` (count=false)
// total_count and total_pages are null and has_next follows the cursor.
void WritePagination(hooklog::cli::JsonWriter& w, uint32_t page,
                     uint32_t page_size, std::optional<uint64_t> total,
                     bool cursor_mode, const std::string& next_cursor);

// A whole list body: {"data":[items...], "pagination":..., "next_cursor":...}
// with each item written by write_item(w, item).
template <typename T, typename WriteItem>
std::string ListJson(const std::vector<T>& items, uint32_t page,
                     uint32_t page_size, std::optional<uint64_t> total,
                     bool cursor_mode, const std::string& next_cursor,
                     WriteItem write_item) {
  hooklog::cli::JsonWriter w;
  w.BeginObject().Key("data").BeginArray();
  for (const T& item : items) write_item(w, item);
  w.EndArray();
  WritePagination(w, page, page_size, total, cursor_mode, next_cursor);
  w.EndObject();
  return std::move(w).Take();
}

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_RENDER_H_
