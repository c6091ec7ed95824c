// A fixture for the webhookd fault, disk and security suites: an in-process
// daemon (RocksDB in a temporary directory, the real Beast server and curl
// transport) and the real test receiver over loopback, with helpers that
// check every answer against docs/openapi.yaml. Shared by every webhookd
// suite (api_test.cc adds a second key and a faster retry schedule).
#ifndef HOOKLOG_TESTS_WEBHOOKD_DAEMON_FIXTURE_H_
#define HOOKLOG_TESTS_WEBHOOKD_DAEMON_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/webhookd/support.h"
#include "tools/receiver/receiver.h"
#include "webhookd/daemon.h"
#include "webhookd/log.h"

namespace webhookd_test {

inline constexpr char kFixtureKey[] = "fixture-key-0123456789abcdef";
inline const std::string kApiBase = "/integrations/api/v1/webhooks/";

inline std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// The real webhookd binary as a child process on 127.0.0.1:<free port>.
struct RunningWebhookd {
  std::unique_ptr<Child> child;
  uint16_t port = 0;  // 0: it did not start (a failure was added)
};

inline RunningWebhookd StartWebhookdBinary(
    const std::string& data_dir, std::vector<std::string> extra_args = {},
    std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {WEBHOOKD_BINARY, "--listen", "127.0.0.1:0",
                                   "--data-dir", data_dir};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  RunningWebhookd r;
  r.child = std::make_unique<Child>(argv, env);
  auto line = r.child->ReadLine(std::chrono::seconds(30));
  if (!line) {
    ADD_FAILURE() << "no listening line; stderr: " << r.child->Stderr();
    return r;
  }
  std::smatch m;
  static const std::regex re(
      R"(^webhookd listening on http://127\.0\.0\.1:(\d+)$)");
  if (!std::regex_match(*line, m, re)) {
    ADD_FAILURE() << "unexpected first line: " << *line;
    return r;
  }
  r.port = static_cast<uint16_t>(std::stoi(m[1]));
  return r;
}

class DaemonFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    rx_ = hooklog::receiver::Receiver::Start();
    ASSERT_NE(rx_, nullptr);
    rx_->SetDefaultReply(hooklog::receiver::Reply{.status = 200, .body = "ok"});
  }
  void TearDown() override { Stop(); }

  webhookd::Config BaseConfig() {
    using namespace std::chrono_literals;
    webhookd::Config c;
    c.listen_host = "127.0.0.1";
    c.listen_port = 0;
    c.data_dir = dir_.path();
    c.api_keys = {kFixtureKey};
    c.allow_private_targets = true;
    c.retry_schedule = {0s, 300ms, 300ms};
    c.attempt_timeout = 5s;
    c.fsync = false;
    c.log_level = webhookd::LogLevel::kWarn;
    c.drain = 2s;
    return c;
  }

  void Start(webhookd::Config c) {
    Stop();
    webhookd::SetLogLevel(c.log_level);
    auto d = webhookd::Daemon::Start(std::move(c));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    daemon_ = std::move(*d);
    client_ = std::make_unique<HttpClient>(daemon_->host(), daemon_->port());
  }

  void Stop() {
    client_.reset();
    daemon_.reset();
  }

  // A request; `path` is relative to the base path unless it starts with
  // '/'. Every answer is checked against the OpenAPI document.
  HttpResult Call(const std::string& method, const std::string& path,
                  const std::string& body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {
                      {"X-API-Key", kFixtureKey}}) {
    std::string target = path.starts_with("/") ? path : kApiBase + path;
    HttpResult r = client_->Request(method, target, body, headers);
    EXPECT_EQ(OpenApi::Get().Check(method, target, r), "")
        << method << " " << target << " -> " << r.status << " " << r.body;
    return r;
  }

  Json CallJson(const std::string& method, const std::string& path,
                int want_status, const std::string& body = "") {
    HttpResult r = Call(method, path, body);
    EXPECT_EQ(r.status, want_status) << method << " " << path << ": " << r.body;
    Json j(r.body);
    EXPECT_TRUE(j.ok()) << r.body;
    return j;
  }

  // docs/api.md's error envelope with `status` and `code`.
  static void ExpectError(const HttpResult& r, int status,
                          const std::string& code,
                          const std::string& field = "") {
    EXPECT_EQ(r.status, status) << r.body;
    Json j(r.body);
    ASSERT_TRUE(j.ok()) << r.body;
    EXPECT_EQ(j.Str("error/code"), code) << r.body;
    EXPECT_EQ(j.Int("error/status"), status);
    EXPECT_FALSE(j.Str("error/message").empty());
    simdjson::dom::object root;
    ASSERT_FALSE(j.root().get(root));
    EXPECT_EQ(root.size(), 1u) << "only \"error\" at the top: " << r.body;
    // RFC 9110 §15.5.2: every 401 names the scheme it wants.
    if (status == 401) {
      EXPECT_EQ(r.Header("www-authenticate"), "ApiKey header=\"X-API-Key\"");
    }
    if (status == 422) {
      simdjson::dom::array details;
      ASSERT_FALSE(j["error/details"].get(details)) << r.body;
      bool named = field.empty();
      ASSERT_GT(details.size(), 0u);
      for (auto d : details) {
        EXPECT_FALSE(d["message"].get_string().value().empty());
        if (d["field"].get_string().value() == field) named = true;
      }
      EXPECT_TRUE(named) << "details do not name " << field << ": " << r.body;
    } else {
      EXPECT_TRUE(j.IsNull("error/details")) << r.body;
    }
  }

  std::string CreateEndpointAt(const std::string& url,
                               const std::string& extra = "") {
    Json j = CallJson(
        "POST", "endpoints/", 201,
        "{\"url\":" + Quote(url) + (extra.empty() ? "" : "," + extra) + "}");
    return j.Str("id");
  }
  std::string CreateEndpoint(const std::string& path,
                             const std::string& extra = "") {
    return CreateEndpointAt(rx_->Url(path), extra);
  }

  // Publishes one event (with an idempotency key unless `key` is empty);
  // the delivery ids (empty when not 202).
  std::vector<std::string> Publish(const std::string& type,
                                   const std::string& data = "{}",
                                   const std::string& key = "") {
    Json j = CallJson(
        "POST", "events/", 202,
        "{\"type\":" + Quote(type) + ",\"data\":" + data +
            (key.empty() ? "" : ",\"idempotency_key\":" + Quote(key)) + "}");
    std::vector<std::string> ids;
    simdjson::dom::array arr;
    if (!j["deliveries"].get(arr)) {
      for (auto e : arr) ids.emplace_back(e.get_string().value());
    }
    return ids;
  }

  // Polls GET deliveries/{id}/ until `done(row)` holds; returns the row.
  Json WaitFor(const std::string& id,
               const std::function<bool(const Json&)>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      HttpResult r = Call("GET", "deliveries/" + id + "/");
      Json j(r.body);
      if (j.ok() && r.status == 200 && done(j)) return j;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "delivery " << id << " did not settle: " << r.body;
        return j;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  Json WaitForStatus(
      const std::string& id, const std::string& status,
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return WaitFor(
        id, [&](const Json& j) { return j.Str("status") == status; }, timeout);
  }

  TempDir dir_;
  std::unique_ptr<hooklog::receiver::Receiver> rx_;
  std::unique_ptr<webhookd::Daemon> daemon_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace webhookd_test

#endif  // HOOKLOG_TESTS_WEBHOOKD_DAEMON_FIXTURE_H_
