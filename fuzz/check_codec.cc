// Checks of the event codec (hooklog::DecodeEvent) and the projection row
// codecs (storage/row_codec.h).
//
// Whatever decodes must round-trip: encoding the decoded value gives bytes
// that decode to an equal value and encode to the same bytes again. The
// input itself need not come back byte for byte (a version-1 record is
// rewritten as version 2; a varint may have been written non-minimally).
#include <cstdint>
#include <string>
#include <string_view>

#include "base/crc32c.h"
#include "fuzz/targets.h"
#include "hooklog/event.h"
#include "storage/row_codec.h"

namespace hooklog::fuzz {
namespace {

using storage_internal::Crc32c;

// A value holding a NaN (a rate, a failure ratio) compares unequal to
// itself, and so to its decoded copy; the byte comparison still covers it.
// Testing self-equality finds every such field, present or future.
template <typename T>
bool HasNan(const T& v) {
  const T& same = v;
  return !(v == same);
}

std::string CheckOneEvent(std::string_view bytes) {
  auto decoded = DecodeEvent(bytes);
  if (!decoded.ok()) {
    if (decoded.status().code() != StatusCode::kCorruption) {
      return "DecodeEvent error is not Corruption: " +
             decoded.status().ToString();
    }
    return "";
  }
  const Event& e = *decoded;
  if (EventTypeName(e.type) == "unknown") {
    return "DecodeEvent accepted an unknown event type";
  }
  std::string again = EncodeEvent(e);
  auto redecoded = DecodeEvent(again);
  if (!redecoded.ok()) {
    return "EncodeEvent(DecodeEvent(x)) does not decode: " +
           redecoded.status().ToString();
  }
  if (!(*redecoded == e) && !HasNan(e)) {
    return "DecodeEvent(EncodeEvent(e)) != e";
  }
  if (EncodeEvent(*redecoded) != again) {
    return "EncodeEvent is not stable across a decode";
  }
  // Bytes at the current version with a minimal encoding come back
  // unchanged; any other accepted input is longer or older.
  if (static_cast<uint8_t>(bytes[0]) == kEventFormatVersion &&
      again.size() > bytes.size()) {
    return "re-encoding grew the record (" + std::to_string(bytes.size()) +
           " -> " + std::to_string(again.size()) + " bytes)";
  }
  return "";
}

template <typename T>
std::string RowRoundTrip(std::string_view in, const char* what,
                         Status (*decode)(std::string_view, T*),
                         std::string (*encode)(const T&)) {
  T row;
  Status st = decode(in, &row);
  if (!st.ok()) {
    if (st.code() != StatusCode::kCorruption) {
      return std::string(what) +
             " decode error is not Corruption: " + st.ToString();
    }
    return "";
  }
  std::string again = encode(row);
  T back;
  Status st2 = decode(again, &back);
  if (!st2.ok()) {
    return std::string(what) +
           " row re-encoding does not decode: " + st2.ToString();
  }
  if (!(back == row) && !HasNan(row)) {
    return std::string(what) + " row does not round-trip";
  }
  if (encode(back) != again) {
    return std::string(what) + " row encoding is not stable";
  }
  return "";
}

}  // namespace

std::string CheckEventCodec(std::string_view input) {
  if (std::string err = CheckOneEvent(input); !err.empty()) return err;
  // The same bytes with a correct CRC32C trailer: without it nearly every
  // mutation stops at the checksum and the body decoder is never reached.
  if (input.size() >= 4) {
    std::string fixed(input.substr(0, input.size() - 4));
    uint32_t crc = Crc32c(fixed);
    for (int i = 0; i < 4; ++i)
      fixed.push_back(static_cast<char>(crc >> (8 * i)));
    if (std::string err = CheckOneEvent(fixed); !err.empty()) {
      return err + " (after fixing the CRC)";
    }
  }
  return "";
}

std::string CheckRowCodec(std::string_view input) {
  using namespace storage_internal;
  if (input.empty()) return "";
  std::string_view row = input.substr(1);
  switch (static_cast<uint8_t>(input[0]) % 5) {
    case 0:
      return RowRoundTrip<Endpoint>(row, "endpoint", DecodeEndpointRow,
                                    EncodeEndpointRow);
    case 1:
      return RowRoundTrip<Message>(row, "message", DecodeMessageRow,
                                   EncodeMessageRow);
    case 2:
      return RowRoundTrip<Delivery>(row, "delivery", DecodeDeliveryRow,
                                    EncodeDeliveryRow);
    case 3:
      return RowRoundTrip<IdempotencyRecord>(
          row, "idempotency", DecodeIdempotencyRow, EncodeIdempotencyRow);
    default:
      return RowRoundTrip<EndpointCounters>(row, "counters", DecodeCounters,
                                            EncodeCounters);
  }
}

}  // namespace hooklog::fuzz
