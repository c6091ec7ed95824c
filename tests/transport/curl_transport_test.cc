// The curl transport against the real loopback receiver: what is sent, what
// comes back, and every error class produced for real.
#include "transport/curl_transport.h"

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/transport/transport_fixture.h"
#include "tools/receiver/receiver.h"

namespace hooklog::testing {

using receiver::Receiver;
using receiver::RecordedRequest;
using receiver::Reply;

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rx_ = Receiver::Start();
    ASSERT_NE(rx_, nullptr);
    rx_->SetSecrets("", {kTestSecret});
    MakeTransport({});
  }
  void TearDown() override {
    transport_.reset();
    io_.Stop();
    if (rx_) rx_->Stop();
  }
  void MakeTransport(TransportOptions opts) {
    opts.allow_private_targets = true;
    transport_ = NewCurlTransport(io_.io(), opts);
  }
  AttemptResult Send(AttemptRequest r) {
    return SendAndWait(*transport_, std::move(r));
  }

  IoThreads io_;
  std::unique_ptr<Receiver> rx_;
  std::unique_ptr<Transport> transport_;
};

TEST_F(CurlTransportTest, DeliversSignedPostWithExpectedHeaders) {
  AttemptRequest req = MakeRequest(rx_->Url("/hook?x=1"));
  req.headers = {{"X-Tenant", "acme"}, {"X-Empty", ""}};
  const std::string body = req.body;
  AttemptResult r = Send(req);
  ASSERT_EQ(r.error, ErrorClass::kNone) << r.error_detail;
  EXPECT_EQ(r.http_status_code, 200);
  EXPECT_EQ(r.response_body, "");
  EXPECT_GT(r.latency.count(), 0);
  auto reqs = rx_->Requests();
  ASSERT_EQ(reqs.size(), 1u);
  const RecordedRequest& got = reqs[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/hook?x=1");
  EXPECT_EQ(got.body, body);
  EXPECT_EQ(got.Header("content-type"), "application/json");
  EXPECT_EQ(got.Header("user-agent"), std::string("hooklog/") + "0.1.0");
  EXPECT_EQ(got.webhook_id, "evt_23456789ABCDEFGHJKLMNP");
  EXPECT_EQ(got.Header("X-Tenant"), "acme");
  bool has_empty = false;
  for (const auto& [k, v] : got.headers) has_empty |= (k == "X-Empty");
  EXPECT_TRUE(has_empty);
  EXPECT_EQ(got.Header("expect"), "");
  ASSERT_TRUE(got.signature_ok.has_value());
  EXPECT_TRUE(*got.signature_ok);
  // Independent check of the signature with the timestamp actually sent.
  const int64_t ts = std::stoll(got.Header("webhook-timestamp"));
  EXPECT_NEAR(static_cast<double>(ts), static_cast<double>(std::time(nullptr)),
              60.0);
  EXPECT_EQ(
      got.Header("webhook-signature"),
      *StandardWebhooksSignature({kTestSecret}, got.webhook_id, ts, got.body));
}

TEST_F(CurlTransportTest, WebhookIdStableAcrossRetriesAndKeepAliveReused) {
  for (int i = 0; i < 20; ++i) {
    AttemptResult r = Send(MakeRequest(rx_->Url("/same")));
    ASSERT_EQ(r.http_status_code, 200) << r.error_detail;
  }
  auto reqs = rx_->Requests();
  ASSERT_EQ(reqs.size(), 20u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.webhook_id, reqs[0].webhook_id);
    EXPECT_EQ(q.connection_id, reqs[0].connection_id);  // keep-alive
  }
  EXPECT_EQ(rx_->connections_accepted(), 1u);
}

TEST_F(CurlTransportTest, RotationSendsTwoSignaturesBothVerified) {
  const std::string fresh = NewSigningSecret();
  rx_->SetSecrets("/old", {kTestSecret});
  rx_->SetSecrets("/new", {fresh});
  for (const char* path : {"/old", "/new"}) {
    AttemptRequest req = MakeRequest(rx_->Url(path));
    req.secrets = {fresh, kTestSecret};
    ASSERT_EQ(Send(req).http_status_code, 200);
  }
  for (const char* path : {"/old", "/new"}) {
    auto reqs = rx_->RequestsFor(path);
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_TRUE(reqs[0].signature_ok.value_or(false)) << path;
    const std::string sig = reqs[0].Header("webhook-signature");
    EXPECT_EQ(std::count(sig.begin(), sig.end(), ' '), 1) << sig;
    EXPECT_EQ(sig.rfind("v1,", 0), 0u);
    EXPECT_THAT(sig, HasSubstr(" v1,"));
  }
}

TEST_F(CurlTransportTest, ClosientSchemeHeaders) {
  rx_->SetSecrets("/c", {"closient-secret"}, SignatureScheme::kClosient);
  AttemptRequest req = MakeRequest(rx_->Url("/c"));
  req.scheme = SignatureScheme::kClosient;
  req.secrets = {"closient-secret"};
  ASSERT_EQ(Send(req).http_status_code, 200);
  auto reqs = rx_->RequestsFor("/c");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].signature_ok.value_or(false));
  EXPECT_EQ(reqs[0].Header("X-Closient-Event-Type"), "invoice.paid");
  EXPECT_EQ(reqs[0].Header("X-Closient-Delivery-ID"), "23456789ABCDEFGHJKLMNP");
  EXPECT_EQ(reqs[0].Header("webhook-signature"), "");
}

TEST_F(CurlTransportTest, StatusBodyAndRetryAfterSeconds) {
  rx_->SetReply("/busy",
                Reply{.status = 429, .retry_after = "7", .body = "slow down"});
  AttemptResult r = Send(MakeRequest(rx_->Url("/busy")));
  EXPECT_EQ(r.error, ErrorClass::kNone);
  EXPECT_EQ(r.http_status_code, 429);
  EXPECT_EQ(r.response_body, "slow down");
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, seconds(7));
}

TEST_F(CurlTransportTest, RetryAfterHttpDateAndGarbage) {
  char date[64];
  const std::time_t later = std::time(nullptr) + 120;
  std::tm tm{};
  gmtime_r(&later, &tm);
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  rx_->SetReply("/date", Reply{.status = 503, .retry_after = date});
  rx_->SetReply("/junk", Reply{.status = 503, .retry_after = "whenever"});
  AttemptResult r = Send(MakeRequest(rx_->Url("/date")));
  EXPECT_EQ(r.http_status_code, 503);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_GE(r.retry_after->count(), 100);
  EXPECT_LE(r.retry_after->count(), 121);
  r = Send(MakeRequest(rx_->Url("/junk")));
  EXPECT_EQ(r.http_status_code, 503);
  EXPECT_FALSE(r.retry_after.has_value());
}

TEST_F(CurlTransportTest, ResponseBodyTruncatedOnUtf8Boundary) {
  std::string body = "a";
  for (int i = 0; i < 400; ++i) body += "\xC3\xA9";
  rx_->SetReply("/utf8", Reply{.status = 500, .body = body});
  AttemptResult r = Send(MakeRequest(rx_->Url("/utf8")));
  ASSERT_TRUE(r.response_body.has_value());
  EXPECT_EQ(r.response_body->size(), 1u + 255u * 2u);
  std::string expected = "a";
  for (int i = 0; i < 255; ++i) expected += "\xC3\xA9";
  EXPECT_EQ(*r.response_body, expected);
}

TEST_F(CurlTransportTest, RedirectIsNotFollowed) {
  rx_->SetReply("/moved",
                Reply{.status = 302, .headers = {{"Location", "/target"}}});
  AttemptResult r = Send(MakeRequest(rx_->Url("/moved")));
  EXPECT_EQ(r.error, ErrorClass::kNone);
  EXPECT_EQ(r.http_status_code, 302);
  EXPECT_TRUE(rx_->RequestsFor("/target").empty());
  EXPECT_EQ(rx_->total(), 1u);
}

TEST_F(CurlTransportTest, HeaderInjectionIsRefused) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"X-A", "v\r\nX-Injected: 1"},
      {"X-A", "v\nX-Injected: 1"},
      {"X-A", std::string("v\0w", 3)},
      {"X-A\r\nX-Injected", "1"},
      {"X A", "1"},
      {"X-A:", "1"},
      {"", "1"}};
  for (const auto& [k, v] : bad) {
    AttemptRequest req = MakeRequest(rx_->Url("/inject"));
    req.headers = {{k, v}};
    AttemptResult r = Send(req);
    EXPECT_EQ(r.error, ErrorClass::kOther);
    EXPECT_FALSE(r.http_status_code.has_value());
  }
  AttemptRequest req = MakeRequest(rx_->Url("/inject"));
  req.webhook_id = "evt_x\r\nX-Injected: 1";
  EXPECT_EQ(Send(req).error, ErrorClass::kOther);
  EXPECT_EQ(rx_->total(), 0u);
  EXPECT_TRUE(transport_internal::IsSafeHeader("X-Ok_1.~", "any value: ok"));
}

TEST_F(CurlTransportTest, NonHttpSchemesAreRefused) {
  for (const char* url :
       {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/"}) {
    AttemptResult r = Send(MakeRequest(url));
    EXPECT_NE(r.error, ErrorClass::kNone) << url;
    EXPECT_FALSE(r.http_status_code.has_value());
  }
}

// ---- each error class, for real ----

TEST_F(CurlTransportTest, ErrorDnsNxdomain) {
  AttemptResult r = Send(MakeRequest("http://x.invalid/hook"));
  EXPECT_EQ(r.error, ErrorClass::kDns) << r.error_detail;
  EXPECT_FALSE(r.http_status_code.has_value());
  EXPECT_FALSE(r.response_body.has_value());
}

TEST_F(CurlTransportTest, ErrorConnectRefused) {
  // A port that was free a moment ago and has no listener.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  AttemptResult r =
      Send(MakeRequest("http://127.0.0.1:" + std::to_string(port) + "/hook"));
  EXPECT_EQ(r.error, ErrorClass::kConnect) << r.error_detail;
  EXPECT_FALSE(r.http_status_code.has_value());
}

TEST_F(CurlTransportTest, ErrorTlsSelfSignedAndSuccessWithCaFile) {
  Receiver::Options o;
  o.tls = true;
  auto tls = Receiver::Start(o);
  ASSERT_NE(tls, nullptr);
  AttemptResult r = Send(MakeRequest(tls->Url("/secure")));
  EXPECT_EQ(r.error, ErrorClass::kTls) << r.error_detail;
  EXPECT_FALSE(r.http_status_code.has_value());
  EXPECT_EQ(tls->total(), 0u);

  // Trusting the certificate through ca_file makes the same call succeed.
  char path[] = "/tmp/hooklog-ca-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string pem = tls->CertificatePem();
  ASSERT_EQ(::write(fd, pem.data(), pem.size()),
            static_cast<ssize_t>(pem.size()));
  ::close(fd);
  transport_.reset();
  MakeTransport({.ca_file = path});
  r = Send(MakeRequest(tls->Url("/secure")));
  EXPECT_EQ(r.error, ErrorClass::kNone) << r.error_detail;
  EXPECT_EQ(r.http_status_code, 200);
  ::unlink(path);
  tls->Stop();
}

TEST_F(CurlTransportTest, ErrorTimeoutWhenNeverAnswered) {
  rx_->SetReply("/hang", Reply{.action = Reply::Action::kNeverAnswer});
  AttemptRequest req = MakeRequest(rx_->Url("/hang"));
  req.timeout = milliseconds(500);
  AttemptResult r = Send(req);
  EXPECT_EQ(r.error, ErrorClass::kTimeout) << r.error_detail;
  EXPECT_FALSE(r.http_status_code.has_value());
  EXPECT_GE(r.latency, milliseconds(450));
}

TEST_F(CurlTransportTest, ErrorTimeoutOnLowSpeed) {
  rx_->SetReply("/trickle", Reply{.body_size = 1000,
                                  .trickle = true,
                                  .trickle_interval = milliseconds(400)});
  transport_.reset();
  MakeTransport({.low_speed_bytes = 100, .low_speed_time = seconds(1)});
  AttemptResult r = Send(MakeRequest(rx_->Url("/trickle")));
  EXPECT_EQ(r.error, ErrorClass::kTimeout) << r.error_detail;
  EXPECT_FALSE(r.http_status_code.has_value());
}

TEST_F(CurlTransportTest, ErrorResetBeforeAndDuringResponse) {
  rx_->SetReply("/rst", Reply{.action = Reply::Action::kResetBeforeResponse});
  rx_->SetReply("/rst-mid", Reply{.body_size = 5000,
                                  .action = Reply::Action::kResetMidResponse});
  rx_->SetReply(
      "/close-mid",
      Reply{.body_size = 5000, .action = Reply::Action::kCloseMidResponse});
  for (const char* path : {"/rst", "/rst-mid", "/close-mid"}) {
    AttemptResult r = Send(MakeRequest(rx_->Url(path)));
    EXPECT_EQ(r.error, ErrorClass::kReset) << path << ": " << r.error_detail;
    EXPECT_FALSE(r.http_status_code.has_value()) << path;
    EXPECT_FALSE(r.response_body.has_value()) << path;
  }
}

// A body over the cap is not read to its end, but the response counts: a
// 2xx accepted the event (resending it would duplicate it), a 500 failed.
TEST_F(CurlTransportTest, OversizedBodyIsCutOffButTheResponseStands) {
  rx_->SetReply("/big", Reply{.body_size = 200 * 1024});
  AttemptResult r = Send(MakeRequest(rx_->Url("/big")));
  EXPECT_EQ(r.error, ErrorClass::kNone) << r.error_detail;
  EXPECT_EQ(r.http_status_code, 200);
  EXPECT_EQ(r.response_body, std::string(kResponseBodyChars, 'x'));
  rx_->SetReply("/big500", Reply{.status = 500, .body_size = 200 * 1024});
  r = Send(MakeRequest(rx_->Url("/big500")));
  EXPECT_EQ(r.error, ErrorClass::kNone) << r.error_detail;
  EXPECT_EQ(r.http_status_code, 500);
  // Just under the cap is fine.
  rx_->SetReply("/fits", Reply{.body_size = 64 * 1024});
  r = Send(MakeRequest(rx_->Url("/fits")));
  EXPECT_EQ(r.error, ErrorClass::kNone) << r.error_detail;
  EXPECT_EQ(r.response_body->size(), kResponseBodyChars);
}

TEST_F(CurlTransportTest, ErrorBlockedWithoutOptIn) {
  auto strict = NewCurlTransport(io_.io(), {});
  AttemptResult r = SendAndWait(*strict, MakeRequest(rx_->Url("/")));
  EXPECT_EQ(r.error, ErrorClass::kBlocked) << r.error_detail;
  EXPECT_FALSE(r.http_status_code.has_value());
  EXPECT_EQ(rx_->total(), 0u);
}

TEST_F(CurlTransportTest, ClassificationTable) {
  using transport_internal::ClassifyCurlError;
  EXPECT_EQ(ClassifyCurlError(CURLE_COULDNT_CONNECT, true, false),
            ErrorClass::kBlocked);
  EXPECT_EQ(ClassifyCurlError(CURLE_WRITE_ERROR, false, true),
            ErrorClass::kTooLarge);
  EXPECT_EQ(ClassifyCurlError(CURLE_HTTP2_STREAM, false, false),
            ErrorClass::kReset);
  EXPECT_EQ(ClassifyCurlError(CURLE_PEER_FAILED_VERIFICATION, false, false),
            ErrorClass::kTls);
  EXPECT_EQ(ClassifyCurlError(CURLE_URL_MALFORMAT, false, false),
            ErrorClass::kOther);
}

// ---- lifecycle ----

TEST_F(CurlTransportTest, ShutdownCompletesPendingExactlyOnce) {
  rx_->SetReply("/hang", Reply{.action = Reply::Action::kNeverAnswer});
  Results results;
  constexpr size_t kN = 20;
  for (size_t i = 0; i < kN; ++i) {
    transport_->Send(MakeRequest(rx_->Url("/hang")), results.Callback(i));
  }
  ASSERT_TRUE(rx_->WaitForRequests(kN, seconds(10)));
  EXPECT_EQ(transport_->InFlight(), kN);
  transport_->Shutdown();
  transport_->Shutdown();  // idempotent
  ASSERT_TRUE(results.WaitFor(kN, seconds(10)));
  for (const auto& r : results.Take()) {
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->error, ErrorClass::kOther);
    EXPECT_EQ(r->error_detail, "shutdown");
  }
  // After shutdown new attempts complete at once, without a request.
  AttemptResult late = SendAndWait(*transport_, MakeRequest(rx_->Url("/")));
  EXPECT_EQ(late.error_detail, "shutdown");
  EXPECT_EQ(results.duplicates(), 0u);
  EXPECT_EQ(transport_->InFlight(), 0u);
}

TEST_F(CurlTransportTest, DestroyWithAttemptsInFlightCallsNothingAfterwards) {
  rx_->SetReply("/hang", Reply{.action = Reply::Action::kNeverAnswer});
  auto calls = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 10; ++i) {
    transport_->Send(MakeRequest(rx_->Url("/hang")),
                     [calls](AttemptResult) { ++*calls; });
  }
  ASSERT_TRUE(rx_->WaitForRequests(10, seconds(10)));
  transport_.reset();
  const int after_destroy = calls->load();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(calls->load(), after_destroy);
}

// ---- keep-alive sockets stay registered between attempts (regressions) ----

// Connections the server closes ("Connection: close") are closed by curl
// through CLOSESOCKETFUNCTION while keep-alive ones stay registered between
// attempts; fd numbers get reused by the next connection. Every attempt must
// still be answered, and keep-alive reuse must still happen.
TEST_F(CurlTransportTest, ServerClosedConnectionsAndKeepAliveInterleaved) {
  rx_->SetReply("/close", Reply{.close = true});
  for (int i = 0; i < 40; ++i) {
    const char* path = i % 3 == 0 ? "/close" : "/keep";
    AttemptResult r = Send(MakeRequest(rx_->Url(path)));
    ASSERT_EQ(r.http_status_code, 200) << i << ": " << r.error_detail;
  }
  EXPECT_EQ(rx_->total(), 40u);
  // 14 requests on "/close" each end their connection; at most one more
  // connection per closed one is needed for the "/keep" requests after it.
  EXPECT_LE(rx_->connections_accepted(), 28u);
  auto keep = rx_->RequestsFor("/keep");
  ASSERT_EQ(keep.size(), 26u);
  EXPECT_EQ(keep[0].connection_id, keep[1].connection_id);  // reused
}

// The peer closes idle keep-alive connections (receiver restarted on the
// same port) while their sockets are still registered with the reactor and
// have no wait pending: the next attempts must notice, reconnect and succeed
// rather than hang on a dead registration.
TEST_F(CurlTransportTest, PeerClosesIdleKeptConnections) {
  Results warm;
  for (size_t i = 0; i < 4; ++i) {
    transport_->Send(MakeRequest(rx_->Url("/warm")), warm.Callback(i));
  }
  ASSERT_TRUE(warm.WaitFor(4, seconds(30)));
  const uint16_t port = rx_->port();
  rx_->Stop();
  Receiver::Options o;
  o.port = port;
  rx_ = Receiver::Start(o);
  ASSERT_NE(rx_, nullptr) << "could not listen on port " << port << " again";
  rx_->SetSecrets("", {kTestSecret});
  for (int i = 0; i < 6; ++i) {
    AttemptResult r = Send(MakeRequest(rx_->Url("/after")));
    ASSERT_EQ(r.http_status_code, 200) << i << ": " << r.error_detail;
  }
  EXPECT_EQ(rx_->total(), 6u);
}

// Easy handles are pooled without curl_easy_reset(): options are set once
// per handle, per-attempt ones on each attempt. Run every kind of attempt
// one after another on one transport (so the same handle is reused) and
// check nothing leaks from one attempt into the next and no safety option
// is lost.
TEST_F(CurlTransportTest, PooledHandlesKeepEverySafetyOption) {
  rx_->SetReply("/moved",
                Reply{.status = 302, .headers = {{"Location", "/target"}}});
  rx_->SetReply("/big", Reply{.body_size = 100 * 1024});
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    AttemptRequest custom = MakeRequest(rx_->Url("/ok"));
    custom.headers = {{"X-Round", std::to_string(round)}};
    AttemptResult ok = Send(custom);
    EXPECT_EQ(ok.http_status_code, 200) << ok.error_detail;
    EXPECT_EQ(ok.error_detail, "");

    AttemptResult moved = Send(MakeRequest(rx_->Url("/moved")));
    EXPECT_EQ(moved.http_status_code, 302);

    AttemptResult file = Send(MakeRequest("file:///etc/passwd"));
    EXPECT_NE(file.error, ErrorClass::kNone);
    EXPECT_FALSE(file.http_status_code.has_value());

    AttemptResult big = Send(MakeRequest(rx_->Url("/big")));
    EXPECT_EQ(big.http_status_code, 200) << big.error_detail;  // cut off

    // h2c prior knowledge against an HTTP/1.1-only server fails; the next
    // HTTP/1.1 attempt must not inherit HTTP/2 settings.
    AttemptRequest h2 = MakeRequest(rx_->Url("/h2"));
    h2.http2 = true;
    EXPECT_NE(Send(h2).error, ErrorClass::kNone);

    AttemptResult plain = Send(MakeRequest(rx_->Url("/plain")));
    EXPECT_EQ(plain.http_status_code, 200) << plain.error_detail;
    EXPECT_EQ(plain.error_detail, "");  // no error text left over
  }
  EXPECT_TRUE(rx_->RequestsFor("/target").empty());
  auto oks = rx_->RequestsFor("/ok");
  ASSERT_EQ(oks.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(oks[i].Header("X-Round"), std::to_string(i));
    EXPECT_EQ(oks[i].Header("user-agent"), std::string("hooklog/") + "0.1.0");
    ASSERT_TRUE(oks[i].signature_ok.has_value());
    EXPECT_TRUE(*oks[i].signature_ok);
  }
  for (const auto& q : rx_->RequestsFor("/plain")) {
    EXPECT_EQ(q.Header("X-Round"), "");  // custom headers do not leak
  }
  EXPECT_EQ(rx_->signature_failures(), 0u);

  // The SSRF guard on pooled handles: every new connection is checked.
  auto strict = NewCurlTransport(io_.io(), {});
  const uint64_t before = rx_->total();
  for (int i = 0; i < 3; ++i) {
    AttemptResult r = SendAndWait(*strict, MakeRequest(rx_->Url("/")));
    EXPECT_EQ(r.error, ErrorClass::kBlocked) << r.error_detail;
  }
  EXPECT_EQ(rx_->total(), before);
}

// The timer is only moved when curl's deadline gets earlier; a later one is
// picked up when the armed wait fires. Both directions must keep deadlines.
TEST_F(CurlTransportTest, EarlierDeadlineWhileLaterOneArmed) {
  rx_->SetReply("/hang", Reply{.action = Reply::Action::kNeverAnswer});
  Results results;
  AttemptRequest slow = MakeRequest(rx_->Url("/hang"));
  slow.timeout = milliseconds(2500);
  transport_->Send(slow, results.Callback(0));
  ASSERT_TRUE(rx_->WaitForRequests(1, seconds(10)));
  AttemptRequest fast = MakeRequest(rx_->Url("/hang"));
  fast.timeout = milliseconds(300);
  transport_->Send(fast, results.Callback(1));
  ASSERT_TRUE(results.WaitFor(2, seconds(30)));
  auto all = results.Take();
  ASSERT_TRUE(all[0].has_value() && all[1].has_value());
  EXPECT_EQ(all[1]->error, ErrorClass::kTimeout) << all[1]->error_detail;
  EXPECT_GE(all[1]->latency, milliseconds(280));
  EXPECT_LT(all[1]->latency, milliseconds(2000));
  EXPECT_EQ(all[0]->error, ErrorClass::kTimeout) << all[0]->error_detail;
  EXPECT_GE(all[0]->latency, milliseconds(2400));
  EXPECT_LT(all[0]->latency, milliseconds(8000));
}

// Regression: with the default max_connections, curl sized its connection
// cache as 4 x the handles added when a connection came back; the last
// completions of a burst saw one or two handles and curl closed almost every
// idle keep-alive connection, so each burst reconnected. The cache now
// follows the high-water mark of attempts in flight.
TEST_F(CurlTransportTest, BurstsReuseTheirConnectionsWithDefaultOptions) {
  constexpr size_t kBurst = 16;
  rx_->SetDefaultReply(Reply{.delay = milliseconds(50)});
  for (int round = 0; round < 4; ++round) {
    Results results;
    for (size_t i = 0; i < kBurst; ++i) {
      transport_->Send(MakeRequest(rx_->Url("/burst")), results.Callback(i));
    }
    ASSERT_TRUE(results.WaitFor(kBurst, seconds(30)));
    for (const auto& r : results.Take()) {
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->http_status_code, 200) << r->error_detail;
    }
  }
  EXPECT_EQ(rx_->total(), 4 * kBurst);
  EXPECT_EQ(rx_->connections_accepted(), kBurst);
}

}  // namespace
}  // namespace hooklog::testing
