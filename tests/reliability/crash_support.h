// Pieces of the crash loop shared by the single-node loop
// (crash_loop_test.cc) and the cluster's (tests/cluster): a daemon client
// that reports a dead peer instead of failing, the receiver's ledger,
// producers that publish numbered events until acknowledged (and make each
// acknowledgement durable), the dead-letter replayer, and reading every
// delivery back through the API.
//
// Thread-safety: Shared and Ledger are shared between threads (atomics and
// a mutex); a Client belongs to one thread.
#ifndef HOOKLOG_TESTS_RELIABILITY_CRASH_SUPPORT_H_
#define HOOKLOG_TESTS_RELIABILITY_CRASH_SUPPORT_H_

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/webhookd/support.h"
#include "tools/receiver/receiver.h"

namespace hooklog::reliability {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hooklog::receiver::RecordedRequest;
using hooklog::receiver::Reply;

inline constexpr char kKey[] = "crash-loop-key-0123456789abcdef";
inline const std::string kBase = "/integrations/api/v1/webhooks/";

inline uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

// --- HTTP ------------------------------------------------------------------

struct Response {
  int status = 0;  // 0: no answer (the daemon died, or is not listening)
  std::string body;
};

// One keep-alive connection to the daemon. Unlike webhookd_test::HttpClient
// it reports a dead peer as status 0 instead of failing the test, and every
// operation has a deadline.
class Client {
 public:
  explicit Client(uint16_t port) : port_(port) {}
  uint16_t port() const { return port_; }

  Response Call(http::verb method, const std::string& target,
                const std::string& body = "",
                std::chrono::seconds timeout = 60s) {
    beast::error_code ec;
    if (!stream_) {
      stream_.emplace(io_);
      buffer_.clear();
      stream_->expires_after(5s);
      stream_->async_connect(
          tcp::endpoint(net::ip::make_address("127.0.0.1"), port_),
          [&](beast::error_code e) { ec = e; });
      Run();
      if (ec) {
        stream_.reset();
        return {};
      }
    }
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set("X-API-Key", kKey);
    if (method == http::verb::post || !body.empty()) {
      req.body() = body;
      req.set(http::field::content_type, "application/json");
    }
    req.prepare_payload();
    stream_->expires_after(timeout);
    http::async_write(*stream_, req,
                      [&](beast::error_code e, size_t) { ec = e; });
    Run();
    http::response<http::string_body> res;
    if (!ec) {
      http::async_read(*stream_, buffer_, res,
                       [&](beast::error_code e, size_t) { ec = e; });
      Run();
    }
    if (ec) {
      stream_.reset();
      return {};
    }
    if (!res.keep_alive()) stream_.reset();
    return {static_cast<int>(res.result_int()), std::move(res.body())};
  }

  // Retries while the daemon does not answer (an idle connection it closed).
  Response CallRetrying(http::verb method, const std::string& target,
                        const std::string& body = "") {
    Response r;
    for (int i = 0; i < 5 && r.status == 0; ++i) {
      if (i > 0) std::this_thread::sleep_for(100ms);
      r = Call(method, target, body);
    }
    return r;
  }

 private:
  void Run() {
    io_.restart();
    io_.run();
  }

  uint16_t port_;
  net::io_context io_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

inline std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return "";
  return std::string(s);
}

// --- the receiver's ledger -------------------------------------------------

struct Receipt {
  std::string path;
  std::string webhook_id;  // header
  std::string body_id;     // the envelope's "id"
  int64_t n = -1;          // data.n
  bool signature_ok = false;
  bool accepted = false;  // answered 2xx
};

// Decides the receiver's replies (a seeded mix) and records each request.
// A path never fails more than three times in a row, so the engine's
// circuit breaker (10 consecutive failures, or >= 80 % of the last 50) never
// opens and stalls the run; the mix still yields plenty of dead letters
// with three attempts.
class Ledger {
 public:
  explicit Ledger(uint64_t seed) : rng_(seed) {}

  Reply Decide(const RecordedRequest& r) {
    Receipt rec;
    rec.path = r.path;
    rec.webhook_id = r.webhook_id;
    rec.signature_ok = r.signature_ok.value_or(false);
    if (size_t p = r.body.find("\"id\":\""); p != std::string::npos) {
      size_t start = p + 6;
      rec.body_id = r.body.substr(start, r.body.find('"', start) - start);
    }
    if (size_t p = r.body.find("\"n\":"); p != std::string::npos) {
      rec.n = std::strtoll(r.body.c_str() + p + 4, nullptr, 10);
    }
    Reply reply;
    std::lock_guard<std::mutex> lock(mu_);
    int& streak = failure_streak_[r.path];
    double roll = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (healed_ || streak >= 3) roll = 1;
    if (roll < 0.18) {
      reply.status = 500;
      reply.body = "injected failure";
      ++fail_500_;
    } else if (roll < 0.24) {
      reply.action = Reply::Action::kNeverAnswer;  // the attempt times out
      ++timeouts_;
    } else if (roll < 0.30) {
      reply.action = Reply::Action::kResetBeforeResponse;
      ++resets_;
    } else {
      reply.status = 200;
      reply.body = "ok";
      rec.accepted = true;
    }
    streak = rec.accepted ? 0 : streak + 1;
    receipts_.push_back(std::move(rec));
    return reply;
  }

  void Heal() {
    std::lock_guard<std::mutex> lock(mu_);
    healed_ = true;
  }
  std::vector<Receipt> Receipts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return receipts_;
  }
  std::string Mix() const {
    std::lock_guard<std::mutex> lock(mu_);
    return "500=" + std::to_string(fail_500_) +
           " timeout=" + std::to_string(timeouts_) +
           " reset=" + std::to_string(resets_);
  }

 private:
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  bool healed_ = false;
  std::map<std::string, int> failure_streak_;
  std::vector<Receipt> receipts_;
  uint64_t fail_500_ = 0, timeouts_ = 0, resets_ = 0;
};

// --- producers and replayer ------------------------------------------------

struct Ack {
  int64_t n = -1;
  std::string event_id;
  std::vector<std::string> deliveries;
};

// State shared by the test thread, the producers and the replayer.
struct Shared {
  std::atomic<uint16_t> port{0};   // 0 while the daemon is down
  std::atomic<bool> stop{false};   // no new events / replays
  std::atomic<bool> abort{false};  // give up (the test failed)
  std::atomic<int64_t> next_n{0};  // numbers below it were sent
  std::atomic<uint64_t> publish_retries{0};
  std::atomic<uint64_t> replays_ok{0};
  std::atomic<uint64_t> replays_unanswered{0};

  std::mutex mu;
  int ack_fd = -1;
  uint64_t acknowledged = 0;
  std::vector<std::string> unexpected;  // answers that should not happen

  void Unexpected(const std::string& what, const Response& r) {
    std::lock_guard<std::mutex> lock(mu);
    if (unexpected.size() < 20) {
      unexpected.push_back(what + " -> " + std::to_string(r.status) + " " +
                           r.body);
    }
  }

  // Makes the acknowledgement durable (one line, fdatasync) before it
  // counts: the file, not memory, is what the final check reads.
  bool RecordAck(int64_t n, const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc)) return false;
    std::string line = std::to_string(n) + " " + Str(doc, "id");
    simdjson::dom::array ids;
    if (doc["deliveries"].get_array().get(ids)) return false;
    for (auto d : ids) {
      std::string_view s;
      if (d.get_string().get(s)) return false;
      line += " " + std::string(s);
    }
    line += "\n";
    std::lock_guard<std::mutex> lock(mu);
    if (write(ack_fd, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size()) ||
        fdatasync(ack_fd) != 0) {
      return false;
    }
    ++acknowledged;
    return true;
  }
};

// However a test ends: stops the producers, joins them and closes the
// ledger of acknowledged publishes.
struct JoinAll {
  Shared& s;
  std::vector<std::thread>& t;
  ~JoinAll() {
    s.abort = true;
    for (auto& th : t) {
      if (th.joinable()) th.join();
    }
    if (s.ack_fd >= 0) close(s.ack_fd);
  }
};

inline std::vector<Ack> ReadAcks(const std::string& path) {
  std::vector<Ack> acks;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    Ack a;
    in >> a.n >> a.event_id;
    std::string d;
    while (in >> d) a.deliveries.push_back(d);
    acks.push_back(std::move(a));
  }
  return acks;
}

// Publishes numbered events, each retried (same idempotency key) until
// acknowledged, at about `rate` per second, to the daemon listening on
// *port_of (0: wait for one).
inline void ProduceTo(Shared* s, uint64_t seed, double rate,
                      const std::atomic<uint16_t>* port_of) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  std::unique_ptr<Client> client;
  while (!s->stop && !s->abort) {
    const int64_t n = s->next_n++;
    const std::string body =
        R"({"type":"crash.loop","data":{"n":)" + std::to_string(n) +
        R"(},"idempotency_key":"crash-)" + std::to_string(n) + "\"}";
    for (int tries = 0; !s->abort; ++tries) {
      const uint16_t port = port_of->load();
      if (port == 0) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (!client || client->port() != port) {
        client = std::make_unique<Client>(port);
      }
      if (tries > 0) ++s->publish_retries;
      Response r = client->Call(http::verb::post, kBase + "events/", body);
      if (r.status == 202) {
        if (!s->RecordAck(n, r.body)) s->Unexpected("ack of " + body, r);
        break;
      }
      // 503: nothing was changed (or the request deadline passed while the
      // daemon was stopping); the same key makes a retry safe.
      if (r.status != 0 && r.status != 503) {
        s->Unexpected("publish " + body, r);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::min(gap(rng), 1.0)));
  }
}

// ProduceTo the daemon on s->port.
inline void Produce(Shared* s, uint64_t seed, double rate) {
  ProduceTo(s, seed, rate, &s->port);
}

// Replays one dead letter every few hundred milliseconds.
inline void ReplayDeadLetters(Shared* s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::unique_ptr<Client> client;
  std::set<std::string> replayed;
  simdjson::dom::parser parser;
  while (!s->stop && !s->abort) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    const uint16_t port = s->port;
    if (port == 0) continue;
    if (!client || client->port() != port) {
      client = std::make_unique<Client>(port);
    }
    Response r = client->Call(
        http::verb::get, kBase + "deliveries/?status=dead_letter&page_size=50");
    if (r.status != 200) {
      if (r.status != 0 && r.status != 503) s->Unexpected("list", r);
      continue;
    }
    simdjson::dom::element doc;
    simdjson::dom::array rows;
    if (parser.parse(r.body).get(doc) || doc["data"].get_array().get(rows)) {
      s->Unexpected("list body", r);
      continue;
    }
    std::vector<std::string> candidates;
    for (auto row : rows) {
      std::string id = Str(row, "id");
      if (!replayed.contains(id)) candidates.push_back(id);
    }
    if (candidates.empty()) continue;
    const std::string id = candidates[rng() % candidates.size()];
    r = client->Call(http::verb::post, kBase + "deliveries/" + id + "/replay/");
    if (r.status == 200) {
      replayed.insert(id);
      ++s->replays_ok;
    } else if (r.status == 0 || r.status == 503) {
      // Killed mid-replay (maybe by a replay kill point): it may or may not
      // have been committed; a second replay is legitimate either way.
      ++s->replays_unanswered;
    } else {
      s->Unexpected("replay " + id, r);
    }
  }
}

// --- reading the outcome through the API ---------------------------------

struct Row {
  std::string id, endpoint_id, event_id, status, replay_of, reason;
  int64_t attempts = 0;
  int64_t http_status = 0;  // 0: null
};

// Runs `hooklog-admin verify ARGS...` (HOOKLOG_ADMIN_BINARY) on a stopped
// store. Returns "" when it passes, else its exit code and output.
inline std::string AdminVerify(std::vector<std::string> args) {
  args.insert(args.begin(), {HOOKLOG_ADMIN_BINARY, "verify"});
  webhookd_test::Child admin(args);
  std::string out = admin.ReadRest(300s);
  auto code = admin.Wait(60s);
  if (code == 0 && out.find("log gapless:    yes") != std::string::npos &&
      out.find("result:         OK") != std::string::npos) {
    return "";
  }
  return "hooklog-admin verify exit " + std::to_string(code.value_or(-1)) +
         ":\n" + out + admin.Stderr();
}

inline std::string UrlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Every delivery, through the API (cursor pagination).
inline std::optional<std::vector<Row>> ListAll(Client* c) {
  std::vector<Row> rows;
  simdjson::dom::parser parser;
  std::string cursor;
  uint64_t total = 0;
  for (;;) {
    std::string target = kBase + "deliveries/?page_size=50";
    if (!cursor.empty()) target += "&cursor=" + UrlEncode(cursor);
    Response r = c->CallRetrying(http::verb::get, target);
    if (r.status != 200) {
      ADD_FAILURE() << "list deliveries: " << r.status << " " << r.body;
      return std::nullopt;
    }
    simdjson::dom::element doc;
    simdjson::dom::array data;
    if (parser.parse(r.body).get(doc) || doc["data"].get_array().get(data)) {
      ADD_FAILURE() << "list body: " << r.body;
      return std::nullopt;
    }
    for (auto e : data) {
      Row row;
      row.id = Str(e, "id");
      row.endpoint_id = Str(e, "endpoint_id");
      row.event_id = Str(e, "event_id");
      row.status = Str(e, "status");
      row.replay_of = Str(e, "replay_of");
      row.reason = Str(e, "dead_letter_reason");
      if (e["attempts"].get_int64().get(row.attempts)) row.attempts = -1;
      if (e["http_status_code"].get_int64().get(row.http_status)) {
        row.http_status = 0;  // null
      }
      rows.push_back(std::move(row));
    }
    if (cursor.empty() &&
        doc["pagination"]["total_count"].get_uint64().get(total)) {
      ADD_FAILURE() << "list body: " << r.body;
      return std::nullopt;
    }
    std::string_view next;
    if (doc["next_cursor"].get_string().get(next) || next.empty()) break;
    cursor = std::string(next);
  }
  // The daemon is quiescent: the pages add up to the count.
  EXPECT_EQ(rows.size(), total) << "cursor pages vs total_count";
  return rows;
}

// Waits until no delivery is pending, failed or rate_limited.
inline bool Drain(Client* c, std::chrono::seconds limit, uint64_t* left) {
  simdjson::dom::parser parser;
  const auto deadline = SteadyClock::now() + limit;
  for (;;) {
    uint64_t open = 0;
    for (const char* st : {"pending", "failed", "rate_limited"}) {
      Response r = c->CallRetrying(
          http::verb::get,
          kBase + "deliveries/?page_size=1&status=" + std::string(st));
      simdjson::dom::element doc;
      uint64_t n = 1;
      if (r.status != 200 || parser.parse(r.body).get(doc) ||
          doc["pagination"]["total_count"].get_uint64().get(n)) {
        ADD_FAILURE() << "drain: " << r.status << " " << r.body;
        return false;
      }
      open += n;
    }
    *left = open;
    if (open == 0) return true;
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(200ms);
  }
}

}  // namespace hooklog::reliability

#endif  // HOOKLOG_TESTS_RELIABILITY_CRASH_SUPPORT_H_
