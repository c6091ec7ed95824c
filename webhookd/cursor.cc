#include "webhookd/cursor.h"

#include <openssl/sha.h>

#include <string>

namespace webhookd {
namespace {

constexpr size_t kHashHexDigits = 12;

// The binding: a prefix of SHA-256(tag, filters) in hex. Not a secret: it
// only has to tell lists and filter sets apart, and a client that forges
// one gains nothing it could not ask for with a page number.
std::string Binding(std::string_view tag, std::string_view filter_key) {
  std::string input(tag);
  input += '\0';
  input += filter_key;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < kHashHexDigits / 2; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

// "name=value\n" with the value's length first, so that no value can make
// two filter sets read alike.
void AddFilter(std::string* key, std::string_view name,
               std::string_view value) {
  *key += name;
  *key += '=';
  *key += std::to_string(value.size());
  *key += ':';
  *key += value;
  *key += '\n';
}

}  // namespace

std::string EndpointFilterKey(const hooklog::EndpointQuery& query) {
  std::string key;
  for (const auto& [k, v] : query.metadata) {  // a std::map: sorted
    AddFilter(&key, "metadata.key", k);
    AddFilter(&key, "metadata.value", v);
  }
  return key;
}

std::string DeliveryFilterKey(const hooklog::DeliveryQuery& query) {
  std::string key;
  if (query.endpoint_id) {
    AddFilter(&key, "endpoint_id", query.endpoint_id->ToString());
  }
  if (query.status) {
    AddFilter(&key, "status", hooklog::DeliveryStatusName(*query.status));
  }
  if (query.event_type) AddFilter(&key, "event_type", *query.event_type);
  if (query.created_after) {
    AddFilter(&key, "created_after", std::to_string(*query.created_after));
  }
  if (query.created_before) {
    AddFilter(&key, "created_before", std::to_string(*query.created_before));
  }
  return key;
}

std::string WrapCursor(std::string_view tag, std::string_view filter_key,
                       std::string_view engine_cursor) {
  std::string out(tag);
  out += '_';
  out += Binding(tag, filter_key);
  out += '_';
  out += engine_cursor;
  return out;
}

std::optional<std::string> UnwrapCursor(std::string_view tag,
                                        std::string_view filter_key,
                                        std::string_view api_cursor) {
  const std::string prefix =
      std::string(tag) + "_" + Binding(tag, filter_key) + "_";
  if (!api_cursor.starts_with(prefix) || api_cursor.size() == prefix.size()) {
    return std::nullopt;
  }
  return std::string(api_cursor.substr(prefix.size()));
}

FieldError BadCursorError() {
  return {"cursor", "cursor is not one this server issued"};
}

}  // namespace webhookd
