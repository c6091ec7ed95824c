// Transport: sends one signed HTTP attempt and reports what happened.
//
// The engine hands the transport an AttemptRequest (the exact body, the
// secrets to sign with, the endpoint's headers and limits); the transport
// signs it (see signing.h), POSTs it, and calls `done` exactly once with an
// AttemptResult. A failed attempt is a result, not an error.
//
// The default transport (NewCurlTransport) drives libcurl's multi interface
// on a Boost.Asio io_context; tests use a scripted transport
// (tests/support/scripted_transport.h).
//
// Thread-safety: Send() and Shutdown() may be called from any thread.
// Ownership: the engine owns its transport; `done` callbacks must not be
// invoked after the transport is destroyed.
#ifndef HOOKLOG_TRANSPORT_H_
#define HOOKLOG_TRANSPORT_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hooklog/clock.h"
#include "hooklog/types.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace hooklog {

// Characters of the response body kept for the delivery record.
inline constexpr size_t kResponseBodyChars = 256;

struct AttemptRequest {
  std::string url;
  std::string body;         // the exact bytes to send and sign
  std::string webhook_id;   // "evt_<id>", stable across retries/replays
  std::string delivery_id;  // shortuuid (X-Closient-Delivery-ID)
  std::string event_type;   // X-Closient-Event-Type
  SignatureScheme scheme = SignatureScheme::kStandard;
  std::vector<std::string> secrets;  // every valid secret, newest first
  HeaderList headers;                // the endpoint's custom headers
  bool http2 = false;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{15000};  // from when the request starts
};

struct AttemptResult {
  std::optional<int> http_status_code;       // null when no response
  std::optional<std::string> response_body;  // first 256 chars, UTF-8 safe
  ErrorClass error = ErrorClass::kNone;
  std::string error_detail;  // for logs; may be empty
  // Parsed Retry-After (seconds or HTTP-date), as a delay from now.
  std::optional<std::chrono::seconds> retry_after;
  std::chrono::microseconds latency{0};
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Starts an attempt. `done` is called exactly once, on a thread of the
  // transport's io_context, never inside Send().
  virtual void Send(AttemptRequest request,
                    std::function<void(AttemptResult)> done) = 0;

  // Stops new attempts and aborts in-flight ones: each pending `done` is
  // called with ErrorClass::kOther ("shutdown"). Idempotent.
  virtual void Shutdown() = 0;

  // Attempts currently in flight.
  virtual size_t InFlight() const = 0;
};

struct TransportOptions {
  // Loopback and private addresses are refused unless this is set (local
  // development, tests). docs/transport.md "SSRF" has the full block list.
  bool allow_private_targets = false;
  // Response bytes read at most; more aborts the attempt with kTooLarge.
  size_t max_response_bytes = 64 * 1024;
  // Abort when fewer than low_speed_bytes/s arrive for low_speed_time.
  long low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{10};
  // Extra CA bundle (PEM) trusted in addition to the system store; "" none.
  std::string ca_file;
  // Idle connections kept open per multi handle (CURLMOPT_MAXCONNECTS). 0:
  // four per attempt at the highest concurrency the handle has seen (curl's
  // own rule, applied to peak rather than current in-flight so bursts keep
  // their connections).
  long max_connections = 0;
  // Attempts are spread over several libcurl multi handles, each on its own
  // strand, so that none carries more than `transfers_per_handle` at once
  // (libcurl 7.88's per-transfer cost grows with a handle's connections;
  // docs/transport.md). A handle is added only when every handle is that
  // busy, up to `max_handles`; below it there is exactly one. 0: a single
  // handle however busy.
  size_t transfers_per_handle = 1000;
  size_t max_handles = 16;
  // "hooklog/<version>" when empty.
  std::string user_agent;
};

// Whether `url`'s host is a loopback or private destination by its spelling
// alone: "localhost" or a name under ".localhost", or a literal IPv4/IPv6
// address (any form inet_pton accepts, brackets allowed) in a range the
// transport refuses to connect to. A name that merely resolves to such an
// address is not detected here; the transport refuses it at connect time
// (the check runs on the address being connected to, so DNS rebinding is
// caught too). webhookd uses this to refuse such URLs when an endpoint is
// created. Thread-safety: a pure function.
bool IsPrivateDestination(std::string_view url);

// The libcurl-multi transport on `io`. `io` must outlive the transport and be
// run by at least one thread.
std::unique_ptr<Transport> NewCurlTransport(boost::asio::io_context& io,
                                            TransportOptions options = {});

}  // namespace hooklog

#endif  // HOOKLOG_TRANSPORT_H_
