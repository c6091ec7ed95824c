// hooklog::receiver::Receiver: a small, fast HTTP/1.1 (and HTTPS) webhook
// receiver (Boost.Beast) that plays a customer's endpoint: the library behind
// the hooklog-receiver tool (tools/receiver/main.cc), and the receiver the
// tests, benchmarks, the reliability suite and hooklog-load run against.
//
// It scripts its behaviour per path or per request (status, delay,
// Retry-After, body size, trickle, close or reset mid-response, never
// answer, a seeded random mix), verifies Standard Webhooks / Closient
// signatures with the secrets configured for a path, and records every
// request for assertions.
//
//   auto rx = Receiver::Start();            // 127.0.0.1, a free port
//   rx->SetReply("/slow", Reply{.delay = 1s});
//   rx->SetSecrets("/", {secret});
//   ... send to rx->Url("/slow") ...
//   rx->WaitForRequests(1, 5s);
//   EXPECT_TRUE(*rx->Requests()[0].signature_ok);
//
// Thread-safety: every method may be called from any thread while the
// receiver runs; scripts run on the receiver's threads (they must be
// thread-safe when Options::threads > 1).
// Ownership: Stop() (or the destructor) closes every connection and joins
// the receiver's threads.
#ifndef HOOKLOG_TOOLS_RECEIVER_RECEIVER_H_
#define HOOKLOG_TOOLS_RECEIVER_RECEIVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hooklog/types.h"

namespace hooklog::receiver {

// What the receiver does with one request.
struct Reply {
  enum class Action {
    kRespond,              // a complete response
    kCloseMidResponse,     // headers + half the body, then FIN
    kResetMidResponse,     // headers + half the body, then RST
    kResetBeforeResponse,  // RST without answering
    kNeverAnswer,          // hold the connection until the client gives up
  };
  int status = 200;
  std::chrono::milliseconds delay{0};      // before the first response byte
  std::optional<std::string> retry_after;  // a Retry-After header value
  std::string body;                        // sent as is when not empty...
  size_t body_size = 0;                    // ...otherwise this many 'x'
  HeaderList headers;                      // extra response headers
  // Trickle: the body is sent `trickle_bytes` at a time, one chunk every
  // `trickle_interval` (for low-speed and total-timeout tests).
  bool trickle = false;
  size_t trickle_bytes = 1;
  std::chrono::milliseconds trickle_interval{100};
  Action action = Action::kRespond;
  // Held (after `delay`) until Receiver::ReleaseHeld(), then answered
  // as the rest of this reply says: lets a test observe N requests in
  // flight at once without depending on timing.
  bool hold = false;
  bool close = false;  // answer "Connection: close" and close afterwards
};

// One recorded request.
struct RecordedRequest {
  std::string method;
  std::string target;      // path and query as sent
  std::string path;        // target without the query
  std::string webhook_id;  // the webhook-id header ("" when absent)
  HeaderList headers;      // in arrival order, names as sent
  std::string body;
  std::chrono::system_clock::time_point arrival;
  std::chrono::steady_clock::time_point arrival_steady;
  // Signature check with the secrets of the path: nullopt when no secrets
  // are configured for it.
  std::optional<bool> signature_ok;
  uint64_t connection_id = 0;  // requests on one keep-alive connection share it
  uint64_t index_on_path = 0;  // 0-based count of requests seen on `path`

  // First header named `name` (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
};

// Decides the reply from the request (and its index on the path).
using Script = std::function<Reply(const RecordedRequest&)>;

// Scripts for common patterns.
// The i-th request on the path gets replies[i]; later ones get the last.
Script Sequence(std::vector<Reply> replies);
// A deterministic random mix (the same seed gives the same sequence of
// choices): with the given probabilities a 500, a 429 (Retry-After: 1), a
// reset, or a delay of up to max_delay; otherwise `ok`.
struct MixSpec {
  uint64_t seed = 1;
  double fail_rate = 0;        // 500
  double rate_limit_rate = 0;  // 429
  double reset_rate = 0;       // RST before the response
  double slow_rate = 0;        // random delay in [0, max_delay]
  std::chrono::milliseconds max_delay{0};
  Reply ok;
};
Script RandomMix(MixSpec spec);

class Receiver {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    uint16_t port = 0;  // 0: a free port
    int threads = 1;
    bool tls = false;  // self-signed certificate generated at start
    // Keep every request (headers, body). Benchmarks turn it off and only
    // count.
    bool record = true;
    size_t max_body_bytes = 16 * 1024 * 1024;
    // Called for every request once its reply is decided (after the
    // signature check and the script), on the receiver's threads: with
    // Options::threads > 1 it must be thread-safe. Sees the request even
    // when `record` is off.
    std::function<void(const RecordedRequest&, const Reply&)> on_request;
  };

  // Starts listening. nullptr (and a message on stderr) when it cannot bind.
  static std::unique_ptr<Receiver> Start(Options options);
  static std::unique_ptr<Receiver> Start() { return Start(Options{}); }

  virtual ~Receiver() = default;

  virtual void Stop() = 0;

  virtual uint16_t port() const = 0;
  // "http://127.0.0.1:<port><path>" ("https://..." when TLS).
  virtual std::string Url(std::string_view path = "/") const = 0;
  // PEM of the self-signed certificate (TLS only; subject CN=localhost,
  // SAN IP:127.0.0.1, DNS:localhost), for a client's ca_file.
  virtual std::string CertificatePem() const = 0;

  // Behaviour. A path-specific setting wins over the default one; a script
  // wins over a fixed reply.
  virtual void SetDefaultReply(Reply reply) = 0;
  virtual void SetReply(std::string path, Reply reply) = 0;
  virtual void SetDefaultScript(Script script) = 0;
  virtual void SetScript(std::string path, Script script) = 0;

  // Signature verification. `path` "" sets the default for every path.
  virtual void SetSecrets(
      std::string path, std::vector<std::string> secrets,
      SignatureScheme scheme = SignatureScheme::kStandard) = 0;

  // Recording and counters.
  virtual std::vector<RecordedRequest> Requests() const = 0;
  virtual std::vector<RecordedRequest> RequestsFor(
      std::string_view path) const = 0;
  virtual uint64_t total() const = 0;
  virtual uint64_t concurrent() const = 0;      // being answered right now
  virtual uint64_t max_concurrent() const = 0;  // since start / ResetStats()
  virtual uint64_t signature_failures() const = 0;
  virtual uint64_t connections_accepted() const = 0;
  // CPU seconds (user + system) the receiver's own threads used so far, for
  // tools that run it in-process and must not count its work as theirs.
  // Not while Stop() runs.
  virtual double ThreadCpuSeconds() const = 0;
  virtual void ResetStats() = 0;  // clears recordings and counters
  // Answers every request held by Reply::hold, now and from now on.
  virtual void ReleaseHeld() = 0;
  // True when total() >= n before the timeout.
  virtual bool WaitForRequests(uint64_t n,
                               std::chrono::milliseconds timeout) const = 0;
};

}  // namespace hooklog::receiver

#endif  // HOOKLOG_TOOLS_RECEIVER_RECEIVER_H_
