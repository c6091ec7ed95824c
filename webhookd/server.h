// Server: webhookd's HTTP/1.1 front end on Boost.Beast.
//
// Accepts connections on the given io_context (webhookd passes the engine's,
// so HTTP is served on the engine's threads), reads requests with Beast's
// parser under limits checked before a body byte is buffered (header size,
// Content-Length / body size → 413), hands each request to the Api, and
// writes the response with keep-alive. Every connection runs on its own
// strand; every read, write and handler has a deadline.
//
// Thread-safety: Start/Stop from any thread except the io_context's own.
// Ownership: the io_context and the Api must outlive the Server; after
// Stop(), destroy the Server only once the io_context no longer runs.
#ifndef HOOKLOG_WEBHOOKD_SERVER_H_
#define HOOKLOG_WEBHOOKD_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hooklog/status.h"
#include "webhookd/api.h"

namespace webhookd {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: a free port
  // Largest request body; larger → 413 before reading it.
  size_t max_body_bytes = 1024 * 1024;
  // Request line + headers; larger → 400.
  uint32_t header_limit = 16 * 1024;
  // Idle keep-alive and slow-sender deadline for reading one request.
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  // From the end of the request to the response; past it → 503.
  std::chrono::milliseconds request_deadline{60000};
};

class Server {
 public:
  // Binds and starts accepting. Unavailable with the reason when the address
  // cannot be bound.
  static hooklog::Result<std::unique_ptr<Server>> Start(
      boost::asio::io_context& io, Api* api, ServerOptions options);

  virtual ~Server() = default;
  // The bound address, e.g. "127.0.0.1" or "::1", and port.
  virtual std::string host() const = 0;
  virtual uint16_t port() const = 0;
  // Stops accepting new connections; connections already open keep being
  // served until the io_context stops. Idempotent; blocks until the acceptor
  // is closed.
  virtual void Stop() = 0;
};

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_SERVER_H_
