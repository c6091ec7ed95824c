// Retention passes of the PostgreSQL adapter (pg_retention.h).
//
// Why these statements, in this order, inside one chunk transaction:
//   1. pick: one status at a time, so the (status, created_at, id) index
//      serves the scan in keyset order; FOR UPDATE SKIP LOCKED, so a row an
//      Append (or another pass) holds is left for the next pass instead of
//      waited for, and the rows returned are their latest committed
//      versions (status and created_at re-checked by the server after the
//      lock). The last activity lives in the row's body, so it is checked
//      here, on the locked version;
//   2. delete: re-checks terminal and age in the statement itself;
//   3. counters: locked in (endpoint_id, status) order first — the Append's
//      counters statement adds in that order too — then lowered, so a pass
//      and an Append never wait on each other in a cycle;
//   4. messages: only those no delivery row refers to any more (the deletes
//      above are visible to this statement), SKIP LOCKED: a message an
//      Append is writing stays;
//   5. the watermark, last, so its row lock is held only until the commit.
// lock_timeout bounds what a pass can wait for at all (an Append holding a
// counters row): should something unforeseen ever wait in a cycle, the pass
// gives up before the server's deadlock detector could pick the Append.
#include "storage/postgres/pg_retention.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "hooklog/types.h"
#include "storage/postgres/pg_rows.h"

namespace hooklog::pg {
namespace {

const std::string kPickDeliveries =
    "SELECT id, created_at, body FROM deliveries WHERE status = $1 "
    "AND created_at < $2 AND (created_at, id) > ($3, $4) "
    "ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED";
const std::string kDeleteDeliveries =
    "DELETE FROM deliveries WHERE id = ANY($1::uuid[]) AND status IN (1, 4) "
    "AND created_at < $2 RETURNING endpoint_id, status, attempts, message_id";
const std::string kLockCounters =
    "SELECT 1::int8 FROM counters c, unnest($1::uuid[], $2::int2[]) "
    "k(e, s) WHERE c.endpoint_id = k.e AND c.status = k.s "
    "ORDER BY c.endpoint_id, c.status FOR UPDATE OF c";
const std::string kLowerCounters =
    "UPDATE counters c SET deliveries = c.deliveries - t.n, "
    "attempts = c.attempts - t.a FROM unnest($1::uuid[], $2::int2[], "
    "$3::int8[], $4::int8[]) t(e, s, n, a) "
    "WHERE c.endpoint_id = t.e AND c.status = t.s";
const std::string kDeleteMessages =
    "DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m "
    "WHERE m.id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM deliveries d "
    "WHERE d.message_id = m.id) FOR UPDATE SKIP LOCKED)";
const std::string kRaiseWatermark =
    "UPDATE retention SET pruned_before = $1 WHERE id = 1 "
    "AND pruned_before < $1";
const std::string kReadWatermark =
    "SELECT pruned_before FROM retention WHERE id = 1";
const std::string kDeleteStats =
    "DELETE FROM stats WHERE (endpoint_id, minute) IN (SELECT endpoint_id, "
    "minute FROM stats WHERE minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

// Where the keyset scan of one status resumes (exclusive).
struct Cursor {
  Timestamp created_at = std::numeric_limits<Timestamp>::min();
  Uuid128 id{0, 0};
  bool done = false;
};

// REQUIRES: inside the chunk's transaction.
Result<uint64_t> ChunkBody(Conn* c, int16_t status, Timestamp cutoff,
                           Cursor* cursor) {
  Params pick;
  pick.Int2(status)
      .Int8(cutoff)
      .Int8(cursor->created_at)
      .Uuid(cursor->id)
      .Int8(kPruneChunk);
  auto picked = c->Exec(kPickDeliveries, pick, "pruning: picking deliveries");
  if (!picked.ok()) return picked.status();
  const PGresult* r = picked->get();
  const int rows = PQntuples(r);
  if (rows < kPruneChunk) cursor->done = true;
  if (rows == 0) return uint64_t{0};
  cursor->id = GetUuid(r, rows - 1, 0);
  cursor->created_at = GetInt8(r, rows - 1, 1);
  ArrayBuilder ids(kUuidOid);
  for (int i = 0; i < rows; ++i) {
    auto d = DecodeDeliveryBlob(GetBytes(r, i, 2));
    if (!d.ok()) return d.status();
    if (!IsTerminal(d->status)) continue;  // body and column disagree: keep
    if (std::max(d->created_at, d->last_attempted_at) >= cutoff) continue;
    ids.Uuid(d->id.raw());
  }
  if (ids.size() == 0) return uint64_t{0};

  Params del;
  del.Array(kUuidArrayOid, ids).Int8(cutoff);
  auto deleted = c->Exec(kDeleteDeliveries, del, "pruning deliveries");
  if (!deleted.ok()) return deleted.status();
  const PGresult* d = deleted->get();
  const int n = PQntuples(d);
  if (n == 0) return uint64_t{0};
  std::map<std::pair<Uuid128, int16_t>, std::pair<int64_t, int64_t>> sums;
  ArrayBuilder messages(kUuidOid);
  for (int i = 0; i < n; ++i) {
    auto& s = sums[{GetUuid(d, i, 0), GetInt2(d, i, 1)}];
    s.first += 1;
    s.second += GetInt8(d, i, 2);
    messages.Uuid(GetUuid(d, i, 3));
  }
  ArrayBuilder eps(kUuidOid), statuses(kInt2Oid), counts(kInt8Oid),
      attempts(kInt8Oid);
  for (const auto& [key, v] : sums) {
    eps.Uuid(key.first);
    statuses.Int2(key.second);
    counts.Int8(v.first);
    attempts.Int8(v.second);
  }
  Params lock;
  lock.Array(kUuidArrayOid, eps).Array(kInt2ArrayOid, statuses);
  HOOKLOG_RETURN_IF_ERROR(
      c->Exec(kLockCounters, lock, "pruning: locking counters").status());
  Params lower;
  lower.Array(kUuidArrayOid, eps)
      .Array(kInt2ArrayOid, statuses)
      .Array(kInt8ArrayOid, counts)
      .Array(kInt8ArrayOid, attempts);
  HOOKLOG_RETURN_IF_ERROR(
      c->Exec(kLowerCounters, lower, "pruning: lowering counters").status());
  Params msgs;
  msgs.Array(kUuidArrayOid, messages);
  HOOKLOG_RETURN_IF_ERROR(
      c->Exec(kDeleteMessages, msgs, "pruning messages").status());
  // Pruned rows were created before `cutoff` (their last activity is).
  Params mark;
  mark.Int8(cutoff);
  HOOKLOG_RETURN_IF_ERROR(
      c->Exec(kRaiseWatermark, mark, "pruning: raising the watermark")
          .status());
  return static_cast<uint64_t>(n);
}

// One chunk of `status`, in its own transaction.
Result<uint64_t> Chunk(Conn* c, int16_t status, Timestamp cutoff,
                       Cursor* cursor) {
  HOOKLOG_RETURN_IF_ERROR(
      c->ExecScript("BEGIN; SET LOCAL lock_timeout = '500ms'", "pruning"));
  auto r = ChunkBody(c, status, cutoff, cursor);
  if (c->broken()) return r;
  Status end = c->ExecScript(r.ok() ? "COMMIT" : "ROLLBACK", "pruning commit");
  if (r.ok() && !end.ok()) return end;
  return r;
}

}  // namespace

Result<uint64_t> PruneBefore(Conn* conn, Timestamp cutoff) {
  uint64_t pruned = 0;
  for (DeliveryStatus st :
       {DeliveryStatus::kDelivered, DeliveryStatus::kDeadLetter}) {
    Cursor cursor;
    while (!cursor.done) {
      auto n = Chunk(conn, static_cast<int16_t>(st), cutoff, &cursor);
      if (!n.ok()) return n.status();
      pruned += *n;
    }
  }
  // Stats buckets before the cutoff: a chart never reaches further back
  // than the deliveries it counts. Each chunk is its own statement.
  for (;;) {
    Params p;
    p.Int8(cutoff).Int8(kPruneChunk);
    auto r = conn->Exec(kDeleteStats, p, "pruning stats");
    if (!r.ok()) return r.status();
    const char* tuples = PQcmdTuples(r->get());
    if (std::stoll(tuples[0] != '\0' ? tuples : "0") < kPruneChunk) break;
  }
  return pruned;
}

Result<Timestamp> ReadPrunedBefore(Conn* conn) {
  auto r = conn->Exec(kReadWatermark, Params(), "reading the watermark");
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) != 1) {
    return Status::Corruption("postgres: the retention row is missing");
  }
  return GetInt8(r->get(), 0, 0);
}

}  // namespace hooklog::pg
