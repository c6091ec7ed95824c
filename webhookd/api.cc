#include "webhookd/api.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <utility>

#include "webhookd/request.h"
#include "webhookd/routes.h"

namespace webhookd {

namespace http = boost::beast::http;

Api::Api(hooklog::Engine* engine, ApiOptions options)
    : engine_(engine), options_(std::move(options)) {
  for (const auto& k : options_.api_keys) {
    std::array<unsigned char, 32> d;
    SHA256(reinterpret_cast<const unsigned char*>(k.data()), k.size(),
           d.data());
    key_digests_.push_back(d);
  }
}

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
      if (res.result() != http::status::no_content) {
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

  if (path == "/healthz" || path == "/healthz/") {
    if (req.method() != http::verb::get) {
      return done(MethodNotAllowedResponse("GET, HEAD"));
    }
    return done(JsonResponse(200, R"({"status":"ok"})"));
  }
  auto key = req.find(
      boost::beast::string_view(kApiKeyHeader.data(), kApiKeyHeader.size()));
  if (key == req.end() || !Authenticate(std::string_view(
                              key->value().data(), key->value().size()))) {
    return done(UnauthorizedResponse());
  }
  if (path == "/metrics" || path == "/metrics/") {
    if (req.method() != http::verb::get) {
      return done(MethodNotAllowedResponse("GET, HEAD"));
    }
    HttpResponse res{http::status::ok, 11};
    res.set(http::field::content_type,
            "text/plain; version=0.0.4; charset=utf-8");
    res.body() = RenderMetrics(engine_->Stats());
    res.prepare_payload();
    return done(std::move(res));
  }
  std::string_view base = kBasePath.substr(0, kBasePath.size() - 1);
  if (!path.starts_with(base) ||
      (path.size() > base.size() && path[base.size()] != '/')) {
    return done(ErrorResponse(404, "no such route: " + std::string(path)));
  }
  path.remove_prefix(base.size());
  Route(RouteContext{engine_, &options_}, req, path, ParseQuery(query), done);
}

}  // namespace webhookd
