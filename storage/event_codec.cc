// The event codec (format described byte by byte in docs/event_format.md) and
// the projection row codecs (storage/row_codec.h).
//
// Decoding treats its input as hostile: it is fuzzed, and a bit flip on disk
// must surface as Corruption, never as a crash, an out-of-bounds read or an
// unbounded allocation.

#include <array>
#include <type_traits>

#include "base/crc32c.h"
#include "hooklog/event.h"
#include "storage/row_codec.h"

namespace hooklog {

std::string_view EventTypeName(EventType t) {
  switch (t) {
    case EventType::kEndpointCreated:
      return "endpoint_created";
    case EventType::kEndpointUpdated:
      return "endpoint_updated";
    case EventType::kEndpointSecretRotated:
      return "endpoint_secret_rotated";
    case EventType::kEndpointDisabled:
      return "endpoint_disabled";
    case EventType::kEndpointEnabled:
      return "endpoint_enabled";
    case EventType::kEndpointDeleted:
      return "endpoint_deleted";
    case EventType::kCircuitOpened:
      return "circuit_opened";
    case EventType::kCircuitClosed:
      return "circuit_closed";
    case EventType::kMessageAccepted:
      return "message_accepted";
    case EventType::kEnqueued:
      return "enqueued";
    case EventType::kAttempted:
      return "attempted";
    case EventType::kRateLimited:
      return "rate_limited";
    case EventType::kDeadLettered:
      return "dead_lettered";
    case EventType::kReplayed:
      return "replayed";
  }
  return "unknown";
}

namespace storage_internal {
namespace {

bool IsKnownEventType(uint8_t t) {
  switch (static_cast<EventType>(t)) {
    case EventType::kEndpointCreated:
    case EventType::kEndpointUpdated:
    case EventType::kEndpointSecretRotated:
    case EventType::kEndpointDisabled:
    case EventType::kEndpointEnabled:
    case EventType::kEndpointDeleted:
    case EventType::kCircuitOpened:
    case EventType::kCircuitClosed:
    case EventType::kMessageAccepted:
    case EventType::kEnqueued:
    case EventType::kAttempted:
    case EventType::kRateLimited:
    case EventType::kDeadLettered:
    case EventType::kReplayed:
      return true;
  }
  return false;
}

// Enums are stored as one byte; decoding rejects values this build does not
// know (they can only come from corruption: a newer writer bumps the format
// version).
template <typename E>
bool ReadEnum(Reader* r, E* out, uint8_t max_value) {
  uint8_t v;
  if (!r->U8(&v) || v > max_value) return false;
  *out = static_cast<E>(v);
  return true;
}

void WriteStrings(Writer* w, const std::vector<std::string>& v) {
  w->Varint(v.size());
  for (const auto& s : v) w->Str(s);
}
bool ReadStrings(Reader* r, std::vector<std::string>* v) {
  size_t n;
  if (!r->Count(&n, 1)) return false;
  v->clear();
  v->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string s;
    if (!r->Str(&s)) return false;
    v->push_back(std::move(s));
  }
  return true;
}

template <typename Pairs>
void WritePairs(Writer* w, const Pairs& pairs) {
  w->Varint(pairs.size());
  for (const auto& [k, v] : pairs) {
    w->Str(k);
    w->Str(v);
  }
}

bool ReadOptionalInt(Reader* r, std::optional<int>* out) {
  bool present;
  if (!r->Bool(&present)) return false;
  out->reset();
  if (!present) return true;
  int32_t v;
  if (!r->I32(&v)) return false;
  *out = v;
  return true;
}
void WriteOptionalInt(Writer* w, const std::optional<int>& v) {
  w->Bool(v.has_value());
  if (v) w->I32(static_cast<int32_t>(*v));
}
bool ReadOptionalString(Reader* r, std::optional<std::string>* out) {
  bool present;
  if (!r->Bool(&present)) return false;
  out->reset();
  if (!present) return true;
  std::string s;
  if (!r->Str(&s)) return false;
  *out = std::move(s);
  return true;
}
void WriteOptionalString(Writer* w, const std::optional<std::string>& v) {
  w->Bool(v.has_value());
  if (v) w->Str(*v);
}
template <typename Tag>
void WriteOptionalId(Writer* w, const std::optional<Id<Tag>>& v) {
  w->Bool(v.has_value());
  if (v) w->Uuid(v->raw());
}
template <typename Tag>
bool ReadOptionalId(Reader* r, std::optional<Id<Tag>>* out) {
  bool present;
  if (!r->Bool(&present)) return false;
  out->reset();
  if (!present) return true;
  Uuid128 u;
  if (!r->Uuid(&u)) return false;
  *out = Id<Tag>(u);
  return true;
}
template <typename Tag>
bool ReadId(Reader* r, Id<Tag>* out) {
  Uuid128 u;
  if (!r->Uuid(&u)) return false;
  *out = Id<Tag>(u);
  return true;
}

constexpr uint8_t kMaxDeliveryStatus = 4;
constexpr uint8_t kMaxErrorClass = 8;
constexpr uint8_t kMaxSignatureScheme = 1;
constexpr uint8_t kMaxDeadLetterReason = 4;

// Body kinds: the index of the alternative in EventBody. Stored explicitly so
// that the decoder never has to guess the body from the type.
enum BodyKind : uint8_t {
  kBodyEndpoint = 0,
  kBodyMessage = 1,
  kBodyDeliveryCreated = 2,
  kBodyAttempted = 3,
  kBodyRateLimited = 4,
  kBodyDeadLettered = 5,
};
static_assert(std::variant_size_v<EventBody> == 6);

// Header: version(1) type(1) seq(8) time(8) aggregate(16) body kind(1).
constexpr size_t kHeaderBytes = 35;
constexpr size_t kTrailerBytes = 4;  // CRC32C

Status Corrupt(std::string_view why) {
  return Status::Corruption("event: " + std::string(why));
}

}  // namespace

void WriteEndpointFields(Writer* w, const Endpoint& e) {
  w->Uuid(e.id.raw());
  w->Str(e.url);
  w->Varint(e.secrets.size());
  for (const auto& s : e.secrets) {
    w->Str(s.secret);
    w->I64(s.expires_at);
  }
  w->Bool(e.enabled);
  w->Str(e.disabled_reason);
  WriteStrings(w, e.event_types);
  w->Str(e.description);
  WritePairs(w, e.metadata);
  WritePairs(w, e.headers);
  w->F64(e.rate_limit_per_s);
  w->Fixed32(e.max_in_flight);
  w->Bool(e.fifo);
  w->Bool(e.http2);
  w->U8(static_cast<uint8_t>(e.signature_scheme));
  w->Bool(e.deleted);
  w->I64(e.created_at);
  w->I64(e.updated_at);
  // Format version 2.
  w->I64(e.circuit_open_until);
  w->I64(e.failing_since);
  // Format version 3: the endpoint's own protection settings.
  const EndpointProtection& p = e.protection;
  w->Fixed32(p.rate_limit_burst);
  w->Bool(p.circuit_breaker.has_value());
  if (p.circuit_breaker) {
    const CircuitBreakerOptions& cb = *p.circuit_breaker;
    w->Bool(cb.enabled);
    w->Fixed32(cb.consecutive_failures);
    w->Fixed32(cb.window_attempts);
    w->F64(cb.failure_rate);
    w->I64(cb.open_for.count());
    w->I64(cb.max_open_for.count());
  }
  w->Bool(p.auto_disable_after.has_value());
  if (p.auto_disable_after) w->I64(p.auto_disable_after->count());
}

namespace {

bool ReadDuration(Reader* r, Duration* d) {
  int64_t v;
  if (!r->I64(&v)) return false;
  *d = Duration(v);
  return true;
}

bool ReadProtection(Reader* r, EndpointProtection* p) {
  *p = EndpointProtection{};
  bool has_breaker, has_auto_disable;
  if (!r->Fixed32(&p->rate_limit_burst) || !r->Bool(&has_breaker)) {
    return false;
  }
  if (has_breaker) {
    CircuitBreakerOptions& cb = p->circuit_breaker.emplace();
    if (!r->Bool(&cb.enabled) || !r->Fixed32(&cb.consecutive_failures) ||
        !r->Fixed32(&cb.window_attempts) || !r->F64(&cb.failure_rate) ||
        !ReadDuration(r, &cb.open_for) || !ReadDuration(r, &cb.max_open_for)) {
      return false;
    }
  }
  if (!r->Bool(&has_auto_disable)) return false;
  return !has_auto_disable || ReadDuration(r, &p->auto_disable_after.emplace());
}

}  // namespace

bool ReadEndpointFields(Reader* r, Endpoint* e, uint8_t version) {
  if (!ReadId(r, &e->id) || !r->Str(&e->url)) return false;
  size_t n;
  if (!r->Count(&n, 9)) return false;
  e->secrets.clear();
  e->secrets.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    SigningSecret s;
    if (!r->Str(&s.secret) || !r->I64(&s.expires_at)) return false;
    e->secrets.push_back(std::move(s));
  }
  if (!r->Bool(&e->enabled) || !r->Str(&e->disabled_reason) ||
      !ReadStrings(r, &e->event_types) || !r->Str(&e->description)) {
    return false;
  }
  if (!r->Count(&n, 2)) return false;
  e->metadata.clear();
  for (size_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!r->Str(&k) || !r->Str(&v)) return false;
    // Written from a std::map: keys are strictly increasing. Anything else
    // is damage (and would not round-trip).
    if (!e->metadata.empty() && !(e->metadata.rbegin()->first < k)) {
      return false;
    }
    e->metadata.emplace_hint(e->metadata.end(), std::move(k), std::move(v));
  }
  if (!r->Count(&n, 2)) return false;
  e->headers.clear();
  e->headers.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!r->Str(&k) || !r->Str(&v)) return false;
    e->headers.emplace_back(std::move(k), std::move(v));
  }
  return r->F64(&e->rate_limit_per_s) && r->Fixed32(&e->max_in_flight) &&
         r->Bool(&e->fifo) && r->Bool(&e->http2) &&
         ReadEnum(r, &e->signature_scheme, kMaxSignatureScheme) &&
         r->Bool(&e->deleted) && r->I64(&e->created_at) &&
         r->I64(&e->updated_at) &&
         (version < 2 ||
          (r->I64(&e->circuit_open_until) && r->I64(&e->failing_since))) &&
         (version < 3 || ReadProtection(r, &e->protection));
}

void WriteMessageFields(Writer* w, const Message& m) {
  w->Uuid(m.id.raw());
  w->Str(m.event_type);
  w->Str(m.payload);
  w->Str(m.idempotency_key);
  w->I64(m.created_at);
}

bool ReadMessageFields(Reader* r, Message* m) {
  return ReadId(r, &m->id) && r->Str(&m->event_type) && r->Str(&m->payload) &&
         r->Str(&m->idempotency_key) && r->I64(&m->created_at);
}

void WriteAttemptRecord(Writer* w, const AttemptRecord& a) {
  w->I64(a.at);
  WriteOptionalInt(w, a.http_status_code);
  WriteOptionalString(w, a.response_body);
  w->U8(static_cast<uint8_t>(a.error));
  w->Fixed32(a.latency_ms);
}

bool ReadAttemptRecord(Reader* r, AttemptRecord* a) {
  return r->I64(&a->at) && ReadOptionalInt(r, &a->http_status_code) &&
         ReadOptionalString(r, &a->response_body) &&
         ReadEnum(r, &a->error, kMaxErrorClass) && r->Fixed32(&a->latency_ms);
}

namespace {

void WriteBody(Writer* w, const EventBody& body) {
  w->U8(static_cast<uint8_t>(body.index()));
  switch (body.index()) {
    case kBodyEndpoint:
      WriteEndpointFields(w, std::get<EndpointSnapshot>(body).endpoint);
      break;
    case kBodyMessage:
      WriteMessageFields(w, std::get<MessageAccepted>(body).message);
      break;
    case kBodyDeliveryCreated: {
      const auto& b = std::get<DeliveryCreated>(body);
      w->Uuid(b.message_id.raw());
      w->Uuid(b.endpoint_id.raw());
      w->Str(b.event_type);
      w->I64(b.next_attempt_at);
      WriteOptionalId(w, b.replay_of);
      w->Bool(b.is_test);
      break;
    }
    case kBodyAttempted: {
      const auto& b = std::get<Attempted>(body);
      WriteAttemptRecord(w, b.record);
      w->U8(static_cast<uint8_t>(b.status_after));
      w->I64(b.next_attempt_at);
      w->Bool(b.counts_as_failure);
      break;
    }
    case kBodyRateLimited: {
      const auto& b = std::get<RateLimited>(body);
      w->I64(b.next_attempt_at);
      w->I64(b.since);
      break;
    }
    case kBodyDeadLettered:
      w->U8(static_cast<uint8_t>(std::get<DeadLettered>(body).reason));
      break;
  }
}

bool ReadBody(Reader* r, uint8_t version, uint8_t kind, EventBody* body) {
  switch (kind) {
    case kBodyEndpoint: {
      EndpointSnapshot b;
      if (!ReadEndpointFields(r, &b.endpoint, version)) return false;
      *body = std::move(b);
      return true;
    }
    case kBodyMessage: {
      MessageAccepted b;
      if (!ReadMessageFields(r, &b.message)) return false;
      *body = std::move(b);
      return true;
    }
    case kBodyDeliveryCreated: {
      DeliveryCreated b;
      if (!ReadId(r, &b.message_id) || !ReadId(r, &b.endpoint_id) ||
          !r->Str(&b.event_type) || !r->I64(&b.next_attempt_at) ||
          !ReadOptionalId(r, &b.replay_of) || !r->Bool(&b.is_test)) {
        return false;
      }
      *body = std::move(b);
      return true;
    }
    case kBodyAttempted: {
      Attempted b;
      if (!ReadAttemptRecord(r, &b.record) ||
          !ReadEnum(r, &b.status_after, kMaxDeliveryStatus) ||
          !r->I64(&b.next_attempt_at) || !r->Bool(&b.counts_as_failure)) {
        return false;
      }
      *body = std::move(b);
      return true;
    }
    case kBodyRateLimited: {
      RateLimited b;
      if (!r->I64(&b.next_attempt_at) || !r->I64(&b.since)) return false;
      *body = b;
      return true;
    }
    case kBodyDeadLettered: {
      DeadLettered b;
      if (!ReadEnum(r, &b.reason, kMaxDeadLetterReason)) return false;
      *body = b;
      return true;
    }
  }
  return false;
}

template <typename T, typename WriteFn>
std::string EncodeRow(const T& row, WriteFn write) {
  std::string out;
  Writer w(&out);
  w.U8(kRowFormatVersion);
  write(&w, row);
  return out;
}

template <typename T, typename ReadFn>
Status DecodeRow(std::string_view in, T* row, ReadFn read, const char* what) {
  Reader r(in);
  uint8_t version;
  if (!r.U8(&version) || version == 0 || version > kRowFormatVersion) {
    return Status::Corruption(std::string(what) +
                              " row: unsupported row format version");
  }
  bool ok;
  if constexpr (std::is_invocable_v<ReadFn, Reader*, T*, uint8_t>) {
    ok = read(&r, row, version);  // the row's layout depends on the version
  } else {
    ok = read(&r, row);
  }
  if (!ok || !r.done()) {
    return Status::Corruption(std::string(what) + " row: malformed");
  }
  return Status::Ok();
}

void WriteDeliveryFields(Writer* w, const Delivery& d) {
  w->Uuid(d.id.raw());
  w->Uuid(d.message_id.raw());
  w->Uuid(d.endpoint_id.raw());
  w->Str(d.event_type);
  w->U8(static_cast<uint8_t>(d.status));
  w->Fixed32(d.attempts);
  w->Fixed32(d.failed_attempts);
  w->I64(d.created_at);
  w->I64(d.next_attempt_at);
  w->I64(d.last_attempted_at);
  w->I64(d.rate_limited_since);
  WriteOptionalInt(w, d.http_status_code);
  WriteOptionalString(w, d.response_body);
  w->U8(static_cast<uint8_t>(d.last_error));
  WriteOptionalId(w, d.replay_of);
  w->Bool(d.dead_letter_reason.has_value());
  if (d.dead_letter_reason) w->U8(static_cast<uint8_t>(*d.dead_letter_reason));
  w->Bool(d.is_test);
  w->Varint(d.attempts_log.size());
  for (const auto& a : d.attempts_log) WriteAttemptRecord(w, a);
}

bool ReadDeliveryFields(Reader* r, Delivery* d) {
  if (!ReadId(r, &d->id) || !ReadId(r, &d->message_id) ||
      !ReadId(r, &d->endpoint_id) || !r->Str(&d->event_type) ||
      !ReadEnum(r, &d->status, kMaxDeliveryStatus) ||
      !r->Fixed32(&d->attempts) || !r->Fixed32(&d->failed_attempts) ||
      !r->I64(&d->created_at) || !r->I64(&d->next_attempt_at) ||
      !r->I64(&d->last_attempted_at) || !r->I64(&d->rate_limited_since) ||
      !ReadOptionalInt(r, &d->http_status_code) ||
      !ReadOptionalString(r, &d->response_body) ||
      !ReadEnum(r, &d->last_error, kMaxErrorClass) ||
      !ReadOptionalId(r, &d->replay_of)) {
    return false;
  }
  bool has_reason;
  if (!r->Bool(&has_reason)) return false;
  d->dead_letter_reason.reset();
  if (has_reason) {
    DeadLetterReason reason;
    if (!ReadEnum(r, &reason, kMaxDeadLetterReason)) return false;
    d->dead_letter_reason = reason;
  }
  size_t n;
  if (!r->Bool(&d->is_test) || !r->Count(&n, 15)) return false;
  d->attempts_log.clear();
  d->attempts_log.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    AttemptRecord a;
    if (!ReadAttemptRecord(r, &a)) return false;
    d->attempts_log.push_back(std::move(a));
  }
  return true;
}

void WriteIdempotencyFields(Writer* w, const IdempotencyRecord& rec) {
  w->Str(rec.key);
  w->Uuid(rec.message_id.raw());
  w->Varint(rec.deliveries.size());
  for (const auto& d : rec.deliveries) w->Uuid(d.raw());
  w->I64(rec.created_at);
}

bool ReadIdempotencyFields(Reader* r, IdempotencyRecord* rec) {
  size_t n;
  if (!r->Str(&rec->key) || !ReadId(r, &rec->message_id) || !r->Count(&n, 16)) {
    return false;
  }
  rec->deliveries.clear();
  rec->deliveries.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    DeliveryId id;
    if (!ReadId(r, &id)) return false;
    rec->deliveries.push_back(id);
  }
  return r->I64(&rec->created_at);
}

}  // namespace

std::string EncodeEndpointRow(const Endpoint& e) {
  return EncodeRow(e, WriteEndpointFields);
}
Status DecodeEndpointRow(std::string_view in, Endpoint* e) {
  return DecodeRow(in, e, ReadEndpointFields, "endpoint");
}
std::string EncodeMessageRow(const Message& m) {
  return EncodeRow(m, WriteMessageFields);
}
Status DecodeMessageRow(std::string_view in, Message* m) {
  return DecodeRow(in, m, ReadMessageFields, "message");
}
std::string EncodeDeliveryRow(const Delivery& d) {
  return EncodeRow(d, WriteDeliveryFields);
}
Status DecodeDeliveryRow(std::string_view in, Delivery* d) {
  return DecodeRow(in, d, ReadDeliveryFields, "delivery");
}
std::string EncodeIdempotencyRow(const IdempotencyRecord& rec) {
  return EncodeRow(rec, WriteIdempotencyFields);
}
Status DecodeIdempotencyRow(std::string_view in, IdempotencyRecord* rec) {
  return DecodeRow(in, rec, ReadIdempotencyFields, "idempotency");
}

namespace {
constexpr uint8_t kStatsRowVersion = 1;
constexpr uint8_t kReplayJobVersion = 1;
constexpr uint8_t kMaxReplayJobState = 2;
}  // namespace

std::string EncodeStatsRow(const StatsCounts& c) {
  std::string out;
  Writer w(&out);
  w.U8(kStatsRowVersion);
  for (uint64_t v : {c.delivered, c.failed, c.rate_limited, c.dead_letter,
                     c.attempts, c.latency_sum_ms}) {
    w.Varint(v);
  }
  for (uint64_t v : c.latency) w.Varint(v);
  return out;
}

Status DecodeStatsRow(std::string_view in, StatsCounts* c) {
  Reader r(in);
  uint8_t version;
  if (!r.U8(&version) || version != kStatsRowVersion) {
    return Status::Corruption("stats row: unsupported version");
  }
  for (uint64_t* v : {&c->delivered, &c->failed, &c->rate_limited,
                      &c->dead_letter, &c->attempts, &c->latency_sum_ms}) {
    if (!r.Varint(v)) return Status::Corruption("stats row: malformed");
  }
  for (uint64_t& v : c->latency) {
    if (!r.Varint(&v)) return Status::Corruption("stats row: malformed");
  }
  if (!r.done()) return Status::Corruption("stats row: malformed");
  return Status::Ok();
}

std::string EncodeCounters(const EndpointCounters& c) {
  std::string out;
  Writer w(&out);
  for (uint64_t v : c.by_status) w.Fixed64(v);
  w.Fixed64(c.attempts);
  return out;
}
Status DecodeCounters(std::string_view in, EndpointCounters* c) {
  Reader r(in);
  for (uint64_t& v : c->by_status) {
    if (!r.Fixed64(&v)) return Status::Corruption("counters row: malformed");
  }
  if (!r.Fixed64(&c->attempts) || !r.done()) {
    return Status::Corruption("counters row: malformed");
  }
  return Status::Ok();
}

}  // namespace storage_internal

std::string EncodeReplayJob(const ReplayJob& j) {
  using storage_internal::Writer;
  std::string out;
  Writer w(&out);
  w.U8(storage_internal::kReplayJobVersion);
  w.Uuid(j.id.raw());
  w.Varint(j.filter.endpoint_ids.size());
  for (const EndpointId& id : j.filter.endpoint_ids) w.Uuid(id.raw());
  storage_internal::WriteOptionalString(&w, j.filter.event_type);
  for (const auto* t : {&j.filter.created_after, &j.filter.created_before}) {
    w.Bool(t->has_value());
    if (*t) w.I64(**t);
  }
  w.U8(static_cast<uint8_t>(j.state));
  w.Varint(j.total);
  w.Varint(j.replayed);
  w.Varint(j.endpoint_index);
  w.Str(j.cursor);
  w.Str(j.error);
  w.I64(j.created_at);
  w.I64(j.updated_at);
  w.I64(j.finished_at);
  return out;
}

Result<ReplayJob> DecodeReplayJob(std::string_view bytes) {
  using storage_internal::Reader;
  Reader r(bytes);
  ReplayJob j;
  auto bad = [] { return Status::Corruption("replay job row: malformed"); };
  uint8_t version;
  if (!r.U8(&version) || version != storage_internal::kReplayJobVersion) {
    return Status::Corruption("replay job row: unsupported version");
  }
  size_t n;
  if (!storage_internal::ReadId(&r, &j.id) || !r.Count(&n, 16)) return bad();
  j.filter.endpoint_ids.resize(n);
  for (EndpointId& id : j.filter.endpoint_ids) {
    if (!storage_internal::ReadId(&r, &id)) return bad();
  }
  if (!storage_internal::ReadOptionalString(&r, &j.filter.event_type)) {
    return bad();
  }
  for (auto* t : {&j.filter.created_after, &j.filter.created_before}) {
    bool present;
    if (!r.Bool(&present)) return bad();
    if (present) {
      int64_t v;
      if (!r.I64(&v)) return bad();
      *t = v;
    }
  }
  uint64_t index;
  if (!storage_internal::ReadEnum(&r, &j.state,
                                  storage_internal::kMaxReplayJobState) ||
      !r.Varint(&j.total) || !r.Varint(&j.replayed) || !r.Varint(&index) ||
      index > UINT32_MAX || !r.Str(&j.cursor) || !r.Str(&j.error) ||
      !r.I64(&j.created_at) || !r.I64(&j.updated_at) ||
      !r.I64(&j.finished_at) || !r.done()) {
    return bad();
  }
  j.endpoint_index = static_cast<uint32_t>(index);
  return j;
}

std::string EncodeEvent(const Event& event) {
  using storage_internal::Writer;
  std::string out;
  out.reserve(128);
  Writer w(&out);
  w.U8(kEventFormatVersion);
  w.U8(static_cast<uint8_t>(event.type));
  w.Fixed64(event.seq);
  w.I64(event.time);
  w.Uuid(event.aggregate);
  storage_internal::WriteBody(&w, event.body);
  w.Fixed32(storage_internal::Crc32c(out));
  return out;
}

Result<Event> DecodeEvent(std::string_view bytes) {
  using storage_internal::Corrupt;
  using storage_internal::kHeaderBytes;
  using storage_internal::kTrailerBytes;
  if (bytes.empty()) return Corrupt("empty input");
  const auto version = static_cast<uint8_t>(bytes[0]);
  // The version is checked before anything else: a newer format may place
  // its checksum differently.
  if (version == 0 || version > kEventFormatVersion) {
    return Corrupt("unsupported format version " + std::to_string(version) +
                   " (this build reads 1.." +
                   std::to_string(kEventFormatVersion) + ")");
  }
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    return Corrupt("truncated (" + std::to_string(bytes.size()) + " bytes)");
  }
  const std::string_view covered = bytes.substr(0, bytes.size() - 4);
  storage_internal::Reader trailer(bytes.substr(bytes.size() - 4));
  uint32_t stored_crc = 0;
  (void)trailer.Fixed32(&stored_crc);
  if (storage_internal::Crc32c(covered) != stored_crc) {
    return Corrupt("checksum mismatch");
  }
  storage_internal::Reader r(covered);
  uint8_t skip, type, kind;
  Event e;
  if (!r.U8(&skip) || !r.U8(&type) || !r.Fixed64(&e.seq) || !r.I64(&e.time) ||
      !r.Uuid(&e.aggregate) || !r.U8(&kind)) {
    return Corrupt("truncated header");
  }
  if (!storage_internal::IsKnownEventType(type)) {
    return Corrupt("unknown event type " + std::to_string(type));
  }
  e.type = static_cast<EventType>(type);
  if (!storage_internal::ReadBody(&r, version, kind, &e.body)) {
    return Corrupt("malformed body (kind " + std::to_string(kind) + ")");
  }
  if (!r.done()) return Corrupt("trailing bytes after body");
  return e;
}

}  // namespace hooklog
