#include "webhookd/routes.h"

#include <string>
#include <vector>

#include "webhookd/routes_common.h"

namespace webhookd {

namespace http = boost::beast::http;

// --- routing -----------------------------------------------------------------

void Route(const RouteContext& ctx, const HttpRequest& req,
           std::string_view path, const QueryParams& q, const Done& done) {
  const http::verb m = req.method();
  // Segments after the base path; a trailing slash is optional.
  std::vector<std::string_view> seg;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view s = path.substr(0, slash);
    if (!s.empty()) seg.push_back(s);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  auto not_found = [&] {
    done(ErrorResponse(
        404, "no such route: " +
                 std::string(req.target().data(), req.target().size())));
  };
  auto not_allowed = [&](std::string_view allow) {
    done(MethodNotAllowedResponse(allow));
  };
  if (seg.empty()) return not_found();

  if (seg[0] == "endpoints") {
    if (seg.size() == 1) {
      if (m == http::verb::get) return ListEndpoints(ctx, q, done);
      if (m == http::verb::post) return CreateEndpoint(ctx, req, done);
      return not_allowed("GET, HEAD, POST");
    }
    if (seg.size() > 3) return not_found();
    if (seg.size() == 3 && seg[2] != "test" && seg[2] != "rotate-secret") {
      return not_found();
    }
    auto id = hooklog::EndpointId::Parse(seg[1]);
    if (seg.size() == 2) {
      if (m != http::verb::get && m != http::verb::patch &&
          m != http::verb::delete_) {
        return not_allowed("GET, HEAD, PATCH, DELETE");
      }
    } else if (m != http::verb::post) {
      return not_allowed("POST");
    }
    if (!id.ok()) return done(ValidationResponse({BadIdError("endpoint_id")}));
    if (seg.size() == 2) {
      if (m == http::verb::get) return GetEndpoint(ctx, *id, done);
      if (m == http::verb::patch) return UpdateEndpoint(ctx, *id, req, done);
      return DeleteEndpoint(ctx, *id, done);
    }
    if (seg[2] == "test") return SendTest(ctx, *id, done);
    return RotateSecret(ctx, *id, done);
  }
  if (seg[0] == "deliveries") {
    if (seg.size() == 1) {
      if (m == http::verb::get) return ListDeliveries(ctx, q, done);
      return not_allowed("GET, HEAD");
    }
    if (seg.size() == 2 && seg[1] == "replay") {
      if (m == http::verb::post) return StartReplayJob(ctx, req, done);
      return not_allowed("POST");
    }
    if (seg.size() > 3 || (seg.size() == 3 && seg[2] != "replay")) {
      return not_found();
    }
    if (seg.size() == 2 && m != http::verb::get) {
      return not_allowed("GET, HEAD");
    }
    if (seg.size() == 3 && m != http::verb::post) return not_allowed("POST");
    auto id = hooklog::DeliveryId::Parse(seg[1]);
    if (!id.ok()) return done(ValidationResponse({BadIdError("delivery_id")}));
    if (seg.size() == 2) return GetDelivery(ctx, *id, done);
    return Replay(ctx, *id, done);
  }
  if (seg[0] == "events" && seg.size() <= 2) {
    if (seg.size() == 1) {
      if (m == http::verb::post) return Publish(ctx, req, done);
      return not_allowed("POST");
    }
    if (m == http::verb::get) return GetEvent(ctx, seg[1], done);
    return not_allowed("GET, HEAD");
  }
  if (seg[0] == "stats" &&
      (seg.size() == 1 || (seg.size() == 2 && seg[1] == "endpoints"))) {
    if (m != http::verb::get) return not_allowed("GET, HEAD");
    if (seg.size() == 1) return GetStats(ctx, q, done);
    return GetEndpointStats(ctx, q, done);
  }
  if (seg[0] == "replay-jobs" && seg.size() <= 2) {
    if (m != http::verb::get) return not_allowed("GET, HEAD");
    if (seg.size() == 1) return ListReplayJobs(ctx, done);
    return GetReplayJob(ctx, seg[1], done);
  }
  if (seg[0] == "portal-links" && seg.size() == 1) {
    if (m == http::verb::post) return CreatePortalLink(ctx, req, done);
    return not_allowed("POST");
  }
  if (seg[0] == "session" && seg.size() == 1) {
    if (m == http::verb::get) return GetSession(ctx, done);
    return not_allowed("GET, HEAD");
  }
  return not_found();
}

}  // namespace webhookd
