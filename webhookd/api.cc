#include "webhookd/api.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <utility>

#include "webhookd/request.h"
#include "webhookd/routes.h"
#include "webhookd/scope.h"
#include "webhookd/ui.h"

namespace webhookd {

namespace http = boost::beast::http;

Api::Api(hooklog::Engine* engine, ApiOptions options)
    : engine_(engine), options_(std::move(options)) {
  for (const auto& k : options_.api_keys) {
    std::array<unsigned char, 32> d;
    SHA256(reinterpret_cast<const unsigned char*>(k.data()), k.size(),
           d.data());
    key_digests_.push_back(d);
    portal_keys_.push_back(DerivePortalKey(k));
  }
  public_url_ = options_.public_url;
}

void Api::SetPublicUrl(std::string url) {
  std::lock_guard lock(url_mu_);
  public_url_ = std::move(url);
}

std::string Api::public_url() const {
  std::lock_guard lock(url_mu_);
  return public_url_;
}

namespace {

std::string_view HeaderValue(const HttpRequest& req, http::field f) {
  auto it = req.find(f);
  if (it == req.end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool Api::Authenticate(std::string_view key) const {
  // Hashing first gives equal-length inputs to CRYPTO_memcmp, so neither the
  // key's length nor its content leaks through timing.
  std::array<unsigned char, 32> d;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
         d.data());
  int match = 0;
  for (const auto& k : key_digests_) {
    match |= CRYPTO_memcmp(d.data(), k.data(), d.size()) == 0;
  }
  return match != 0 && !key.empty();
}

void Api::Handle(HttpRequest req, std::function<void(HttpResponse)> done) {
  if (req.method() == http::verb::head) {
    // RFC 9110 §9.3.2: HEAD is answered like GET (same status and headers,
    // Content-Length of the GET body) without the body. Routes that do not
    // take GET refuse it with their 405, whose Allow has no HEAD.
    req.method(http::verb::get);
    return Handle(std::move(req), [done = std::move(done)](HttpResponse res) {
      if (res.result() != http::status::no_content &&
          res.result() != http::status::not_modified) {
        res.content_length(res.body().size());
      }
      res.body().clear();
      done(std::move(res));
    });
  }
  std::string_view target(req.target().data(), req.target().size());
  size_t qmark = target.find('?');
  std::string_view path = target.substr(0, qmark);
  std::string_view query = qmark == std::string_view::npos
                               ? std::string_view()
                               : target.substr(qmark + 1);

  if (IsUiPath(path)) {
    return done(
        ServeUi(req, path, options_.ui_enabled, options_.portal_assets));
  }
  if (path == "/healthz" || path == "/healthz/") {
    if (req.method() != http::verb::get) {
      return done(MethodNotAllowedResponse("GET, HEAD"));
    }
    int status = 200;
    std::string body =
        RenderHealth(engine_->Stats(), options_.node_id, &status);
    return done(JsonResponse(status, body));
  }
  // An API key, when sent, decides alone: a wrong one is refused even
  // beside a valid token.
  auto principal = std::make_shared<Principal>();
  auto key = req.find(
      boost::beast::string_view(kApiKeyHeader.data(), kApiKeyHeader.size()));
  if (key != req.end()) {
    if (!Authenticate(
            std::string_view(key->value().data(), key->value().size()))) {
      return done(UnauthorizedResponse());
    }
  } else {
    std::string_view auth = HeaderValue(req, http::field::authorization);
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() < kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    })) {
      return done(UnauthorizedResponse());
    }
    PortalClaims claims;
    switch (VerifyPortalToken(portal_keys_, auth.substr(kBearer.size()),
                              UnixNow(), &claims)) {
      case TokenCheck::kOk:
        break;
      case TokenCheck::kExpired:
        return done(UnauthorizedResponse(
            "the portal link has expired; ask for a new one"));
      case TokenCheck::kBadSignature:
        return done(UnauthorizedResponse(
            "the portal token's signature does not match (tampered, or "
            "signed with a key this server no longer has)"));
      case TokenCheck::kMalformed:
        return done(UnauthorizedResponse("the portal token is malformed"));
    }
    principal->tenant = true;
    principal->metadata = std::move(claims.metadata);
    principal->expires_at = claims.expires_at;
  }
  if (path == "/metrics" || path == "/metrics/") {
    if (principal->tenant) {
      return done(UnauthorizedResponse("/metrics needs an operator's API key"));
    }
    if (req.method() != http::verb::get) {
      return done(MethodNotAllowedResponse("GET, HEAD"));
    }
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::content_type,
            "text/plain; version=0.0.4; charset=utf-8");
    res.body() = RenderMetrics(engine_->Stats(), options_.node_id);
    res.prepare_payload();
    return done(std::move(res));
  }
  std::string_view base = kBasePath.substr(0, kBasePath.size() - 1);
  if (!path.starts_with(base) ||
      (path.size() > base.size() && path[base.size()] != '/')) {
    return done(ErrorResponse(404, "no such route: " + std::string(path)));
  }
  path.remove_prefix(base.size());
  Route(RouteContext{engine_, &options_, std::move(principal), this}, req, path,
        ParseQuery(query), done);
}

}  // namespace webhookd
