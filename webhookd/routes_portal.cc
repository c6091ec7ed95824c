// Portal links (operators mint a tenant's signed link) and session/ (who
// the caller is, so that the portal shows the pages it may use).
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "webhookd/portal_token.h"
#include "webhookd/routes_common.h"

namespace webhookd {
namespace {

using hooklog::cli::JsonWriter;

constexpr auto kDefaultTtl = std::chrono::hours(1);
constexpr auto kMinTtl = std::chrono::minutes(1);
constexpr auto kMaxTtl = std::chrono::hours(24 * 30);
// A scope is a handful of keys; the endpoint limits bound their lengths.
constexpr size_t kMaxScopeKeys = 16;
constexpr size_t kMaxKeyChars = 128;
constexpr size_t kMaxValueChars = 512;

// Code points, as the engine counts metadata lengths.
size_t Chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void CreatePortalLink(const RouteContext& ctx, const HttpRequest& req,
                      const Done& done) {
  if (ctx.tenant()) return done(OperatorOnlyResponse("creating portal links"));
  std::optional<HttpResponse> bad;
  auto body = ParseObject(req.body(), &bad);
  if (!body) return done(std::move(*bad));
  auto obj = body->object;
  std::vector<FieldError> errors;
  PortalClaims claims;
  if (auto m = GetStringMap(obj, "metadata", &errors)) {
    for (auto& [k, v] : *m) {
      if (k.empty() || Chars(k) > kMaxKeyChars || v.empty() ||
          Chars(v) > kMaxValueChars) {
        errors.push_back({"metadata",
                          "metadata keys need 1 to 128 characters and values "
                          "1 to 512"});
        break;
      }
      claims.metadata[k] = v;
    }
    if (m->empty()) {
      errors.push_back(
          {"metadata",
           "metadata must not be empty: it is the tenant's scope (an empty "
           "one would be every endpoint)"});
    } else if (m->size() > kMaxScopeKeys) {
      errors.push_back({"metadata", "metadata may hold at most 16 keys"});
    }
  } else if (!Member(obj, "metadata")) {
    errors.push_back({"metadata",
                      "metadata is required: an object of strings naming the "
                      "tenant, e.g. {\"customer\":\"acme\"}"});
  }
  hooklog::Duration ttl = kDefaultTtl;
  if (Member(obj, "ttl")) {
    std::vector<FieldError> ttl_errors;
    auto t = GetDuration(obj, "ttl", &ttl_errors);
    if (!t || *t < kMinTtl || *t > kMaxTtl) {
      errors.push_back(
          {"ttl", "ttl must be a duration from 1m to 30d, like \"1h\""});
    } else {
      ttl = *t;
    }
  }
  if (!errors.empty()) return done(ValidationResponse(std::move(errors)));
  claims.issued_at = UnixNow();
  claims.expires_at =
      claims.issued_at +
      std::chrono::duration_cast<std::chrono::seconds>(ttl).count();
  const std::string token =
      SignPortalToken(DerivePortalKey(ctx.options->api_keys.front()), claims);
  Log(LogLevel::kInfo, "portal link created",
      {{"expires_at",
        hooklog::FormatIso8601(claims.expires_at * hooklog::kSecond)}});
  JsonWriter w;
  w.BeginObject();
  w.Key("url").String(ctx.api->public_url() + "/ui/#token=" + token);
  w.Key("token").String(token);
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : claims.metadata) w.Key(k).String(v);
  w.EndObject();
  w.Key("expires_at")
      .String(hooklog::FormatIso8601(claims.expires_at * hooklog::kSecond));
  w.EndObject();
  done(JsonResponse(201, std::move(w).Take()));
}

void GetSession(const RouteContext& ctx, const Done& done) {
  const Principal& p = *ctx.principal;
  JsonWriter w;
  w.BeginObject();
  w.Key("kind").String(p.tenant ? "tenant" : "operator");
  w.Key("metadata");
  if (p.tenant) {
    w.BeginObject();
    for (const auto& [k, v] : p.metadata) w.Key(k).String(v);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("expires_at");
  if (p.tenant) {
    w.String(hooklog::FormatIso8601(p.expires_at * hooklog::kSecond));
  } else {
    w.Null();
  }
  w.EndObject();
  done(JsonResponse(200, std::move(w).Take()));
}

}  // namespace webhookd
