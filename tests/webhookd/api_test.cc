// webhookd end to end: in-process daemons (RocksDB in a temporary directory,
// the real Beast server, the curl transport) and the real test receiver,
// over HTTP on loopback. Every response is also checked against
// docs/openapi.yaml (OpenApi::Check in Call()).
#include "webhookd/api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hooklog/signing.h"
#include "tests/webhookd/daemon_fixture.h"
#include "tests/webhookd/support.h"
#include "tools/receiver/receiver.h"
#include "webhookd/daemon.h"
#include "webhookd/log.h"

namespace webhookd_test {
namespace {

using hooklog::receiver::Receiver;
using hooklog::receiver::Reply;
using namespace std::chrono_literals;

constexpr const char* kKey = kFixtureKey;
const std::string& kBase = kApiBase;
const std::regex kIdRe(
    "^[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{22}$");
const std::set<std::string> kStatuses = {"pending", "delivered", "failed",
                                         "rate_limited", "dead_letter"};

std::string Q(const std::string& s) { return Quote(s); }

// The shared fixture (daemon_fixture.h), started with a second API key and
// a faster retry schedule.
class WebhookdTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Start(BaseConfig());
  }

  webhookd::Config BaseConfig() {
    webhookd::Config c = DaemonFixture::BaseConfig();
    c.api_keys = {kKey, "second-key-0123456789"};
    c.retry_schedule = {0s, 200ms, 200ms};
    return c;
  }
};

// --- auth, health, routing --------------------------------------------------

TEST_F(WebhookdTest, HealthzNeedsNoKeyEverythingElseDoes) {
  for (const std::string& p :
       std::vector<std::string>{"/healthz", "/healthz/"}) {
    HttpResult r = Call("GET", p, "", {});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"status":"ok","storage":"reachable"})");
  }
  for (const std::string& p :
       std::vector<std::string>{"endpoints/", "deliveries/", "/metrics"}) {
    ExpectError(Call("GET", p, "", {}), 401, "UNAUTHORIZED");
    ExpectError(Call("GET", p, "", {{"X-API-Key", "wrong"}}), 401,
                "UNAUTHORIZED");
    ExpectError(Call("GET", p, "", {{"X-API-Key", std::string(kKey) + "x"}}),
                401, "UNAUTHORIZED");
    ExpectError(Call("GET", p, "", {{"X-API-Key", ""}}), 401, "UNAUTHORIZED");
  }
  ExpectError(Call("POST", "events/", "{}", {}), 401, "UNAUTHORIZED");
  // Either configured key works.
  EXPECT_EQ(
      Call("GET", "endpoints/", "", {{"X-API-Key", "second-key-0123456789"}})
          .status,
      200);
}

TEST_F(WebhookdTest, AuthenticateComparesWholeKeys) {
  webhookd::Api api(daemon_->engine(), {.api_keys = {kKey}});
  EXPECT_TRUE(api.Authenticate(kKey));
  EXPECT_FALSE(api.Authenticate(""));
  EXPECT_FALSE(api.Authenticate(std::string(kKey).substr(0, 10)));
  EXPECT_FALSE(api.Authenticate(std::string(kKey) + std::string(1, '\0')));
}

TEST_F(WebhookdTest, WrongMethodsUnknownRoutesAndTrailingSlashes) {
  const std::string ep = CreateEndpoint("/ok");
  const std::string d = Publish("x.y")[0];
  struct Case {
    std::string method, path, allow;
  };
  for (const Case& c : std::vector<Case>{
           {"PUT", "endpoints/", "GET, HEAD, POST"},
           {"DELETE", "endpoints", "GET, HEAD, POST"},
           {"POST", "endpoints/" + ep + "/", "GET, HEAD, PATCH, DELETE"},
           {"GET", "endpoints/" + ep + "/test/", "POST"},
           {"GET", "endpoints/" + ep + "/rotate-secret", "POST"},
           {"POST", "deliveries/", "GET, HEAD"},
           {"DELETE", "deliveries/" + d + "/", "GET, HEAD"},
           {"GET", "deliveries/" + d + "/replay/", "POST"},
           {"GET", "events/", "POST"},
           {"POST", "/metrics", "GET, HEAD"},
           {"POST", "/healthz", "GET, HEAD"},
       }) {
    HttpResult r = Call(c.method, c.path);
    ExpectError(r, 405, "METHOD_NOT_ALLOWED");
    EXPECT_EQ(r.Header("allow"), c.allow) << c.method << " " << c.path;
  }
  for (const std::string& p :
       std::vector<std::string>{"nope/", "endpoints/" + ep + "/nope/",
                                "deliveries/" + d + "/replay/x/",
                                "/integrations/api/v1/webhooksx/endpoints/",
                                "/", "/integrations/api/v1/"}) {
    ExpectError(Call("GET", p), 404, "NOT_FOUND");
  }
  // With and without the trailing slash.
  for (const std::string& p : std::vector<std::string>{
           "endpoints", "endpoints/", "endpoints/" + ep,
           "endpoints/" + ep + "/", "deliveries", "deliveries/" + d,
           "deliveries?page=1", "deliveries/?page=1"}) {
    EXPECT_EQ(Call("GET", p).status, 200) << p;
  }
  EXPECT_EQ(Call("POST", "endpoints/" + ep + "/test").status, 200);
  EXPECT_EQ(Call("POST", "events", R"({"type":"a","data":{}})").status, 202);
  // Everything above ran on one keep-alive connection.
  EXPECT_EQ(client_->reconnects(), 0);
}

TEST_F(WebhookdTest, MalformedPathIdsAre422UnknownOnesAre404) {
  const std::string unknown = "2222222222222222222222";  // well-formed, absent
  for (const std::string& bad : std::vector<std::string>{
           "abc", "0OIl0OIl0OIl0OIl0OIl0O", "22222222222222222222222",
           "zzzzzzzzzzzzzzzzzzzzzz" /* >= 2^128 */}) {
    ExpectError(Call("GET", "endpoints/" + bad + "/"), 422, "VALIDATION_ERROR",
                "endpoint_id");
    ExpectError(Call("PATCH", "endpoints/" + bad + "/", "{}"), 422,
                "VALIDATION_ERROR", "endpoint_id");
    ExpectError(Call("DELETE", "endpoints/" + bad + "/"), 422,
                "VALIDATION_ERROR", "endpoint_id");
    ExpectError(Call("POST", "endpoints/" + bad + "/test/"), 422,
                "VALIDATION_ERROR", "endpoint_id");
    ExpectError(Call("POST", "endpoints/" + bad + "/rotate-secret/"), 422,
                "VALIDATION_ERROR", "endpoint_id");
    ExpectError(Call("GET", "deliveries/" + bad + "/"), 422, "VALIDATION_ERROR",
                "delivery_id");
    ExpectError(Call("POST", "deliveries/" + bad + "/replay/"), 422,
                "VALIDATION_ERROR", "delivery_id");
  }
  ExpectError(Call("GET", "endpoints/" + unknown + "/"), 404, "NOT_FOUND");
  ExpectError(Call("PATCH", "endpoints/" + unknown + "/", "{}"), 404,
              "NOT_FOUND");
  ExpectError(Call("DELETE", "endpoints/" + unknown + "/"), 404, "NOT_FOUND");
  ExpectError(Call("POST", "endpoints/" + unknown + "/test/"), 404,
              "NOT_FOUND");
  ExpectError(Call("POST", "endpoints/" + unknown + "/rotate-secret/"), 404,
              "NOT_FOUND");
  ExpectError(Call("GET", "deliveries/" + unknown + "/"), 404, "NOT_FOUND");
  ExpectError(Call("POST", "deliveries/" + unknown + "/replay/"), 404,
              "NOT_FOUND");
}

TEST_F(WebhookdTest, BodyAndHeaderLimitsAndMalformedRequests) {
  // Over the server's body limit: refused with 413 before parsing.
  std::string huge =
      R"({"type":"a","data":{"s":")" + std::string(400 * 1024, 'x') + "\"}}";
  ExpectError(Call("POST", "events/", huge), 413, "PAYLOAD_TOO_LARGE");
  // Under the server's limit but over the engine's payload limit (256 KiB).
  std::string big =
      R"({"type":"a","data":{"s":")" + std::string(300 * 1024, 'x') + "\"}}";
  ExpectError(Call("POST", "events/", big), 413, "PAYLOAD_TOO_LARGE");
  // A declared length alone is enough: the body is never read.
  std::string raw = RawExchange(
      daemon_->host(), daemon_->port(),
      "POST " + kBase + "events/ HTTP/1.1\r\nHost: x\r\nX-API-Key: " + kKey +
          "\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw;
  EXPECT_NE(raw.find(R"("code":"PAYLOAD_TOO_LARGE")"), std::string::npos);
  // Headers over 16 KiB.
  raw = RawExchange(daemon_->host(), daemon_->port(),
                    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                        std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw.substr(0, 200);
  EXPECT_NE(raw.find(R"("code":"BAD_REQUEST")"), std::string::npos);
  raw = RawExchange(daemon_->host(), daemon_->port(), "GARBAGE\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw;
  // Malformed JSON, invalid UTF-8, not an object: 400.
  for (const std::string& body : std::vector<std::string>{
           "{", "{\"type\":\"a\",\"data\":{}", "[]", "\"x\"", "",
           "{\"type\":\"a\xff\",\"data\":{}}"}) {
    ExpectError(Call("POST", "events/", body), 400, "BAD_REQUEST");
    ExpectError(Call("POST", "endpoints/", body), 400, "BAD_REQUEST");
  }
}

// Appends fail while `fail` is set, as a full disk would.
class FailingStorage : public hooklog::ForwardingStorage {
 public:
  FailingStorage(std::unique_ptr<hooklog::Storage> s, std::atomic<bool>* fail)
      : ForwardingStorage(std::move(s)), fail_(fail) {}
  hooklog::Result<uint64_t> Append(hooklog::WriteBatch* batch) override {
    if (*fail_) return hooklog::Status::Unavailable("injected: disk full");
    return ForwardingStorage::Append(batch);
  }

 private:
  std::atomic<bool>* fail_;
};

TEST_F(WebhookdTest, StorageFailingIs503AndChangesNothing) {
  static std::atomic<bool> fail{false};
  auto c = BaseConfig();
  c.wrap_storage = [](std::unique_ptr<hooklog::Storage> s) {
    return std::unique_ptr<hooklog::Storage>(
        std::make_unique<FailingStorage>(std::move(s), &fail));
  };
  Start(c);
  const std::string id = CreateEndpoint("/s", R"("description":"before")");
  fail = true;
  ExpectError(Call("POST", "endpoints/", "{\"url\":" + Q(rx_->Url("/t")) + "}"),
              503, "UNAVAILABLE");
  ExpectError(
      Call("PATCH", "endpoints/" + id + "/", R"({"description":"after"})"), 503,
      "UNAVAILABLE");
  ExpectError(Call("POST", "events/", R"({"type":"a","data":{}})"), 503,
              "UNAVAILABLE");
  ExpectError(Call("DELETE", "endpoints/" + id + "/"), 503, "UNAVAILABLE");
  // Reads still work, and show nothing changed.
  Json list = CallJson("GET", "endpoints/", 200);
  EXPECT_EQ(list.Int("pagination/total_count"), 1);
  EXPECT_EQ(list.Str("data/0/description"), "before");
  EXPECT_EQ(CallJson("GET", "deliveries/", 200).Int("pagination/total_count"),
            0);
  fail = false;
  EXPECT_EQ(CallJson("PATCH", "endpoints/" + id + "/", 200,
                     R"({"description":"after"})")
                .Str("description"),
            "after");
}

TEST_F(WebhookdTest, StatusMappingCoversUnavailable) {
  // Storage failing maps to 503 with the envelope (engine Unavailable).
  auto r = webhookd::StatusResponse(hooklog::Status::Unavailable("disk full"));
  EXPECT_EQ(r.result_int(), 503);
  Json j(r.body());
  EXPECT_EQ(j.Str("error/code"), "UNAVAILABLE");
  EXPECT_TRUE(j.IsNull("error/details"));
  auto c = webhookd::StatusResponse(hooklog::Status::Corruption("bad"));
  EXPECT_EQ(c.result_int(), 500);
  EXPECT_EQ(Json(c.body()).Str("error/code"), "INTERNAL_ERROR");
}

// --- endpoints
// -----------------------------------------------------------------

TEST_F(WebhookdTest, EndpointObjectAndSecretMasking) {
  Json created = CallJson(
      "POST", "endpoints/", 201,
      "{\"url\":" + Q(rx_->Url("/hook")) +
          R"(,"description":"caf\u00e9 \"quoted\"","event_types":["order.*","invoice.paid"],)"
          R"("metadata":{"team":"billing","env":"prod"},"signature_scheme":"closient",)"
          R"("headers":{"X-Tenant":"t1"},"rate_limit_per_s":2.5,"max_in_flight":4,"fifo":true})");
  const std::string id = created.Str("id");
  EXPECT_TRUE(std::regex_match(id, kIdRe)) << id;
  EXPECT_EQ(created.Str("url"), rx_->Url("/hook"));
  const std::string secret = created.Str("signing_secret");
  EXPECT_TRUE(
      std::regex_match(secret, std::regex("^whsec_[A-Za-z0-9+/]{43}=$")))
      << secret;
  EXPECT_TRUE(hooklog::ValidateSigningSecret(secret).ok());
  EXPECT_TRUE(created.Bool("is_active"));
  EXPECT_EQ(created.Str("description"), "caf\xC3\xA9 \"quoted\"");
  EXPECT_EQ(simdjson::minify(created["event_types"]),
            R"(["order.*","invoice.paid"])");
  EXPECT_EQ(simdjson::minify(created["metadata"]),
            R"({"env":"prod","team":"billing"})");
  EXPECT_TRUE(
      std::regex_match(created.Str("created_at"),
                       std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$)")));
  EXPECT_EQ(created.Str("created_at"), created.Str("updated_at"));
  EXPECT_EQ(created.Str("signature_scheme"), "closient");
  EXPECT_EQ(simdjson::minify(created["headers"]), R"({"X-Tenant":"t1"})");
  double rate = 0;
  EXPECT_FALSE(created["rate_limit_per_s"].get_double().get(rate));
  EXPECT_EQ(rate, 2.5);
  EXPECT_EQ(created.Int("max_in_flight"), 4);
  EXPECT_TRUE(created.Bool("fifo"));
  EXPECT_TRUE(created.IsNull("disabled_reason"));

  // Masked everywhere else: "whsec_…" + the last 4 characters.
  const std::string masked =
      "whsec_\xE2\x80\xA6" + secret.substr(secret.size() - 4);
  Json got = CallJson("GET", "endpoints/" + id + "/", 200);
  EXPECT_EQ(got.Str("signing_secret"), masked);
  Json list = CallJson("GET", "endpoints/", 200);
  EXPECT_EQ(list.Str("data/0/signing_secret"), masked);
  Json patched =
      CallJson("PATCH", "endpoints/" + id + "/", 200, R"({"description":"x"})");
  EXPECT_EQ(patched.Str("signing_secret"), masked);

  // Rotation shows the new secret in full, once.
  Json rotated = CallJson("POST", "endpoints/" + id + "/rotate-secret/", 200);
  const std::string secret2 = rotated.Str("signing_secret");
  EXPECT_NE(secret2, secret);
  EXPECT_TRUE(hooklog::ValidateSigningSecret(secret2).ok());
  EXPECT_EQ(CallJson("GET", "endpoints/" + id, 200).Str("signing_secret"),
            "whsec_\xE2\x80\xA6" + secret2.substr(secret2.size() - 4));

  // Defaults.
  Json plain = CallJson("POST", "endpoints/", 201,
                        "{\"url\":" + Q(rx_->Url("/p")) + "}");
  EXPECT_EQ(plain.Str("description"), "");
  EXPECT_EQ(simdjson::minify(plain["event_types"]), R"(["*"])");
  EXPECT_EQ(simdjson::minify(plain["metadata"]), "{}");
  EXPECT_EQ(plain.Str("signature_scheme"), "standard");
  EXPECT_TRUE(plain.IsNull("rate_limit_per_s"));
  EXPECT_FALSE(plain.Bool("fifo"));
}

TEST_F(WebhookdTest, EndpointCreateValidation) {
  struct Case {
    std::string body, field;
  };
  const std::string url = Q(rx_->Url("/v"));
  for (const Case& c : std::vector<Case>{
           {"{}", "url"},
           {R"({"url":null})", "url"},
           {R"({"url":5})", "url"},
           {R"({"url":"ftp://example.com/x"})", "url"},
           {R"({"url":"not a url"})", "url"},
           {"{\"url\":\"https://example.com/" + std::string(2100, 'a') + "\"}",
            "url"},
           {"{\"url\":" + url + ",\"signing_secret\":\"whsec_abc\"}",
            "signing_secret"},
           {"{\"url\":" + url + ",\"event_types\":\"x\"}", "event_types"},
           {"{\"url\":" + url + ",\"event_types\":[1]}", "event_types"},
           {"{\"url\":" + url + ",\"event_types\":[\"bad type\"]}", ""},
           {"{\"url\":" + url + ",\"metadata\":{\"k\":1}}", "metadata"},
           {"{\"url\":" + url + ",\"metadata\":[]}", "metadata"},
           {"{\"url\":" + url + ",\"description\":\"" + std::string(300, 'd') +
                "\"}",
            "description"},
           {"{\"url\":" + url + ",\"signature_scheme\":\"hmac\"}",
            "signature_scheme"},
           {"{\"url\":" + url + ",\"headers\":{\"Content-Type\":\"x\"}}", ""},
           {"{\"url\":" + url + ",\"rate_limit_per_s\":-1}",
            "rate_limit_per_s"},
           {"{\"url\":" + url + ",\"max_in_flight\":1.5}", "max_in_flight"},
           {"{\"url\":" + url + ",\"fifo\":\"yes\"}", "fifo"},
           {"{\"url\":" + url + ",\"is_active\":1}", "is_active"},
       }) {
    ExpectError(Call("POST", "endpoints/", c.body), 422, "VALIDATION_ERROR",
                c.field);
  }
  // Several problems are reported together.
  HttpResult r = Call("POST", "endpoints/", R"({"fifo":1,"is_active":"x"})");
  Json j(r.body);
  simdjson::dom::array details;
  ASSERT_FALSE(j["error/details"].get(details));
  EXPECT_EQ(details.size(), 3u) << r.body;
  // Nothing was created.
  EXPECT_EQ(CallJson("GET", "endpoints/", 200).Int("pagination/total_count"),
            0);
}

TEST_F(WebhookdTest, PatchSemantics) {
  const std::string id = CreateEndpoint(
      "/a",
      R"("description":"d","metadata":{"a":"1","b":"2"},"event_types":["x.*"])");
  auto patch = [&](const std::string& body) {
    return CallJson("PATCH", "endpoints/" + id + "/", 200, body);
  };
  // null leaves a field unchanged; omitted keys are kept.
  Json j = patch(
      R"({"description":null,"url":null,"event_types":null,"fifo":null})");
  EXPECT_EQ(j.Str("description"), "d");
  EXPECT_EQ(j.Str("url"), rx_->Url("/a"));
  EXPECT_EQ(simdjson::minify(j["event_types"]), R"(["x.*"])");
  EXPECT_EQ(simdjson::minify(j["metadata"]), R"({"a":"1","b":"2"})");
  // metadata merge: set, "" removes, others kept.
  j = patch(R"({"metadata":{"b":"","c":"3"}})");
  EXPECT_EQ(simdjson::minify(j["metadata"]), R"({"a":"1","c":"3"})");
  // {} clears, and null clears.
  EXPECT_EQ(simdjson::minify(patch(R"({"metadata":{}})")["metadata"]), "{}");
  patch(R"({"metadata":{"z":"1"}})");
  EXPECT_EQ(simdjson::minify(patch(R"({"metadata":null})")["metadata"]), "{}");
  // Other fields.
  j = patch(
      "{\"url\":" + Q(rx_->Url("/b")) +
      R"(,"description":"new","event_types":["*"],"headers":{"X-A":"1"},)"
      R"("rate_limit_per_s":10,"max_in_flight":3,"fifo":true,"signature_scheme":"closient"})");
  EXPECT_EQ(j.Str("url"), rx_->Url("/b"));
  EXPECT_EQ(j.Str("description"), "new");
  EXPECT_EQ(j.Str("signature_scheme"), "closient");
  EXPECT_EQ(j.Int("max_in_flight"), 3);
  // Deactivation shows a reason; reactivation clears it.
  j = patch(R"({"is_active":false})");
  EXPECT_FALSE(j.Bool("is_active"));
  EXPECT_EQ(j.Str("disabled_reason"), "manual");
  j = patch(R"({"is_active":true})");
  EXPECT_TRUE(j.IsNull("disabled_reason"));
  // The secret is not updatable.
  ExpectError(
      Call("PATCH", "endpoints/" + id + "/", R"({"signing_secret":"whsec_x"})"),
      422, "VALIDATION_ERROR", "signing_secret");
  ExpectError(Call("PATCH", "endpoints/" + id + "/", R"({"url":"gopher://x"})"),
              422, "VALIDATION_ERROR", "url");
  ExpectError(Call("PATCH", "endpoints/" + id + "/", R"({"description":7})"),
              422, "VALIDATION_ERROR", "description");
  ExpectError(Call("PATCH", "endpoints/" + id + "/", "nope"), 400,
              "BAD_REQUEST");
}

TEST_F(WebhookdTest, ListEndpointsNewestFirstWithMetadataFilters) {
  std::vector<std::string> ids;
  ids.push_back(
      CreateEndpoint("/1", R"("metadata":{"team":"a","env":"prod"})"));
  ids.push_back(CreateEndpoint("/2", R"("metadata":{"team":"a","env":"dev"})"));
  ids.push_back(
      CreateEndpoint("/3", R"("metadata":{"team":"b","env":"prod"})"));
  Json all = CallJson("GET", "endpoints/", 200);
  EXPECT_EQ(all.Int("pagination/total_count"), 3);
  EXPECT_EQ(all.Str("data/0/id"), ids[2]);
  EXPECT_EQ(all.Str("data/2/id"), ids[0]);
  Json a = CallJson("GET", "endpoints/?metadata[team]=a", 200);
  EXPECT_EQ(a.Int("pagination/total_count"), 2);
  Json ap = CallJson("GET",
                     "endpoints/?metadata%5Bteam%5D=a&metadata[env]=prod", 200);
  EXPECT_EQ(ap.Int("pagination/total_count"), 1);
  EXPECT_EQ(ap.Str("data/0/id"), ids[0]);
  EXPECT_EQ(CallJson("GET", "endpoints/?metadata[team]=zzz", 200)
                .Int("pagination/total_count"),
            0);
  Json p = CallJson("GET", "endpoints/?page_size=2&page=2", 200);
  EXPECT_EQ(p.Int("pagination/total_pages"), 2);
  EXPECT_FALSE(p.Bool("pagination/has_next"));
  EXPECT_TRUE(p.Bool("pagination/has_previous"));
  EXPECT_EQ(p.Str("data/0/id"), ids[0]);
  ExpectError(Call("GET", "endpoints/?page_size=51"), 422, "VALIDATION_ERROR",
              "page_size");
  ExpectError(Call("GET", "endpoints/?page=0"), 422, "VALIDATION_ERROR",
              "page");
  ExpectError(Call("GET", "endpoints/?metadata[]=x"), 422, "VALIDATION_ERROR");
}

TEST_F(WebhookdTest, DeleteStopsAttemptsAndDeadLettersPending) {
  auto c = BaseConfig();
  c.retry_schedule = {0s, 1h};  // the retry never comes during the test
  Start(c);
  rx_->SetReply("/fail", Reply{.status = 500});
  const std::string id = CreateEndpoint("/fail");
  const std::string d = Publish("x.y")[0];
  WaitForStatus(d, "failed");
  HttpResult del = Call("DELETE", "endpoints/" + id + "/");
  EXPECT_EQ(del.status, 204);
  EXPECT_TRUE(del.body.empty());
  Json dl = WaitForStatus(d, "dead_letter");
  EXPECT_EQ(dl.Str("dead_letter_reason"), "endpoint_deleted");
  EXPECT_TRUE(dl.IsNull("next_attempt_at"));
  ExpectError(Call("GET", "endpoints/" + id + "/"), 404, "NOT_FOUND");
  ExpectError(Call("PATCH", "endpoints/" + id + "/", "{}"), 404, "NOT_FOUND");
  ExpectError(Call("DELETE", "endpoints/" + id + "/"), 404, "NOT_FOUND");
  ExpectError(Call("POST", "endpoints/" + id + "/test/"), 404, "NOT_FOUND");
  ExpectError(Call("POST", "endpoints/" + id + "/rotate-secret/"), 404,
              "NOT_FOUND");
  EXPECT_EQ(CallJson("GET", "endpoints/", 200).Int("pagination/total_count"),
            0);
  // History is kept; a dead letter of a deleted endpoint cannot be replayed.
  EXPECT_EQ(CallJson("GET", "deliveries/?endpoint_id=" + id, 200)
                .Int("pagination/total_count"),
            1);
  ExpectError(Call("POST", "deliveries/" + d + "/replay/"), 422,
              "VALIDATION_ERROR", "delivery_id");
}

// --- the seed: send test event
// --------------------------------------------------

TEST_F(WebhookdTest, SendTestEventContractFieldByField) {
  auto check_shape = [&](const Json& j) {
    simdjson::dom::object o;
    ASSERT_FALSE(j.root().get(o));
    EXPECT_EQ(o.size(), 4u) << "exactly the seed's four fields";
    EXPECT_TRUE(std::regex_match(j.Str("delivery_id"), kIdRe));
    EXPECT_TRUE(kStatuses.count(j.Str("status")));
  };
  // A 2xx with a long body: integer code, body cut to 256 characters.
  rx_->SetReply("/long", Reply{.status = 200, .body_size = 300});
  const std::string ep = CreateEndpoint("/long");
  Json ok = CallJson("POST", "endpoints/" + ep + "/test/", 200);
  check_shape(ok);
  EXPECT_EQ(ok.Str("status"), "delivered");
  EXPECT_EQ(ok.Int("http_status_code"), 200);
  EXPECT_EQ(ok.Str("response_body"), std::string(256, 'x'));

  // Non-ASCII and quotes in the customer's answer survive as UTF-8 JSON.
  rx_->SetReply("/utf8",
                Reply{.status = 201, .body = "h\xC3\xA9llo \"q\"\n\x01"});
  Json u =
      CallJson("POST", "endpoints/" + CreateEndpoint("/utf8") + "/test/", 200);
  EXPECT_EQ(u.Str("response_body"), "h\xC3\xA9llo \"q\"\n\x01");
  EXPECT_EQ(u.Int("http_status_code"), 201);

  // A non-2xx answer: failed (retries remain), integer code, its body.
  rx_->SetReply("/down", Reply{.status = 503, .body = "down"});
  Json down =
      CallJson("POST", "endpoints/" + CreateEndpoint("/down") + "/test/", 200);
  check_shape(down);
  EXPECT_EQ(down.Str("status"), "failed");
  EXPECT_EQ(down.Int("http_status_code"), 503);
  EXPECT_EQ(down.Str("response_body"), "down");

  // No response at all (connection refused): both null.
  Json refused_ep = CallJson("POST", "endpoints/", 201,
                             R"({"url":"http://127.0.0.1:1/nothing"})");
  Json refused =
      CallJson("POST", "endpoints/" + refused_ep.Str("id") + "/test/", 200);
  check_shape(refused);
  EXPECT_EQ(refused.Str("status"), "failed");
  EXPECT_TRUE(refused.IsNull("http_status_code"));
  EXPECT_TRUE(refused.IsNull("response_body"));
  Json refused_row =
      CallJson("GET", "deliveries/" + refused.Str("delivery_id") + "/", 200);
  EXPECT_EQ(refused_row.Str("error"), "connect");
  EXPECT_EQ(refused_row.Str("attempts_log/0/error"), "connect");

  // The receiver got a ping: type ping, data {}, webhook-id = event id.
  auto reqs = rx_->RequestsFor("/long");
  ASSERT_EQ(reqs.size(), 1u);
  Json body(reqs[0].body);
  EXPECT_EQ(body.Str("type"), "ping");
  EXPECT_EQ(simdjson::minify(body["data"]), "{}");
  Json row = CallJson("GET", "deliveries/" + ok.Str("delivery_id") + "/", 200);
  EXPECT_EQ(row.Str("event_type"), "ping");
  EXPECT_EQ(row.Str("event_id"), body.Str("id"));
  EXPECT_EQ(reqs[0].webhook_id, body.Str("id"));
  EXPECT_EQ(reqs[0].Header("content-type"), "application/json");
  EXPECT_TRUE(reqs[0].Header("user-agent").starts_with("hooklog/"));

  // Works on an inactive endpoint, and ignores event_types.
  const std::string off =
      CreateEndpoint("/long", R"("is_active":false,"event_types":[])");
  EXPECT_EQ(CallJson("POST", "endpoints/" + off + "/test/", 200).Str("status"),
            "delivered");
}

TEST_F(WebhookdTest, BothSignatureSchemesVerifyAtTheReceiver) {
  Json std_ep = CallJson("POST", "endpoints/", 201,
                         "{\"url\":" + Q(rx_->Url("/std")) + "}");
  Json cl_ep = CallJson(
      "POST", "endpoints/", 201,
      "{\"url\":" + Q(rx_->Url("/cl")) +
          R"(,"signature_scheme":"closient","headers":{"X-Tenant":"t9"}})");
  rx_->SetSecrets("/std", {std_ep.Str("signing_secret")},
                  hooklog::SignatureScheme::kStandard);
  rx_->SetSecrets("/cl", {cl_ep.Str("signing_secret")},
                  hooklog::SignatureScheme::kClosient);
  Json a = CallJson("POST", "endpoints/" + std_ep.Str("id") + "/test/", 200);
  Json b = CallJson("POST", "endpoints/" + cl_ep.Str("id") + "/test/", 200);
  EXPECT_EQ(a.Str("status"), "delivered");
  EXPECT_EQ(b.Str("status"), "delivered");
  auto s = rx_->RequestsFor("/std");
  auto c = rx_->RequestsFor("/cl");
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(s[0].signature_ok, true);
  EXPECT_TRUE(s[0].Header("webhook-signature").starts_with("v1,"));
  EXPECT_EQ(c[0].signature_ok, true);
  EXPECT_TRUE(c[0].Header("x-closient-signature").starts_with("t="));
  EXPECT_EQ(c[0].Header("x-closient-event-type"), "ping");
  EXPECT_EQ(c[0].Header("x-closient-delivery-id"), b.Str("delivery_id"));
  EXPECT_EQ(c[0].Header("x-tenant"), "t9");

  // After a rotation both secrets sign: a receiver knowing either verifies.
  Json rotated = CallJson(
      "POST", "endpoints/" + std_ep.Str("id") + "/rotate-secret/", 200);
  rx_->SetSecrets("/std", {rotated.Str("signing_secret")});
  CallJson("POST", "endpoints/" + std_ep.Str("id") + "/test/", 200);
  rx_->SetSecrets("/std", {std_ep.Str("signing_secret")});
  CallJson("POST", "endpoints/" + std_ep.Str("id") + "/test/", 200);
  s = rx_->RequestsFor("/std");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[1].signature_ok, true);
  EXPECT_EQ(s[2].signature_ok, true);
  EXPECT_EQ(rx_->signature_failures(), 0u);
}

// --- events, replay
// ---------------------------------------------------------------

TEST_F(WebhookdTest, PublishFansOutAndIsIdempotent) {
  const std::string orders =
      CreateEndpoint("/orders", R"("event_types":["order.*"])");
  const std::string invoices =
      CreateEndpoint("/inv", R"("event_types":["invoice.paid"])");
  const std::string all = CreateEndpoint("/all");
  CreateEndpoint("/off", R"("is_active":false)");
  CreateEndpoint("/none", R"("event_types":[])");

  HttpResult r = Call("POST", "events/",
                      R"({"type":"order.paid","data":{"n":1,"s":"\u00e9\n"}})");
  ASSERT_EQ(r.status, 202) << r.body;
  Json j(r.body);
  EXPECT_TRUE(std::regex_match(
      j.Str("id"),
      std::regex(
          "^evt_[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{22}"
          "$")));
  simdjson::dom::array ds;
  ASSERT_FALSE(j["deliveries"].get(ds));
  EXPECT_EQ(ds.size(), 2u);  // orders + all
  std::set<std::string> endpoints;
  for (auto d : ds) {
    Json row = CallJson(
        "GET", "deliveries/" + std::string(d.get_string().value()), 200);
    endpoints.insert(row.Str("endpoint_id"));
    EXPECT_EQ(row.Str("event_id"), j.Str("id"));
    EXPECT_EQ(row.Str("event_type"), "order.paid");
  }
  EXPECT_EQ(endpoints, (std::set<std::string>{orders, all}));
  EXPECT_EQ(Publish("invoice.paid").size(), 2u);
  ASSERT_TRUE(rx_->WaitForRequests(4, 10s));
  auto got = rx_->RequestsFor("/orders");
  ASSERT_EQ(got.size(), 1u);
  Json envelope(got[0].body);
  EXPECT_EQ(envelope.Str("id"), j.Str("id"));
  EXPECT_EQ(envelope.Str("type"), "order.paid");
  EXPECT_EQ(envelope.Int("data/n"), 1);
  EXPECT_EQ(envelope.Str("data/s"), "\xC3\xA9\n");
  (void)invoices;

  // The same idempotency key: the same answer, no new deliveries.
  HttpResult first =
      Call("POST", "events/",
           R"({"type":"order.new","data":{},"idempotency_key":"k-1"})");
  HttpResult again = Call(
      "POST", "events/",
      R"({"type":"order.new","data":{"other":true},"idempotency_key":"k-1"})");
  EXPECT_EQ(first.status, 202);
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(first.body, again.body);
  HttpResult other =
      Call("POST", "events/",
           R"({"type":"order.new","data":{},"idempotency_key":"k-2"})");
  EXPECT_NE(Json(other.body).Str("id"), Json(first.body).Str("id"));
  EXPECT_EQ(CallJson("GET", "deliveries/?event_type=order.new", 200)
                .Int("pagination/total_count"),
            4);

  struct Case {
    std::string body, field;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"data":{}})", "type"},
           {R"({"type":"a"})", "data"},
           {R"({"type":"a","data":[1]})", "data"},
           {R"({"type":"a","data":"x"})", "data"},
           {R"({"type":"a b","data":{}})", "type"},
           {R"({"type":"","data":{}})", "type"},
           {R"({"type":5,"data":{}})", "type"},
           {"{\"type\":\"" + std::string(101, 'a') + "\",\"data\":{}}",
            "type"},  // docs/api.md: at most 100 characters
           {R"({"type":"a","data":{},"idempotency_key":5})", "idempotency_key"},
       }) {
    ExpectError(Call("POST", "events/", c.body), 422, "VALIDATION_ERROR",
                c.field);
  }
  EXPECT_EQ(Call("POST", "events/",
                 "{\"type\":\"" + std::string(100, 'a') + "\",\"data\":{}}")
                .status,
            202);
}

TEST_F(WebhookdTest, ReplayOfADeadLetterAnd422Otherwise) {
  rx_->SetReply("/flaky", Reply{.status = 500, .body = "no"});
  const std::string ep = CreateEndpoint("/flaky");
  const std::string d = Publish("order.paid", R"({"k":"v"})")[0];
  // 0s, 200ms, 200ms: three attempts, then dead_letter.
  Json dead = WaitForStatus(d, "dead_letter");
  EXPECT_EQ(dead.Int("attempts"), 3);
  EXPECT_EQ(dead.Int("http_status_code"), 500);
  EXPECT_EQ(dead.Str("response_body"), "no");
  EXPECT_TRUE(dead.IsNull("next_attempt_at"));
  EXPECT_FALSE(dead.IsNull("last_attempted_at"));
  EXPECT_EQ(dead.Str("dead_letter_reason"), "attempts_exhausted");
  simdjson::dom::array log;
  ASSERT_FALSE(dead["attempts_log"].get(log));
  EXPECT_EQ(log.size(), 3u);
  for (auto a : log) {
    EXPECT_EQ(a["http_status_code"].get_int64().value(), 500);
    EXPECT_TRUE(a["error"].is_null());
  }

  rx_->SetReply("/flaky", Reply{.status = 200, .body = "fine"});
  Json replay = CallJson("POST", "deliveries/" + d + "/replay/", 200);
  const std::string nd = replay.Str("delivery_id");
  EXPECT_TRUE(std::regex_match(nd, kIdRe));
  EXPECT_NE(nd, d);
  EXPECT_EQ(replay.Str("status"), "delivered");
  EXPECT_EQ(replay.Int("http_status_code"), 200);
  EXPECT_EQ(replay.Str("response_body"), "fine");
  // The original is unchanged; the new record points at it.
  Json orig = CallJson("GET", "deliveries/" + d + "/", 200);
  EXPECT_EQ(orig.Str("status"), "dead_letter");
  EXPECT_EQ(orig.Int("attempts"), 3);
  Json fresh = CallJson("GET", "deliveries/" + nd + "/", 200);
  EXPECT_EQ(fresh.Str("replay_of"), d);
  EXPECT_EQ(fresh.Str("event_id"), orig.Str("event_id"));
  EXPECT_EQ(fresh.Str("endpoint_id"), ep);
  // The same event (same webhook-id) reached the receiver again.
  auto reqs = rx_->RequestsFor("/flaky");
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[3].webhook_id, reqs[0].webhook_id);
  EXPECT_EQ(reqs[3].body, reqs[0].body);

  // Anything but dead_letter: 422.
  ExpectError(Call("POST", "deliveries/" + nd + "/replay/"), 422,
              "VALIDATION_ERROR", "delivery_id");
  Json filtered = CallJson("GET", "deliveries/?status=dead_letter", 200);
  EXPECT_EQ(filtered.Int("pagination/total_count"), 1);
}

// --- deliveries list
// ----------------------------------------------------------

TEST_F(WebhookdTest, DeliveryFiltersAndBadValues) {
  const std::string a = CreateEndpoint("/a", R"("event_types":["a.*"])");
  const std::string b = CreateEndpoint("/b", R"("event_types":["b.*"])");
  std::string d1 = Publish("a.one")[0];
  std::string d2 = Publish("a.two")[0];
  std::string d3 = Publish("b.one")[0];
  for (const auto& d : {d1, d2, d3}) WaitForStatus(d, "delivered");
  auto count = [&](const std::string& q) {
    return CallJson("GET", "deliveries/?" + q, 200)
        .Int("pagination/total_count");
  };
  EXPECT_EQ(count(""), 3);
  EXPECT_EQ(count("endpoint_id=" + a), 2);
  EXPECT_EQ(count("endpoint_id=" + b), 1);
  EXPECT_EQ(count("event_type=a.one"), 1);
  EXPECT_EQ(count("event_type=a"), 0);  // exact match
  EXPECT_EQ(count("status=delivered"), 3);
  EXPECT_EQ(count("status=pending"), 0);
  EXPECT_EQ(count("endpoint_id=" + a + "&event_type=b.one"), 0);
  Json newest = CallJson("GET", "deliveries/?page_size=1", 200);
  EXPECT_EQ(newest.Str("data/0/id"), d3);
  const std::string t = newest.Str("data/0/created_at");
  EXPECT_EQ(count("created_after=2000-01-01T00:00:00Z"), 3);
  EXPECT_EQ(count("created_after=2999-01-01T00:00:00Z"), 0);
  EXPECT_EQ(count("created_before=2000-01-01"), 0);
  // Inclusive bounds, at the second shown in the rows.
  EXPECT_EQ(count("created_before=" + t), 3);
  EXPECT_GE(count("created_after=" + t), 1);
  EXPECT_EQ(count("created_after=" + t + "&created_before=" + t),
            count("created_after=" + t));
  struct Case {
    std::string query, field;
  };
  for (const Case& c : std::vector<Case>{
           {"status=bogus", "status"},
           {"endpoint_id=short", "endpoint_id"},
           {"event_type=a%20b", "event_type"},
           {"created_after=yesterday", "created_after"},
           {"created_before=2026-13-01T00:00:00Z", "created_before"},
           {"page=0", "page"},
           {"page=abc", "page"},
           {"page_size=51", "page_size"},
           {"page_size=0", "page_size"},
           {"cursor=garbage", "cursor"},
       }) {
    ExpectError(Call("GET", "deliveries/?" + c.query), 422, "VALIDATION_ERROR",
                c.field);
  }
}

TEST_F(WebhookdTest, PaginationOver500Deliveries) {
  for (int e = 0; e < 5; ++e) CreateEndpoint("/bulk" + std::to_string(e));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(
        Publish("bulk.created", "{\"i\":" + std::to_string(i) + "}").size(),
        5u);
  }
  // Page numbers.
  std::vector<std::string> by_page;
  for (int page = 1; page <= 10; ++page) {
    Json j = CallJson(
        "GET", "deliveries/?page_size=50&page=" + std::to_string(page), 200);
    EXPECT_EQ(j.Int("pagination/page"), page);
    EXPECT_EQ(j.Int("pagination/page_size"), 50);
    EXPECT_EQ(j.Int("pagination/total_count"), 500);
    EXPECT_EQ(j.Int("pagination/total_pages"), 10);
    EXPECT_EQ(j.Bool("pagination/has_next"), page < 10);
    EXPECT_EQ(j.Bool("pagination/has_previous"), page > 1);
    EXPECT_EQ(j.IsNull("next_cursor"), page == 10);
    simdjson::dom::array data;
    ASSERT_FALSE(j["data"].get(data));
    EXPECT_EQ(data.size(), 50u);
    for (auto d : data) by_page.emplace_back(d["id"].get_string().value());
  }
  Json beyond = CallJson("GET", "deliveries/?page=11", 200);
  EXPECT_EQ(simdjson::minify(beyond["data"]), "[]");
  EXPECT_FALSE(beyond.Bool("pagination/has_next"));
  Json odd = CallJson("GET", "deliveries/?page_size=7&page=72", 200);
  EXPECT_EQ(odd.Int("pagination/total_pages"), 72);
  simdjson::dom::array tail;
  ASSERT_FALSE(odd["data"].get(tail));
  EXPECT_EQ(tail.size(), 3u);
  // The default page size is 50.
  EXPECT_EQ(CallJson("GET", "deliveries/", 200).Int("pagination/page_size"),
            50);

  // Cursors walk the same order, newest first, without repeats.
  std::vector<std::string> by_cursor;
  std::string cursor;
  std::string last_created = "9999";
  for (int i = 0; i < 20; ++i) {
    Json j = CallJson("GET",
                      "deliveries/?page_size=50" +
                          (cursor.empty() ? "" : "&cursor=" + cursor),
                      200);
    EXPECT_EQ(j.Int("pagination/total_count"), 500);
    simdjson::dom::array data;
    ASSERT_FALSE(j["data"].get(data));
    for (auto d : data) {
      by_cursor.emplace_back(d["id"].get_string().value());
      std::string created(d["created_at"].get_string().value());
      EXPECT_LE(created, last_created);
      last_created = created;
    }
    if (j.IsNull("next_cursor")) {
      EXPECT_FALSE(j.Bool("pagination/has_next"));
      break;
    }
    EXPECT_TRUE(j.Bool("pagination/has_next"));
    cursor = j.Str("next_cursor");
  }
  EXPECT_EQ(by_cursor.size(), 500u);
  EXPECT_EQ(std::set<std::string>(by_cursor.begin(), by_cursor.end()).size(),
            500u);
  EXPECT_EQ(by_cursor, by_page);
}

// --- metrics
// --------------------------------------------------------------------

// /healthz and /metrics render what the engine reports about its store and
// leases; these cases set the stats directly (a store outage end to end is
// in tests/cluster).
TEST(HealthTest, UnreachableStorageAnswers503) {
  hooklog::EngineStats s;
  int status = 0;
  EXPECT_EQ(webhookd::RenderHealth(s, "", &status),
            R"({"status":"ok","storage":"reachable"})");
  EXPECT_EQ(status, 200);
  s.storage_reachable = false;
  EXPECT_EQ(webhookd::RenderHealth(s, "", &status),
            R"({"status":"unavailable","storage":"unreachable"})");
  EXPECT_EQ(status, 503);
  s.partitions_owned = 7;
  EXPECT_EQ(webhookd::RenderHealth(s, "node-a", &status),
            R"({"status":"unavailable","storage":"unreachable",)"
            R"("node_id":"node-a","partitions_owned":7})");
  EXPECT_EQ(status, 503);
}

TEST(HealthTest, MetricsCarryTheClusterFamiliesInClusterModeOnly) {
  hooklog::EngineStats s;
  s.partitions_owned = 5;
  s.partitions_total = 16;
  s.cluster_nodes = 3;
  s.lease_syncs = 11;
  s.lease_sync_failures = 2;
  s.leases_acquired = 9;
  s.leases_released = 3;
  s.leases_lost = 1;
  s.fenced_appends = 4;
  s.log_followed = 123;
  s.storage_reachable = false;
  const std::string single = webhookd::RenderMetrics(s);
  EXPECT_NE(single.find("\nhooklog_storage_reachable 0\n"), std::string::npos);
  EXPECT_EQ(single.find("hooklog_cluster_"), std::string::npos);
  const std::string node = webhookd::RenderMetrics(s, "node-a");
  for (const char* line : {
           "hooklog_node_info{node_id=\"node-a\"} 1",
           "hooklog_cluster_partitions_owned 5",
           "hooklog_cluster_partitions 16",
           "hooklog_cluster_nodes 3",
           "hooklog_storage_reachable 0",
           "hooklog_lease_syncs_total 11",
           "hooklog_lease_sync_failures_total 2",
           "hooklog_leases_acquired_total 9",
           "hooklog_leases_released_total 3",
           "hooklog_leases_lost_total 1",
           "hooklog_fenced_appends_total 4",
           "hooklog_log_followed_events_total 123",
           "# TYPE hooklog_leases_lost_total counter",
           "# TYPE hooklog_cluster_partitions_owned gauge",
       }) {
    EXPECT_NE(node.find(std::string("\n") + line + "\n"), std::string::npos)
        << line << "\n"
        << node;
  }
}

TEST_F(WebhookdTest, MetricsIsValidPrometheusText) {
  const std::string ep = CreateEndpoint("/m");
  for (int i = 0; i < 5; ++i) Publish("m.x");
  ASSERT_TRUE(rx_->WaitForRequests(5, 10s));
  CallJson("POST", "endpoints/" + ep + "/test/", 200);
  HttpResult r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(
      r.Header("content-type").starts_with("text/plain; version=0.0.4"));
  std::map<std::string, std::string> types;
  std::map<std::string, double> samples;
  const std::regex sample_re(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)?\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) continue;
    if (line.starts_with("# TYPE ")) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_TRUE(type == "gauge" || type == "counter" || type == "histogram" ||
                  type == "summary")
          << line;
      EXPECT_FALSE(types.count(name)) << "duplicate TYPE " << name;
      types[name] = type;
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample_re)) << "bad line: " << line;
    std::string name = m[1];
    bool declared = types.count(name);
    for (const std::string& suffix :
         std::vector<std::string>{"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix)) {
        declared = declared ||
                   types.count(name.substr(0, name.size() - suffix.size()));
      }
    }
    EXPECT_TRUE(declared) << "sample before its TYPE: " << line;
    samples[line.substr(0, line.rfind(' '))] =
        std::stod(line.substr(line.rfind(' ') + 1));
  }
  for (const std::string& f :
       std::vector<std::string>{"hooklog_deliveries", "hooklog_attempts_total",
                                "hooklog_attempt_latency_seconds",
                                "hooklog_in_flight", "hooklog_due_queue_depth",
                                "hooklog_storage_append_latency_seconds"}) {
    EXPECT_TRUE(types.count(f)) << f;
  }
  EXPECT_EQ(types["hooklog_attempt_latency_seconds"], "histogram");
  EXPECT_GE(samples["hooklog_deliveries{status=\"delivered\"}"], 1);
  EXPECT_GE(samples["hooklog_attempts_total{outcome=\"ok\"}"], 6);
  // Histogram buckets are cumulative and end at the count.
  double prev = 0;
  for (const std::string& le :
       std::vector<std::string>{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                "0.5", "1", "5", "15", "+Inf"}) {
    std::string key =
        "hooklog_attempt_latency_seconds_bucket{le=\"" + le + "\"}";
    ASSERT_TRUE(samples.count(key)) << key;
    EXPECT_GE(samples[key], prev);
    prev = samples[key];
  }
  EXPECT_EQ(prev, samples["hooklog_attempt_latency_seconds_count"]);
  EXPECT_GE(prev, 6);
  EXPECT_GT(samples["hooklog_storage_append_latency_seconds_count"], 0);
}

// --- SSRF
// -------------------------------------------------------------------------

TEST_F(WebhookdTest, PrivateTargetsRefusedWithoutTheFlag) {
  // Created while allowed, so that the attempt-time guard can be seen below.
  const std::string loop = CreateEndpoint("/ssrf");
  auto c = BaseConfig();
  c.allow_private_targets = false;
  Start(c);
  for (const std::string& url : std::vector<std::string>{
           "http://127.0.0.1:8080/x", "http://localhost/x",
           "http://LOCALHOST./x", "http://api.localhost/x", "http://[::1]:80/x",
           "http://10.1.2.3/x", "http://192.168.0.1/x",
           "http://169.254.169.254/latest", "http://[::ffff:127.0.0.1]/x",
           "http://0.0.0.0/x"}) {
    ExpectError(Call("POST", "endpoints/", "{\"url\":" + Q(url) + "}"), 422,
                "VALIDATION_ERROR", "url");
  }
  Json pub = CallJson("POST", "endpoints/", 201,
                      R"({"url":"https://hooks.example.com/x"})");
  ExpectError(Call("PATCH", "endpoints/" + pub.Str("id") + "/",
                   R"({"url":"http://127.0.0.1/x"})"),
              422, "VALIDATION_ERROR", "url");
  // An endpoint that already points at loopback is blocked when connecting:
  // no response, error class "blocked", nothing reaches the receiver.
  Json blocked = CallJson("POST", "endpoints/" + loop + "/test/", 200);
  EXPECT_EQ(blocked.Str("status"), "failed");
  EXPECT_TRUE(blocked.IsNull("http_status_code"));
  EXPECT_TRUE(blocked.IsNull("response_body"));
  Json row =
      CallJson("GET", "deliveries/" + blocked.Str("delivery_id") + "/", 200);
  EXPECT_EQ(row.Str("error"), "blocked");
  EXPECT_EQ(rx_->RequestsFor("/ssrf").size(), 0u);
}

// --- the OpenAPI document itself
// ---------------------------------------------------

TEST(OpenApiDocTest, ParsesAndDescribesEveryRoute) {
  const OpenApi& api = OpenApi::Get();
  // 11 API operations, 8 of the portal (stats, stats/endpoints, bulk
  // replay, replay-jobs and one job, events/{id}, portal-links, session)
  // + healthz + metrics.
  EXPECT_EQ(api.OperationCount(), 21u);
}

TEST(OpenApiDocTest, TheCheckerCatchesDeviations) {
  const OpenApi& api = OpenApi::Get();
  const std::string d = kBase + "deliveries/2222222222222222222222/";
  auto json = [](int status, std::string body) {
    HttpResult r;
    r.status = status;
    r.body = std::move(body);
    r.headers["content-type"] = "application/json";
    return r;
  };
  const std::string ok_result =
      R"({"delivery_id":"2222222222222222222222","status":"pending",)"
      R"("http_status_code":null,"response_body":null})";
  EXPECT_EQ(api.Check("POST", d + "replay/", json(200, ok_result)), "");
  // A missing required member, an extra member, a wrong enum value, a
  // too-long body, an undocumented status, an undocumented route.
  EXPECT_NE(
      api.Check("POST", d + "replay/", json(200, R"({"status":"pending"})")),
      "");
  EXPECT_NE(api.Check("POST", d + "replay/",
                      json(200, ok_result.substr(0, ok_result.size() - 1) +
                                    R"(,"extra":1})")),
            "");
  EXPECT_NE(
      api.Check("POST", d + "replay/",
                json(200, std::regex_replace(ok_result, std::regex("pending"),
                                             "queued"))),
      "");
  EXPECT_NE(
      api.Check("POST", d + "replay/",
                json(200, std::regex_replace(
                              ok_result, std::regex("\"response_body\":null"),
                              "\"response_body\":\"" + std::string(257, 'x') +
                                  "\""))),
      "");
  EXPECT_NE(api.Check("POST", d + "replay/", json(418, "{}")), "");
  EXPECT_NE(api.Check("GET", kBase + "unknown/", json(200, "{}")), "");
  EXPECT_NE(api.Check("GET", d, json(404, R"({"error":{}})")), "");
}

// --operator-url: operational events arrive as signed webhooks, verified
// with the secret the daemon writes to <data-dir>/operator/SIGNING_SECRET.
TEST_F(WebhookdTest, OperatorUrlReceivesOperationalEventsSigned) {
  webhookd::Config c = BaseConfig();
  c.operator_url = rx_->Url("/ops");
  Start(c);
  rx_->SetReply("/gone", Reply{.status = 410, .body = "gone"});
  const std::string ep = CreateEndpoint("/gone");
  const std::string d = Publish("x.y")[0];
  WaitForStatus(d, "dead_letter");
  std::ifstream f(dir_.path() + "/operator/SIGNING_SECRET");
  std::string secret;
  std::getline(f, secret);
  ASSERT_TRUE(secret.starts_with("whsec_")) << secret;
  ASSERT_TRUE(rx_->WaitForRequests(3, 10s));  // the 410 + two notifications
  for (int i = 0; i < 200 && rx_->RequestsFor("/ops").size() < 2; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  auto ops = rx_->RequestsFor("/ops");
  ASSERT_EQ(ops.size(), 2u);
  std::set<std::string> kinds;
  for (const auto& r : ops) {
    Json body(r.body);
    ASSERT_TRUE(body.ok()) << r.body;
    EXPECT_EQ(body.Str("type").rfind("hooklog.", 0), 0u) << r.body;
    kinds.insert(std::string(body["data"]["kind"].get_string().value()));
    EXPECT_TRUE(hooklog::VerifyStandardWebhooks(
        {secret}, r.webhook_id, std::stoll(r.Header("webhook-timestamp")),
        r.body, r.Header("webhook-signature")));
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"endpoint.disabled",
                                          "delivery.dead_lettered"}));
  (void)ep;
}

// --- endpoint protection settings (issue 6)
// -----------------------------------

TEST_F(WebhookdTest, EndpointProtectionSettingsShowAndRoundTrip) {
  // Defaults: the daemon's (EngineOptions) settings, shown as they apply.
  Json plain = CallJson("POST", "endpoints/", 201,
                        "{\"url\":" + Q(rx_->Url("/p")) + "}");
  EXPECT_TRUE(plain.IsNull("rate_limit_burst"));  // no rate limit
  EXPECT_TRUE(plain.Bool("circuit_breaker/enabled"));
  EXPECT_EQ(plain.Int("circuit_breaker/consecutive_failures"), 10);
  EXPECT_EQ(plain.Int("circuit_breaker/window_attempts"), 50);
  EXPECT_EQ(plain.Str("circuit_breaker/open_for"), "30s");
  EXPECT_EQ(plain.Str("circuit_breaker/max_open_for"), "10m");
  EXPECT_EQ(plain.Str("circuit_state"), "closed");
  EXPECT_TRUE(plain.IsNull("circuit_open_until"));
  EXPECT_TRUE(plain.IsNull("failing_since"));
  EXPECT_EQ(plain.Str("auto_disable_after"), "5d");
  // The default burst is the rate's integer part.
  Json rated =
      CallJson("POST", "endpoints/", 201,
               "{\"url\":" + Q(rx_->Url("/r")) + R"(,"rate_limit_per_s":2.5})");
  EXPECT_EQ(rated.Int("rate_limit_burst"), 2);

  // Its own settings; breaker members left out take the defaults.
  Json own = CallJson(
      "POST", "endpoints/", 201,
      "{\"url\":" + Q(rx_->Url("/own")) +
          R"(,"rate_limit_per_s":10,"rate_limit_burst":25,)"
          R"("circuit_breaker":{"consecutive_failures":2,"open_for":"5s"},)"
          R"("auto_disable_after":"1h"})");
  const std::string id = own.Str("id");
  EXPECT_EQ(own.Int("rate_limit_burst"), 25);
  EXPECT_EQ(own.Int("circuit_breaker/consecutive_failures"), 2);
  EXPECT_EQ(own.Str("circuit_breaker/open_for"), "5s");
  EXPECT_EQ(own.Int("circuit_breaker/window_attempts"), 50);
  EXPECT_EQ(own.Str("auto_disable_after"), "1h");
  EXPECT_EQ(simdjson::minify(CallJson("GET", "endpoints/" + id + "/",
                                      200)["circuit_breaker"]),
            simdjson::minify(own["circuit_breaker"]));

  // PATCH: omitted members keep their value...
  Json kept =
      CallJson("PATCH", "endpoints/" + id + "/", 200, R"({"description":"d"})");
  EXPECT_EQ(kept.Int("rate_limit_burst"), 25);
  EXPECT_EQ(kept.Str("auto_disable_after"), "1h");
  // ...a value replaces ("0s": never auto-disable)...
  Json changed = CallJson(
      "PATCH", "endpoints/" + id + "/", 200,
      R"({"circuit_breaker":{"enabled":false},"auto_disable_after":"0s"})");
  EXPECT_FALSE(changed.Bool("circuit_breaker/enabled"));
  EXPECT_EQ(changed.Int("circuit_breaker/consecutive_failures"), 10);
  EXPECT_EQ(changed.Str("auto_disable_after"), "0s");
  // ...and null returns to the daemon's default.
  Json reset = CallJson(
      "PATCH", "endpoints/" + id + "/", 200,
      R"({"rate_limit_burst":null,"circuit_breaker":null,"auto_disable_after":null})");
  EXPECT_EQ(reset.Int("rate_limit_burst"), 10);
  EXPECT_EQ(simdjson::minify(reset["circuit_breaker"]),
            simdjson::minify(plain["circuit_breaker"]));
  EXPECT_EQ(reset.Str("auto_disable_after"), "5d");

  // They survive a restart (endpoint events carry them; format v3).
  CallJson(
      "PATCH", "endpoints/" + id + "/", 200,
      R"({"circuit_breaker":{"failure_rate":0.5},"auto_disable_after":"2h"})");
  Start(BaseConfig());
  Json after = CallJson("GET", "endpoints/" + id + "/", 200);
  double rate = 0;
  EXPECT_FALSE(after["circuit_breaker"]["failure_rate"].get_double().get(rate));
  EXPECT_EQ(rate, 0.5);
  EXPECT_EQ(after.Str("auto_disable_after"), "2h");
}

TEST_F(WebhookdTest, DaemonProtectionDefaultsApplyToEndpointsWithoutTheirOwn) {
  webhookd::Config c = BaseConfig();
  c.circuit_failures = 0;  // --circuit-failures 0: breaker off
  c.circuit_open_for = std::chrono::minutes(20);
  c.auto_disable_after = hooklog::Duration(0);
  Start(c);
  Json plain = CallJson("POST", "endpoints/", 201,
                        "{\"url\":" + Q(rx_->Url("/p")) + "}");
  EXPECT_FALSE(plain.Bool("circuit_breaker/enabled"));
  EXPECT_EQ(plain.Str("circuit_breaker/open_for"), "20m");
  EXPECT_EQ(plain.Str("circuit_breaker/max_open_for"), "20m");
  EXPECT_EQ(plain.Str("auto_disable_after"), "0s");
  // An endpoint's own settings still win.
  Json own = CallJson(
      "POST", "endpoints/", 201,
      "{\"url\":" + Q(rx_->Url("/o")) +
          R"(,"circuit_breaker":{"enabled":true},"auto_disable_after":"1d"})");
  EXPECT_TRUE(own.Bool("circuit_breaker/enabled"));
  EXPECT_EQ(own.Str("circuit_breaker/open_for"), "20m");  // default member
  EXPECT_EQ(own.Str("auto_disable_after"), "1d");
}

TEST_F(WebhookdTest, EndpointProtectionValidationChangesNothing) {
  const std::string id = CreateEndpoint("/v");
  const std::string before = Call("GET", "endpoints/" + id + "/").body;
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"("rate_limit_burst":-1)", "rate_limit_burst"},
      {R"("rate_limit_burst":2000000)", "rate_limit_burst"},
      {R"("circuit_breaker":"off")", "circuit_breaker"},
      {R"("circuit_breaker":{"consecutive_failures":0})",
       "circuit_breaker.consecutive_failures"},
      {R"("circuit_breaker":{"failure_rate":1.5})",
       "circuit_breaker.failure_rate"},
      {R"("circuit_breaker":{"failure_rate":"high"})",
       "circuit_breaker.failure_rate"},
      {R"("circuit_breaker":{"window_attempts":20000})",
       "circuit_breaker.window_attempts"},
      {R"("circuit_breaker":{"open_for":"soon"})", "circuit_breaker.open_for"},
      {R"("circuit_breaker":{"open_for":"1h"})",
       "circuit_breaker.max_open_for"},  // longer than max_open_for (10m)
      {R"("circuit_breaker":{"enabled":"yes"})", "circuit_breaker.enabled"},
      {R"("circuit_breaker":{"treshold":3})", "circuit_breaker.treshold"},
      {R"("auto_disable_after":"5 days")", "auto_disable_after"},
      {R"("auto_disable_after":5)", "auto_disable_after"},
  };
  const int64_t count =
      CallJson("GET", "endpoints/", 200).Int("pagination/total_count");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    ExpectError(Call("POST", "endpoints/",
                     "{\"url\":" + Q(rx_->Url("/x")) + "," + c.body + "}"),
                422, "VALIDATION_ERROR", c.field);
    ExpectError(Call("PATCH", "endpoints/" + id + "/", "{" + c.body + "}"), 422,
                "VALIDATION_ERROR", c.field);
  }
  EXPECT_EQ(CallJson("GET", "endpoints/", 200).Int("pagination/total_count"),
            count);
  EXPECT_EQ(Call("GET", "endpoints/" + id + "/").body, before);
}

TEST_F(WebhookdTest, EndpointCircuitOpensAndIsSwitchedOffThroughTheApi) {
  rx_->SetReply("/flaky", Reply{.status = 500, .body = "down"});
  const std::string id = CreateEndpoint(
      "/flaky",
      R"("max_in_flight":1,"circuit_breaker":{"consecutive_failures":1,"open_for":"1h","max_open_for":"1h"})");
  const std::string first = Publish("x.y")[0];
  const std::string second = Publish("x.y")[0];
  WaitForStatus(first, "failed");
  Json ep = CallJson("GET", "endpoints/" + id + "/", 200);
  for (int i = 0; i < 200 && ep.Str("circuit_state") != "open"; ++i) {
    std::this_thread::sleep_for(20ms);
    ep = CallJson("GET", "endpoints/" + id + "/", 200);
  }
  ASSERT_EQ(ep.Str("circuit_state"), "open");
  EXPECT_FALSE(ep.IsNull("circuit_open_until"));
  EXPECT_FALSE(ep.IsNull("failing_since"));
  // Open for an hour: the retries and the second delivery wait, unattempted.
  std::this_thread::sleep_for(600ms);  // three retry periods (200 ms)
  EXPECT_EQ(CallJson("GET", "deliveries/" + first + "/", 200).Int("attempts"),
            1);
  Json waiting = CallJson("GET", "deliveries/" + second + "/", 200);
  EXPECT_EQ(waiting.Int("attempts"), 0);
  EXPECT_EQ(waiting.Str("status"), "pending");
  // The receiver recovers; switching the breaker off lets them through at
  // once, and the first success records that the circuit closed.
  rx_->SetReply("/flaky", Reply{.status = 200, .body = "ok"});
  Json off = CallJson("PATCH", "endpoints/" + id + "/", 200,
                      R"({"circuit_breaker":{"enabled":false}})");
  EXPECT_FALSE(off.Bool("circuit_breaker/enabled"));
  WaitForStatus(first, "delivered");
  WaitForStatus(second, "delivered");
  EXPECT_EQ(CallJson("GET", "endpoints/" + id + "/", 200).Str("circuit_state"),
            "closed");
}

TEST(LogTest, LinesAreLogfmtAndCannotBeSplit) {
  std::string line =
      webhookd::FormatLogLine(webhookd::LogLevel::kWarn, "two\nlines",
                              {{"k", "a b"}, {"n", "x\ny\"z"}});
  EXPECT_TRUE(std::regex_search(
      line, std::regex(
                R"(^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=warn )")))
      << line;
  EXPECT_NE(line.find(R"(msg="two\nlines" k="a b" n="x\ny\"z")"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace webhookd_test
