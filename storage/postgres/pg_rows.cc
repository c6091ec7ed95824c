// Row blobs of the PostgreSQL adapter (see pg_rows.h).
//
// The delivery blob: a version byte, then the fields in declaration order,
// integers little-endian fixed width, strings as u32 length + bytes,
// optionals as a presence byte + value. Fixed widths keep the decoder short
// and its bounds checks obvious; the blob is small next to the indexes.
#include "storage/postgres/pg_rows.h"

#include <variant>

#include "hooklog/event.h"

namespace hooklog::pg {
namespace {

class Out {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void I64(int64_t v) { Fixed(static_cast<uint64_t>(v), 8); }
  void Id(const Uuid128& id) {
    Fixed(id.hi, 8);
    Fixed(id.lo, 8);
  }
  void Str(std::string_view v) {
    U32(static_cast<uint32_t>(v.size()));
    s_.append(v);
  }
  std::string Take() { return std::move(s_); }

 private:
  void Fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string s_;
};

// Every read checks the remaining length; a failed read leaves ok() false
// and later reads return zeros, so callers check once at the end.
class In {
 public:
  explicit In(std::string_view s) : s_(s) {}
  bool ok() const { return ok_; }
  bool done() const { return s_.empty(); }
  uint8_t U8() { return static_cast<uint8_t>(Fixed(1)); }
  uint32_t U32() { return static_cast<uint32_t>(Fixed(4)); }
  int64_t I64() { return static_cast<int64_t>(Fixed(8)); }
  Uuid128 Id() {
    Uuid128 id;
    id.hi = Fixed(8);
    id.lo = Fixed(8);
    return id;
  }
  std::string Str() {
    const uint32_t n = U32();
    if (!ok_ || s_.size() < n) {
      ok_ = false;
      return {};
    }
    std::string v(s_.substr(0, n));
    s_.remove_prefix(n);
    return v;
  }
  // A byte that must be < limit (enums).
  uint8_t Enum(uint8_t limit) {
    const uint8_t v = U8();
    if (v >= limit) ok_ = false;
    return v;
  }

 private:
  uint64_t Fixed(int n) {
    if (!ok_ || s_.size() < static_cast<size_t>(n)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<unsigned char>(s_[static_cast<size_t>(i)]);
    }
    s_.remove_prefix(static_cast<size_t>(n));
    return v;
  }
  std::string_view s_;
  bool ok_ = true;
};

constexpr uint8_t kStatusLimit = kDeliveryStatusCount;
constexpr uint8_t kErrorLimit = static_cast<uint8_t>(ErrorClass::kOther) + 1;
constexpr uint8_t kReasonLimit =
    static_cast<uint8_t>(DeadLetterReason::kEndpointDisabled) + 1;

void PutOptInt(Out* o, const std::optional<int>& v) {
  o->U8(v.has_value());
  if (v) o->U32(static_cast<uint32_t>(*v));
}
std::optional<int> GetOptInt(In* in) {
  if (in->U8() == 0) return std::nullopt;
  return static_cast<int>(in->U32());
}
void PutOptStr(Out* o, const std::optional<std::string>& v) {
  o->U8(v.has_value());
  if (v) o->Str(*v);
}
std::optional<std::string> GetOptStr(In* in) {
  if (in->U8() == 0) return std::nullopt;
  return in->Str();
}

}  // namespace

std::string EncodeEndpointBlob(const Endpoint& e) {
  return EncodeEvent(Event{0, 0, EventType::kEndpointUpdated, e.id.raw(),
                           EndpointSnapshot{e}});
}

Result<Endpoint> DecodeEndpointBlob(std::string_view bytes) {
  auto e = DecodeEvent(bytes);
  if (!e.ok()) return e.status();
  const auto* snap = std::get_if<EndpointSnapshot>(&e->body);
  if (snap == nullptr) return Status::Corruption("endpoint row malformed");
  return snap->endpoint;
}

std::string EncodeMessageBlob(const Message& m) {
  return EncodeEvent(
      Event{0, 0, EventType::kMessageAccepted, m.id.raw(), MessageAccepted{m}});
}

Result<Message> DecodeMessageBlob(std::string_view bytes) {
  auto e = DecodeEvent(bytes);
  if (!e.ok()) return e.status();
  const auto* body = std::get_if<MessageAccepted>(&e->body);
  if (body == nullptr) return Status::Corruption("message row malformed");
  return body->message;
}

std::string EncodeDeliveryBlob(const Delivery& d) {
  Out o;
  o.U8(kDeliveryBlobVersion);
  o.Id(d.id.raw());
  o.Id(d.message_id.raw());
  o.Id(d.endpoint_id.raw());
  o.Str(d.event_type);
  o.U8(static_cast<uint8_t>(d.status));
  o.U32(d.attempts);
  o.U32(d.failed_attempts);
  o.I64(d.created_at);
  o.I64(d.next_attempt_at);
  o.I64(d.last_attempted_at);
  o.I64(d.rate_limited_since);
  PutOptInt(&o, d.http_status_code);
  PutOptStr(&o, d.response_body);
  o.U8(static_cast<uint8_t>(d.last_error));
  o.U8(d.replay_of.has_value());
  if (d.replay_of) o.Id(d.replay_of->raw());
  o.U8(d.dead_letter_reason.has_value());
  if (d.dead_letter_reason) o.U8(static_cast<uint8_t>(*d.dead_letter_reason));
  o.U8(d.is_test);
  o.U32(static_cast<uint32_t>(d.attempts_log.size()));
  for (const AttemptRecord& a : d.attempts_log) {
    o.I64(a.at);
    PutOptInt(&o, a.http_status_code);
    PutOptStr(&o, a.response_body);
    o.U8(static_cast<uint8_t>(a.error));
    o.U32(a.latency_ms);
  }
  return o.Take();
}

Result<Delivery> DecodeDeliveryBlob(std::string_view bytes) {
  In in(bytes);
  const uint8_t version = in.U8();
  if (in.ok() && version != kDeliveryBlobVersion) {
    return Status::Corruption("delivery row format " + std::to_string(version) +
                              " is unknown");
  }
  Delivery d;
  d.id = DeliveryId(in.Id());
  d.message_id = MessageId(in.Id());
  d.endpoint_id = EndpointId(in.Id());
  d.event_type = in.Str();
  d.status = static_cast<DeliveryStatus>(in.Enum(kStatusLimit));
  d.attempts = in.U32();
  d.failed_attempts = in.U32();
  d.created_at = in.I64();
  d.next_attempt_at = in.I64();
  d.last_attempted_at = in.I64();
  d.rate_limited_since = in.I64();
  d.http_status_code = GetOptInt(&in);
  d.response_body = GetOptStr(&in);
  d.last_error = static_cast<ErrorClass>(in.Enum(kErrorLimit));
  if (in.U8() != 0) d.replay_of = DeliveryId(in.Id());
  if (in.U8() != 0) {
    d.dead_letter_reason = static_cast<DeadLetterReason>(in.Enum(kReasonLimit));
  }
  d.is_test = in.U8() != 0;
  const uint32_t n = in.U32();
  // Each record takes at least 15 bytes: a count beyond what is left is
  // damage, not a reason to reserve gigabytes.
  if (!in.ok() || n > bytes.size() / 15) {
    return Status::Corruption("delivery row truncated");
  }
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    AttemptRecord a;
    a.at = in.I64();
    a.http_status_code = GetOptInt(&in);
    a.response_body = GetOptStr(&in);
    a.error = static_cast<ErrorClass>(in.Enum(kErrorLimit));
    a.latency_ms = in.U32();
    d.attempts_log.push_back(std::move(a));
  }
  if (!in.ok() || !in.done()) {
    return Status::Corruption("delivery row truncated or malformed");
  }
  return d;
}

std::string EncodeIdList(const std::vector<DeliveryId>& ids) {
  Out o;
  for (const DeliveryId& id : ids) o.Id(id.raw());
  return o.Take();
}

Result<std::vector<DeliveryId>> DecodeIdList(std::string_view bytes) {
  if (bytes.size() % 16 != 0) {
    return Status::Corruption("idempotency row malformed");
  }
  In in(bytes);
  std::vector<DeliveryId> ids;
  while (!in.done()) ids.push_back(DeliveryId(in.Id()));
  return ids;
}

}  // namespace hooklog::pg
