// The schema of the PostgreSQL adapter, one SQL script per version (see
// docs/postgres.md for what the tables hold). A step is never edited once
// released: a change is a new step.
#include "storage/postgres/pg_schema.h"

#include <string_view>

#include "hooklog/postgres_storage.h"

namespace hooklog::pg {
namespace {

// {S} stands for the quoted schema name. Ids are uuid (PostgreSQL compares
// them bytewise, which is Uuid128's order); strings that are only compared
// for equality are bytea, so no byte sequence (NUL, invalid UTF-8) is ever
// refused by the server's text encoding.
constexpr std::string_view kStep1 = R"sql(
-- The log, the rows, and the one-row table that numbers the log.
CREATE TABLE {S}.meta (
  id integer PRIMARY KEY CHECK (id = 1),
  last_seq bigint NOT NULL,
  appends bigint NOT NULL,     -- every committed Append (and fence) bumps it
  last_token bigint NOT NULL   -- the token of the last committed Append
);
INSERT INTO {S}.meta VALUES (1, 0, 0, 0);
CREATE TABLE {S}.log (seq bigint PRIMARY KEY, event bytea NOT NULL);
CREATE TABLE {S}.endpoints (
  id uuid PRIMARY KEY,
  created_at bigint NOT NULL,
  deleted boolean NOT NULL,
  snapshot bytea NOT NULL
);
CREATE INDEX endpoints_newest ON {S}.endpoints (created_at, id);
CREATE TABLE {S}.endpoint_metadata (
  endpoint_id uuid NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (endpoint_id, key)
);
CREATE INDEX endpoint_metadata_pair ON {S}.endpoint_metadata (key, value);
CREATE TABLE {S}.messages (
  id uuid PRIMARY KEY,
  created_at bigint NOT NULL,
  event bytea NOT NULL
);
CREATE TABLE {S}.deliveries (
  id uuid PRIMARY KEY,
  message_id uuid NOT NULL,
  endpoint_id uuid NOT NULL,
  event_type bytea NOT NULL,
  status smallint NOT NULL,
  attempts bigint NOT NULL,
  created_at bigint NOT NULL,
  next_attempt_at bigint NOT NULL,
  body bytea NOT NULL  -- the full row (pg_rows.h)
);
-- Lists without a status or type filter merge one scan per status of the
-- first two (postgres_storage.cc, PageSql), so there is no (created_at, id)
-- or (endpoint_id, created_at, id) index to maintain.
CREATE INDEX deliveries_status ON {S}.deliveries (status, created_at, id);
CREATE INDEX deliveries_endpoint_status
  ON {S}.deliveries (endpoint_id, status, created_at, id);
CREATE INDEX deliveries_type ON {S}.deliveries (event_type, created_at, id);
-- Non-terminal rows (not delivered = 1, not dead_letter = 4): LoadActive.
CREATE INDEX deliveries_active ON {S}.deliveries (id)
  WHERE status NOT IN (1, 4);
CREATE TABLE {S}.idempotency (
  key bytea PRIMARY KEY,
  message_id uuid NOT NULL,
  deliveries bytea NOT NULL,
  created_at bigint NOT NULL
);
-- First statement of every Append: locks the meta row (appenders queue
-- here, even from other processes), checks that the log is where this
-- adapter believes it is, and reserves n sequence numbers. Rolled back with
-- the rest of the transaction, so a failed Append leaves no gap.
CREATE FUNCTION {S}.hooklog_advance(expected_seq bigint,
    expected_appends bigint, n bigint, token bigint)
  RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  cur_seq bigint;
  cur_appends bigint;
BEGIN
  SELECT last_seq, appends INTO cur_seq, cur_appends
    FROM {S}.meta WHERE id = 1 FOR UPDATE;
  IF cur_seq <> expected_seq OR cur_appends <> expected_appends THEN
    RAISE EXCEPTION 'hooklog: the log moved (expected seq % append %, found % %)',
      expected_seq, expected_appends, cur_seq, cur_appends
      USING ERRCODE = 'serialization_failure';
  END IF;
  UPDATE {S}.meta SET last_seq = cur_seq + n, appends = cur_appends + 1,
      last_token = token
    WHERE id = 1;
  RETURN cur_seq + n;
END $$;
)sql";

// Counter rows, so that GetCounters/GetTotals read a few rows instead of
// counting deliveries; backfilled from the rows a version 1 schema holds.
constexpr std::string_view kStep2 = R"sql(
CREATE TABLE {S}.counters (
  endpoint_id uuid NOT NULL,
  status smallint NOT NULL,
  deliveries bigint NOT NULL,
  attempts bigint NOT NULL,
  PRIMARY KEY (endpoint_id, status)
);
INSERT INTO {S}.counters
  SELECT endpoint_id, status, count(*), sum(attempts)::bigint
  FROM {S}.deliveries GROUP BY endpoint_id, status;
)sql";

// The portal's rows: per-minute outcome buckets (added to by every node,
// so the columns are summed ON CONFLICT), bulk replay jobs, and the index
// behind per-message delivery lists.
constexpr std::string_view kStep3 = R"sql(
CREATE TABLE {S}.stats (
  endpoint_id uuid NOT NULL,  -- the nil uuid: the all-endpoints series
  minute bigint NOT NULL,
  delivered bigint NOT NULL,
  failed bigint NOT NULL,
  rate_limited bigint NOT NULL,
  dead_letter bigint NOT NULL,
  attempts bigint NOT NULL,
  latency_sum_ms bigint NOT NULL,
  l0 bigint NOT NULL, l1 bigint NOT NULL, l2 bigint NOT NULL,
  l3 bigint NOT NULL, l4 bigint NOT NULL, l5 bigint NOT NULL,
  l6 bigint NOT NULL, l7 bigint NOT NULL, l8 bigint NOT NULL,
  l9 bigint NOT NULL, l10 bigint NOT NULL, l11 bigint NOT NULL,
  l12 bigint NOT NULL, l13 bigint NOT NULL, l14 bigint NOT NULL,
  l15 bigint NOT NULL,
  PRIMARY KEY (endpoint_id, minute)
);
CREATE TABLE {S}.replay_jobs (
  id uuid PRIMARY KEY,
  created_at bigint NOT NULL,
  running boolean NOT NULL,
  body bytea NOT NULL  -- EncodeReplayJob (storage.h)
);
CREATE INDEX deliveries_message
  ON {S}.deliveries (message_id, created_at, id);
)sql";

// Partition leases (cluster mode, include/hooklog/storage.h LeaseSync): the
// cluster's partition count (fixed by the first sync), one row per
// partition, and the nodes' heartbeats. Every time is the SERVER's clock in
// microseconds (hooklog_now), so nodes with skewed clocks agree. The rules
// are storage/lease_table.cc's, statement for statement.
constexpr std::string_view kStep4 = R"sql(
CREATE TABLE {S}.cluster (
  id integer PRIMARY KEY CHECK (id = 1),
  partitions integer NOT NULL
);
CREATE TABLE {S}.leases (
  partition integer PRIMARY KEY,
  owner bytea NOT NULL,       -- node id; empty when never granted
  epoch bigint NOT NULL,      -- bumped by every grant; 0 when never granted
  expires_at bigint NOT NULL  -- held while hooklog_now() < expires_at
);
CREATE TABLE {S}.nodes (
  node_id bytea PRIMARY KEY,
  expires_at bigint NOT NULL  -- last sync + its ttl
);
CREATE FUNCTION {S}.hooklog_now() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
$$;
-- One node's heartbeat and lease requests (LeaseSync), then the whole
-- table: a header row (kind 0: the cluster's partition count and now), the
-- leases (kind 1) and the live nodes (kind 2). A request with another
-- partition count gets only the header and changes nothing.
CREATE FUNCTION {S}.hooklog_sync_leases(node bytea, want bigint, ttl bigint,
    renew_p bigint[], renew_e bigint[], release_p bigint[],
    release_e bigint[], acquire_p bigint[], leaving boolean)
  RETURNS TABLE (r_kind bigint, r_part bigint, r_owner bytea, r_epoch bigint,
                 r_time bigint)
  LANGUAGE plpgsql AS $$
DECLARE
  have bigint;
  now_us bigint;
  until_us bigint;
BEGIN
  SELECT c.partitions INTO have FROM {S}.cluster c WHERE c.id = 1;
  IF have IS NULL THEN
    -- The first sync fixes the count; a concurrent first sync waits on the
    -- key here and then finds the row.
    INSERT INTO {S}.cluster VALUES (1, want) ON CONFLICT (id) DO NOTHING;
    IF FOUND THEN
      INSERT INTO {S}.leases
        SELECT g, ''::bytea, 0, 0 FROM generate_series(0, want - 1) g;
    END IF;
    SELECT c.partitions INTO have FROM {S}.cluster c WHERE c.id = 1;
  END IF;
  IF have <> want THEN
    RETURN QUERY SELECT 0::bigint, have, NULL::bytea, NULL::bigint,
      NULL::bigint;
    RETURN;
  END IF;
  -- Every row this sync may change, locked in partition order: two nodes
  -- never wait on each other in a cycle, and Append's fence check (FOR
  -- SHARE, same order) waits for or blocks this sync.
  PERFORM 1 FROM {S}.leases l
    WHERE l.partition = ANY(renew_p || release_p || acquire_p)
    ORDER BY l.partition FOR UPDATE;
  -- Read the clock after the locks, so that a wait does not age it.
  now_us := {S}.hooklog_now();
  until_us := now_us + ttl;
  UPDATE {S}.leases l SET expires_at = until_us
    FROM unnest(renew_p, renew_e) r(p, e)
    WHERE l.partition = r.p AND l.owner = node AND l.epoch = r.e
      AND now_us < l.expires_at;
  UPDATE {S}.leases l SET expires_at = now_us
    FROM unnest(release_p, release_e) r(p, e)
    WHERE l.partition = r.p AND l.owner = node AND l.epoch = r.e
      AND now_us < l.expires_at;
  UPDATE {S}.leases l SET owner = node, epoch = l.epoch + 1,
      expires_at = until_us
    WHERE l.partition = ANY(acquire_p) AND l.expires_at <= now_us;
  IF leaving THEN
    DELETE FROM {S}.nodes n WHERE n.node_id = node;
  ELSE
    INSERT INTO {S}.nodes AS n VALUES (node, until_us)
      ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at;
  END IF;
  -- Forget lapsed nodes (they are no longer listed anyway); SKIP LOCKED so
  -- that two syncs never wait on each other's clean-up.
  DELETE FROM {S}.nodes n WHERE n.node_id IN (
    SELECT o.node_id FROM {S}.nodes o WHERE o.expires_at <= now_us
    FOR UPDATE SKIP LOCKED);
  RETURN QUERY SELECT 0::bigint, have, NULL::bytea, NULL::bigint, now_us;
  RETURN QUERY SELECT 1::bigint, l.partition::bigint, l.owner, l.epoch,
      l.expires_at FROM {S}.leases l ORDER BY l.partition;
  RETURN QUERY SELECT 2::bigint, NULL::bigint, n.node_id, NULL::bigint,
      n.expires_at FROM {S}.nodes n WHERE now_us < n.expires_at
    ORDER BY n.node_id;
END $$;
-- Append's fence check, its first statement: locks the fenced lease rows
-- FOR SHARE (partition order, before the meta row) and raises when one is
-- not held at its epoch now. A sync that would take or renew such a row
-- waits for the Append's commit (docs/postgres.md, "Fencing").
CREATE FUNCTION {S}.hooklog_check_fences(fence_p bigint[], fence_e bigint[])
  RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  now_us bigint;
  failed text;
BEGIN
  PERFORM 1 FROM {S}.leases l WHERE l.partition = ANY(fence_p)
    ORDER BY l.partition FOR SHARE;
  now_us := {S}.hooklog_now();
  SELECT string_agg(DISTINCT f.p::text, ',') INTO failed
    FROM unnest(fence_p, fence_e) f(p, e)
    LEFT JOIN {S}.leases l ON l.partition = f.p
    WHERE l.partition IS NULL OR l.epoch <> f.e OR l.expires_at <= now_us;
  IF failed IS NOT NULL THEN
    RAISE EXCEPTION 'hooklog: fenced partitions: %;', failed
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN now_us;
END $$;
)sql";

// Retention (pg_retention.h): the watermark behind Storage::PrunedBefore, in
// a table of its own rather than a meta column, because every Append holds
// the meta row from its first statement: a pass raising the watermark there
// would wait on Appends that may in turn wait on the pass's rows.
constexpr std::string_view kStep5 = R"sql(
CREATE TABLE {S}.retention (
  id integer PRIMARY KEY CHECK (id = 1),
  pruned_before bigint NOT NULL  -- 0: nothing ever pruned
);
INSERT INTO {S}.retention VALUES (1, 0);
)sql";

constexpr std::string_view kSteps[] = {kStep1, kStep2, kStep3, kStep4, kStep5};
static_assert(std::size(kSteps) == kPostgresSchemaVersion);

std::string Expand(std::string_view sql, const std::string& quoted) {
  std::string out;
  for (size_t i = 0; i < sql.size();) {
    if (sql.substr(i, 3) == "{S}") {
      out += quoted;
      i += 3;
    } else {
      out += sql[i++];
    }
  }
  return out;
}

}  // namespace

Status Migrate(Conn* conn, const std::string& schema, int target) {
  if (target < 1 || target > kPostgresSchemaVersion) {
    return Status::InvalidArgument("schema version " + std::to_string(target) +
                                   " is not one of 1.." +
                                   std::to_string(kPostgresSchemaVersion));
  }
  const std::string s = QuoteIdent(schema);
  HOOKLOG_RETURN_IF_ERROR(conn->ExecScript("BEGIN", "migration"));
  auto fail = [&](Status st) {
    (void)conn->ExecScript("ROLLBACK", "migration rollback");
    return st;
  };
  Status st;
  // hashtext is stable within a server: one lock per schema name.
  // Backfills read whole tables: scans are right here even on a session
  // that avoids them (the adapter's writer).
  st = conn->ExecScript("SET LOCAL enable_seqscan = on", "migration");
  if (!st.ok()) return fail(st);
  Params lock;
  lock.Bytea("hooklog:" + schema);
  auto locked = conn->Exec(
      "SELECT pg_advisory_xact_lock(hashtext(convert_from($1, 'UTF8')))", lock,
      "migration lock");
  if (!locked.ok()) return fail(locked.status());
  st = conn->ExecScript("CREATE SCHEMA IF NOT EXISTS " + s +
                            "; CREATE TABLE IF NOT EXISTS " + s +
                            ".schema_version (version integer NOT NULL)",
                        "creating the schema");
  if (!st.ok()) return fail(st);
  auto row = conn->Exec("SELECT version::bigint FROM " + s + ".schema_version",
                        Params(), "reading the schema version");
  if (!row.ok()) return fail(row.status());
  int version = 0;
  if (PQntuples(row->get()) == 0) {
    st = conn->ExecScript("INSERT INTO " + s + ".schema_version VALUES (0)",
                          "initializing the schema version");
    if (!st.ok()) return fail(st);
  } else {
    version = static_cast<int>(GetInt8(row->get(), 0, 0));
  }
  if (version > kPostgresSchemaVersion) {
    return fail(Status::FailedPrecondition(
        "postgres schema " + schema + " is at version " +
        std::to_string(version) + ", newer than version " +
        std::to_string(kPostgresSchemaVersion) +
        " that this build knows; upgrade hooklog"));
  }
  for (int v = version + 1; v <= target; ++v) {
    st = conn->ExecScript(Expand(kSteps[v - 1], s),
                          "migrating to version " + std::to_string(v));
    if (!st.ok()) return fail(st);
  }
  if (target > version) {
    st = conn->ExecScript("UPDATE " + s + ".schema_version SET version = " +
                              std::to_string(target),
                          "recording the schema version");
    if (!st.ok()) return fail(st);
  }
  return conn->ExecScript("COMMIT", "migration commit");
}

Result<int> SchemaVersion(Conn* conn, const std::string& schema) {
  Params p;
  p.Bytea(QuoteIdent(schema) + ".schema_version");
  auto exists = conn->Exec(
      "SELECT (to_regclass(convert_from($1, 'UTF8')) IS NOT NULL)::int::int8",
      p, "looking for the schema");
  if (!exists.ok()) return exists.status();
  if (GetInt8(exists->get(), 0, 0) == 0) return 0;
  auto row = conn->Exec(
      "SELECT version::bigint FROM " + QuoteIdent(schema) + ".schema_version",
      Params(), "reading the schema version");
  if (!row.ok()) return row.status();
  if (PQntuples(row->get()) == 0) return 0;
  return static_cast<int>(GetInt8(row->get(), 0, 0));
}

}  // namespace hooklog::pg
