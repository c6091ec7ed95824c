// The smallest host of hooklog: open an engine, create an endpoint, publish
// an event and wait until it is delivered.
//
//   hooklog-embed                      # delivers through an in-process
//                                      # transport that prints the request
//   hooklog-embed http://127.0.0.1:9000/hook   # real HTTP via libcurl
//
// With a URL the engine uses its default libcurl transport; loopback
// targets are allowed here because this is a local example.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "hooklog/engine.h"
#include "hooklog/rocksdb_storage.h"

namespace {

// A custom Transport, to show that the transport is pluggable: it prints the
// request and answers 200 on the engine's io_context, never inside Send(),
// as the interface requires.
class PrintingTransport : public hooklog::Transport {
 public:
  explicit PrintingTransport(boost::asio::io_context& io) : io_(io) {}
  void Send(hooklog::AttemptRequest req,
            std::function<void(hooklog::AttemptResult)> done) override {
    std::printf("POST %s\n  webhook-id: %s\n  body: %s\n", req.url.c_str(),
                req.webhook_id.c_str(), req.body.c_str());
    boost::asio::post(io_, [done = std::move(done)] {
      hooklog::AttemptResult r;
      r.http_status_code = 200;
      r.response_body = "printed";
      done(r);
    });
  }
  void Shutdown() override {}
  size_t InFlight() const override { return 0; }

 private:
  boost::asio::io_context& io_;
};

int Fail(const hooklog::Status& st) {
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "https://example.com/webhooks";
  auto dir = std::filesystem::temp_directory_path() /
             ("hooklog-embed-" + std::to_string(::getpid()));
  auto storage = hooklog::OpenRocksDbStorage(dir.string());
  if (!storage.ok()) return Fail(storage.status());

  hooklog::EngineOptions options;
  if (argc > 1) {
    options.transport.allow_private_targets = true;  // local example only
  } else {
    options.transport_factory = [](boost::asio::io_context& io) {
      return std::make_unique<PrintingTransport>(io);
    };
  }
  auto engine = hooklog::OpenEngine(std::move(*storage), options);
  if (!engine.ok()) return Fail(engine.status());

  auto endpoint = (*engine)->CreateEndpoint({.url = url}).get();
  if (!endpoint.ok()) return Fail(endpoint.status());
  auto published = (*engine)
                       ->Publish({.event_type = "order.paid",
                                  .payload = R"({"order":42,"amount":"9.99"})"})
                       .get();
  if (!published.ok()) return Fail(published.status());
  std::printf("published %s -> delivery %s\n",
              hooklog::EventIdString(published->message_id).c_str(),
              published->deliveries.at(0).ToString().c_str());

  // Deliveries are asynchronous: poll the projection until it settles.
  for (int i = 0; i < 500; ++i) {
    auto d = (*engine)->GetDelivery(published->deliveries[0]).get();
    if (!d.ok()) return Fail(d.status());
    if (d->status != hooklog::DeliveryStatus::kPending) {
      std::printf("status %s, http_status_code %d, attempts %u\n",
                  std::string(hooklog::DeliveryStatusName(d->status)).c_str(),
                  d->http_status_code.value_or(0), d->attempts);
      engine->reset();
      std::filesystem::remove_all(dir);
      return d->status == hooklog::DeliveryStatus::kDelivered ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "delivery did not complete in time\n");
  return 1;
}
