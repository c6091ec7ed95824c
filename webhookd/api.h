// Api: webhookd's REST API — docs/api.md's routes over a hooklog::Engine.
//
// Handle() takes one parsed HTTP request and completes exactly once with the
// response, possibly on another thread (engine calls answer asynchronously).
// It answers /healthz and the portal's files under /ui/ (ui.h) without
// credentials, authenticates the rest — an operator's X-API-Key (constant
// time) or a tenant's portal token, `Authorization: Bearer <token>`
// (portal_token.h) — answers /metrics (operators only) and hands the rest
// to the routes (routes.h) with who is calling (scope.h). The routes parse
// the request (request.h), call the engine and render its answer
// (render.h); every error uses docs/api.md's envelope (errors.h).
//
// Thread-safety: Handle() may be called concurrently from any thread.
// Ownership: the engine must outlive the Api and every pending Handle().
#ifndef HOOKLOG_WEBHOOKD_API_H_
#define HOOKLOG_WEBHOOKD_API_H_

#include <array>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hooklog/engine.h"
#include "hooklog/status.h"
#include "webhookd/errors.h"
#include "webhookd/http_types.h"
#include "webhookd/portal_assets.h"
#include "webhookd/portal_token.h"

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
  // The base of portal-link URLs ("http://127.0.0.1:8080", no trailing
  // slash); empty until SetPublicUrl when it depends on the bound port.
  std::string public_url;
  // --no-ui: /ui/ answers 404 saying so.
  bool ui_enabled = true;
  // The portal's files (PortalAssets(); empty: built without the portal).
  std::span<const PortalAsset> portal_assets;
  // This node's id in cluster mode (EngineOptions::cluster.node_id), shown
  // by /healthz and /metrics; "": a single node without leases.
  std::string node_id;
};

class Api {
 public:
  Api(hooklog::Engine* engine, ApiOptions options);

  void Handle(HttpRequest req, std::function<void(HttpResponse)> done);

  // True when `key` equals one of the configured keys. Compares SHA-256
  // digests with CRYPTO_memcmp and visits every key, so the time taken does
  // not depend on where a guess first differs nor on which key matched.
  bool Authenticate(std::string_view key) const;

  // The base of portal-link URLs. Set once the listening port is known
  // (--public-url's default is the bound address); safe beside requests.
  void SetPublicUrl(std::string url);
  std::string public_url() const;

 private:
  hooklog::Engine* engine_;
  ApiOptions options_;
  std::vector<std::array<unsigned char, 32>> key_digests_;
  // One per API key, in order: tokens are signed with the first and
  // accepted under any.
  std::vector<PortalKey> portal_keys_;
  mutable std::mutex url_mu_;
  std::string public_url_;  // guarded by url_mu_
};

// Prometheus text exposition (version 0.0.4) of the engine's stats. With a
// node id (cluster mode) the cluster families and an info metric carrying
// the id (hooklog_node_info{node_id="..."} 1) are added.
std::string RenderMetrics(const hooklog::EngineStats& stats,
                          std::string_view node_id = {});

// /healthz's body: {"status":"ok"|"unavailable","storage":"reachable"|
// "unreachable"} plus, with a node id, "node_id" and "partitions_owned".
// *http_status is 200, or 503 when the store is unreachable.
std::string RenderHealth(const hooklog::EngineStats& stats,
                         std::string_view node_id, int* http_status);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_API_H_
