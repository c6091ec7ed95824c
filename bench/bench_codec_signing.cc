// Micro benchmarks of the per-delivery byte work: the event codec (encode
// and decode with CRC32C, as every Append and ReadLog does) and the webhook
// signatures computed for every attempt (Standard Webhooks and Closient) of
// a 1 KiB payload, plus verification.
//
//   build/bench/bench_codec_signing --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "hooklog/event.h"
#include "hooklog/signing.h"

namespace hooklog {
namespace {

constexpr Timestamp kT0 = 1'790'000'000LL * kSecond;
constexpr int64_t kUnix = 1'790'000'000;
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string Json(size_t bytes) {
  std::string s = R"({"id":12345,"items":[)";
  while (s.size() + 40 < bytes) s += R"({"sku":"ABC-123","qty":2},)";
  s += R"({"sku":"last"}]})";
  return s;
}

// A message of `payload_bytes` (kMessageAccepted) or an attempt record
// (kAttempted, payload_bytes == 0): the two most frequent event kinds.
Event MakeEvent(size_t payload_bytes) {
  if (payload_bytes == 0) {
    Attempted a;
    a.record.at = kT0;
    a.record.http_status_code = 200;
    a.record.response_body = "ok";
    a.record.latency_ms = 3;
    a.status_after = DeliveryStatus::kDelivered;
    return Event{42, kT0, EventType::kAttempted, Uuid128{7, 9}, a};
  }
  Message m;
  m.id = MessageId(Uuid128{1, 2});
  m.event_type = "invoice.paid";
  m.payload = Json(payload_bytes);
  m.created_at = kT0;
  return Event{41, kT0, EventType::kMessageAccepted, m.id.raw(),
               MessageAccepted{m}};
}

void BM_EncodeEvent(benchmark::State& state) {
  const Event e = MakeEvent(size_t(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string s = EncodeEvent(e);
    bytes = s.size();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(int64_t(state.iterations() * bytes));
  state.counters["encoded_bytes"] = double(bytes);
}
BENCHMARK(BM_EncodeEvent)->Arg(0)->Arg(200)->Arg(1024)->ArgName("payload");

void BM_DecodeEvent(benchmark::State& state) {
  const std::string s = EncodeEvent(MakeEvent(size_t(state.range(0))));
  for (auto _ : state) {
    Result<Event> e = DecodeEvent(s);
    if (!e.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(int64_t(state.iterations() * s.size()));
}
BENCHMARK(BM_DecodeEvent)->Arg(0)->Arg(200)->Arg(1024)->ArgName("payload");

void BM_SignStandardWebhooks(benchmark::State& state) {
  const std::string body = Json(size_t(state.range(0)));
  const std::vector<std::string> secrets = {kSecret};
  for (auto _ : state) {
    auto sig = StandardWebhooksSignature(secrets, "evt_23456789ABCDEFGHJKLMNP",
                                         kUnix, body);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(int64_t(state.iterations() * body.size()));
}
BENCHMARK(BM_SignStandardWebhooks)->Arg(1024)->Arg(16384)->ArgName("bytes");

void BM_VerifyStandardWebhooks(benchmark::State& state) {
  const std::string body = Json(1024);
  const std::vector<std::string> secrets = {kSecret};
  const std::string sig =
      StandardWebhooksSignature(secrets, "evt_23456789ABCDEFGHJKLMNP", kUnix,
                                body)
          .value();
  for (auto _ : state) {
    bool ok = VerifyStandardWebhooks(secrets, "evt_23456789ABCDEFGHJKLMNP",
                                     kUnix, body, sig);
    if (!ok) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyStandardWebhooks);

void BM_SignClosient(benchmark::State& state) {
  const std::string body = Json(1024);
  const std::vector<std::string> secrets = {kSecret};
  for (auto _ : state) {
    std::string sig = ClosientSignature(secrets, kUnix, body);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignClosient);

}  // namespace
}  // namespace hooklog
