// Daemon: webhookd assembled — RocksDB storage in the data directory, the
// engine, the Api and the HTTP server on the engine's threads.
//
// main() runs one; the end-to-end tests run several in-process.
//
// Thread-safety: Start and Stop from a thread that is not one of the
// engine's. Ownership: owns everything it opens; the destructor stops.
#ifndef HOOKLOG_WEBHOOKD_DAEMON_H_
#define HOOKLOG_WEBHOOKD_DAEMON_H_

#include <memory>
#include <string>

#include "hooklog/engine.h"
#include "hooklog/status.h"
#include "webhookd/config.h"

namespace webhookd {

class OperatorNotifier;

class Api;
class Server;

class Daemon {
 public:
  // Opens the data directory and the engine and starts serving. Errors name
  // what failed (e.g. the directory is locked by another process, the
  // address is in use).
  static hooklog::Result<std::unique_ptr<Daemon>> Start(Config config);

  ~Daemon();

  // "http://127.0.0.1:8080" ("http://[::1]:8080" for IPv6).
  std::string url() const;
  std::string host() const;
  uint16_t port() const;
  hooklog::Engine* engine() { return engine_.get(); }

  // Stops accepting, drains in-flight attempts for up to config.drain, and
  // closes storage. Idempotent.
  void Stop();

 private:
  Daemon() = default;

  Config config_;
  std::unique_ptr<OperatorNotifier> notifier_;  // outlives engine_
  std::unique_ptr<hooklog::Engine> engine_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Server> server_;
  bool stopped_ = false;
};

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_DAEMON_H_
