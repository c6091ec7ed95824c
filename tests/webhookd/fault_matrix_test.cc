// The fault matrix (issue 8): each way a customer endpoint can misbehave,
// played by the real test receiver (or a closed port, a TLS mismatch, a
// name that cannot resolve), delivered by an in-process webhookd, and
// asserted only through its REST API: the final status, the number of
// attempts, http_status_code / response_body (null exactly when no response
// came, docs/api.md), the error class, next_attempt_at, and Retry-After
// spacing.
//
// Short retry schedules keep every case to a few seconds under ASan.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/webhookd/daemon_fixture.h"

namespace webhookd_test {
namespace {

using hooklog::receiver::Receiver;
using hooklog::receiver::Reply;
using hooklog::receiver::Sequence;
using namespace std::chrono_literals;

// "2026-11-27T02:09:04Z" -> Unix seconds; -1 when malformed.
int64_t ParseTime(const std::string& iso) {
  tm t{};
  if (strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &t) == nullptr) return -1;
  return static_cast<int64_t>(timegm(&t));
}

std::string HttpDate(std::chrono::system_clock::time_point tp) {
  time_t s = std::chrono::system_clock::to_time_t(tp);
  tm t{};
  gmtime_r(&s, &t);
  char buf[64];
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &t);
  return buf;
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
uint16_t ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// What a settled delivery must look like.
struct Expect {
  std::string status;
  int64_t attempts;
  std::optional<int64_t> http_status_code;   // nullopt: null
  std::optional<std::string> response_body;  // nullopt: null
  std::optional<std::string> error;          // nullopt: null
  std::optional<std::string> dead_letter_reason;
};

class FaultMatrixTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Start(BaseConfig());
  }

  static bool Terminal(const Json& j) {
    std::string s = j.Str("status");
    return s == "delivered" || s == "dead_letter";
  }

  // Waits until `id` is terminal, then checks the row (GET delivery), its
  // attempts_log, and the same fields in the list (GET deliveries/).
  Json ExpectSettled(const std::string& id, const Expect& e) {
    Json row = WaitFor(id, Terminal);
    EXPECT_EQ(row.Str("status"), e.status) << simdjson::minify(row.root());
    EXPECT_EQ(row.Int("attempts"), e.attempts) << simdjson::minify(row.root());
    auto check = [&](const Json& j, const std::string& prefix) {
      SCOPED_TRACE(prefix + simdjson::minify(j.root()));
      if (e.http_status_code) {
        EXPECT_EQ(j.Int(prefix + "http_status_code"), *e.http_status_code);
      } else {
        EXPECT_TRUE(j.IsNull(prefix + "http_status_code"));
      }
      if (e.response_body) {
        EXPECT_EQ(j.Str(prefix + "response_body"), *e.response_body);
      } else {
        EXPECT_TRUE(j.IsNull(prefix + "response_body"));
      }
      if (e.error) {
        EXPECT_EQ(j.Str(prefix + "error"), *e.error);
      } else {
        EXPECT_TRUE(j.IsNull(prefix + "error"));
      }
    };
    check(row, "");
    // Terminal: nothing more is scheduled.
    EXPECT_TRUE(row.IsNull("next_attempt_at"));
    EXPECT_FALSE(row.IsNull("last_attempted_at"));
    if (e.dead_letter_reason) {
      EXPECT_EQ(row.Str("dead_letter_reason"), *e.dead_letter_reason);
    } else {
      EXPECT_TRUE(row.IsNull("dead_letter_reason"));
    }
    // One attempts_log entry per attempt; the last one is the row's.
    simdjson::dom::array log;
    EXPECT_FALSE(row["attempts_log"].get(log));
    EXPECT_EQ(static_cast<int64_t>(log.size()), e.attempts);
    if (log.size() > 0) {
      check(row, "attempts_log/" + std::to_string(log.size() - 1) + "/");
    }
    // The list shows the same row.
    Json list = CallJson(
        "GET", "deliveries/?endpoint_id=" + row.Str("endpoint_id"), 200);
    simdjson::dom::array data;
    EXPECT_FALSE(list["data"].get(data));
    bool found = false;
    size_t i = 0;
    for (auto d : data) {
      if (d["id"].get_string().value() == id) {
        found = true;
        const std::string p = "data/" + std::to_string(i) + "/";
        EXPECT_EQ(list.Str(p + "status"), e.status);
        EXPECT_EQ(list.Int(p + "attempts"), e.attempts);
        check(list, p);
      }
      ++i;
    }
    EXPECT_TRUE(found) << id << " not listed";
    return row;
  }

  // One publish to a fresh endpoint at `url` (and only to it); its
  // delivery id.
  std::string PublishTo(const std::string& url) {
    // A type of its own, so that earlier endpoints do not match.
    const std::string type = "fault.case" + std::to_string(++cases_);
    CreateEndpointAt(url, "\"event_types\":[" + Quote(type) + "]");
    std::vector<std::string> ids = Publish(type);
    EXPECT_EQ(ids.size(), 1u);
    return ids.empty() ? "" : ids[0];
  }

  int cases_ = 0;
};

TEST_F(FaultMatrixTest, Http500RetriesThenDeadLetters) {
  rx_->SetReply("/500", Reply{.status = 500, .body = "boom"});
  const std::string d = PublishTo(rx_->Url("/500"));
  Json row = ExpectSettled(d, {.status = "dead_letter",
                               .attempts = 3,
                               .http_status_code = 500,
                               .response_body = "boom",
                               .dead_letter_reason = "attempts_exhausted"});
  for (int i = 0; i < 3; ++i) {
    const std::string p = "attempts_log/" + std::to_string(i) + "/";
    EXPECT_EQ(row.Int(p + "http_status_code"), 500);
    EXPECT_EQ(row.Str(p + "response_body"), "boom");
  }
  EXPECT_EQ(rx_->RequestsFor("/500").size(), 3u);
}

TEST_F(FaultMatrixTest, Http503WithRetryAfterIsHonoured) {
  rx_->SetScript(
      "/503",
      Sequence({Reply{.status = 503, .retry_after = "2", .body = "busy"},
                Reply{.status = 200, .body = "fine"}}));
  const std::string d = PublishTo(rx_->Url("/503"));
  // After the 503: failed, with the next attempt at least Retry-After
  // later (times are whole seconds; both are floored, so >= 2 holds).
  Json failed = WaitFor(d, [](const Json& j) {
    return j.Str("status") != "pending" || j.Int("attempts") > 0;
  });
  if (failed.Str("status") == "failed") {
    EXPECT_EQ(failed.Int("http_status_code"), 503);
    EXPECT_EQ(failed.Str("response_body"), "busy");
    EXPECT_GE(ParseTime(failed.Str("next_attempt_at")) -
                  ParseTime(failed.Str("last_attempted_at")),
              2)
        << simdjson::minify(failed.root());
  }
  Json row = ExpectSettled(d, {.status = "delivered",
                               .attempts = 2,
                               .http_status_code = 200,
                               .response_body = "fine"});
  EXPECT_EQ(row.Int("attempts_log/0/http_status_code"), 503);
  EXPECT_EQ(row.Str("attempts_log/0/response_body"), "busy");
  auto reqs = rx_->RequestsFor("/503");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_GE(reqs[1].arrival_steady - reqs[0].arrival_steady, 1950ms)
      << "the schedule's 300 ms was used instead of Retry-After: 2";
}

// 429 + Retry-After in seconds: rate_limited (no attempt spent), the whole
// endpoint paused: a second delivery published meanwhile waits too.
TEST_F(FaultMatrixTest, Http429RetryAfterSecondsPausesTheEndpoint) {
  rx_->SetScript(
      "/429",
      Sequence({Reply{.status = 429, .retry_after = "2", .body = "slow down"},
                Reply{.status = 200, .body = "ok"}}));
  const std::string ep = CreateEndpoint("/429");
  const std::string d1 = Publish("fault.case")[0];
  Json limited = WaitForStatus(d1, "rate_limited");
  EXPECT_EQ(limited.Int("attempts"), 1);
  EXPECT_EQ(limited.Int("http_status_code"), 429);
  EXPECT_EQ(limited.Str("response_body"), "slow down");
  EXPECT_TRUE(limited.IsNull("error"));
  EXPECT_GE(ParseTime(limited.Str("next_attempt_at")) -
                ParseTime(limited.Str("last_attempted_at")),
            2)
      << simdjson::minify(limited.root());
  const std::string d2 = Publish("fault.case")[0];
  ExpectSettled(d1, {.status = "delivered",
                     .attempts = 2,
                     .http_status_code = 200,
                     .response_body = "ok"});
  ExpectSettled(d2, {.status = "delivered",
                     .attempts = 1,
                     .http_status_code = 200,
                     .response_body = "ok"});
  auto reqs = rx_->RequestsFor("/429");
  ASSERT_EQ(reqs.size(), 3u);
  for (size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_GE(reqs[i].arrival_steady - reqs[0].arrival_steady, 1950ms)
        << "request " << i << " came before Retry-After ended";
  }
  (void)ep;
}

TEST_F(FaultMatrixTest, Http429RetryAfterHttpDate) {
  // The date is computed when the 429 is sent: at least 2 s ahead even after
  // truncation to whole seconds.
  rx_->SetScript("/429date", [](const hooklog::receiver::RecordedRequest& r) {
    if (r.index_on_path > 0) return Reply{.status = 200, .body = "ok"};
    return Reply{.status = 429,
                 .retry_after = HttpDate(std::chrono::system_clock::now() + 3s),
                 .body = "later"};
  });
  const std::string d = PublishTo(rx_->Url("/429date"));
  Json limited = WaitForStatus(d, "rate_limited");
  EXPECT_EQ(limited.Int("http_status_code"), 429);
  EXPECT_GE(ParseTime(limited.Str("next_attempt_at")) -
                ParseTime(limited.Str("last_attempted_at")),
            2)
      << simdjson::minify(limited.root());
  Json row = ExpectSettled(d, {.status = "delivered",
                               .attempts = 2,
                               .http_status_code = 200,
                               .response_body = "ok"});
  EXPECT_EQ(row.Int("attempts_log/0/http_status_code"), 429);
  auto reqs = rx_->RequestsFor("/429date");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_GE(reqs[1].arrival_steady - reqs[0].arrival_steady, 1900ms);
}

// 410 Gone: dead-lettered at once (no retries) and the endpoint disabled;
// later publishes skip it.
TEST_F(FaultMatrixTest, Http410DisablesTheEndpoint) {
  rx_->SetReply("/410", Reply{.status = 410, .body = "gone"});
  const std::string ep = CreateEndpoint("/410");
  const std::string d = Publish("fault.case")[0];
  ExpectSettled(d, {.status = "dead_letter",
                    .attempts = 1,
                    .http_status_code = 410,
                    .response_body = "gone",
                    .dead_letter_reason = "gone_410"});
  Json endpoint = CallJson("GET", "endpoints/" + ep + "/", 200);
  EXPECT_FALSE(endpoint.Bool("is_active"));
  EXPECT_EQ(endpoint.Str("disabled_reason"), "gone_410");
  EXPECT_TRUE(Publish("fault.case").empty());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rx_->RequestsFor("/410").size(), 1u);
}

// 3xx: never followed (the Location target sees nothing); a failure with
// the 3xx recorded, retried like any failure.
TEST_F(FaultMatrixTest, RedirectIsAFailureAndNotFollowed) {
  rx_->SetReply("/moved",
                Reply{.status = 302,
                      .body = "moved",
                      .headers = {{"Location", rx_->Url("/target")}}});
  const std::string d = PublishTo(rx_->Url("/moved"));
  ExpectSettled(d, {.status = "dead_letter",
                    .attempts = 3,
                    .http_status_code = 302,
                    .response_body = "moved",
                    .dead_letter_reason = "attempts_exhausted"});
  EXPECT_EQ(rx_->RequestsFor("/moved").size(), 3u);
  EXPECT_EQ(rx_->RequestsFor("/target").size(), 0u);
}

TEST_F(FaultMatrixTest, TimeoutHasNoResponse) {
  auto c = BaseConfig();
  c.attempt_timeout = 1s;
  c.retry_schedule = {0s, 200ms};
  Start(c);
  rx_->SetReply("/slow", Reply{.action = Reply::Action::kNeverAnswer});
  const std::string d = PublishTo(rx_->Url("/slow"));
  Json row = ExpectSettled(d, {.status = "dead_letter",
                               .attempts = 2,
                               .error = "timeout",
                               .dead_letter_reason = "attempts_exhausted"});
  EXPECT_TRUE(row.IsNull("attempts_log/0/http_status_code"));
  EXPECT_EQ(row.Str("attempts_log/0/error"), "timeout");
  // The deadline was the attempt timeout, not curl's defaults.
  EXPECT_GE(row.Int("attempts_log/0/latency_ms"), 900);
  EXPECT_LT(row.Int("attempts_log/0/latency_ms"), 4000);
}

// Headers and half the body, then RST: no complete response, so null code
// and body even though a status line arrived (docs/transport.md).
TEST_F(FaultMatrixTest, ResetMidBodyHasNoResponse) {
  rx_->SetReply("/reset", Reply{.status = 200,
                                .body_size = 4000,
                                .action = Reply::Action::kResetMidResponse});
  const std::string d = PublishTo(rx_->Url("/reset"));
  ExpectSettled(d, {.status = "dead_letter",
                    .attempts = 3,
                    .error = "reset",
                    .dead_letter_reason = "attempts_exhausted"});
  EXPECT_EQ(rx_->RequestsFor("/reset").size(), 3u);
}

// A body over the transport's 64 KiB response cap is not read to its end,
// but the response stands: a 2xx delivered the event (once: no resend), a
// 500 is a failure like any other. Either way the first 256 characters are
// kept, as for one under the cap.
TEST_F(FaultMatrixTest, OversizedResponseBody) {
  rx_->SetReply("/huge", Reply{.status = 200, .body_size = 1 << 20});
  rx_->SetReply("/huge500", Reply{.status = 500, .body_size = 1 << 20});
  rx_->SetReply("/big", Reply{.status = 200, .body_size = 60 * 1024});
  const std::string huge = PublishTo(rx_->Url("/huge"));
  const std::string huge500 = PublishTo(rx_->Url("/huge500"));
  const std::string big = PublishTo(rx_->Url("/big"));
  ExpectSettled(huge, {.status = "delivered",
                       .attempts = 1,
                       .http_status_code = 200,
                       .response_body = std::string(256, 'x')});
  EXPECT_EQ(rx_->RequestsFor("/huge").size(), 1u);
  ExpectSettled(huge500, {.status = "dead_letter",
                          .attempts = 3,
                          .http_status_code = 500,
                          .response_body = std::string(256, 'x'),
                          .dead_letter_reason = "attempts_exhausted"});
  ExpectSettled(big, {.status = "delivered",
                      .attempts = 1,
                      .http_status_code = 200,
                      .response_body = std::string(256, 'x')});
}

// https:// to a plain-HTTP port, and to a TLS listener whose self-signed
// certificate nobody trusts: error "tls", no response.
TEST_F(FaultMatrixTest, TlsFailures) {
  std::string plain = rx_->Url("/tls");
  plain.replace(0, 4, "https");
  auto tls_rx = Receiver::Start(Receiver::Options{.tls = true});
  ASSERT_NE(tls_rx, nullptr);
  const std::string d1 = PublishTo(plain);
  const std::string d2 = PublishTo(tls_rx->Url("/selfsigned"));
  for (const auto& d : {d1, d2}) {
    ExpectSettled(d, {.status = "dead_letter",
                      .attempts = 3,
                      .error = "tls",
                      .dead_letter_reason = "attempts_exhausted"});
  }
  EXPECT_EQ(rx_->RequestsFor("/tls").size(), 0u);
  EXPECT_EQ(tls_rx->total(), 0u);
}

TEST_F(FaultMatrixTest, NxdomainIsADnsError) {
  // `.invalid` never resolves (RFC 6761), online or offline.
  const std::string d = PublishTo("http://no-such-host.invalid/hook");
  ExpectSettled(d, {.status = "dead_letter",
                    .attempts = 3,
                    .error = "dns",
                    .dead_letter_reason = "attempts_exhausted"});
}

TEST_F(FaultMatrixTest, ConnectionRefused) {
  const std::string d = PublishTo(
      "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/refused");
  ExpectSettled(d, {.status = "dead_letter",
                    .attempts = 3,
                    .error = "connect",
                    .dead_letter_reason = "attempts_exhausted"});
}

// A failure followed by a success: the row shows the success, the log both.
TEST_F(FaultMatrixTest, RecoveryAfterFailuresShowsTheLastAttempt) {
  rx_->SetScript("/flaky",
                 Sequence({Reply{.action = Reply::Action::kResetBeforeResponse},
                           Reply{.status = 502, .body = "bad gateway"},
                           Reply{.status = 204}}));
  const std::string d = PublishTo(rx_->Url("/flaky"));
  Json row = ExpectSettled(d, {.status = "delivered",
                               .attempts = 3,
                               .http_status_code = 204,
                               .response_body = ""});
  EXPECT_TRUE(row.IsNull("attempts_log/0/http_status_code"));
  EXPECT_EQ(row.Str("attempts_log/0/error"), "reset");
  EXPECT_EQ(row.Int("attempts_log/1/http_status_code"), 502);
  EXPECT_EQ(row.Str("attempts_log/1/response_body"), "bad gateway");
}

}  // namespace
}  // namespace webhookd_test
