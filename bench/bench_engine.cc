// Micro benchmarks of the engine's pure parts: the state machine step, the
// projection of an event onto a row, payload validation, and a publish
// through the whole engine with the in-memory store.
//
//   build/bench/bench_engine --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "engine/delivery_machine.h"
#include "engine/projection.h"
#include "engine/validation.h"
#include "hooklog/engine.h"

namespace hooklog {
namespace {

Delivery PendingDelivery(Jitter* jitter, const RetryPolicy& policy) {
  Message m;
  m.id = MessageId::NewRandom();
  m.event_type = "order.paid";
  Delivery d;
  ApplyToDelivery(
      DecideEnqueue(DeliveryId::NewRandom(), m, EndpointId::NewRandom(), false,
                    1, 1, policy, jitter),
      &d);
  return d;
}

void BM_StateMachineStep(benchmark::State& state) {
  RetryPolicy policy;
  Jitter jitter(1);
  Delivery d = PendingDelivery(&jitter, policy);
  AttemptResult r;
  r.http_status_code = state.range(0);
  r.response_body = "ok";
  for (auto _ : state) {
    Decision dec = DecideAttempt(d, r, 10, 10, policy, &jitter);
    benchmark::DoNotOptimize(dec);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StateMachineStep)->Arg(200)->Arg(500)->Arg(429);

void BM_ProjectAttempt(benchmark::State& state) {
  RetryPolicy policy;
  Jitter jitter(1);
  Delivery d = PendingDelivery(&jitter, policy);
  AttemptResult r;
  r.http_status_code = 500;
  Decision dec = DecideAttempt(d, r, 10, 10, policy, &jitter);
  for (auto _ : state) {
    Delivery copy = d;
    ApplyToDelivery(dec.events[0], &copy);
    benchmark::DoNotOptimize(copy);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProjectAttempt);

std::string Payload(size_t bytes) {
  std::string s = R"({"id":12345,"items":[)";
  while (s.size() + 64 < bytes) {
    s += R"({"sku":"ABC-123","qty":2,"price":"19.99","note":"é"},)";
  }
  s += R"({"sku":"last","qty":1}]})";
  return s;
}

void BM_ValidatePayload(benchmark::State& state) {
  std::string p = Payload(size_t(state.range(0)));
  for (auto _ : state) {
    Status st = ValidatePayload(p, 1 << 20);
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(int64_t(state.iterations() * p.size()));
}
BENCHMARK(BM_ValidatePayload)->Arg(200)->Arg(2048)->Arg(20480);

// Publish → durable (memory store) with one endpoint; every attempt is
// answered 200 at once without I/O, so this measures the engine's own
// decide/commit/apply path.
class InstantTransport : public Transport {
 public:
  explicit InstantTransport(boost::asio::io_context& io) : io_(io) {}
  void Send(AttemptRequest, std::function<void(AttemptResult)> done) override {
    boost::asio::post(io_, [done = std::move(done)] {
      AttemptResult r;
      r.http_status_code = 200;
      done(r);
    });
  }
  void Shutdown() override {}
  size_t InFlight() const override { return 0; }

 private:
  boost::asio::io_context& io_;
};

void BM_PublishMemoryStore(benchmark::State& state) {
  EngineOptions o;
  o.transport_factory = [](boost::asio::io_context& io) {
    return std::make_unique<InstantTransport>(io);
  };
  auto engine = std::move(OpenEngine(NewMemoryStorage(), o).value());
  (void)engine->CreateEndpoint({.url = "https://example.com/h"}).get();
  const int batch = 256;
  for (auto _ : state) {
    std::vector<std::future<Result<PublishResult>>> futs;
    futs.reserve(batch);
    for (int i = 0; i < batch; ++i) {
      futs.push_back(engine->Publish({"order.paid", R"({"n":1})", ""}));
    }
    for (auto& f : futs) benchmark::DoNotOptimize(f.get());
  }
  state.SetItemsProcessed(state.iterations() * batch);
  engine->Shutdown(std::chrono::milliseconds(0));
}
BENCHMARK(BM_PublishMemoryStore)->UseRealTime();

}  // namespace
}  // namespace hooklog
