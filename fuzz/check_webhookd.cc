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
//
// Wire mode: an input that starts with a request line's method ("GET ",
// "POST ", ...) is instead sent as raw bytes over one loopback connection
// to webhookd's real HTTP server (webhookd::Server on the same engine), so
// that framing is fuzzed: Transfer-Encoding / Content-Length combinations,
// pipelined requests, partial and oversized messages. Invariants: what
// comes back is a sequence of well-formed responses (Content-Length framed,
// never chunked), each 2xx, 4xx or 501 with a valid JSON body or none; a
// response that says "Connection: close" is the last; and, by an
// independent model of the input's framing (WireModel), after a request
// whose framing is an error (a Transfer-Encoding other than exactly
// "chunked", one beside a Content-Length or in HTTP/1.0, a malformed or
// oversized Content-Length) nothing more is answered on that connection,
// and its answer closes it — no request smuggling.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
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

#include "fuzz/json_check.h"
#include "fuzz/targets.h"
#include "hooklog/engine.h"
#include "tests/support/scripted_transport.h"
#include "webhookd/api.h"
#include "webhookd/log.h"
#include "webhookd/server.h"

namespace hooklog::fuzz {
namespace {

namespace http = boost::beast::http;
using testing::ScriptedTransport;

constexpr char kKey[] = "fuzz-api-key-0123456789";
constexpr std::string_view kBase = webhookd::kBasePath;
constexpr int kInputsPerEngine = 2000;
constexpr auto kHandleTimeout = std::chrono::seconds(30);
// The wire mode's server limits, small so that inputs reach them.
constexpr size_t kWireMaxBody = 4096;
constexpr uint32_t kWireHeaderLimit = 2048;

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

// --- wire mode
// ----------------------------------------------------------------

bool IsWireInput(std::string_view input) {
  for (std::string_view m :
       {"GET ", "HEAD ", "POST ", "PUT ", "PATCH ", "DELETE ", "OPTIONS "}) {
    if (input.starts_with(m)) return true;
  }
  return false;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower((unsigned char)c));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// An independent model of where the input's requests begin and end, as
// RFC 9112 reads them. It follows requests only as long as it is sure:
// anything unusual (obs-fold, odd syntax, a chunked body, a request near
// the header limit) ends the model, never a guess.
struct WireModel {
  int requests = 0;     // requests modelled, the bad one included
  int bad_index = -1;   // the first request whose framing is an error
  bool closes = false;  // the last modelled request asks to close
};

WireModel ModelWire(std::string_view in) {
  WireModel m;
  while (!in.empty()) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string_view::npos) return m;  // incomplete
    const size_t head_size = end + 4;
    // Near or over the header limit Beast answers 400 and closes, or takes
    // the request: its count depends on how the bytes arrive (and it
    // checks the request line and the fields apart). Either way the end of
    // the header is unambiguous, so this is not a framing question: stop
    // modelling rather than guess.
    if (head_size > kWireHeaderLimit - 64) return m;
    std::string_view head = in.substr(0, end);
    size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view()
                                         : head.substr(eol + 2);
    // METHOD SP target SP HTTP/1.x
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2) return m;
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!IsToken(method) || target.empty() || target[0] != '/') return m;
    for (unsigned char c : target) {
      if (c <= ' ' || c == 0x7F) return m;
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return m;
    std::vector<std::string> te, cl;
    bool close = version == "HTTP/1.0";
    while (!head.empty()) {
      eol = head.find("\r\n");
      std::string_view field = head.substr(0, eol);
      head = eol == std::string_view::npos ? std::string_view()
                                           : head.substr(eol + 2);
      size_t colon = field.find(':');
      if (colon == std::string_view::npos) return m;
      std::string_view name = field.substr(0, colon);
      std::string_view value = Trim(field.substr(colon + 1));
      if (!IsToken(name)) return m;  // also obs-fold (leading space)
      for (unsigned char c : value) {
        if ((c < ' ' && c != '\t') || c == 0x7F) return m;
      }
      const std::string n = Lower(name);
      if (n == "transfer-encoding") te.emplace_back(value);
      if (n == "content-length") cl.emplace_back(value);
      if (n == "connection") {
        const std::string v = Lower(value);
        if (v == "close") close = true;
        if (v == "keep-alive" && version == "HTTP/1.0") close = false;
        if (v != "close" && v != "keep-alive") return m;  // token lists
      }
      if (n == "expect" || n == "upgrade") return m;
    }
    const int index = m.requests++;
    if (!te.empty()) {
      // RFC 9112 §6.1: the codings are a list (empty elements allowed);
      // exactly one "chunked" in HTTP/1.1 without Content-Length is fine,
      // but its body is not followed here. Anything else is an error.
      std::vector<std::string> codings;
      for (const std::string& field : te) {
        std::string_view v = field;
        while (true) {
          size_t comma = v.find(',');
          std::string_view item = Trim(v.substr(0, comma));
          if (!item.empty()) codings.push_back(Lower(item));
          if (comma == std::string_view::npos) break;
          v.remove_prefix(comma + 1);
        }
      }
      if (codings.size() == 1 && codings[0] == "chunked" && cl.empty() &&
          version == "HTTP/1.1") {
        return m;
      }
      m.bad_index = index;
      return m;
    }
    uint64_t length = 0;
    if (!cl.empty()) {
      const std::string& v = cl[0];
      const bool digits = !v.empty() && v.size() <= 15 &&
                          std::all_of(v.begin(), v.end(), [](char c) {
                            return c >= '0' && c <= '9';
                          });
      if (cl.size() != 1 || !digits) {
        // Beast accepts equal duplicates ("5, 5"); refuses the rest.
        const bool list_like = std::all_of(v.begin(), v.end(), [](char c) {
          return (c >= '0' && c <= '9') || c == ',' || c == ' ' || c == '\t';
        });
        if (cl.size() == 1 && list_like) return m;
        if (cl.size() > 1) return m;
        m.bad_index = index;
        return m;
      }
      length = std::stoull(v);
      if (length > kWireMaxBody) {
        m.bad_index = index;  // 413 from the declared size, closing
        return m;
      }
    }
    if (in.size() < head_size + length) return m;  // incomplete body
    in.remove_prefix(head_size + length);
    if (close) {
      m.closes = true;
      return m;
    }
  }
  return m;
}

struct WireResponse {
  int status = 0;
  bool close = false;
  std::string content_type;
  std::string body;
};

// Splits what the server sent into responses; "" or what is malformed.
// A response to HEAD carries a Content-Length but no body: it is
// recognised by the next response (or the end) starting right after its
// headers, which a JSON or metrics body never does.
std::string ParseResponses(std::string_view out,
                           std::vector<WireResponse>* responses) {
  while (!out.empty()) {
    size_t end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) return "a response without its end";
    std::string_view head = out.substr(0, end);
    out.remove_prefix(end + 4);
    if (!head.starts_with("HTTP/1.1 ") || head.size() < 12) {
      return "a response without an HTTP/1.1 status line";
    }
    WireResponse r;
    for (int i = 9; i < 12; ++i) {
      if (head[i] < '0' || head[i] > '9') return "a bad status code";
      r.status = r.status * 10 + (head[i] - '0');
    }
    std::optional<uint64_t> length;
    size_t eol = head.find("\r\n");
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      std::string_view field = head.substr(0, eol);
      size_t colon = field.find(':');
      if (colon == std::string_view::npos) return "a header without ':'";
      const std::string n = Lower(field.substr(0, colon));
      const std::string_view v = Trim(field.substr(colon + 1));
      if (n == "content-length") {
        if (length) return "two Content-Length headers";
        uint64_t l = 0;
        for (char c : v) {
          if (c < '0' || c > '9') return "a bad Content-Length";
          l = l * 10 + static_cast<uint64_t>(c - '0');
        }
        length = l;
      } else if (n == "transfer-encoding") {
        return "a response with Transfer-Encoding";
      } else if (n == "connection") {
        r.close = Lower(v) == "close";
      } else if (n == "content-type") {
        r.content_type = std::string(v);
      }
    }
    if (r.status == 100) continue;  // Expect: 100-continue's interim answer
    const uint64_t n = length.value_or(0);
    const bool bodiless = out.empty() || out.starts_with("HTTP/1.1 ");
    if (n > 0 && !bodiless) {
      if (out.size() < n) return "a body shorter than its Content-Length";
      r.body = std::string(out.substr(0, n));
      out.remove_prefix(n);
    } else if (!length && r.status != 204) {
      return "a response without Content-Length";
    }
    responses->push_back(std::move(r));
  }
  return "";
}

// Sends `bytes` on one connection to 127.0.0.1:`port`, half-closes, and
// returns everything until the server closes. *problem is set when the
// server does not close within 20 s.
std::string WireExchange(uint16_t port, std::string_view bytes,
                         std::string* problem) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    *problem = "socket() failed";
    return "";
  }
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *problem = "cannot connect to the server";
    ::close(fd);
    return out;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed early: read what it answered
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      *problem = "the server did not close the connection within 20 s";
    }
    break;  // 0: closed; ECONNRESET: closed too
  }
  ::close(fd);
  return out;
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
    auto server =
        webhookd::Server::Start(engine_->io_context(), api_.get(),
                                {.max_body_bytes = kWireMaxBody,
                                 .header_limit = kWireHeaderLimit,
                                 .read_timeout = std::chrono::seconds(10)});
    if (!server.ok()) {
      std::fprintf(stderr, "fuzz: Server::Start: %s\n",
                   server.status().ToString().c_str());
      std::abort();
    }
    server_ = std::move(*server);
    MakeDeadLetter();
  }

  ~Harness() {
    // The server's order (server.h): stop accepting, stop the io_context
    // (the engine's Shutdown), then destroy.
    if (server_) server_->Stop();
    if (engine_) engine_->Shutdown(std::chrono::seconds(5));
    server_.reset();
    api_.reset();
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
    if (IsWireInput(input)) return RunWire(input);
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

  // Wire mode (see the top of the file).
  std::string RunWire(std::string_view input) {
    std::string problem;
    const std::string out = WireExchange(server_->port(), input, &problem);
    if (!problem.empty()) return "wire: " + problem;
    std::vector<WireResponse> responses;
    problem = ParseResponses(out, &responses);
    if (!problem.empty()) {
      return "wire: " + problem + "; got: " + out.substr(0, 600);
    }
    for (size_t i = 0; i < responses.size(); ++i) {
      const WireResponse& r = responses[i];
      if (!((r.status >= 200 && r.status <= 299) ||
            (r.status >= 400 && r.status <= 499) || r.status == 501)) {
        return "wire: status " + std::to_string(r.status);
      }
      if (r.close && i + 1 != responses.size()) {
        return "wire: answered again after a response that closed";
      }
      if (r.body.empty() || r.content_type != "application/json") continue;
      if (std::string p = JsonProblem(r.body); !p.empty()) {
        return "wire: body is not JSON: " + p;
      }
      if (r.status >= 400) {
        if (std::string p = EnvelopeProblem(r.status, r.body); !p.empty()) {
          return "wire: " + p;
        }
      }
    }
    const WireModel model = ModelWire(input);
    if (model.bad_index >= 0) {
      const size_t bad = static_cast<size_t>(model.bad_index);
      if (responses.size() > bad + 1) {
        return "wire: " + std::to_string(responses.size()) +
               " answers, but request " + std::to_string(bad + 1) +
               " has a framing error (request smuggling)";
      }
      if (responses.size() == bad + 1) {
        const WireResponse& r = responses.back();
        if (!r.close ||
            (r.status != 400 && r.status != 413 && r.status != 501)) {
          return "wire: the answer to a framing error is " +
                 std::to_string(r.status) +
                 (r.close ? "" : " without Connection: close");
        }
      }
    } else if (model.closes &&
               responses.size() > static_cast<size_t>(model.requests)) {
      return "wire: answered past a request that closed the connection";
    }
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
  std::unique_ptr<webhookd::Server> server_;
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
