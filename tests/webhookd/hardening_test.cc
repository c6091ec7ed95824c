// webhookd's HTTP hardening (issue 16), end to end through the real server:
// framing errors close the connection (no request smuggling), HEAD is GET
// without a body, 401 names its scheme, limits count characters, cursors
// are bound to their list and filters, the log stays valid UTF-8, and dead
// letters and opened circuits are logged at the default level.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/webhookd/daemon_fixture.h"
#include "tests/webhookd/support.h"
#include "tools/receiver/receiver.h"
#include "webhookd/log.h"

namespace webhookd_test {
namespace {

using hooklog::receiver::Receiver;
using hooklog::receiver::Reply;
using namespace std::chrono_literals;

// How many responses `raw` holds: status lines, which follow the previous
// body directly (no JSON body webhookd sends contains one).
int CountResponses(const std::string& raw) {
  int n = 0;
  for (size_t at = raw.find("HTTP/1.1 "); at != std::string::npos;
       at = raw.find("HTTP/1.1 ", at + 1)) {
    ++n;
  }
  return n;
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

class HardeningTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Start(BaseConfig());
  }

  static std::string Head(const std::string& method, const std::string& path,
                          const std::string& extra) {
    return method + " " + kApiBase + path + " HTTP/1.1\r\nHost: x\r\n" +
           "X-API-Key: " + kFixtureKey + "\r\n" + extra + "\r\n";
  }

  // Sends `bytes` in one write; what came back before the server closed,
  // and whether it closed (rather than the 10 s timeout ending the read).
  std::string Exchange(const std::string& bytes, bool* closed) {
    auto t0 = std::chrono::steady_clock::now();
    std::string out = RawExchange(daemon_->host(), daemon_->port(), bytes, 10s);
    *closed = std::chrono::steady_clock::now() - t0 < 8s;
    return out;
  }

  int64_t Count(const std::string& what) {
    return CallJson("GET", what, 200).Int("pagination/total_count");
  }
};

// --- request framing
// ----------------------------------------------------------

// A Transfer-Encoding whose final coding is not chunked, or one beside a
// Content-Length, leaves the end of the body unknown: the request is
// answered 400 (501 for a coding webhookd does not implement) and the
// connection closed, so the bytes behind it are never read as a request.
TEST_F(HardeningTest, FramingErrorsAnswerOnceAndClose) {
  const std::string smuggled = "GET " + kApiBase +
                               "endpoints/ HTTP/1.1\r\nHost: x\r\n"
                               "X-API-Key: " +
                               kFixtureKey + "\r\n\r\n";
  struct Case {
    std::string headers;
    std::string status;
  };
  for (const Case& c : std::vector<Case>{
           {"Transfer-Encoding: gzip\r\n", "400"},
           {"Transfer-Encoding: identity\r\n", "400"},
           {"Transfer-Encoding: xchunked\r\n", "400"},
           {"Transfer-Encoding: chunked, gzip\r\n", "400"},
           {"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", "400"},
           {"Transfer-Encoding: chunked, chunked\r\n", "400"},
           {"Transfer-Encoding: gzip, chunked\r\n", "501"},
           {"Transfer-Encoding: gzip\r\nContent-Length: 0\r\n", "400"},
           {"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", "400"},
           {"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", "400"},
           {"Content-Length: abc\r\n", "400"},
           {"Content-Length: 0\r\nContent-Length: 2\r\n", "400"},
       }) {
    SCOPED_TRACE(c.headers);
    bool closed = false;
    std::string raw = Exchange(
        Head("POST", "events/", c.headers) + "0\r\n\r\n" + smuggled, &closed);
    EXPECT_TRUE(raw.starts_with("HTTP/1.1 " + c.status)) << raw.substr(0, 300);
    EXPECT_EQ(CountResponses(raw), 1) << raw;
    EXPECT_NE(raw.find("Connection: close"), std::string::npos) << raw;
    EXPECT_TRUE(closed) << "the connection stayed open";
  }
  // HTTP/1.0 has no chunked coding: faulty framing too.
  bool closed = false;
  std::string raw = Exchange("POST " + kApiBase +
                                 "events/ HTTP/1.0\r\nHost: x\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                                 smuggled,
                             &closed);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw.substr(0, 300);
  EXPECT_EQ(CountResponses(raw), 1) << raw;
  EXPECT_TRUE(closed);
  // Nothing was published by any of them.
  EXPECT_EQ(Count("deliveries/"), 0);
}

// The control: well-framed pipelined requests on one connection are all
// answered, a chunked one included (so the counting above can fail).
TEST_F(HardeningTest, WellFramedPipelinedRequestsAreAllAnswered) {
  const std::string body = R"({"type":"a.b","data":{}})";
  char hex[16];
  snprintf(hex, sizeof(hex), "%zx\r\n", body.size());
  bool closed = false;
  std::string raw =
      Exchange(Head("POST", "events/", "Transfer-Encoding: chunked\r\n") + hex +
                   body + "\r\n0\r\n\r\n" + Head("GET", "endpoints/", "") +
                   Head("GET", "endpoints/", "Connection: close\r\n"),
               &closed);
  EXPECT_EQ(CountResponses(raw), 3) << raw;
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 202")) << raw.substr(0, 300);
  EXPECT_TRUE(closed);
}

// --- HEAD
// ---------------------------------------------------------------------

// Every GET route answers HEAD with the GET's status and headers, the
// GET body's Content-Length, and no body; HEAD is in the Allow of their
// 405s, and a route without GET refuses HEAD.
TEST_F(HardeningTest, HeadIsGetWithoutTheBody) {
  const std::string ep = CreateEndpoint("/h");
  const std::string d = Publish("head.check")[0];
  WaitForStatus(d, "delivered");  // so that GET and HEAD see the same row
  const std::string unknown = "2222222222222222222222";
  for (const std::string& path : std::vector<std::string>{
           "/healthz", "/healthz/", "endpoints/", "endpoints/" + ep + "/",
           "endpoints/" + unknown, "deliveries/", "deliveries/" + d + "/",
           "deliveries/?status=nope", "nope/"}) {
    SCOPED_TRACE(path);
    const std::string target = path.starts_with("/") ? path : kApiBase + path;
    const std::vector<std::pair<std::string, std::string>> key = {
        {"X-API-Key", kFixtureKey}};
    HttpResult get = client_->Request("GET", target, "", key);
    HttpResult head = client_->Request("HEAD", target, "", key);
    EXPECT_EQ(head.status, get.status);
    EXPECT_EQ(head.body, "");
    EXPECT_FALSE(get.body.empty());
    EXPECT_EQ(head.Header("content-length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.Header("content-type"), get.Header("content-type"));
  }
  // /metrics changes between two calls; its HEAD has a length and no body.
  HttpResult metrics =
      client_->Request("HEAD", "/metrics", "", {{"X-API-Key", kFixtureKey}});
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body, "");
  EXPECT_GT(std::stoll("0" + metrics.Header("content-length")), 100);
  // Without a key: the 401, without its body.
  HttpResult unauth = client_->Request("HEAD", kApiBase + "endpoints/");
  EXPECT_EQ(unauth.status, 401);
  EXPECT_EQ(unauth.body, "");
  EXPECT_EQ(unauth.Header("www-authenticate"), "ApiKey header=\"X-API-Key\"");
  // Routes without GET: 405 listing what they take.
  for (const std::string& path :
       {"endpoints/" + ep + "/test/", "deliveries/" + d + "/replay/",
        std::string("events/")}) {
    HttpResult r = client_->Request("HEAD", kApiBase + path, "",
                                    {{"X-API-Key", kFixtureKey}});
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_EQ(r.Header("allow"), "POST") << path;
    EXPECT_EQ(r.body, "");
  }
  // The rest of the connection is intact: nothing of a body was sent.
  EXPECT_EQ(Call("GET", "endpoints/" + ep + "/").status, 200);
  EXPECT_EQ(client_->reconnects(), 0);
  // On the wire: the headers and nothing after them.
  bool closed = false;
  std::string raw =
      Exchange("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
               &closed);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200")) << raw;
  EXPECT_TRUE(raw.ends_with("\r\n\r\n")) << raw;
  // {"status":"ok","storage":"reachable"}
  EXPECT_NE(raw.find("Content-Length: 37\r\n"), std::string::npos) << raw;
}

// --- 401
// ----------------------------------------------------------------------

TEST_F(HardeningTest, UnauthorizedNamesTheApiKeyScheme) {
  for (const auto& headers :
       std::vector<std::vector<std::pair<std::string, std::string>>>{
           {}, {{"X-API-Key", "wrong-key-0123456789abcdef"}}}) {
    HttpResult r = Call("GET", "endpoints/", "", headers);
    ExpectError(r, 401, "UNAUTHORIZED");  // checks WWW-Authenticate too
    EXPECT_EQ(r.Header("www-authenticate"), "ApiKey header=\"X-API-Key\"");
  }
}

// --- characters, not bytes
// ----------------------------------------------------

TEST_F(HardeningTest, LengthLimitsCountCharacters) {
  const std::string e = "\xC3\xA9";  // é: 2 bytes, 1 character
  const std::string url = Quote(rx_->Url("/chars"));
  Json ok =
      CallJson("POST", "endpoints/", 201,
               "{\"url\":" + url + ",\"description\":" + Quote(Repeat(e, 255)) +
                   ",\"metadata\":{" + Quote(Repeat(e, 128)) + ":" +
                   Quote(Repeat(e, 512)) + "}}");
  EXPECT_EQ(ok.Str("description"), Repeat(e, 255));
  ExpectError(Call("POST", "endpoints/",
                   "{\"url\":" + url +
                       ",\"description\":" + Quote(Repeat(e, 256)) + "}"),
              422, "VALIDATION_ERROR", "description");
  ExpectError(Call("POST", "endpoints/",
                   "{\"url\":" + url + ",\"metadata\":{" +
                       Quote(Repeat(e, 129)) + ":\"v\"}}"),
              422, "VALIDATION_ERROR", "metadata");
  const std::string id = ok.Str("id");
  EXPECT_EQ(CallJson("PATCH", "endpoints/" + id + "/", 200,
                     "{\"description\":" + Quote(Repeat(e, 128)) +
                         ",\"metadata\":{\"k\":" + Quote(Repeat(e, 512)) + "}}")
                .Str("description"),
            Repeat(e, 128));
  ExpectError(Call("PATCH", "endpoints/" + id + "/",
                   "{\"metadata\":{\"k\":" + Quote(Repeat(e, 513)) + "}}"),
              422, "VALIDATION_ERROR", "metadata");
}

// --- cursors
// --------------------------------------------------------------------

TEST_F(HardeningTest, CursorsAreBoundToTheirListAndFilters) {
  const std::string a = CreateEndpoint("/a", R"("metadata":{"team":"x"})");
  const std::string b = CreateEndpoint("/b", R"("metadata":{"team":"x"})");
  CreateEndpoint("/c", R"("metadata":{"team":"x"})");
  for (int i = 0; i < 3; ++i) Publish("cursor.check");
  auto next = [&](const std::string& query) {
    Json j = CallJson("GET", query, 200);
    return j.Str("next_cursor");
  };
  const std::string ep_cursor = next("endpoints/?page_size=1");
  const std::string team_cursor =
      next("endpoints/?page_size=1&metadata[team]=x");
  const std::string dl_cursor = next("deliveries/?page_size=1");
  const std::string dl_a_cursor =
      next("deliveries/?page_size=1&endpoint_id=" + a);
  ASSERT_FALSE(ep_cursor.empty());
  ASSERT_FALSE(dl_a_cursor.empty());
  // Each works where it came from (page_size may change)...
  EXPECT_EQ(Call("GET", "endpoints/?page_size=1&cursor=" + ep_cursor).status,
            200);
  EXPECT_EQ(Call("GET", "endpoints/?page_size=2&metadata[team]=x&cursor=" +
                            team_cursor)
                .status,
            200);
  EXPECT_EQ(Call("GET", "deliveries/?cursor=" + dl_cursor).status, 200);
  EXPECT_EQ(
      Call("GET", "deliveries/?endpoint_id=" + a + "&cursor=" + dl_a_cursor)
          .status,
      200);
  // ...and nowhere else: another list, other filters, no filters, or the
  // engine's cursor without the binding.
  for (const std::string& q : std::vector<std::string>{
           "deliveries/?cursor=" + ep_cursor,
           "endpoints/?cursor=" + dl_cursor,
           "endpoints/?cursor=" + team_cursor,
           "endpoints/?metadata[team]=y&cursor=" + team_cursor,
           "endpoints/?metadata[team]=x&cursor=" + ep_cursor,
           "deliveries/?status=pending&cursor=" + dl_cursor,
           "deliveries/?endpoint_id=" + b + "&cursor=" + dl_a_cursor,
           "deliveries/?cursor=" + dl_a_cursor,
           "deliveries/?event_type=cursor.check&cursor=" + dl_cursor,
           "deliveries/?cursor=" + dl_cursor.substr(dl_cursor.rfind('_') + 1),
       }) {
    SCOPED_TRACE(q);
    HttpResult r = Call("GET", q);
    ExpectError(r, 422, "VALIDATION_ERROR", "cursor");
    EXPECT_NE(r.body.find("cursor is not one this server issued"),
              std::string::npos)
        << r.body;
  }
}

// --- the log
// --------------------------------------------------------------------

bool ValidUtf8(const std::string& s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

TEST(LogEscapingTest, BytesThatAreNotUtf8AreEscaped) {
  for (const auto& [value, want] :
       std::vector<std::pair<std::string, std::string>>{
           {"/a\xff\xfe", R"(k="/a\xff\xfe")"},
           {"\xc0\xaf", R"(k="\xc0\xaf")"},                  // overlong '/'
           {"\xed\xa0\x80", R"(k="\xed\xa0\x80")"},          // a surrogate
           {"x\xe2\x82", R"(k="x\xe2\x82")"},                // cut short
           {"\xf4\x90\x80\x80", R"(k="\xf4\x90\x80\x80")"},  // > U+10FFFF
           {"caf\xc3\xa9", "k=caf\xc3\xa9"},  // UTF-8 stays as is
           {"\xf0\x9f\x98\x80 x", "k=\"\xf0\x9f\x98\x80 x\""},
       }) {
    std::string line =
        webhookd::FormatLogLine(webhookd::LogLevel::kInfo, "m", {{"k", value}});
    EXPECT_TRUE(line.ends_with(" " + want)) << line;
    EXPECT_TRUE(ValidUtf8(line)) << line;
  }
}

// The real binary at its default log level, its stderr read back.
class DaemonLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rx_ = Receiver::Start();
    ASSERT_NE(rx_, nullptr);
  }
  void TearDown() override {
    if (d_.child) d_.child->Signal(SIGTERM);
  }
  void StartDaemon(std::vector<std::string> args) {
    args.insert(args.begin(), {"--api-key", kFixtureKey});
    d_ = StartWebhookdBinary(dir_.path(), args);
    ASSERT_NE(d_.port, 0);
    client_ = std::make_unique<HttpClient>("127.0.0.1", d_.port);
  }
  HttpResult Call(const std::string& method, const std::string& path,
                  const std::string& body = "") {
    return client_->Request(method, kApiBase + path, body,
                            {{"X-API-Key", kFixtureKey}});
  }
  // Waits for a stderr line matching `re`; the whole stderr.
  std::string WaitForLog(const std::regex& re) {
    std::string err;
    for (int i = 0; i < 300; ++i) {
      err = d_.child->Stderr();
      if (std::regex_search(err, re)) break;
      std::this_thread::sleep_for(50ms);
    }
    return err;
  }

  TempDir dir_;
  std::unique_ptr<Receiver> rx_;
  RunningWebhookd d_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(DaemonLogTest, RawPathBytesAreEscapedInTheAccessLog) {
  StartDaemon({});
  std::string raw = RawExchange("127.0.0.1", d_.port,
                                "GET /raw\xff\xfe\x80/x HTTP/1.1\r\nHost: "
                                "x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 401")) << raw.substr(0, 200);
  std::string err = WaitForLog(std::regex(R"(msg=request .*path="/raw)"));
  EXPECT_NE(err.find(R"(path="/raw\xff\xfe\x80/x")"), std::string::npos) << err;
  EXPECT_TRUE(ValidUtf8(err)) << err;
}

// A dead letter and an opened circuit each get a line at info (the
// default), with the endpoint, the delivery and the reason.
TEST_F(DaemonLogTest, DeadLettersAndOpenedCircuitsAreLoggedAtInfo) {
  rx_->SetReply("/gone", Reply{.status = 410, .body = "gone"});
  rx_->SetReply("/down", Reply{.status = 500, .body = "down"});
  StartDaemon({"--allow-private-targets", "--retry-schedule", "0s,1h",
               "--circuit-failures", "1"});
  HttpResult r = Call(
      "POST", "endpoints/",
      "{\"url\":" + Quote(rx_->Url("/gone")) + R"(,"event_types":["gone.x"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string gone = Json(r.body).Str("id");
  r = Call(
      "POST", "endpoints/",
      "{\"url\":" + Quote(rx_->Url("/down")) + R"(,"event_types":["down.x"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string down = Json(r.body).Str("id");
  r = Call("POST", "events/", R"({"type":"gone.x","data":{}})");
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string dead = Json(r.body).Str("deliveries/0");
  r = Call("POST", "events/", R"({"type":"down.x","data":{}})");
  ASSERT_EQ(r.status, 202) << r.body;

  std::string err = WaitForLog(
      std::regex("level=info msg=delivery.dead_lettered endpoint_id=" + gone +
                 " delivery_id=" + dead + " reason=\\w+"));
  EXPECT_TRUE(std::regex_search(
      err, std::regex("level=info msg=delivery.dead_lettered endpoint_id=" +
                      gone + " delivery_id=" + dead + " reason=\\w+")))
      << err;
  err =
      WaitForLog(std::regex("level=info msg=endpoint.circuit_opened "
                            "endpoint_id=" +
                            down + " (delivery_id=\\w+ )?reason="));
  EXPECT_TRUE(std::regex_search(
      err, std::regex("level=info msg=endpoint.circuit_opened endpoint_id=" +
                      down + " (delivery_id=\\w+ )?reason=")))
      << err;
}

}  // namespace
}  // namespace webhookd_test
