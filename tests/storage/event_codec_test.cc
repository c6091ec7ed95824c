// The event codec: round trips, golden vectors (old events must always
// decode), and hostile input (truncation, bit flips, garbage) giving
// Corruption, never a crash.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "base/crc32c.h"
#include "hooklog/event.h"
#include "hooklog/storage.h"
#include "tests/storage/sample_events.h"

namespace hooklog {
namespace {

using testing::SampleEvents;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 B.4 test vectors and the classic "123456789" check value.
  EXPECT_EQ(storage_internal::Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(storage_internal::Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(storage_internal::Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(static_cast<char>(i));
  EXPECT_EQ(storage_internal::Crc32c(inc), 0x46DD794Eu);
}

TEST(EventCodecTest, RoundTripsEveryEventType) {
  for (const auto& [name, event] : SampleEvents()) {
    SCOPED_TRACE(name);
    auto decoded = DecodeEvent(EncodeEvent(event));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, event);
  }
}

TEST(EventCodecTest, RoundTripsDefaultsAndEmptyStrings) {
  Event e;  // all defaults, kEnqueued with EndpointSnapshot default body
  auto decoded = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, e);
  Endpoint ep;
  ep.event_types.clear();
  e.body = EndpointSnapshot{ep};
  e.time = -5;  // negative times survive
  decoded = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, e);
}

TEST(EventCodecTest, EventTypeNamesAreStable) {
  EXPECT_EQ(EventTypeName(EventType::kEnqueued), "enqueued");
  EXPECT_EQ(EventTypeName(EventType::kAttempted), "attempted");
  EXPECT_EQ(EventTypeName(EventType::kRateLimited), "rate_limited");
  EXPECT_EQ(EventTypeName(EventType::kDeadLettered), "dead_lettered");
  EXPECT_EQ(EventTypeName(EventType::kReplayed), "replayed");
  EXPECT_EQ(EventTypeName(EventType::kEndpointCreated), "endpoint_created");
  EXPECT_EQ(EventTypeName(EventType::kMessageAccepted), "message_accepted");
}

// Golden vectors: bytes written by each format version, committed. They
// must decode forever; the current version's encoding must reproduce its
// vectors exactly. Regenerate the CURRENT version's files only (when adding a
// sample): HOOKLOG_REGENERATE_GOLDEN=1.
void CheckGolden(int version,
                 const std::vector<std::pair<std::string, Event>>& samples) {
  const std::string dir = std::string(HOOKLOG_GOLDEN_DIR) + "/";
  const bool regenerate = std::getenv("HOOKLOG_REGENERATE_GOLDEN") != nullptr &&
                          version == kEventFormatVersion;
  for (const auto& [name, event] : samples) {
    SCOPED_TRACE(name);
    const std::string path =
        dir + "v" + std::to_string(version) + "_" + name + ".bin";
    if (regenerate) {
      std::ofstream(path, std::ios::binary) << EncodeEvent(event);
    }
    const std::string golden = ReadFile(path);
    ASSERT_FALSE(golden.empty()) << "missing " << path;
    EXPECT_EQ(static_cast<uint8_t>(golden[0]), version);
    auto decoded = DecodeEvent(golden);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, event);
    if (version == kEventFormatVersion) {
      EXPECT_EQ(EncodeEvent(event), golden);
    }
  }
}

TEST(EventCodecTest, GoldenVectorsV1) { CheckGolden(1, SampleEvents()); }

// v2 added Endpoint::circuit_open_until / failing_since and the circuit
// events: every v1 sample again, plus circuit events with the fields set.
TEST(EventCodecTest, GoldenVectorsV2) {
  auto samples = SampleEvents();
  for (EventType type :
       {EventType::kCircuitOpened, EventType::kCircuitClosed}) {
    Event e = samples[0].second;
    e.type = type;
    auto& ep = std::get<EndpointSnapshot>(e.body).endpoint;
    ep.circuit_open_until = 1'800'000'030'000'000;
    ep.failing_since = 1'799'999'000'000'000;
    samples.emplace_back(std::string(EventTypeName(type)), e);
  }
  CheckGolden(2, samples);
}

// v3 added Endpoint::protection: every v2 sample again (whose endpoints
// keep the engine defaults), plus an endpoint with every setting of its own.
TEST(EventCodecTest, GoldenVectorsV3) {
  auto samples = SampleEvents();
  Event e = samples[1].second;  // endpoint_updated
  auto& p = std::get<EndpointSnapshot>(e.body).endpoint.protection;
  p.rate_limit_burst = 25;
  p.circuit_breaker =
      CircuitBreakerOptions{.enabled = true,
                            .consecutive_failures = 3,
                            .window_attempts = 20,
                            .failure_rate = 0.5,
                            .open_for = std::chrono::seconds(5),
                            .max_open_for = std::chrono::minutes(2)};
  p.auto_disable_after = std::chrono::hours(1);
  samples.emplace_back("endpoint_protection", e);
  p.circuit_breaker->enabled = false;
  p.auto_disable_after = Duration(0);  // never
  samples.emplace_back("endpoint_protection_off", e);
  CheckGolden(3, samples);
}

// Version 2 added the endpoint's circuit breaker fields and the circuit
// events; v1 endpoint events decode with both fields 0 (GoldenVectorsV1).
TEST(EventCodecTest, CircuitEventsRoundTripWithV2Fields) {
  for (EventType type :
       {EventType::kCircuitOpened, EventType::kCircuitClosed}) {
    Event e = SampleEvents()[0].second;  // an endpoint event
    ASSERT_TRUE(std::holds_alternative<EndpointSnapshot>(e.body));
    e.type = type;
    auto& ep = std::get<EndpointSnapshot>(e.body).endpoint;
    ep.circuit_open_until = 1'800'000'030'000'000;
    ep.failing_since = 1'799'999'000'000'000;
    auto back = DecodeEvent(EncodeEvent(e));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, e);
  }
  EXPECT_EQ(EventTypeName(EventType::kCircuitOpened), "circuit_opened");
  EXPECT_EQ(EventTypeName(EventType::kCircuitClosed), "circuit_closed");
}

TEST(EventCodecTest, HeaderLayoutIsAsDocumented) {
  const Event e = SampleEvents()[7].second;  // enqueued (a copy: the
                                             // vector is a temporary)
  const std::string bytes = EncodeEvent(e);
  ASSERT_GE(bytes.size(), 39u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kEventFormatVersion);
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]),
            static_cast<uint8_t>(EventType::kEnqueued));
  EXPECT_EQ(static_cast<uint8_t>(bytes[2]), e.seq & 0xFF);  // seq, LE
  EXPECT_EQ(static_cast<uint8_t>(bytes[34]), 2);            // body kind
  const uint32_t crc = storage_internal::Crc32c(
      std::string_view(bytes).substr(0, bytes.size() - 4));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(static_cast<uint8_t>(bytes[bytes.size() - 4 + i]),
              (crc >> (8 * i)) & 0xFF);
  }
}

TEST(EventCodecTest, EveryTruncationIsCorruption) {
  for (const auto& [name, event] : SampleEvents()) {
    const std::string bytes = EncodeEvent(event);
    for (size_t n = 0; n < bytes.size(); ++n) {
      auto r = DecodeEvent(std::string_view(bytes).substr(0, n));
      ASSERT_FALSE(r.ok()) << name << " truncated to " << n;
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    }
  }
}

TEST(EventCodecTest, EverySingleBitFlipIsCorruption) {
  for (const auto& [name, event] : SampleEvents()) {
    const std::string bytes = EncodeEvent(event);
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = bytes;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
        auto r = DecodeEvent(flipped);
        ASSERT_FALSE(r.ok()) << name << " byte " << i << " bit " << bit;
        EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
      }
    }
  }
}

TEST(EventCodecTest, NewerOrZeroVersionIsCorruptionNamingTheVersion) {
  std::string bytes = EncodeEvent(SampleEvents()[0].second);
  bytes[0] = static_cast<char>(kEventFormatVersion + 1);
  auto r = DecodeEvent(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("version " +
                                      std::to_string(kEventFormatVersion + 1)),
            std::string::npos);
  bytes[0] = 0;
  EXPECT_FALSE(DecodeEvent(bytes).ok());
}

// Garbage with a valid checksum exercises the body parser itself: lengths
// and counts pointing past the end, bad enums, trailing bytes.
TEST(EventCodecTest, RandomGarbageWithValidChecksumNeverCrashes) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const auto samples = SampleEvents();
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      // Mutate a real event in a few places, then fix the CRC.
      bytes = EncodeEvent(samples[rng() % samples.size()].second);
      bytes.resize(bytes.size() - 4);
      const int edits = 1 + rng() % 4;
      for (int k = 0; k < edits; ++k) {
        const size_t pos = 1 + rng() % (bytes.size() - 1);
        switch (rng() % 3) {
          case 0:
            bytes[pos] = static_cast<char>(rng());
            break;
          case 1:
            bytes.erase(pos, 1 + rng() % 8);
            break;
          default:
            bytes.insert(pos, 1 + rng() % 8, static_cast<char>(rng()));
        }
        if (bytes.size() < 2) bytes.resize(2);
      }
      bytes[0] = 1;
    } else {
      bytes.resize(rng() % 200);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (!bytes.empty()) bytes[0] = 1;
    }
    const uint32_t crc = storage_internal::Crc32c(bytes);
    for (int b = 0; b < 4; ++b)
      bytes.push_back(static_cast<char>(crc >> (8 * b)));
    auto r = DecodeEvent(bytes);
    if (r.ok()) {
      // Whatever decodes must survive its own round trip.
      const std::string again = EncodeEvent(*r);
      auto r2 = DecodeEvent(again);
      ASSERT_TRUE(r2.ok());
      EXPECT_EQ(EncodeEvent(*r2), again);
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    }
  }
}

}  // namespace
}  // namespace hooklog

namespace hooklog {
namespace {

ReplayJob SampleJob() {
  ReplayJob j;
  j.id = ReplayJobId(Uuid128{7, 8});
  j.filter.endpoint_ids = {EndpointId(Uuid128{1, 2}),
                           EndpointId(Uuid128{3, 4})};
  j.filter.event_type = "order.paid";
  j.filter.created_after = -5;  // before 1970 is representable
  j.filter.created_before = 1'790'000'000LL * kSecond;
  j.state = ReplayJobState::kFailed;
  j.total = 1u << 20;
  j.replayed = 12345;
  j.endpoint_index = 1;
  j.cursor = EncodeListCursor(99, Uuid128{5, 6});
  j.error = "Unavailable: disk full";
  j.created_at = 10;
  j.updated_at = 20;
  j.finished_at = 30;
  return j;
}

TEST(ReplayJobCodecTest, RoundTripsEveryField) {
  for (const ReplayJob& j : {SampleJob(), ReplayJob{}}) {
    auto back = DecodeReplayJob(EncodeReplayJob(j));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, j);
  }
}

TEST(ReplayJobCodecTest, DamageIsCorruptionNeverACrash) {
  const std::string bytes = EncodeReplayJob(SampleJob());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodeReplayJob(bytes.substr(0, n)).status().code(),
              StatusCode::kCorruption)
        << "truncated at " << n;
  }
  EXPECT_EQ(DecodeReplayJob(bytes + "x").status().code(),
            StatusCode::kCorruption);
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_EQ(DecodeReplayJob(bad_version).status().code(),
            StatusCode::kCorruption);
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string flipped = bytes;
    flipped[rng() % flipped.size()] ^= static_cast<char>(1 << (rng() % 8));
    (void)DecodeReplayJob(flipped);  // any answer, no crash (ASan)
  }
}

}  // namespace
}  // namespace hooklog
