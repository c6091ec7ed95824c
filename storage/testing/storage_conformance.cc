// The checks of the storage conformance suite
// (include/hooklog/testing/storage_conformance.h).
//
// Every check builds its own rows with deterministic ids and compares what
// the adapter answers with a small reference model. Events are arbitrary
// here: adapters never interpret them, they only store and number them.

#include "hooklog/testing/storage_conformance.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace hooklog::testing::conformance {
namespace {

constexpr Timestamp kT0 = 1'790'000'000LL * kSecond;

Uuid128 TestId(uint8_t kind, uint64_t n) {
  // Spread ids so that id order differs from insertion order.
  return Uuid128{(uint64_t{kind} << 56) | ((n * 0x9E3779B97F4A7C15ULL) >> 8),
                 n + 1};
}
EndpointId EpId(uint64_t n) { return EndpointId(TestId(1, n)); }
MessageId MsgId(uint64_t n) { return MessageId(TestId(2, n)); }
DeliveryId DelId(uint64_t n) { return DeliveryId(TestId(3, n)); }

Endpoint MakeEndpoint(uint64_t n, Timestamp created_at) {
  Endpoint e;
  e.id = EpId(n);
  e.url = "https://example.com/hook/" + std::to_string(n);
  e.secrets = {{"whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0", 0}};
  e.description = "endpoint " + std::to_string(n);
  e.metadata = {{"n", std::to_string(n)}, {"parity", n % 2 ? "odd" : "even"}};
  e.headers = {{"X-N", std::to_string(n)}};
  e.created_at = created_at;
  e.updated_at = created_at;
  return e;
}

Message MakeMessage(uint64_t n) {
  Message m;
  m.id = MsgId(n);
  m.event_type = "invoice.paid";
  m.payload = "{\"n\":" + std::to_string(n) + "}";
  m.created_at = kT0 + static_cast<Timestamp>(n);
  return m;
}

Delivery MakeDelivery(uint64_t n, uint64_t endpoint, DeliveryStatus status,
                      std::string type, Timestamp created_at) {
  Delivery d;
  d.id = DelId(n);
  d.message_id = MsgId(n);
  d.endpoint_id = EpId(endpoint);
  d.event_type = std::move(type);
  d.status = status;
  d.created_at = created_at;
  d.next_attempt_at = IsTerminal(status) ? 0 : created_at + 1000;
  if (status != DeliveryStatus::kPending) {
    d.attempts = 1 + static_cast<uint32_t>(n % 3);
    d.failed_attempts = d.attempts - 1;
    d.last_attempted_at = created_at + 10;
    d.http_status_code = status == DeliveryStatus::kDelivered ? 200 : 500;
    d.response_body = "body " + std::to_string(n);
    d.attempts_log.push_back(AttemptRecord{created_at + 10, d.http_status_code,
                                           d.response_body, ErrorClass::kNone,
                                           12});
  }
  return d;
}

Event MakeEvent(EventType type, const Uuid128& aggregate, Timestamp time) {
  Event e;
  e.type = type;
  e.aggregate = aggregate;
  e.time = time;
  if (type == EventType::kDeadLettered) {
    e.body = DeadLettered{DeadLetterReason::kAttemptsExhausted};
  } else {
    DeliveryCreated body;
    body.event_type = "invoice.paid";
    body.next_attempt_at = time;
    e.body = body;
  }
  return e;
}

// Appends and returns the last sequence, failing the test on error.
uint64_t MustAppend(Storage* s, WriteBatch* b) {
  auto r = s->Append(b);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : 0;
}

// Appends one batch: an event per delivery plus the rows.
void AppendDeliveries(Storage* s, const std::vector<Delivery>& ds) {
  WriteBatch b;
  for (const Delivery& d : ds) {
    b.events.push_back(
        MakeEvent(EventType::kEnqueued, d.id.raw(), d.created_at));
    b.deliveries.push_back(d);
  }
  MustAppend(s, &b);
}

void AppendEndpoints(Storage* s, const std::vector<Endpoint>& es) {
  WriteBatch b;
  for (const Endpoint& e : es) {
    b.events.push_back(
        MakeEvent(EventType::kEndpointCreated, e.id.raw(), e.created_at));
    b.endpoints.push_back(e);
  }
  MustAppend(s, &b);
}

ReplayJob MakeReplayJob(uint64_t n, Timestamp created_at) {
  ReplayJob j;
  j.id = ReplayJobId(TestId(4, n));
  j.filter.endpoint_ids = {EpId(n), EpId(n + 1)};
  j.filter.event_type = "invoice.paid";
  j.filter.created_after = created_at - kSecond;
  j.filter.created_before = created_at;
  j.total = 10 + n;
  j.replayed = n;
  j.endpoint_index = 1;
  j.cursor = EncodeListCursor(created_at, TestId(3, n));
  j.created_at = created_at;
  j.updated_at = created_at + 5;
  return j;
}

StatsCounts Counts(uint64_t delivered, uint64_t failed, uint64_t latency_ms) {
  StatsCounts c;
  c.delivered = delivered;
  c.failed = failed;
  c.rate_limited = 1;
  c.dead_letter = 2;
  c.attempts = delivered + failed + 3;
  c.latency_sum_ms = latency_ms * c.attempts;
  c.latency[latency_ms % kStatsLatencyBuckets] = c.attempts;
  c.latency[kStatsLatencyBuckets - 1] += 1;
  return c;
}

bool NewerFirst(const Delivery& a, const Delivery& b) {
  if (a.created_at != b.created_at) return a.created_at > b.created_at;
  return a.id > b.id;
}

std::vector<Uuid128> Ids(const std::vector<Delivery>& ds) {
  std::vector<Uuid128> out;
  for (const auto& d : ds) out.push_back(d.id.raw());
  return out;
}

}  // namespace

void AppendAssignsGaplessSequences(Storage* s) {
  EXPECT_EQ(s->LastSequence(), 0u);
  WriteBatch b1;
  for (int i = 0; i < 3; ++i) {
    b1.events.push_back(MakeEvent(EventType::kEnqueued, TestId(9, i), kT0));
  }
  auto r = s->Append(&b1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b1.events[i].seq, uint64_t(i + 1));
  EXPECT_EQ(s->LastSequence(), 3u);

  // A batch without events keeps the sequence.
  WriteBatch rows_only;
  rows_only.messages.push_back(MakeMessage(1));
  r = s->Append(&rows_only);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 3u);
  EXPECT_EQ(s->LastSequence(), 3u);

  WriteBatch b2;
  b2.events.push_back(MakeEvent(EventType::kEnqueued, TestId(9, 7), kT0));
  r = s->Append(&b2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 4u);
  EXPECT_EQ(b2.events[0].seq, 4u);
}

void ReadLogReturnsEventsInOrder(Storage* s) {
  std::vector<Event> written;
  for (int batch = 0; batch < 5; ++batch) {
    WriteBatch b;
    for (int i = 0; i <= batch; ++i) {
      b.events.push_back(
          MakeEvent(i % 2 ? EventType::kDeadLettered : EventType::kEnqueued,
                    TestId(9, batch * 10 + i), kT0 + batch));
    }
    MustAppend(s, &b);
    written.insert(written.end(), b.events.begin(), b.events.end());
  }
  std::vector<Event> got;
  ASSERT_TRUE(s->ReadLog(1, 1000, &got).ok());
  ASSERT_EQ(got.size(), written.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(got[i], written[i]);
  }
  got.clear();  // whether ReadLog clears `out` first is unspecified
  ASSERT_TRUE(s->ReadLog(4, 3, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, 4u);
  EXPECT_EQ(got[2].seq, 6u);
  got.clear();
  ASSERT_TRUE(s->ReadLog(written.size() + 1, 10, &got).ok());
  EXPECT_TRUE(got.empty());
}

void RowsAreReadableAfterAppend(Storage* s) {
  WriteBatch b;
  Endpoint e = MakeEndpoint(1, kT0);
  // Every field a store must keep, including the optional ones.
  e.circuit_open_until = kT0 + 30 * kSecond;
  e.failing_since = kT0 - kSecond;
  e.protection.rate_limit_burst = 9;
  e.protection.circuit_breaker =
      CircuitBreakerOptions{.consecutive_failures = 4};
  e.protection.auto_disable_after = Duration(0);
  Message m = MakeMessage(1);
  m.idempotency_key = "k1";
  Delivery d = MakeDelivery(1, 1, DeliveryStatus::kFailed, "invoice.paid", kT0);
  d.replay_of = DelId(99);
  d.dead_letter_reason = DeadLetterReason::kGone;
  d.is_test = true;
  IdempotencyRecord rec{"k1", m.id, {d.id}, kT0};
  b.events.push_back(MakeEvent(EventType::kEnqueued, d.id.raw(), kT0));
  b.endpoints.push_back(e);
  b.messages.push_back(m);
  b.deliveries.push_back(d);
  b.idempotency.push_back(rec);
  MustAppend(s, &b);

  auto ge = s->GetEndpoint(e.id);
  ASSERT_TRUE(ge.ok()) << ge.status().ToString();
  EXPECT_EQ(*ge, e);
  auto gm = s->GetMessage(m.id);
  ASSERT_TRUE(gm.ok()) << gm.status().ToString();
  EXPECT_EQ(*gm, m);
  auto gd = s->GetDelivery(d.id);
  ASSERT_TRUE(gd.ok()) << gd.status().ToString();
  EXPECT_EQ(*gd, d);
  auto gi = s->GetIdempotency("k1");
  ASSERT_TRUE(gi.ok()) << gi.status().ToString();
  ASSERT_TRUE(gi->has_value());
  EXPECT_EQ(**gi, rec);
}

void UnknownIdsAreNotFound(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(1, kT0)});
  EXPECT_EQ(s->GetEndpoint(EpId(42)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->GetMessage(MsgId(42)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->GetDelivery(DelId(42)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->GetCounters(EpId(42)).status().code(), StatusCode::kNotFound);
  auto gi = s->GetIdempotency("nope");
  ASSERT_TRUE(gi.ok());
  EXPECT_FALSE(gi->has_value());
  // A known endpoint without deliveries has zero counters.
  auto c = s->GetCounters(EpId(1));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*c, EndpointCounters{});
}

void UpsertReplacesRowsAndIndexes(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(1, kT0)});
  Delivery d = MakeDelivery(1, 1, DeliveryStatus::kPending, "a", kT0);
  AppendDeliveries(s, {d});
  d.status = DeliveryStatus::kDelivered;
  d.attempts = 2;
  d.next_attempt_at = 0;
  d.http_status_code = 204;
  AppendDeliveries(s, {d});
  auto got = s->GetDelivery(d.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, d);

  DeliveryQuery q;
  q.status = DeliveryStatus::kPending;
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->items.empty()) << "old status index entry left behind";
  EXPECT_EQ(page->total_count, 0u);
  q.status = DeliveryStatus::kDelivered;
  page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0], d);
  q = DeliveryQuery{};
  page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u) << "an upsert must not duplicate";

  Endpoint e = MakeEndpoint(1, kT0);
  e.url = "https://example.com/changed";
  e.metadata = {{"team", "x"}};
  AppendEndpoints(s, {e});
  auto ge = s->GetEndpoint(e.id);
  ASSERT_TRUE(ge.ok());
  EXPECT_EQ(*ge, e);
  auto list = s->ListEndpoints(EndpointQuery{});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 1u);
}

void EventsAndRowsBecomeVisibleTogether(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(1, kT0)});
  constexpr int kBatches = 300;
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::thread reader([&] {
    uint64_t next = 1;
    while (!done.load() || next <= s->LastSequence()) {
      std::vector<Event> events;
      if (!s->ReadLog(next, 64, &events).ok()) {  // fresh vector each time
        ++violations;
        return;
      }
      for (const Event& e : events) {
        next = e.seq + 1;
        if (e.type != EventType::kEnqueued) continue;
        // The row written in the same batch as this event must be there.
        if (!s->GetDelivery(DeliveryId(e.aggregate)).ok()) ++violations;
      }
      if (events.empty()) std::this_thread::yield();
    }
  });
  for (int i = 0; i < kBatches; ++i) {
    AppendDeliveries(
        s, {MakeDelivery(i, 1, DeliveryStatus::kPending, "a", kT0 + i)});
  }
  done = true;
  reader.join();
  EXPECT_EQ(violations.load(), 0);
}

void ListDeliveriesMatchesModel(Storage* s) {
  std::mt19937 rng(12345);  // fixed: the model is part of the contract
  const std::vector<std::string> types = {"a.x", "b.y"};
  AppendEndpoints(s, {MakeEndpoint(0, kT0), MakeEndpoint(1, kT0 + 1),
                      MakeEndpoint(2, kT0 + 2)});
  std::map<Uuid128, Delivery> model;
  // Few distinct times so that many rows tie on created_at (id breaks ties).
  auto random_delivery = [&](uint64_t n) {
    return MakeDelivery(n, rng() % 3 == 2 ? 2 : rng() % 2,
                        static_cast<DeliveryStatus>(rng() % 5),
                        types[rng() % 2], kT0 + (rng() % 12) * kSecond);
  };
  uint64_t n = 0;
  while (n < 90) {
    std::vector<Delivery> batch;
    const int size = 1 + rng() % 5;
    for (int i = 0; i < size; ++i) batch.push_back(random_delivery(n++));
    AppendDeliveries(s, batch);
    for (const auto& d : batch) model[d.id.raw()] = d;
  }
  // Change some: status, attempts, even the endpoint and type.
  for (int i = 0; i < 40; ++i) {
    Delivery d = model[DelId(rng() % n).raw()];
    d.status = static_cast<DeliveryStatus>(rng() % 5);
    d.attempts += 1;
    if (i % 10 == 0) d.endpoint_id = EpId(rng() % 3);
    if (i % 13 == 0) d.event_type = types[rng() % 2];
    AppendDeliveries(s, {d});
    model[d.id.raw()] = d;
  }

  std::vector<std::optional<EndpointId>> endpoints = {
      std::nullopt, EpId(0), EpId(1), EpId(2), EpId(7)};
  std::vector<std::optional<DeliveryStatus>> statuses = {std::nullopt};
  for (int i = 0; i < kDeliveryStatusCount; ++i) {
    statuses.push_back(static_cast<DeliveryStatus>(i));
  }
  std::vector<std::optional<std::string>> type_filters = {std::nullopt, "a.x",
                                                          "b.y", "zzz"};
  struct Range {
    std::optional<Timestamp> after, before;
  };
  std::vector<Range> ranges = {{},
                               {kT0 + 4 * kSecond, std::nullopt},
                               {std::nullopt, kT0 + 7 * kSecond},
                               {kT0 + 3 * kSecond, kT0 + 8 * kSecond},
                               {kT0 + 5 * kSecond, kT0 + 5 * kSecond}};

  for (const auto& ep : endpoints) {
    for (const auto& st : statuses) {
      for (const auto& ty : type_filters) {
        for (const auto& range : ranges) {
          std::vector<Delivery> expected;
          for (const auto& [id, d] : model) {
            if (ep && d.endpoint_id != *ep) continue;
            if (st && d.status != *st) continue;
            if (ty && d.event_type != *ty) continue;
            if (range.after && d.created_at < *range.after) continue;
            if (range.before && d.created_at > *range.before) continue;
            expected.push_back(d);
          }
          std::sort(expected.begin(), expected.end(), NewerFirst);
          DeliveryQuery q;
          q.endpoint_id = ep;
          q.status = st;
          q.event_type = ty;
          q.created_after = range.after;
          q.created_before = range.before;
          q.page_size = 7;
          SCOPED_TRACE(::testing::Message()
                       << "endpoint=" << (ep ? ep->ToString() : "-")
                       << " status=" << (st ? int(*st) : -1)
                       << " type=" << ty.value_or("-")
                       << " after=" << range.after.value_or(0) - kT0
                       << " before=" << range.before.value_or(0) - kT0);
          // Cursor walk.
          std::vector<Delivery> walked;
          for (int guard = 0; guard < 100; ++guard) {
            auto page = s->ListDeliveries(q);
            ASSERT_TRUE(page.ok()) << page.status().ToString();
            EXPECT_EQ(page->total_count, expected.size());
            EXPECT_LE(page->items.size(), 7u);
            walked.insert(walked.end(), page->items.begin(), page->items.end());
            if (page->next_cursor.empty()) break;
            EXPECT_EQ(page->items.size(), 7u)
                << "a page with a next cursor must be full";
            q.cursor = page->next_cursor;
          }
          ASSERT_EQ(Ids(walked), Ids(expected));
          EXPECT_EQ(walked, expected);
          // Page numbers.
          q.cursor.clear();
          const size_t pages = (expected.size() + 6) / 7;
          for (uint32_t p = 1; p <= pages + 1; ++p) {
            q.page = p;
            auto page = s->ListDeliveries(q);
            ASSERT_TRUE(page.ok()) << page.status().ToString();
            const size_t begin = std::min<size_t>((p - 1) * 7, expected.size());
            const size_t end = std::min<size_t>(p * 7, expected.size());
            std::vector<Delivery> slice(expected.begin() + begin,
                                        expected.begin() + end);
            EXPECT_EQ(Ids(page->items), Ids(slice)) << "page " << p;
            EXPECT_EQ(page->total_count, expected.size());
            EXPECT_EQ(page->next_cursor.empty(), end == expected.size())
                << "page " << p;
          }
        }
      }
    }
  }
  // count_total = false is allowed to skip counting, never to change items.
  DeliveryQuery q;
  q.count_total = false;
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), std::min<size_t>(50, model.size()));
}

// Queries reach an adapter validated (Storage's REQUIRES; the engine checks
// page, page_size and cursor syntax): a well-formed cursor pointing past
// everything gives an empty last page.
void ListDeliveriesCursorPastEnd(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(1, kT0)});
  AppendDeliveries(s, {MakeDelivery(1, 1, DeliveryStatus::kPending, "a", kT0)});
  DeliveryQuery q;
  q.cursor = EncodeListCursor(kT0 - 1'000'000, Uuid128{0, 1});
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->items.empty());
  EXPECT_TRUE(page->next_cursor.empty());
  EXPECT_EQ(page->total_count, 1u);
}

void ListEndpointsFiltersAndPaginates(Storage* s) {
  std::vector<Endpoint> all;
  for (uint64_t i = 0; i < 23; ++i) {
    Endpoint e = MakeEndpoint(i, kT0 + static_cast<Timestamp>(i / 3));
    if (i % 5 == 0) e.deleted = true;
    if (i % 4 == 0) e.metadata["team"] = "billing";
    all.push_back(e);
  }
  AppendEndpoints(s, std::vector<Endpoint>(all.begin(), all.begin() + 10));
  AppendEndpoints(s, std::vector<Endpoint>(all.begin() + 10, all.end()));
  auto newer = [](const Endpoint& a, const Endpoint& b) {
    if (a.created_at != b.created_at) return a.created_at > b.created_at;
    return a.id > b.id;
  };
  struct Case {
    Metadata metadata;
    bool include_deleted;
  };
  for (const Case& c :
       {Case{{}, false}, Case{{}, true}, Case{{{"team", "billing"}}, false},
        Case{{{"team", "billing"}, {"parity", "even"}}, true},
        Case{{{"team", "billing"}, {"parity", "odd"}}, false},
        Case{{{"nope", "x"}}, true}}) {
    std::vector<Endpoint> expected;
    for (const auto& e : all) {
      if (e.deleted && !c.include_deleted) continue;
      bool ok = true;
      for (const auto& [k, v] : c.metadata) {
        auto it = e.metadata.find(k);
        ok = ok && it != e.metadata.end() && it->second == v;
      }
      if (ok) expected.push_back(e);
    }
    std::sort(expected.begin(), expected.end(), newer);
    EndpointQuery q;
    q.metadata = c.metadata;
    q.include_deleted = c.include_deleted;
    q.page_size = 4;
    std::vector<Endpoint> walked;
    size_t pages = 0;
    for (int guard = 0; guard < 50; ++guard) {
      auto page = s->ListEndpoints(q);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ++pages;
      // Every cursor page counts every match, also those before the cursor.
      EXPECT_EQ(page->total_count, expected.size());
      walked.insert(walked.end(), page->items.begin(), page->items.end());
      if (page->next_cursor.empty()) break;
      q.cursor = page->next_cursor;
    }
    EXPECT_EQ(walked, expected);
    // A cursor only when more follows: an exactly full last page has none.
    EXPECT_EQ(pages, std::max<size_t>(1, (expected.size() + 3) / 4));
    q.cursor.clear();
    q.page = 2;
    auto page = s->ListEndpoints(q);
    ASSERT_TRUE(page.ok());
    std::vector<Endpoint> slice;
    for (size_t i = 4; i < std::min<size_t>(8, expected.size()); ++i) {
      slice.push_back(expected[i]);
    }
    EXPECT_EQ(page->items, slice);
  }
}

void CountersFollowRowChanges(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(1, kT0), MakeEndpoint(2, kT0)});
  std::map<Uuid128, Delivery> model;
  std::mt19937 rng(7);
  for (uint64_t i = 0; i < 60; ++i) {
    Delivery d =
        MakeDelivery(i, 1 + i % 2, static_cast<DeliveryStatus>(rng() % 5), "a",
                     kT0 + static_cast<Timestamp>(i));
    d.attempts = static_cast<uint32_t>(rng() % 4);
    model[d.id.raw()] = d;
    AppendDeliveries(s, {d});
  }
  for (int i = 0; i < 60; ++i) {
    Delivery d = model[DelId(rng() % 60).raw()];
    d.status = static_cast<DeliveryStatus>(rng() % 5);
    d.attempts += 1;
    if (i % 7 == 0) d.endpoint_id = EpId(1 + rng() % 2);
    model[d.id.raw()] = d;
    AppendDeliveries(s, {d});
  }
  std::map<EndpointId, EndpointCounters> expected;
  expected[EpId(1)];
  expected[EpId(2)];
  EndpointCounters totals;
  for (const auto& [id, d] : model) {
    auto& c = expected[d.endpoint_id];
    ++c.by_status[static_cast<int>(d.status)];
    c.attempts += d.attempts;
    ++totals.by_status[static_cast<int>(d.status)];
    totals.attempts += d.attempts;
  }
  for (const auto& [ep, c] : expected) {
    auto got = s->GetCounters(ep);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c) << ep.ToString();
  }
  auto got = s->GetTotals();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (int i = 0; i < kDeliveryStatusCount; ++i) {
    EXPECT_EQ(got->by_status[i], totals.by_status[i]) << "status " << i;
  }
}

void IdempotencyRecords(Storage* s) {
  IdempotencyRecord rec{"order-1", MsgId(1), {DelId(1), DelId(2)}, kT0};
  WriteBatch b;
  b.messages.push_back(MakeMessage(1));
  b.idempotency.push_back(rec);
  b.events.push_back(
      MakeEvent(EventType::kMessageAccepted, MsgId(1).raw(), kT0));
  MustAppend(s, &b);
  auto got = s->GetIdempotency("order-1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, rec);
  // Keys are exact: no prefix or case folding.
  got = s->GetIdempotency("order-");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  got = s->GetIdempotency("ORDER-1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  // Upsert by key.
  rec.deliveries = {DelId(3)};
  WriteBatch b2;
  b2.idempotency.push_back(rec);
  MustAppend(s, &b2);
  got = s->GetIdempotency("order-1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, rec);
}

void LoadActiveReturnsEndpointsAndNonTerminalDeliveries(Storage* s) {
  Endpoint deleted = MakeEndpoint(2, kT0);
  deleted.deleted = true;
  AppendEndpoints(s, {MakeEndpoint(1, kT0), deleted});
  std::set<Uuid128> active;
  std::vector<Delivery> ds;
  for (uint64_t i = 0; i < 30; ++i) {
    Delivery d = MakeDelivery(i, 1, static_cast<DeliveryStatus>(i % 5), "a",
                              kT0 + static_cast<Timestamp>(i));
    ds.push_back(d);
  }
  AppendDeliveries(s, ds);
  // Two become terminal, one terminal is replayed back to pending.
  ds[0].status = DeliveryStatus::kDelivered;   // was pending
  ds[2].status = DeliveryStatus::kDeadLetter;  // was failed
  ds[4].status = DeliveryStatus::kPending;     // was dead_letter
  AppendDeliveries(s, {ds[0], ds[2], ds[4]});
  std::map<Uuid128, Delivery> expected;
  for (const auto& d : ds) {
    if (!IsTerminal(d.status)) expected[d.id.raw()] = d;
  }
  std::map<Uuid128, Endpoint> endpoints;
  std::map<Uuid128, Delivery> deliveries;
  Status st =
      s->LoadActive([&](const Endpoint& e) { endpoints[e.id.raw()] = e; },
                    [&](const Delivery& d) {
                      EXPECT_TRUE(deliveries.emplace(d.id.raw(), d).second)
                          << "delivered twice";
                    });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(endpoints.size(), 2u);
  EXPECT_TRUE(endpoints.count(deleted.id.raw())) << "deleted ones included";
  EXPECT_EQ(deliveries, expected);
}

void ConcurrentAppendsAreGapless(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(1, kT0)});
  const uint64_t base = s->LastSequence();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 150;
  std::mutex mu;
  std::vector<uint64_t> seqs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t n = uint64_t(t) * 1000 + i;
        WriteBatch b;
        Delivery d = MakeDelivery(n, 1, DeliveryStatus::kPending, "a",
                                  kT0 + static_cast<Timestamp>(n));
        b.events.push_back(MakeEvent(EventType::kEnqueued, d.id.raw(), kT0));
        b.events.push_back(MakeEvent(EventType::kEnqueued, d.id.raw(), kT0));
        b.deliveries.push_back(d);
        auto r = s->Append(&b);
        if (!r.ok() || *r != b.events[1].seq ||
            b.events[1].seq != b.events[0].seq + 1) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        seqs.push_back(b.events[0].seq);
        seqs.push_back(b.events[1].seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), size_t{kThreads * kPerThread * 2});
  for (size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(seqs[i], base + 1 + i) << "sequence numbers not unique/gapless";
  }
  EXPECT_EQ(s->LastSequence(), base + seqs.size());
  std::vector<Event> log;
  ASSERT_TRUE(s->ReadLog(base + 1, seqs.size() + 10, &log).ok());
  ASSERT_EQ(log.size(), seqs.size());
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].seq, base + 1 + i);
  auto c = s->GetCounters(EpId(1));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->by_status[0], uint64_t{kThreads * kPerThread});
}

void StatsBucketsAccumulate(Storage* s) {
  const Timestamp m0 = kT0 / kStatsMinute * kStatsMinute;
  const std::optional<EndpointId> all;
  const std::optional<EndpointId> ep1 = EpId(1), ep2 = EpId(2);
  // Nothing stored yet: every series is empty.
  for (const auto& series : {all, ep1}) {
    auto none = s->ReadStats({series, m0, m0 + 60 * kStatsMinute});
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_TRUE(none->empty());
  }
  std::map<std::pair<std::optional<EndpointId>, Timestamp>, StatsCounts> model;
  auto add = [&](WriteBatch* b, std::optional<EndpointId> series, int minute,
                 const StatsCounts& c) {
    b->stats.push_back({series, m0 + minute * kStatsMinute, c});
    model[{series, m0 + minute * kStatsMinute}].Add(c);
  };
  // Within one batch: the same bucket twice, and other series/minutes.
  WriteBatch b1;
  b1.events.push_back(MakeEvent(EventType::kAttempted, TestId(9, 1), kT0));
  add(&b1, ep1, 0, Counts(1, 0, 3));
  add(&b1, ep1, 0, Counts(2, 1, 7));
  add(&b1, all, 0, Counts(3, 1, 5));
  add(&b1, ep2, 1, Counts(0, 4, 9));
  add(&b1, ep1, 5, Counts(1, 1, 1));
  MustAppend(s, &b1);
  // Across batches, a batch holding only stats, huge counts.
  WriteBatch b2;
  add(&b2, ep1, 0, Counts(10, 0, 2));
  add(&b2, all, 0, Counts(10, 0, 2));
  add(&b2, all, 59, Counts(uint64_t{1} << 40, 0, 15));
  add(&b2, ep1, -3, Counts(4, 4, 4));
  MustAppend(s, &b2);

  auto expect_range = [&](std::optional<EndpointId> series, int from,
                          int to) -> size_t {
    SCOPED_TRACE(::testing::Message()
                 << "series " << (series ? series->ToString() : "all") << " ["
                 << from << ", " << to << ")");
    std::vector<StatsBucket> expected;
    for (const auto& [key, c] : model) {
      if (key.first == series && key.second >= m0 + from * kStatsMinute &&
          key.second < m0 + to * kStatsMinute) {
        expected.push_back({series, key.second, c});
      }
    }
    auto got = s->ReadStats(
        {series, m0 + from * kStatsMinute, m0 + to * kStatsMinute});
    if (!got.ok()) {
      ADD_FAILURE() << got.status().ToString();
      return 0;
    }
    EXPECT_EQ(*got, expected);
    return expected.size();
  };
  EXPECT_EQ(expect_range(ep1, -10, 10), 3u);
  EXPECT_EQ(expect_range(ep1, 0, 1), 1u);
  EXPECT_EQ(expect_range(ep1, 1, 5), 0u);  // to is exclusive, from inclusive
  EXPECT_EQ(expect_range(ep1, 5, 6), 1u);
  EXPECT_EQ(expect_range(ep1, -3, 0), 1u);
  EXPECT_EQ(expect_range(ep2, 0, 60), 1u);
  EXPECT_EQ(expect_range(all, 0, 60), 2u);
  EXPECT_EQ(expect_range(all, 1, 59), 0u);
  EXPECT_EQ(expect_range(std::optional<EndpointId>(EpId(3)), -60, 60), 0u);
  StatsCounts sum = Counts(1, 0, 3);
  sum.Add(Counts(2, 1, 7));
  sum.Add(Counts(10, 0, 2));
  auto one = s->ReadStats({ep1, m0, m0 + kStatsMinute});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].counts, sum);
}

void ReplayJobsUpsertAndList(Storage* s) {
  auto none = s->ListReplayJobs(false);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(s->GetReplayJob(ReplayJobId(TestId(4, 1))).status().code(),
            StatusCode::kNotFound);
  ReplayJob a = MakeReplayJob(1, kT0);
  ReplayJob b = MakeReplayJob(2, kT0 + kSecond);
  ReplayJob c = MakeReplayJob(3, kT0 + kSecond);  // ties on created_at
  c.filter = ReplayFilter{};                      // every field unset
  c.cursor.clear();
  WriteBatch w1;
  w1.replay_jobs = {a, b, c};
  MustAppend(s, &w1);
  for (const ReplayJob& j : {a, b, c}) {
    auto got = s->GetReplayJob(j.id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, j);
  }
  auto ids = [](const std::vector<ReplayJob>& js) {
    std::vector<Uuid128> out;
    for (const auto& j : js) out.push_back(j.id.raw());
    return out;
  };
  const std::vector<Uuid128> newest_first =
      c.id > b.id ? std::vector<Uuid128>{c.id.raw(), b.id.raw(), a.id.raw()}
                  : std::vector<Uuid128>{b.id.raw(), c.id.raw(), a.id.raw()};
  auto all = s->ListReplayJobs(false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(ids(*all), newest_first);

  // Upsert: progress, then finished and failed; twice in one batch.
  b.replayed = 7;
  b.cursor = "";
  b.endpoint_index = 2;
  ReplayJob b_done = b;
  b_done.state = ReplayJobState::kDone;
  b_done.replayed = 12;
  b_done.finished_at = kT0 + 9 * kSecond;
  a.state = ReplayJobState::kFailed;
  a.error = "storage said no";
  a.finished_at = kT0 + 8 * kSecond;
  WriteBatch w2;
  w2.replay_jobs = {b, a, b_done};  // the last of b wins
  MustAppend(s, &w2);
  EXPECT_EQ(*s->GetReplayJob(b.id), b_done);
  EXPECT_EQ(*s->GetReplayJob(a.id), a);
  all = s->ListReplayJobs(false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u) << "an upsert must not duplicate";
  EXPECT_EQ(ids(*all), newest_first);
  auto running = s->ListReplayJobs(true);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(ids(*running), std::vector<Uuid128>{c.id.raw()});
}

void ListDeliveriesByMessage(Storage* s) {
  AppendEndpoints(s, {MakeEndpoint(0, kT0), MakeEndpoint(1, kT0)});
  // Message 100 has 9 deliveries (3 share a created_at), message 200 two;
  // other rows are noise.
  std::vector<Delivery> mine;
  std::vector<Delivery> ds;
  for (uint64_t i = 0; i < 30; ++i) {
    Delivery d = MakeDelivery(
        i, i % 2,
        i % 3 == 0 ? DeliveryStatus::kDeadLetter : DeliveryStatus::kDelivered,
        "invoice.paid", kT0 + static_cast<Timestamp>(i / 3 + 1) * kSecond);
    d.message_id = i % 3 == 0 ? MsgId(100) : i < 4 ? MsgId(200) : MsgId(i);
    if (d.message_id == MsgId(100)) {
      d.created_at = kT0 + static_cast<Timestamp>(i < 9 ? 1 : i) * kSecond;
      mine.push_back(d);
    }
    ds.push_back(d);
  }
  AppendDeliveries(s, ds);
  // A replay appended later, then an update: the index follows, no
  // duplicate.
  Delivery replay = MakeDelivery(40, 1, DeliveryStatus::kPending,
                                 "invoice.paid", kT0 + 50 * kSecond);
  replay.message_id = MsgId(100);
  replay.replay_of = mine[0].id;
  AppendDeliveries(s, {replay});
  replay.status = DeliveryStatus::kDelivered;
  replay.next_attempt_at = 0;
  replay.attempts = 1;
  AppendDeliveries(s, {replay});
  mine.push_back(replay);
  std::sort(mine.begin(), mine.end(), NewerFirst);
  ASSERT_EQ(mine.size(), 11u);

  auto walk = [&](DeliveryQuery q, uint32_t page_size) {
    q.page_size = page_size;
    std::vector<Delivery> out;
    for (int guard = 0; guard < 50; ++guard) {
      auto page = s->ListDeliveries(q);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      out.insert(out.end(), page->items.begin(), page->items.end());
      if (page->next_cursor.empty()) break;
      EXPECT_EQ(page->items.size(), page_size);
      q.cursor = page->next_cursor;
    }
    return out;
  };
  DeliveryQuery q;
  q.message_id = MsgId(100);
  auto first = s->ListDeliveries(q);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->total_count, mine.size());
  EXPECT_EQ(first->items, mine);
  EXPECT_TRUE(first->next_cursor.empty());
  for (uint32_t size : {1u, 3u, 4u, 11u}) {
    SCOPED_TRACE(::testing::Message() << "page size " << size);
    EXPECT_EQ(Ids(walk(q, size)), Ids(mine));
  }
  // Page numbers.
  q.page_size = 4;
  q.page = 3;
  auto third = s->ListDeliveries(q);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(Ids(third->items),
            Ids(std::vector<Delivery>(mine.begin() + 8, mine.end())));
  // Other filters ANDed.
  q = DeliveryQuery{};
  q.message_id = MsgId(100);
  q.endpoint_id = EpId(1);
  q.status = DeliveryStatus::kDeadLetter;
  std::vector<Delivery> expected;
  for (const auto& d : mine) {
    if (d.endpoint_id == EpId(1) && d.status == DeliveryStatus::kDeadLetter) {
      expected.push_back(d);
    }
  }
  ASSERT_FALSE(expected.empty());
  auto filtered = s->ListDeliveries(q);
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(filtered->items, expected);
  EXPECT_EQ(filtered->total_count, expected.size());
  EXPECT_EQ(Ids(walk(q, 1)), Ids(expected));
  q = DeliveryQuery{};
  q.message_id = MsgId(100);
  q.created_after = kT0 + 2 * kSecond;
  q.created_before = kT0 + 20 * kSecond;
  expected.clear();
  for (const auto& d : mine) {
    if (d.created_at >= *q.created_after && d.created_at <= *q.created_before) {
      expected.push_back(d);
    }
  }
  EXPECT_EQ(Ids(walk(q, 2)), Ids(expected));
  q.event_type = "other";
  auto other = s->ListDeliveries(q);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->items.empty());
  EXPECT_EQ(other->total_count, 0u);
  // Without a count, and for a message without deliveries.
  q = DeliveryQuery{};
  q.message_id = MsgId(200);
  q.count_total = false;
  auto two = s->ListDeliveries(q);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->items.size(), 2u);
  q.message_id = MsgId(999);
  q.count_total = true;
  auto empty = s->ListDeliveries(q);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->items.empty());
  EXPECT_EQ(empty->total_count, 0u);
  // A bad cursor is refused as for every list.
  q.cursor = "nope";
  EXPECT_EQ(s->ListDeliveries(q).status().code(), StatusCode::kInvalidArgument);
}

void ReopenKeepsEverything(
    std::unique_ptr<Storage>* storage,
    const std::function<std::unique_ptr<Storage>()>& reopen) {
  Storage* s = storage->get();
  Endpoint e = MakeEndpoint(1, kT0);
  AppendEndpoints(s, {e});
  std::vector<Delivery> ds;
  for (uint64_t i = 0; i < 20; ++i) {
    ds.push_back(MakeDelivery(i, 1, static_cast<DeliveryStatus>(i % 5), "a",
                              kT0 + static_cast<Timestamp>(i)));
  }
  AppendDeliveries(s, ds);
  WriteBatch b;
  b.messages.push_back(MakeMessage(3));
  b.idempotency.push_back({"k", MsgId(3), {DelId(3)}, kT0});
  StatsBucket bucket{e.id, kT0 / kStatsMinute * kStatsMinute, {}};
  bucket.counts.delivered = 3;
  bucket.counts.latency[2] = 3;
  b.stats.push_back(bucket);
  ReplayJob job = MakeReplayJob(1, kT0);
  b.replay_jobs.push_back(job);
  MustAppend(s, &b);
  const uint64_t last = s->LastSequence();
  std::vector<Event> log_before;
  ASSERT_TRUE(s->ReadLog(1, 1000, &log_before).ok());
  auto counters_before = s->GetCounters(e.id);
  ASSERT_TRUE(counters_before.ok());

  *storage = reopen();
  s = storage->get();
  ASSERT_NE(s, nullptr) << "Reopen() returned null";
  EXPECT_EQ(s->LastSequence(), last);
  std::vector<Event> log_after;
  ASSERT_TRUE(s->ReadLog(1, 1000, &log_after).ok());
  EXPECT_EQ(log_after, log_before);
  auto ge = s->GetEndpoint(e.id);
  ASSERT_TRUE(ge.ok());
  EXPECT_EQ(*ge, e);
  for (const auto& d : ds) {
    auto gd = s->GetDelivery(d.id);
    ASSERT_TRUE(gd.ok());
    EXPECT_EQ(*gd, d);
  }
  auto counters_after = s->GetCounters(e.id);
  ASSERT_TRUE(counters_after.ok());
  EXPECT_EQ(*counters_after, *counters_before);
  auto gi = s->GetIdempotency("k");
  ASSERT_TRUE(gi.ok() && gi->has_value());
  DeliveryQuery q;
  q.endpoint_id = e.id;
  q.status = DeliveryStatus::kFailed;
  auto page = s->ListDeliveries(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 4u);
  auto stats =
      s->ReadStats({e.id, bucket.minute, bucket.minute + kStatsMinute});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(*stats, std::vector<StatsBucket>{bucket});
  auto gj = s->GetReplayJob(job.id);
  ASSERT_TRUE(gj.ok()) << gj.status().ToString();
  EXPECT_EQ(*gj, job);
  DeliveryQuery by_message;
  by_message.message_id = MsgId(4);
  page = s->ListDeliveries(by_message);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, DelId(4));
  // The sequence continues without a gap.
  WriteBatch more;
  more.events.push_back(MakeEvent(EventType::kEnqueued, TestId(9, 1), kT0));
  auto r = s->Append(&more);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, last + 1);
}

// ---- Partition leases ------------------------------------------------------

namespace {

constexpr uint32_t kParts = 8;
// Long enough that a test never sees it lapse.
constexpr Duration kLongTtl = std::chrono::minutes(10);

LeaseSync Sync(std::string node, Duration ttl = kLongTtl) {
  LeaseSync s;
  s.node_id = std::move(node);
  s.partitions = kParts;
  s.ttl = ttl;
  return s;
}

// Syncs, failing the test (and answering an empty view) on error.
LeaseView MustSync(Storage* s, const LeaseSync& sync) {
  auto v = s->SyncLeases(sync);
  EXPECT_TRUE(v.ok()) << sync.node_id << ": " << v.status().ToString();
  if (!v.ok()) return LeaseView{};
  EXPECT_EQ(v->leases.size(), size_t{sync.partitions});
  for (size_t p = 0; p < v->leases.size(); ++p) {
    EXPECT_EQ(v->leases[p].partition, p) << "leases are by partition number";
  }
  return *v;
}

LeaseView Acquire(Storage* s, const std::string& node,
                  std::vector<uint32_t> parts, Duration ttl = kLongTtl) {
  LeaseSync sync = Sync(node, ttl);
  sync.acquire = std::move(parts);
  return MustSync(s, sync);
}

// Lets the short ttl lapse, with a margin for a store on a real clock.
void LetLapse(const LeaseTiming& t) {
  t.let_pass(t.short_ttl + t.short_ttl / 2);
}

}  // namespace

void FirstSyncCreatesPartitions(Storage* s, const LeaseTiming&) {
  LeaseView v = MustSync(s, Sync("node-a"));
  ASSERT_EQ(v.leases.size(), size_t{kParts});
  EXPECT_GT(v.now, 0);
  for (const PartitionLease& l : v.leases) {
    EXPECT_EQ(l.owner, "");
    EXPECT_EQ(l.epoch, 0u);
    EXPECT_LE(l.expires_at, v.now) << "never granted: not held";
  }
  EXPECT_EQ(v.nodes, std::vector<std::string>{"node-a"});

  // Another count is refused, by any node, and changes nothing.
  for (uint32_t other : {4u, 16u}) {
    LeaseSync bad = Sync("node-b");
    bad.partitions = other;
    bad.acquire = {0};
    auto r = s->SyncLeases(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition)
        << r.status().ToString();
  }
  LeaseView again = MustSync(s, Sync("node-a"));
  EXPECT_EQ(again.leases, v.leases);
  EXPECT_EQ(again.nodes, std::vector<std::string>{"node-a"});
}

void AcquireGrantsFreeLeasesOnly(Storage* s, const LeaseTiming&) {
  LeaseView v = Acquire(s, "node-a", {0, 2, 2});
  ASSERT_EQ(v.leases.size(), size_t{kParts});
  for (uint32_t p : {0u, 2u}) {
    EXPECT_EQ(v.leases[p].owner, "node-a") << p;
    EXPECT_EQ(v.leases[p].epoch, 1u) << p;
    EXPECT_GT(v.leases[p].expires_at, v.now) << p;
    EXPECT_LE(v.leases[p].expires_at, v.now + kLongTtl.count()) << p;
  }
  EXPECT_EQ(v.leases[1].epoch, 0u);
  EXPECT_EQ(v.leases[1].owner, "");

  // Held: neither another node nor the holder itself is granted it again.
  LeaseView b = Acquire(s, "node-b", {0, 1});
  EXPECT_EQ(b.leases[0], v.leases[0]);
  EXPECT_EQ(b.leases[1].owner, "node-b");
  EXPECT_EQ(b.leases[1].epoch, 1u);
  LeaseView a = Acquire(s, "node-a", {0, 1});
  EXPECT_EQ(a.leases[0], v.leases[0]) << "acquire does not renew";
  EXPECT_EQ(a.leases[1], b.leases[1]);
  EXPECT_EQ(a.nodes, (std::vector<std::string>{"node-a", "node-b"}));
}

void LapsedLeaseGoesToAnotherNode(Storage* s, const LeaseTiming& t) {
  LeaseView a = Acquire(s, "node-a", {3}, t.short_ttl);
  ASSERT_EQ(a.leases.size(), size_t{kParts});
  EXPECT_EQ(a.leases[3].epoch, 1u);
  LetLapse(t);
  LeaseView b = Acquire(s, "node-b", {3});
  EXPECT_EQ(b.leases[3].owner, "node-b");
  EXPECT_EQ(b.leases[3].epoch, 2u);
  EXPECT_GT(b.leases[3].expires_at, b.now);
  // The lapsed holder does not get it back.
  LeaseView again = Acquire(s, "node-a", {3});
  EXPECT_EQ(again.leases[3], b.leases[3]);
}

void RenewExtendsOnlyAHeldLeaseAtItsEpoch(Storage* s, const LeaseTiming& t) {
  LeaseView a = Acquire(s, "node-a", {1});
  ASSERT_EQ(a.leases.size(), size_t{kParts});
  const PartitionLease granted = a.leases[1];
  ASSERT_EQ(granted.epoch, 1u);

  // The wrong epoch, or another node: left alone.
  LeaseSync wrong = Sync("node-a");
  wrong.renew = {{1, 2}};
  EXPECT_EQ(MustSync(s, wrong).leases[1], granted);
  LeaseSync other = Sync("node-b");
  other.renew = {{1, 1}};
  EXPECT_EQ(MustSync(s, other).leases[1], granted);

  // The holder at its epoch: extended to now + ttl (a longer one, so that
  // the extension shows whatever the clock did meanwhile).
  LeaseSync renew = Sync("node-a", 2 * kLongTtl);
  renew.renew = {{1, 1}};
  LeaseView r = MustSync(s, renew);
  EXPECT_EQ(r.leases[1].owner, "node-a");
  EXPECT_EQ(r.leases[1].epoch, 1u);
  EXPECT_EQ(r.leases[1].expires_at, r.now + 2 * kLongTtl.count());
  EXPECT_GT(r.leases[1].expires_at, granted.expires_at);

  // Once lapsed, a renewal does nothing, and another node may take it.
  LeaseView p = Acquire(s, "node-a", {4}, t.short_ttl);
  const PartitionLease short_grant = p.leases[4];
  LetLapse(t);
  LeaseSync late = Sync("node-a");
  late.renew = {{4, 1}};
  LeaseView l = MustSync(s, late);
  EXPECT_EQ(l.leases[4], short_grant);
  EXPECT_LE(l.leases[4].expires_at, l.now);
  LeaseView b = Acquire(s, "node-b", {4});
  EXPECT_EQ(b.leases[4].owner, "node-b");
  EXPECT_EQ(b.leases[4].epoch, 2u);
}

void ReleaseLetsAnotherNodeTakeAtOnce(Storage* s, const LeaseTiming&) {
  LeaseView a = Acquire(s, "node-a", {5, 6});
  ASSERT_EQ(a.leases.size(), size_t{kParts});
  // Not the holder, or not its epoch: nothing happens.
  LeaseSync wrong = Sync("node-b");
  wrong.release = {{5, 1}};
  EXPECT_EQ(MustSync(s, wrong).leases[5], a.leases[5]);
  LeaseSync stale = Sync("node-a");
  stale.release = {{5, 7}};
  EXPECT_EQ(MustSync(s, stale).leases[5], a.leases[5]);

  LeaseSync release = Sync("node-a");
  release.release = {{5, 1}};
  LeaseView r = MustSync(s, release);
  EXPECT_EQ(r.leases[5].owner, "node-a");
  EXPECT_EQ(r.leases[5].epoch, 1u);
  EXPECT_EQ(r.leases[5].expires_at, r.now) << "lapses at once";
  EXPECT_EQ(r.leases[6], a.leases[6]);
  LeaseView b = Acquire(s, "node-b", {5, 6});
  EXPECT_EQ(b.leases[5].owner, "node-b");
  EXPECT_EQ(b.leases[5].epoch, 2u);
  EXPECT_EQ(b.leases[6], a.leases[6]);

  // Release and re-acquire in one sync: a new grant.
  LeaseSync cycle = Sync("node-b");
  cycle.release = {{5, 2}};
  cycle.acquire = {5};
  LeaseView c = MustSync(s, cycle);
  EXPECT_EQ(c.leases[5].owner, "node-b");
  EXPECT_EQ(c.leases[5].epoch, 3u);
  EXPECT_GT(c.leases[5].expires_at, c.now);
}

void NodesAreListedUntilTheyLeaveOrLapse(Storage* s, const LeaseTiming& t) {
  MustSync(s, Sync("node-a"));
  MustSync(s, Sync("node-c", t.short_ttl));
  LeaseView b = MustSync(s, Sync("node-b"));
  EXPECT_EQ(b.nodes, (std::vector<std::string>{"node-a", "node-b", "node-c"}));

  LetLapse(t);
  EXPECT_EQ(MustSync(s, Sync("node-b")).nodes,
            (std::vector<std::string>{"node-a", "node-b"}))
      << "node-c's heartbeat lapsed";

  LeaseSync leave = Sync("node-a");
  leave.leaving = true;
  LeaseView left = MustSync(s, leave);
  EXPECT_EQ(left.nodes, std::vector<std::string>{"node-b"});
  EXPECT_EQ(MustSync(s, Sync("node-b")).nodes,
            std::vector<std::string>{"node-b"});
  // A node that left and syncs again is back.
  EXPECT_EQ(MustSync(s, Sync("node-a")).nodes,
            (std::vector<std::string>{"node-a", "node-b"}));
}

void BadLeaseSyncsAreRefusedAndChangeNothing(Storage* s, const LeaseTiming&) {
  auto expect_invalid = [&](const LeaseSync& bad, const char* what) {
    auto r = s->SyncLeases(bad);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument)
        << what << ": " << r.status().ToString();
  };
  std::vector<LeaseSync> bad;
  {
    LeaseSync b = Sync("");
    b.acquire = {0};
    bad.push_back(b);
    b = Sync(std::string(129, 'n'));
    b.acquire = {0};
    bad.push_back(b);
    b = Sync("node-x", Duration(0));
    b.acquire = {0};
    bad.push_back(b);
    b = Sync("node-x", Duration(-5));
    b.acquire = {0};
    bad.push_back(b);
    b = Sync("node-x");
    b.partitions = 0;
    bad.push_back(b);
    b = Sync("node-x");
    b.acquire = {0, kParts};
    bad.push_back(b);
    b = Sync("node-x");
    b.renew = {{0, 1}, {kParts + 3, 1}};
    bad.push_back(b);
    b = Sync("node-x");
    b.release = {{kParts, 1}};
    bad.push_back(b);
  }
  // Before the first sync: nothing is created (a count of 0 or a bad
  // acquire does not fix the cluster).
  for (const LeaseSync& b : bad) expect_invalid(b, "before the first sync");
  LeaseView first = Acquire(s, "node-a", {0});
  ASSERT_EQ(first.leases.size(), size_t{kParts});
  EXPECT_EQ(first.leases[0].epoch, 1u);
  EXPECT_EQ(first.nodes, std::vector<std::string>{"node-a"});
  // After: no lease, heartbeat or node changes.
  for (const LeaseSync& b : bad) expect_invalid(b, "after the first sync");
  LeaseView after = MustSync(s, Sync("node-a"));
  EXPECT_EQ(after.leases, first.leases);
  EXPECT_EQ(after.nodes, std::vector<std::string>{"node-a"});
}

void FencedAppendStoresOnlyWhileEveryFenceIsHeld(Storage* s,
                                                 const LeaseTiming& t) {
  LeaseView a = Acquire(s, "node-a", {0, 1});
  ASSERT_EQ(a.leases.size(), size_t{kParts});
  const LeaseFence f0{0, a.leases[0].epoch}, f1{1, a.leases[1].epoch};

  Delivery d = MakeDelivery(1, 1, DeliveryStatus::kPending, "a.b", kT0);
  WriteBatch ok;
  ok.events.push_back(MakeEvent(EventType::kEnqueued, d.id.raw(), kT0));
  ok.deliveries.push_back(d);
  ok.fences = {f0, f1, f0};
  ok.fenced = {42};  // stale output is cleared
  auto stored = s->Append(&ok);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_TRUE(ok.fenced.empty());
  const uint64_t last = s->LastSequence();
  EXPECT_EQ(last, *stored);

  // Each refused batch would change the stored row and add an event.
  Delivery changed = d;
  changed.status = DeliveryStatus::kDelivered;
  changed.attempts = 1;
  auto refused = [&](std::vector<LeaseFence> fences,
                     std::vector<uint32_t> expect, const char* what) {
    WriteBatch b;
    b.events.push_back(MakeEvent(EventType::kEnqueued, d.id.raw(), kT0));
    b.deliveries.push_back(changed);
    b.fences = std::move(fences);
    auto r = s->Append(&b);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition)
        << what << ": " << r.status().ToString();
    std::vector<uint32_t> got = b.fenced;
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expect) << what;
    EXPECT_EQ(s->LastSequence(), last) << what;
    std::vector<Event> log;
    ASSERT_TRUE(s->ReadLog(last + 1, 10, &log).ok());
    EXPECT_TRUE(log.empty()) << what << ": an event was stored";
    auto row = s->GetDelivery(d.id);
    ASSERT_TRUE(row.ok()) << row.status().ToString();
    EXPECT_EQ(*row, d) << what << ": the row changed";
    auto c = s->GetCounters(d.endpoint_id);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->by_status[0], 1u) << what;
    EXPECT_EQ(c->by_status[1], 0u) << what;
  };

  refused({f0, {1, f1.epoch + 1}}, {1}, "stale epoch");
  refused({{2, 0}}, {2}, "never granted");
  refused({{2, 1}, f0}, {2}, "not granted at that epoch");
  refused({{kParts + 1, 1}}, {kParts + 1}, "no such partition");

  // Lapsed, then stolen by another node.
  LeaseView shortv = Acquire(s, "node-a", {3}, t.short_ttl);
  const LeaseFence f3{3, shortv.leases[3].epoch};
  LetLapse(t);
  refused({f0, f3, f3}, {3}, "lapsed");
  LeaseView b = Acquire(s, "node-b", {3});
  EXPECT_EQ(b.leases[3].epoch, f3.epoch + 1);
  refused({f3, f1, {1, f1.epoch + 5}}, {1, 3}, "stolen and stale");
  // The thief's fence passes.
  WriteBatch thief;
  thief.events.push_back(MakeEvent(EventType::kEnqueued, d.id.raw(), kT0));
  thief.fences = {{3, b.leases[3].epoch}};
  auto r = s->Append(&thief);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, last + 1);
  EXPECT_TRUE(thief.fenced.empty());
}

}  // namespace hooklog::testing::conformance
