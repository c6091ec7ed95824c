// Check of webhookd's JSON request bodies: the input is sent, in-process
// through webhookd::Api::Handle, as the body of every route that reads one
// (create endpoint, update endpoint, publish) and, for one input in eight,
// of the POST routes that ignore theirs (send test, rotate secret, replay),
// over an engine on memory storage whose transport answers every attempt at
// once (200, or 410 for the "gone" endpoint, which gives the harness a
// dead-lettered delivery to replay).
//
// Invariants for every answer: Handle completes exactly once and in time;
// the status is 2xx or 4xx (a 5xx, even 503, cannot happen on memory
// storage); the body is valid JSON (empty for 204); an error's envelope is
// {"error":{...}} with the same status and its code.
//
// Each input runs against a fresh endpoint (created, then deleted), so that
// a finding replays from its one input file; the engine itself is reused
// and recreated every kInputsPerEngine inputs to bound its memory.
#include <simdjson.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "webhookd/api.h"
#include "webhookd/log.h"
#include "fuzz/json_check.h"
#include "fuzz/targets.h"
#include "hooklog/engine.h"
#include "tests/support/scripted_transport.h"

namespace hooklog::fuzz {
namespace {

namespace http = boost::beast::http;
using testing::ScriptedTransport;

constexpr char kKey[] = "fuzz-api-key-0123456789";
constexpr std::string_view kBase = webhookd::kBasePath;
constexpr int kInputsPerEngine = 2000;
constexpr auto kHandleTimeout = std::chrono::seconds(30);

struct Answer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string problem;  // set when the answer breaks an invariant
};

// One Handle() call's completion, shared with the callback (which may run
// on an engine thread, possibly after we gave up waiting).
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  webhookd::HttpResponse response;
};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string EnvelopeProblem(int status, const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(body).get(root)) return "error body is not an object";
  if (root.size() != 1) return "error body has keys besides \"error\"";
  simdjson::dom::object err;
  if (root["error"].get(err)) return "no \"error\" object";
  int64_t st;
  std::string_view code, message;
  if (err["status"].get(st) || st != status) {
    return "error.status differs from the HTTP status";
  }
  if (err["code"].get(code) || code != webhookd::ErrorCodeFor(status)) {
    return "error.code does not match the status";
  }
  if (err["message"].get(message) || message.empty()) {
    return "error.message missing or empty";
  }
  return "";
}

class Harness {
 public:
  Harness() {
    webhookd::SetLogLevel(webhookd::LogLevel::kError);
    EngineOptions o;
    o.threads = 1;
    o.jitter_seed = 1;
    o.transport_factory =
        ScriptedTransport::Factory(&transport_, [](const AttemptRequest& r) {
          return std::optional<AttemptResult>(
              r.url.ends_with("/gone") ? ScriptedTransport::Http(410, "gone")
                                       : ScriptedTransport::Http(200, "ok"));
        });
    auto e = OpenEngine(NewMemoryStorage(), std::move(o));
    if (!e.ok()) {
      std::fprintf(stderr, "fuzz: OpenEngine: %s\n",
                   e.status().ToString().c_str());
      std::abort();
    }
    engine_ = std::move(*e);
    api_ = std::make_unique<webhookd::Api>(
        engine_.get(), webhookd::ApiOptions{.api_keys = {kKey}});
    MakeDeadLetter();
  }

  ~Harness() {
    api_.reset();
    if (engine_) engine_->Shutdown(std::chrono::seconds(5));
  }

  int inputs = 0;

  // Sends one request; fills answer.problem on any broken invariant.
  Answer Call(http::verb method, std::string_view path, std::string body) {
    webhookd::HttpRequest req{method, std::string(kBase) + std::string(path),
                              11};
    req.set("X-API-Key", kKey);
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    auto pending = std::make_shared<Pending>();
    api_->Handle(std::move(req), [pending](webhookd::HttpResponse res) {
      std::lock_guard<std::mutex> lock(pending->mu);
      if (++pending->calls == 1) pending->response = std::move(res);
      pending->cv.notify_all();
    });
    Answer a;
    std::unique_lock<std::mutex> lock(pending->mu);
    if (!pending->cv.wait_for(lock, kHandleTimeout,
                              [&] { return pending->calls > 0; })) {
      a.problem = "Handle did not complete within 30 s";
      return a;
    }
    const auto& res = pending->response;
    a.status = static_cast<int>(res.result_int());
    a.body = res.body();
    a.content_type = std::string(res[http::field::content_type]);
    lock.unlock();
    // A second completion would usually be synchronous or immediate.
    std::this_thread::yield();
    lock.lock();
    if (pending->calls != 1) {
      a.problem =
          "Handle completed " + std::to_string(pending->calls) + " times";
      return a;
    }
    lock.unlock();
    a.problem = AnswerProblem(a);
    if (!a.problem.empty()) {
      a.problem = std::string(http::to_string(method)) + " " +
                  std::string(path) + " -> " + std::to_string(a.status) + ": " +
                  a.problem + "; body: " + a.body.substr(0, 300);
    }
    return a;
  }

  std::string Run(std::string_view input) {
    ++inputs;
    const std::string body(input);
    // Create with the fuzzed body; delete what got created.
    Answer c = Call(http::verb::post, "endpoints", body);
    if (!c.problem.empty()) return c.problem;
    if (c.status == 201) {
      std::string id = IdOf(c.body);
      if (!EndpointId::Parse(id).ok()) {
        return "201 from create without a shortuuid id: " + c.body;
      }
      Answer d = Call(http::verb::delete_, "endpoints/" + id, "");
      if (!d.problem.empty()) return d.problem;
      if (d.status != 204) return "DELETE of a new endpoint gave " + d.body;
    }
    // A fresh endpoint for the routes on one endpoint.
    Answer fresh = Call(http::verb::post, "endpoints",
                        R"({"url":"https://example.com/hook"})");
    std::string id = IdOf(fresh.body);
    if (fresh.status != 201 || id.empty()) {
      return "could not create the harness endpoint: " + fresh.body;
    }
    const std::string ep = "endpoints/" + id;
    std::vector<std::pair<http::verb, std::string>> routes = {
        {http::verb::patch, ep}, {http::verb::post, "events"}};
    // Send test, rotate secret and replay ignore their body: sending it to
    // them every time would only halve the speed. One input in eight
    // (chosen by its hash, so a finding still replays from its file) goes
    // there too, after the endpoint was updated as the input says.
    if (Fnv1a(input) % 8 == 0) {
      routes.emplace_back(http::verb::post, ep + "/test");
      routes.emplace_back(http::verb::post, ep + "/rotate-secret");
      routes.emplace_back(http::verb::post,
                          "deliveries/" + dead_letter_ + "/replay");
    }
    for (const auto& [method, path] : routes) {
      Answer a = Call(method, path, body);
      if (!a.problem.empty()) return a.problem;
      // A successful update answers with the endpoint it updated; a
      // publish with an "evt_" id.
      if (method == http::verb::patch && a.status == 200 &&
          IdOf(a.body) != id) {
        return "PATCH answered 200 for another endpoint: " + a.body;
      }
      if (path == "events" && a.status == 202 &&
          !IdOf(a.body).starts_with("evt_")) {
        return "publish answered 202 without an evt_ id: " + a.body;
      }
    }
    Answer d = Call(http::verb::delete_, ep, "");
    if (!d.problem.empty()) return d.problem;
    return "";
  }

 private:
  static std::string AnswerProblem(const Answer& a) {
    if (!((a.status >= 200 && a.status <= 299) ||
          (a.status >= 400 && a.status <= 499))) {
      return "status outside 2xx/4xx";
    }
    if (a.status == 204) return a.body.empty() ? "" : "204 with a body";
    if (a.content_type != "application/json") {
      return "content type is '" + a.content_type + "'";
    }
    if (std::string p = JsonProblem(a.body); !p.empty()) {
      return "body is not JSON: " + p;
    }
    if (a.status >= 400) return EnvelopeProblem(a.status, a.body);
    return "";
  }

  static std::string IdOf(const std::string& body) {
    simdjson::dom::parser parser;
    std::string_view id;
    if (parser.parse(body)["id"].get(id)) return "";
    return std::string(id);
  }

  // An endpoint answering 410 and one delivery to it, dead-lettered with
  // reason "gone", so that POST deliveries/{id}/replay has a valid target.
  void MakeDeadLetter() {
    Answer ep = Call(http::verb::post, "endpoints",
                     R"({"url":"https://example.com/gone",)"
                     R"("event_types":["fuzz.gone"]})");
    Answer pub = Call(http::verb::post, "events",
                      R"({"type":"fuzz.gone","data":{"n":1}})");
    simdjson::dom::parser parser;
    std::string_view delivery;
    if (ep.status != 201 || pub.status != 202 ||
        parser.parse(pub.body)["deliveries"].at(0).get(delivery)) {
      std::fprintf(stderr, "fuzz: harness setup failed: %s / %s\n",
                   ep.body.c_str(), pub.body.c_str());
      std::abort();
    }
    dead_letter_ = std::string(delivery);
    auto id = DeliveryId::Parse(dead_letter_);
    for (int i = 0; i < 1000; ++i) {
      auto d = engine_->GetDelivery(*id).get();
      if (d.ok() && d->status == DeliveryStatus::kDeadLetter) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::fprintf(stderr, "fuzz: the 410 delivery never dead-lettered\n");
    std::abort();
  }

  ScriptedTransport* transport_ = nullptr;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<webhookd::Api> api_;
  std::string dead_letter_;
};

std::unique_ptr<Harness>& TheHarness() {
  static auto* harness = new std::unique_ptr<Harness>();
  return *harness;
}

}  // namespace

std::string CheckWebhookdApi(std::string_view input) {
  auto& h = TheHarness();
  if (h && h->inputs >= kInputsPerEngine) h.reset();
  if (!h) {
    h = std::make_unique<Harness>();
    static bool registered = false;
    if (!registered) {
      // The engine's threads must stop before static destructors run
      // (libFuzzer ends with exit()). Registered after the first engine
      // exists, so that it runs before the exit handlers of what the
      // engine initialised (OpenSSL, curl): exit handlers run in reverse.
      std::atexit([] { TheHarness().reset(); });
      registered = true;
    }
  }
  return h->Run(input);
}

void ShutdownWebhookdHarness() { TheHarness().reset(); }

}  // namespace hooklog::fuzz
