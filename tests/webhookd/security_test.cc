// Security checks (issue 8) through webhookd's REST API: the API key on
// every documented route but /healthz, secrets kept out of logs, errors,
// lists and operator notifications, SSRF refused through the API (at
// validation or at connect time), and request size limits enforced before
// a body is read.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "tests/webhookd/daemon_fixture.h"
#include "webhookd/portal_token.h"

namespace webhookd_test {
namespace {

using hooklog::receiver::Reply;
using namespace std::chrono_literals;

class SecurityTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Start(BaseConfig());
  }

  int64_t Count(const std::string& what) {
    return CallJson("GET", what, 200).Int("pagination/total_count");
  }
};

// Every (method, path) of docs/openapi.yaml: without a key, with a wrong
// one, with the key in the wrong header, and with an empty one → 401 with
// the envelope, before any routing or body parsing (a real id in the path,
// a malformed body) — and nothing changes. /healthz alone is public.
TEST_F(SecurityTest, EveryDocumentedRouteButHealthNeedsTheKey) {
  const std::string ep = CreateEndpoint("/auth");
  const std::string d = Publish("auth.check")[0];
  const std::string event =
      CallJson("GET", "deliveries/" + d + "/", 200).Str("event_id");
  // Portal tokens that must never get in: expired, tampered (another
  // tenant's claims under a real signature) and signed with a key this
  // server does not have.
  webhookd::PortalClaims claims;
  claims.metadata = {{"customer", "acme"}};
  claims.expires_at = 1;
  const std::string expired =
      webhookd::SignPortalToken(webhookd::DerivePortalKey(kFixtureKey), claims);
  claims.expires_at = 4102444800;  // 2100
  const std::string real =
      webhookd::SignPortalToken(webhookd::DerivePortalKey(kFixtureKey), claims);
  claims.metadata = {{"customer", "globex"}};
  std::string tampered =
      webhookd::SignPortalToken(webhookd::DerivePortalKey(kFixtureKey), claims);
  tampered =
      tampered.substr(0, tampered.find('.')) + real.substr(real.find('.'));
  const std::string foreign = webhookd::SignPortalToken(
      webhookd::DerivePortalKey("another-key-0123456789abcdef"), claims);
  const int64_t endpoints = Count("endpoints/");
  const int64_t deliveries = Count("deliveries/");
  const auto ops = OpenApi::Get().Operations();
  ASSERT_EQ(ops.size(), OpenApi::Get().OperationCount());
  int checked = 0;
  for (const auto& op : ops) {
    std::string path =
        std::regex_replace(op.path, std::regex("\\{endpoint_id\\}"), ep);
    path = std::regex_replace(path, std::regex("\\{delivery_id\\}"), d);
    path = std::regex_replace(path, std::regex("\\{event_id\\}"), event);
    // No job exists: past authentication this is a 404 (or the engine's
    // answer while replay jobs are not merged).
    path = std::regex_replace(path, std::regex("\\{replay_job_id\\}"),
                              std::string(22, '2'));
    ASSERT_EQ(path.find('{'), std::string::npos) << op.path;
    SCOPED_TRACE(op.method + " " + path);
    if (op.public_route) {
      EXPECT_EQ(path, "/healthz") << "only /healthz may skip the key";
      EXPECT_EQ(Call(op.method, path, "", {}).status, 200);
      continue;
    }
    const std::string body =
        op.method == "POST" || op.method == "PATCH" ? "{not json" : "";
    for (const auto& headers :
         std::vector<std::vector<std::pair<std::string, std::string>>>{
             {},
             {{"X-API-Key", "wrong-key-0123456789abcdef"}},
             {{"X-API-Key", ""}},
             {{"X-API-Key", std::string(kFixtureKey).substr(1)}},
             {{"X-API-Key", std::string(kFixtureKey) + "x"}},
             {{"X-API-Key", std::string(kFixtureKey) + "\t" + kFixtureKey}},
             {{"Authorization", std::string("Bearer ") + kFixtureKey}},
             {{"Authorization", "Bearer " + expired}},
             {{"Authorization", "Bearer " + tampered}},
             {{"Authorization", "Bearer " + foreign}},
             {{"Authorization", "Bearer " + real + "x"}},
             {{"X-API-Key", "wrong-key-0123456789abcdef"},
              {"Authorization", "Bearer " + real}},
             {{"X-Api-Key-Other", kFixtureKey}}}) {
      ExpectError(Call(op.method, path, body, headers), 401, "UNAUTHORIZED");
      // Without the trailing slash too.
      if (path.size() > 1 && path.ends_with("/")) {
        ExpectError(
            Call(op.method, path.substr(0, path.size() - 1), body, headers),
            401, "UNAUTHORIZED");
      }
    }
    // The header name is case-insensitive (HTTP): the right key in lower
    // case gets past authentication (DELETE aside, which would delete).
    if (op.method != "DELETE") {
      HttpResult ok = Call(op.method, path, body, {{"x-api-key", kFixtureKey}});
      EXPECT_NE(ok.status, 401) << ok.body;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(ops.size()) - 1);
  // Unknown routes do not tell an unauthenticated client what exists.
  HttpResult unknown = client_->Request("GET", kApiBase + "secret-admin/");
  ExpectError(unknown, 401, "UNAUTHORIZED");
  // Nothing changed: the successful calls above only read, tested, rotated
  // or failed validation ("{not json"); the endpoint is still there.
  EXPECT_EQ(Count("endpoints/"), endpoints);
  EXPECT_GE(Count("deliveries/"), deliveries);
  EXPECT_EQ(CallJson("GET", "endpoints/" + ep + "/", 200).Str("id"), ep);
}

// --- secrets
// ------------------------------------------------------------------

// "whsec_<base64>": both the whole string and the base64 body must stay out
// of `text`.
void ExpectNoSecret(const std::string& text, const std::string& secret,
                    const std::string& where) {
  ASSERT_TRUE(secret.starts_with("whsec_")) << secret;
  const std::string body = secret.substr(6);
  EXPECT_EQ(text.find(secret), std::string::npos)
      << "secret in " << where << ": " << text.substr(0, 2000);
  EXPECT_EQ(text.find(body), std::string::npos)
      << "secret body in " << where << ": " << text.substr(0, 2000);
  // JSON-escaped form ("/" may be written "\/").
  std::string escaped = std::regex_replace(body, std::regex("/"), "\\/");
  EXPECT_EQ(text.find(escaped), std::string::npos)
      << "escaped secret body in " << where;
}

// The real binary at --log-level debug with an operator URL: create an
// endpoint, rotate its secret, publish (delivered, failed, dead-lettered,
// replayed), send tests, and hit error paths (some carrying the secret in
// the request); then neither stdout, stderr, any API answer except the
// create and rotate answers (the only routes that reveal the secret,
// docs/api.md), nor any operator notification contains either secret.
TEST(SecretsTest, NeverInLogsErrorsListsOrNotifications) {
  TempDir dir;
  auto rx = hooklog::receiver::Receiver::Start();
  ASSERT_NE(rx, nullptr);
  rx->SetReply("/fail", Reply{.status = 500, .body = "nope"});
  rx->SetDefaultReply(Reply{.status = 200, .body = "ok"});
  const std::string key = "secret-scan-key-0123456789abcdef";
  RunningWebhookd d = StartWebhookdBinary(
      dir.path(),
      {"--api-key", key, "--allow-private-targets", "--log-level", "debug",
       "--retry-schedule", "0s,200ms", "--operator-url", rx->Url("/ops")});
  ASSERT_NE(d.port, 0);
  HttpClient client("127.0.0.1", d.port);
  std::vector<std::string> answers;  // every answer that must be secret-free
  auto call = [&](const std::string& method, const std::string& path,
                  const std::string& body = "", bool reveals = false) {
    std::string target = path.starts_with("/") ? path : kApiBase + path;
    HttpResult r = client.Request(method, target, body, {{"X-API-Key", key}});
    EXPECT_EQ(OpenApi::Get().Check(method, target, r), "")
        << method << " " << target << " -> " << r.status << " " << r.body;
    if (!reveals) {
      // The answer only: some requests carry a secret on purpose.
      std::string all = r.body;
      for (const auto& [k, v] : r.headers) all += "\n" + k + ": " + v;
      answers.push_back(all + "\n(" + method + " " + target.substr(0, 60) +
                        "...)");
    }
    return r;
  };

  HttpResult created = call("POST", "endpoints/",
                            "{\"url\":" + Quote(rx->Url("/fail")) + "}", true);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string ep = Json(created.body).Str("id");
  const std::string secret1 = Json(created.body).Str("signing_secret");
  HttpResult good = call("POST", "endpoints/",
                         "{\"url\":" + Quote(rx->Url("/good")) + "}", true);
  const std::string good_ep = Json(good.body).Str("id");
  const std::string secret_good = Json(good.body).Str("signing_secret");
  HttpResult rotated =
      call("POST", "endpoints/" + ep + "/rotate-secret/", "", true);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string secret2 = Json(rotated.body).Str("signing_secret");
  ASSERT_NE(secret1, secret2);

  // Normal traffic: one event to both endpoints; /fail dead-letters.
  HttpResult pub =
      call("POST", "events/", R"({"type":"scan.x","data":{"n":1}})");
  ASSERT_EQ(pub.status, 202) << pub.body;
  call("POST", "endpoints/" + ep + "/test/");
  call("POST", "endpoints/" + good_ep + "/test/");
  std::string dead;
  for (int i = 0; i < 600 && dead.empty(); ++i) {
    Json list(call("GET", "deliveries/?status=dead_letter").body);
    simdjson::dom::array data;
    if (!list["data"].get(data) && data.size() > 0) {
      dead = std::string(data.at(0)["id"].get_string().value());
    } else {
      std::this_thread::sleep_for(25ms);
    }
  }
  ASSERT_FALSE(dead.empty()) << "no dead letter";
  rx->SetReply("/fail", Reply{.status = 200, .body = "fixed"});
  call("POST", "deliveries/" + dead + "/replay/");
  // Reads of everything.
  call("GET", "endpoints/");
  call("GET", "endpoints/" + ep + "/");
  call("PATCH", "endpoints/" + ep + "/", R"({"description":"d"})");
  call("GET", "deliveries/");
  call("GET", "deliveries/" + dead + "/");
  call("GET", "deliveries/?endpoint_id=" + ep);
  call("GET", "/metrics");
  // Error paths, some carrying the secrets in the request: webhookd must
  // not echo them back nor log them.
  call("PATCH", "endpoints/" + ep + "/",
       "{\"signing_secret\":" + Quote(secret2) + "}");
  call("POST", "endpoints/",
       "{\"url\":" + Quote(rx->Url("/x")) +
           ",\"signing_secret\":" + Quote(secret1) + "}");
  call("POST", "endpoints/", "{\"url\":" + Quote(secret1) + "}");
  call("POST", "endpoints/", "{\"url\":" + Quote(secret2) + ",");
  call("POST", "events/", "{\"type\":" + Quote(secret2) + ",\"data\":{}}");
  call("POST", "events/",
       "{\"type\":\"a\",\"data\":{},\"idempotency_key\":5,\"x\":" +
           Quote(secret1) + "}");
  call("GET", "deliveries/?event_type=" + secret1.substr(6));
  call("GET", "endpoints/" + secret1.substr(6, 22) + "/");
  call("DELETE", "endpoints/" + ep + "/");

  // Operator notifications (the dead letter at least) arrived.
  for (int i = 0; i < 400 && rx->RequestsFor("/ops").empty(); ++i) {
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_FALSE(rx->RequestsFor("/ops").empty());
  d.child->Signal(SIGTERM);
  ASSERT_EQ(d.child->Wait(30s).value_or(-1), 0) << d.child->Stderr();
  const std::string out = d.child->ReadRest(1s);
  const std::string err = d.child->Stderr();
  // --log-level debug actually logged requests (the scan is not vacuous).
  EXPECT_NE(err.find("msg=request"), std::string::npos) << err;
  EXPECT_EQ(err.find(key), std::string::npos) << "API key in the log";

  for (const std::string& s : {secret1, secret2, secret_good}) {
    ExpectNoSecret(out, s, "stdout");
    ExpectNoSecret(err, s, "stderr");
    for (const auto& a : answers) ExpectNoSecret(a, s, "answer");
    // What left the daemon over HTTP: notifications and customer requests
    // carry signatures, never a secret.
    for (const auto& r : rx->Requests()) {
      std::string all = r.target + "\n" + r.body;
      for (const auto& [k, v] : r.headers) all += "\n" + k + ": " + v;
      ExpectNoSecret(all, s, "outgoing request to " + r.path);
    }
  }
  // The masked form is what the other routes show.
  bool masked = false;
  for (const auto& a : answers) {
    if (a.find("whsec_\xE2\x80\xA6" + secret2.substr(secret2.size() - 4)) !=
        std::string::npos) {
      masked = true;
    }
  }
  EXPECT_TRUE(masked);
}

// --- SSRF
// ---------------------------------------------------------------------

// What api_test's PrivateTargetsRefusedWithoutTheFlag does not cover: the
// other numeric spellings of loopback and the remaining private ranges,
// each either refused at validation (422 on url) or, if accepted, blocked
// when connecting (error "blocked", null code, nothing reaches the
// receiver, which listens on the port every URL names). ::ffff:0:a.b.c.d is
// the IPv4-translated form (RFC 2765).
TEST_F(SecurityTest, PrivateAddressesInEverySpellingNeverReachTheTarget) {
  auto c = BaseConfig();
  c.allow_private_targets = false;
  Start(c);
  const std::string port = std::to_string(rx_->port());
  std::vector<std::string> hosts = {"2130706433",
                                    "0x7f000001",
                                    "0x7f.0.0.1",
                                    "0177.0.0.1",
                                    "127.1",
                                    "127.0.0.2",
                                    "[::ffff:7f00:1]",
                                    "[::ffff:127.0.0.1]",
                                    "[0:0:0:0:0:ffff:127.0.0.1]",
                                    "[::ffff:0:127.0.0.1]",
                                    "[::ffff:0:7f00:1]",
                                    "[::127.0.0.1]",
                                    "[64:ff9b::7f00:1]",
                                    "[2002:7f00:1::]",
                                    "[fe80::1]",
                                    "[fc00::1]",
                                    "[::]",
                                    "100.64.0.1",
                                    "172.16.0.1",
                                    "192.0.0.8",
                                    "198.18.0.1",
                                    "169.254.169.254",
                                    "169.254.170.2",
                                    "0.0.0.0",
                                    "0",
                                    "ip6-localhost",
                                    "ip6-loopback"};
  // The machine's own name usually resolves to a loopback or private
  // address (/etc/hosts): a public-looking name that is not one.
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') {
    hosts.push_back(name);
  }
  int refused = 0, blocked = 0;
  for (const std::string& h : hosts) {
    const std::string url = "http://" + h + ":" + port + "/ssrf";
    SCOPED_TRACE(url);
    HttpResult r = Call("POST", "endpoints/", "{\"url\":" + Quote(url) + "}");
    // A literal address (any spelling) is refused at validation; a name is
    // refused there only when it is localhost-like.
    const bool literal =
        h != "ip6-localhost" && h != "ip6-loopback" && h != std::string(name);
    if (literal) {
      EXPECT_EQ(r.status, 422) << r.body;
    }
    if (r.status == 422) {
      ExpectError(r, 422, "VALIDATION_ERROR", "url");
      ++refused;
      continue;
    }
    ASSERT_EQ(r.status, 201) << r.body;
    Json res =
        CallJson("POST", "endpoints/" + Json(r.body).Str("id") + "/test/", 200);
    EXPECT_EQ(res.Str("status"), "failed");
    EXPECT_TRUE(res.IsNull("http_status_code"));
    EXPECT_TRUE(res.IsNull("response_body"));
    Json row =
        CallJson("GET", "deliveries/" + res.Str("delivery_id") + "/", 200);
    // "dns" only for a name this machine cannot resolve at all.
    const std::string error = row.Str("error");
    EXPECT_TRUE(error == "blocked" || error == "dns") << error;
    blocked += error == "blocked";
  }
  EXPECT_EQ(rx_->RequestsFor("/ssrf").size(), 0u);
  EXPECT_GT(refused, 0);
  EXPECT_GT(blocked, 0) << "nothing got past validation to the connect guard";

  // The same through a publish: the delivery fails with a clear error.
  Json ep = CallJson(
      "POST", "endpoints/", 201,
      "{\"url\":" + Quote("http://ip6-localhost:" + port + "/ssrf") + "}");
  // (Every endpoint created above that got past validation matches too.)
  auto ids = Publish("ssrf.try");
  ASSERT_GE(ids.size(), 1u);
  for (const auto& id : ids) {
    Json row = WaitFor(id, [](const Json& j) { return j.Int("attempts") > 0; });
    EXPECT_TRUE(row.IsNull("http_status_code"));
    EXPECT_TRUE(row.IsNull("response_body"));
    EXPECT_EQ(row.Str("attempts_log/0/error"), row.Str("error"));
    EXPECT_TRUE(row.Str("error") == "blocked" || row.Str("error") == "dns");
  }
  EXPECT_EQ(rx_->RequestsFor("/ssrf").size(), 0u);
  (void)ep;
}

// Updating a public endpoint to a private URL is refused and changes
// nothing (api_test covers 127.0.0.1; here the metadata address and a
// numeric spelling).
TEST_F(SecurityTest, UpdateToAPrivateUrlIsRefusedAndChangesNothing) {
  auto c = BaseConfig();
  c.allow_private_targets = false;
  Start(c);
  Json pub = CallJson("POST", "endpoints/", 201,
                      R"({"url":"https://hooks.example.com/x"})");
  const std::string id = pub.Str("id");
  for (const char* url :
       {"http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/x",
        "http://0x7f000001/x", "http://10.0.0.1/x"}) {
    HttpResult r =
        Call("PATCH", "endpoints/" + id + "/", "{\"url\":" + Quote(url) + "}");
    // Every literal address (numeric spellings included) is refused here;
    // only names that resolve to private addresses are left to the connect
    // guard (test above).
    ExpectError(r, 422, "VALIDATION_ERROR", "url");
  }
  EXPECT_EQ(CallJson("GET", "endpoints/" + id + "/", 200).Str("url"),
            "https://hooks.example.com/x");
}

// --- request size limits
// ------------------------------------------------------

class LimitsTest : public SecurityTest {
 protected:
  // Sends `bytes` on a fresh connection; the answer and how long it took.
  std::string Exchange(const std::string& bytes,
                       std::chrono::milliseconds* took) {
    auto t0 = std::chrono::steady_clock::now();
    std::string out = RawExchange(daemon_->host(), daemon_->port(), bytes, 20s);
    *took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    return out;
  }
  static std::string Head(const std::string& method, const std::string& path,
                          const std::string& extra) {
    return method + " " + kApiBase + path + " HTTP/1.1\r\nHost: x\r\n" +
           "X-API-Key: " + kFixtureKey + "\r\n" + extra + "\r\n";
  }
  static std::string Chunked(size_t total, size_t chunk) {
    std::string out;
    char hex[32];
    for (size_t sent = 0; sent < total; sent += chunk) {
      size_t n = std::min(chunk, total - sent);
      snprintf(hex, sizeof(hex), "%zx\r\n", n);
      out += hex + std::string(n, 'x') + "\r\n";
    }
    return out;
  }
};

// A declared Content-Length over the limit is refused from the headers
// alone: only a few body bytes are sent, and the 413 (with the envelope)
// comes back long before the 30 s read timeout that waiting for the body
// would hit — on every route that takes a body, and with Expect:
// 100-continue no "100 Continue" invites the body first.
TEST_F(LimitsTest, DeclaredOversizeIs413BeforeReading) {
  const std::string ep = CreateEndpoint("/l");
  const int64_t deliveries = Count("deliveries/");
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{
           {"POST", "events/"},
           {"POST", "endpoints/"},
           {"PATCH", "endpoints/" + ep + "/"},
           {"POST", "endpoints/" + ep + "/test/"}}) {
    for (const std::string& extra :
         {std::string("Content-Length: 5000000000\r\n"),
          std::string("Content-Length: 400000\r\nExpect: 100-continue\r\n")}) {
      SCOPED_TRACE(method + " " + path + " " + extra);
      std::chrono::milliseconds took;
      std::string raw =
          Exchange(Head(method, path, extra) + "{\"type\"", &took);
      EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw.substr(0, 300);
      EXPECT_EQ(raw.find("100 Continue"), std::string::npos);
      EXPECT_NE(raw.find(R"("code":"PAYLOAD_TOO_LARGE")"), std::string::npos);
      EXPECT_NE(raw.find("Connection: close"), std::string::npos);
      EXPECT_LT(took, 15s);
    }
  }
  // Without a key the answer is also immediate (401 or 413, never a read).
  std::chrono::milliseconds took;
  std::string raw = Exchange(
      "POST " + kApiBase +
          "events/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000000\r\n\r\n",
      &took);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413") ||
              raw.starts_with("HTTP/1.1 401"))
      << raw.substr(0, 200);
  EXPECT_LT(took, 15s);
  EXPECT_EQ(Count("deliveries/"), deliveries);
}

// A chunked body is cut at the limit: 413 once the limit is passed, without
// waiting for the final chunk; under the limit, chunked works.
TEST_F(LimitsTest, ChunkedBodiesOverTheLimitAreRefused) {
  CreateEndpoint("/c");
  std::chrono::milliseconds took;
  // 400 KiB of chunks, no terminating chunk.
  std::string raw =
      Exchange(Head("POST", "events/", "Transfer-Encoding: chunked\r\n") +
                   Chunked(400 * 1024, 8192),
               &took);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw.substr(0, 300);
  EXPECT_NE(raw.find(R"("code":"PAYLOAD_TOO_LARGE")"), std::string::npos);
  EXPECT_LT(took, 15s);
  // One huge chunk declared in its size line.
  raw = Exchange(Head("POST", "events/", "Transfer-Encoding: chunked\r\n") +
                     "7fffffff\r\nxxxx",
                 &took);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw.substr(0, 300);
  EXPECT_LT(took, 15s);
  EXPECT_EQ(Count("deliveries/"), 0);
  // A small chunked publish is accepted.
  const std::string body = R"({"type":"chunked.ok","data":{"a":1}})";
  raw = Exchange(
      Head("POST", "events/",
           "Transfer-Encoding: chunked\r\nConnection: close\r\n") +
          [&] {
            char hex[16];
            snprintf(hex, sizeof(hex), "%zx\r\n", body.size());
            return std::string(hex) + body + "\r\n0\r\n\r\n";
          }(),
      &took);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 202")) << raw.substr(0, 300);
  EXPECT_EQ(Count("deliveries/"), 1);
}

// Header limits (16 KiB for the request line and headers, 400 as
// docs/webhookd.md decides): one huge header, many small ones, a huge
// request line; each refused with the envelope and the connection closed.
TEST_F(LimitsTest, OversizedHeadersAndRequestLinesAreRefused) {
  std::string many;
  for (int i = 0; i < 1000; ++i) {
    many += "X-H" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
  }
  for (const std::string& req : {
           "GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + "\r\n",
           "GET /healthz?" + std::string(20000, 'q') +
               " HTTP/1.1\r\nHost: x\r\n\r\n",
           Head("POST", "events/",
                "Content-Length: 2\r\nX-Big: " + std::string(17000, 'b') +
                    "\r\n") +
               "{}",
       }) {
    std::chrono::milliseconds took;
    std::string raw = Exchange(req, &took);
    EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw.substr(0, 300);
    EXPECT_NE(raw.find(R"("code":"BAD_REQUEST")"), std::string::npos);
    EXPECT_NE(raw.find("Connection: close"), std::string::npos);
    EXPECT_LT(took, 15s);
  }
  // Just under the limit is fine.
  std::chrono::milliseconds took;
  std::string raw = Exchange(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ok: " + std::string(15000, 'o') +
          "\r\nConnection: close\r\n\r\n",
      &took);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200")) << raw.substr(0, 300);
}

}  // namespace
}  // namespace webhookd_test
