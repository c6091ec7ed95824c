// Transport throughput: hooklog's curl transport vs a bare libcurl-multi
// loop, same receiver, same concurrency, same request (a signed ~100-byte
// JSON POST over HTTP/1.1 keep-alive). Reports items/s for each.
//
// The receiver is in-process (one thread) unless HOOKLOG_BENCH_URL names a
// running one (scripts/bench_transport.sh starts hooklog-receiver and
// points this binary and wrk at the same process).
#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hooklog/signing.h"
#include "hooklog/transport.h"
#include "tools/receiver/receiver.h"

#ifndef HOOKLOG_VERSION
#define HOOKLOG_VERSION "0.0.0"
#endif

namespace {

constexpr int kBatch = 20000;  // requests per benchmark iteration
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kBody =
    R"({"id":"evt_23456789ABCDEFGHJKLMNP","type":"invoice.paid",)"
    R"("created_at":"2026-01-01T00:00:00Z","data":{"amount":4200}})";

std::string TargetUrl() {
  static std::unique_ptr<hooklog::receiver::Receiver> rx;
  static std::string url = [] {
    if (const char* env = std::getenv("HOOKLOG_BENCH_URL")) {
      return std::string(env);
    }
    hooklog::receiver::Receiver::Options o;
    o.record = false;
    rx = hooklog::receiver::Receiver::Start(o);
    return rx ? rx->Url("/bench") : std::string();
  }();
  return url;
}

void BM_Transport(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const std::string url = TargetUrl();
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  // Default options (no max_connections), as the engine uses them.
  auto transport =
      hooklog::NewCurlTransport(io, {.allow_private_targets = true});

  hooklog::AttemptRequest proto;
  proto.url = url;
  proto.body = kBody;
  proto.webhook_id = "evt_23456789ABCDEFGHJKLMNP";
  proto.secrets = {kSecret};

  int64_t failures = 0;
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable cv;
    std::atomic<int> sent{0};
    int done_count = 0;
    std::function<void(hooklog::AttemptResult)> on_done;
    on_done = [&](hooklog::AttemptResult r) {
      if (r.http_status_code != 200) ++failures;  // io thread only
      if (sent.fetch_add(1) < kBatch - concurrency) {
        transport->Send(proto, on_done);
      }
      std::lock_guard<std::mutex> lock(mu);
      if (++done_count == kBatch) cv.notify_one();
    };
    for (int i = 0; i < concurrency; ++i) transport->Send(proto, on_done);
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done_count == kBatch; });
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["failures"] = static_cast<double>(failures);
  transport.reset();
  guard.reset();
  io.stop();
  runner.join();
}

// The ceiling: the same requests from a plain curl_multi_perform/poll loop
// with reused easy handles, on one thread. Like with like: the same header
// lines and sizes as the transport sends (a signature computed once - the
// transport signs every attempt, which is part of what it is measured for)
// and the same curl options (proxy environment ignored, TCP_NODELAY,
// buffer sizes, timeouts, low-speed limit, protocols).
void BM_BareCurlMulti(benchmark::State& state) {
  const int concurrency = static_cast<int>(state.range(0));
  const std::string url = TargetUrl();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  const char* kWebhookId = "evt_23456789ABCDEFGHJKLMNP";
  const int64_t ts = std::time(nullptr);
  const std::string lines[] = {
      "Content-Type: application/json",
      std::string("User-Agent: hooklog/") + HOOKLOG_VERSION,
      "Expect:",
      std::string("webhook-id: ") + kWebhookId,
      "webhook-timestamp: " + std::to_string(ts),
      "webhook-signature: " +
          *hooklog::StandardWebhooksSignature({kSecret}, kWebhookId, ts, kBody),
  };
  curl_slist* headers = nullptr;
  for (const std::string& l : lines)
    headers = curl_slist_append(headers, l.c_str());
  auto discard = +[](char*, size_t s, size_t n, void*) { return s * n; };
  std::vector<CURL*> easies;
  for (int i = 0; i < concurrency; ++i) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, kBody.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(kBody.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 10L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    easies.push_back(e);
  }
  int64_t failures = 0;
  for (auto _ : state) {
    int started = 0, finished = 0;
    for (CURL* e : easies) {
      curl_multi_add_handle(multi, e);
      ++started;
    }
    while (finished < kBatch) {
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* e = m->easy_handle;
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (m->data.result != CURLE_OK || code != 200) ++failures;
        curl_multi_remove_handle(multi, e);
        ++finished;
        if (started < kBatch) {
          curl_multi_add_handle(multi, e);
          ++started;
        }
      }
      if (finished < kBatch) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["failures"] = static_cast<double>(failures);
  for (CURL* e : easies) curl_easy_cleanup(e);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
}

BENCHMARK(BM_Transport)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BareCurlMulti)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
