// API cursors: the engine's list cursor bound to the list it came from and
// to that list's filters.
//
// The engine's cursor only says where the previous page ended, so on its own
// it would be accepted by another list (an endpoints cursor by GET
// deliveries/) or with other filters, silently paging through something the
// client did not ask for. The API cursor is
//   <list tag> "_" <12 hex digits: SHA-256 of tag and filters> "_" <engine's>
// and a cursor whose tag or hash does not match the request is refused with
// the engine's own 422 ("cursor is not one this server issued", field
// "cursor"). page_size is not a filter and may change between pages.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_WEBHOOKD_CURSOR_H_
#define HOOKLOG_WEBHOOKD_CURSOR_H_

#include <optional>
#include <string>
#include <string_view>

#include "hooklog/engine.h"
#include "webhookd/errors.h"

namespace webhookd {

inline constexpr std::string_view kEndpointsCursorTag = "ep";
inline constexpr std::string_view kDeliveriesCursorTag = "dl";

// The filter set of a list query, in a canonical form (equal filters give
// equal strings, different ones different strings).
std::string EndpointFilterKey(const hooklog::EndpointQuery& query);
std::string DeliveryFilterKey(const hooklog::DeliveryQuery& query);

// The API cursor for the engine's `engine_cursor` (non-empty).
std::string WrapCursor(std::string_view tag, std::string_view filter_key,
                       std::string_view engine_cursor);
// The engine's cursor inside `api_cursor`, or nullopt when it was not issued
// for this list (tag) with these filters.
std::optional<std::string> UnwrapCursor(std::string_view tag,
                                        std::string_view filter_key,
                                        std::string_view api_cursor);
// The 422 entry for a refused cursor (the engine's wording).
FieldError BadCursorError();

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_CURSOR_H_
