// The real webhookd binary as a child process: command line, the
// "listening" line, SIGTERM, and continuity across a restart on the same
// data directory.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "webhookd/config.h"
#include "tools/receiver/receiver.h"
#include "tests/webhookd/daemon_fixture.h"
#include "tests/webhookd/support.h"

namespace webhookd_test {
namespace {

using hooklog::receiver::Reply;
using hooklog::receiver::Receiver;
using namespace std::chrono_literals;

constexpr char kKey[] = "proc-key-0123456789abcdef";
const std::string& kBase = kApiBase;

using Running = RunningWebhookd;

Running StartDaemon(const std::string& data_dir,
                    std::vector<std::string> extra_args = {},
                    std::vector<std::string> env = {}) {
  extra_args.insert(extra_args.begin(),
                    {"--allow-private-targets", "--log-level", "warn"});
  return StartWebhookdBinary(data_dir, std::move(extra_args), std::move(env));
}

int RunToExit(std::vector<std::string> args, std::string* out, std::string* err,
              std::vector<std::string> env = {}) {
  args.insert(args.begin(), WEBHOOKD_BINARY);
  Child c(args, env);
  *out = c.ReadRest(10s);
  auto code = c.Wait(10s);
  *err = c.Stderr();
  return code.value_or(-1);
}

TEST(WebhookdProcessTest, CommandLineErrorsExitTwoWithAClearMessage) {
  std::string out, err;
  EXPECT_EQ(RunToExit({"--api-key", kKey, "--bogus"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown argument '--bogus'"), std::string::npos) << err;
  EXPECT_NE(err.find("usage:"), std::string::npos);
  EXPECT_EQ(out, "");
  EXPECT_EQ(RunToExit({}, &out, &err), 2);
  EXPECT_NE(err.find("no API key"), std::string::npos) << err;
  EXPECT_EQ(
      RunToExit({"--api-key", kKey, "--retry-schedule", "soon"}, &out, &err),
      2);
  EXPECT_NE(err.find("--retry-schedule"), std::string::npos) << err;
  EXPECT_EQ(RunToExit({"--api-key", kKey, "--listen", "127.0.0.1"}, &out, &err),
            2);
  EXPECT_EQ(RunToExit({"--api-key", kKey}, &out, &err,
                      {"HOOKLOG_ATTEMPT_TIMEOUT=forever"}),
            2);
  EXPECT_NE(err.find("HOOKLOG_ATTEMPT_TIMEOUT"), std::string::npos) << err;
  EXPECT_EQ(RunToExit({"--help"}, &out, &err), 0);
  EXPECT_NE(out.find("--retry-schedule"), std::string::npos);
}

TEST(WebhookdProcessTest, KeygenPrintsAClosientShapedKey) {
  std::string out, err;
  ASSERT_EQ(RunToExit({"keygen"}, &out, &err), 0) << err;
  ASSERT_TRUE(out.ends_with("\n"));
  std::string key = out.substr(0, out.size() - 1);
  EXPECT_TRUE(
      std::regex_match(key, std::regex("^csb_[A-Za-z0-9]{32}_[0-9a-f]{8}$")))
      << key;
  EXPECT_TRUE(webhookd::ClosientKeyChecksumOk(key));
}

TEST(WebhookdProcessTest, ServesStopsOnSigtermAndContinuesAfterRestart) {
  TempDir dir;
  auto rx = Receiver::Start();
  ASSERT_NE(rx, nullptr);
  // The first attempt fails; the retry (4 s ± 20 % later) succeeds — after the
  // restart.
  rx->SetScript("/resume", hooklog::receiver::Sequence(
                               {Reply{.status = 500}, Reply{.status = 200}}));
  std::string endpoint_id, delivery_id;
  {
    Running d = StartDaemon(dir.path(), {"--api-key", kKey, "--retry-schedule",
                                         "0s,4s", "--log-level", "info"});
    ASSERT_NE(d.port, 0);
    HttpClient client("127.0.0.1", d.port);
    HttpResult r = client.Request("GET", "/healthz");
    EXPECT_EQ(r.status, 200);
    r = client.Request("POST", kBase + "endpoints/",
                       "{\"url\":\"" + rx->Url("/resume") + "\"}",
                       {{"X-API-Key", kKey}});
    ASSERT_EQ(r.status, 201) << r.body;
    endpoint_id = Json(r.body).Str("id");
    r = client.Request("POST", kBase + "events/",
                       R"({"type":"order.paid","data":{"n":1}})",
                       {{"X-API-Key", kKey}});
    ASSERT_EQ(r.status, 202) << r.body;
    delivery_id = Json(r.body).Str("deliveries/0");
    ASSERT_TRUE(rx->WaitForRequests(1, 10s));
    // Wait until the failure is recorded, then stop before the retry.
    for (int i = 0; i < 200; ++i) {
      r = client.Request("GET", kBase + "deliveries/" + delivery_id + "/", "",
                         {{"X-API-Key", kKey}});
      if (Json(r.body).Str("status") == "failed") break;
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(Json(r.body).Str("status"), "failed") << r.body;
    d.child->Signal(SIGTERM);
    auto code = d.child->Wait(20s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << d.child->Stderr();
    // Exactly one line on stdout.
    EXPECT_EQ(d.child->ReadRest(1s), "");
    // Structured logs on stderr; the key never appears.
    std::string err = d.child->Stderr();
    EXPECT_EQ(err.find(kKey), std::string::npos);
    EXPECT_NE(err.find("level=info msg=stopping signal=SIGTERM"),
              std::string::npos)
        << err;
  }
  EXPECT_EQ(rx->RequestsFor("/resume").size(), 1u);
  {
    // Restart on the same directory, the key now from the environment.
    Running d = StartDaemon(dir.path(), {"--retry-schedule", "0s,4s"},
                            {std::string("HOOKLOG_API_KEYS=") + kKey});
    ASSERT_NE(d.port, 0);
    HttpClient client("127.0.0.1", d.port);
    HttpResult r =
        client.Request("GET", kBase + "endpoints/" + endpoint_id + "/", "",
                       {{"X-API-Key", kKey}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::string status;
    for (int i = 0; i < 1000 && status != "delivered"; ++i) {
      r = client.Request("GET", kBase + "deliveries/" + delivery_id + "/", "",
                         {{"X-API-Key", kKey}});
      status = Json(r.body).Str("status");
      if (status != "delivered") std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(status, "delivered") << r.body;
    Json row(r.body);
    EXPECT_EQ(row.Int("attempts"), 2);
    auto reqs = rx->RequestsFor("/resume");
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].webhook_id, reqs[1].webhook_id);

    // A second daemon on the same directory is refused (exit 1).
    std::string out, err;
    EXPECT_EQ(RunToExit({"--listen", "127.0.0.1:0", "--data-dir", dir.path(),
                         "--api-key", kKey},
                        &out, &err),
              1);
    EXPECT_NE(err.find("cannot start"), std::string::npos) << err;

    d.child->Signal(SIGINT);
    auto code = d.child->Wait(20s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0);
  }
}

}  // namespace
}  // namespace webhookd_test
