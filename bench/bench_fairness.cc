// Fairness: how fast a healthy endpoint's deliveries complete while another
// endpoint times out on a large backlog, as a ratio of the same healthy
// workload alone, measured in the same run against the same receiver.
//
//   build/bench/bench_fairness                      # 10,000 + 10,000
//   HOOKLOG_FAIRNESS_N=2000 build/bench/bench_fairness
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <thread>

#include "hooklog/engine.h"
#include "tools/receiver/receiver.h"

namespace hooklog {
namespace {

using receiver::Receiver;
using receiver::Reply;

int N() {
  const char* v = std::getenv("HOOKLOG_FAIRNESS_N");
  return v ? std::atoi(v) : 10000;
}

uint64_t CountDelivered(Engine* e, const EndpointId& id) {
  DeliveryQuery q;
  q.endpoint_id = id;
  q.status = DeliveryStatus::kDelivered;
  q.page_size = 1;
  return e->ListDeliveries(q).get()->total_count;
}

// Seconds until `n` healthy deliveries are delivered, optionally with a
// stuck endpoint holding `n` deliveries that never get an answer.
double RunOnce(Receiver* rx, int n, bool with_stuck) {
  EngineOptions o;
  o.transport.allow_private_targets = true;
  o.attempt_timeout = std::chrono::milliseconds(2000);
  auto engine = std::move(OpenEngine(NewMemoryStorage(), o).value());
  auto healthy =
      engine
          ->CreateEndpoint({.url = rx->Url("/ok"),
                            .event_types = std::vector<std::string>{"ok"}})
          .get()
          .value();
  if (with_stuck) {
    (void)engine
        ->CreateEndpoint({.url = rx->Url("/stuck"),
                          .event_types = std::vector<std::string>{"stuck"}})
        .get();
    std::vector<std::future<Result<PublishResult>>> futs;
    for (int i = 0; i < n; ++i)
      futs.push_back(engine->Publish({"stuck", "{}", ""}));
    for (auto& f : futs) (void)f.get();
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<std::future<Result<PublishResult>>> futs;
  for (int i = 0; i < n; ++i) futs.push_back(engine->Publish({"ok", "{}", ""}));
  for (auto& f : futs) (void)f.get();
  while (CountDelivered(engine.get(), healthy.id) < uint64_t(n)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  engine->Shutdown(std::chrono::milliseconds(0));
  return s;
}

void BM_HealthyEndpointBesideStuckOne(benchmark::State& state) {
  Receiver::Options ro;
  ro.threads = 1;
  ro.record = false;
  auto rx = Receiver::Start(ro);
  rx->SetReply("/stuck", Reply{.action = Reply::Action::kNeverAnswer});
  const int n = N();
  double alone = 0, beside = 0;
  for (auto _ : state) {
    alone = RunOnce(rx.get(), n, false);
    beside = RunOnce(rx.get(), n, true);
  }
  state.counters["healthy_alone_per_s"] = n / alone;
  state.counters["healthy_beside_stuck_per_s"] = n / beside;
  state.counters["ratio"] = alone / beside;
  state.SetItemsProcessed(int64_t(state.iterations()) * n);
}
BENCHMARK(BM_HealthyEndpointBesideStuckOne)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace hooklog
