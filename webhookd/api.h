// Api: webhookd's REST API — docs/api.md's routes over a hooklog::Engine.
//
// Handle() takes one parsed HTTP request and completes exactly once with the
// response, possibly on another thread (engine calls answer asynchronously).
// It answers /healthz, authenticates (X-API-Key, constant time), answers
// /metrics and hands the rest to the routes (routes.h), which parse the
// request (request.h), call the engine and render its answer (render.h);
// every error uses docs/api.md's envelope (errors.h).
//
// Thread-safety: Handle() may be called concurrently from any thread.
// Ownership: the engine must outlive the Api and every pending Handle().
#ifndef HOOKLOG_WEBHOOKD_API_H_
#define HOOKLOG_WEBHOOKD_API_H_

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "hooklog/engine.h"
#include "hooklog/status.h"
#include "webhookd/errors.h"
#include "webhookd/http_types.h"

namespace webhookd {

struct ApiOptions {
  std::vector<std::string> api_keys;
  // Refuse endpoint URLs whose host is literally loopback/private/"localhost"
  // (the transport also refuses such addresses when it connects).
  bool allow_private_targets = false;
  // The engine's defaults (EngineOptions), shown as the effective settings
  // of endpoints that set none of their own.
  uint32_t default_max_in_flight = 32;
  hooklog::CircuitBreakerOptions circuit_breaker;
  hooklog::Duration auto_disable_after = std::chrono::hours(24 * 5);
};

class Api {
 public:
  Api(hooklog::Engine* engine, ApiOptions options);

  void Handle(HttpRequest req, std::function<void(HttpResponse)> done);

  // True when `key` equals one of the configured keys. Compares SHA-256
  // digests with CRYPTO_memcmp and visits every key, so the time taken does
  // not depend on where a guess first differs nor on which key matched.
  bool Authenticate(std::string_view key) const;

 private:
  hooklog::Engine* engine_;
  ApiOptions options_;
  std::vector<std::array<unsigned char, 32>> key_digests_;
};

// Prometheus text exposition (version 0.0.4) of the engine's stats.
std::string RenderMetrics(const hooklog::EngineStats& stats);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_API_H_
