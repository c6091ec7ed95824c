// hooklog-load's pieces that decide what a run reports: the JSON line
// (null for what was not measured, never 0) and where the receiver comes
// from (the hooklog-receiver binary, never a silent in-process fallback).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "tools/load/ceilings.h"
#include "tools/load/report.h"
#include "tools/load/scenarios.h"
#include "tools/receiver/receiver.h"

namespace hooklog::load {
namespace {

using ::testing::HasSubstr;

// The JSON's value for `key`: its type and, for numbers, the number.
struct Value {
  bool is_null = false;
  double number = -1;
};
Value Get(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  simdjson::padded_string text(json);
  simdjson::dom::element doc;
  EXPECT_FALSE(p.parse(text).get(doc)) << json;
  simdjson::dom::element v;
  EXPECT_FALSE(doc[key].get(v)) << key << " missing in " << json;
  Value out;
  out.is_null = v.is_null();
  if (v.is_number()) {
    EXPECT_FALSE(v.get_double().get(out.number));
  }
  return out;
}

TEST(LoadReportTest, WhatARestartRunDoesNotMeasureIsNull) {
  Report r;
  r.scenario = "restart";
  r.receiver = "child process";
  r.restart_events = 30000;
  r.restart_s = 0.25;
  r.peak_rss_mb = 31;
  const std::string json = ReportJson(r);
  for (const char* key :
       {"deliveries_per_s", "delivered", "lost", "p99_ms", "cpu_s",
        "cpu_us_per_delivery", "wrk_per_s", "curl_loop_per_s", "ratio_wrk",
        "ratio_curl", "curl_loop_handles", "curl_loop_one_handle_per_s",
        "receiver_rss_mb", "restart_again_s", "fill_s"}) {
    EXPECT_TRUE(Get(json, key).is_null) << key << " in " << json;
  }
  EXPECT_EQ(Get(json, "restart_events").number, 30000);
  EXPECT_EQ(Get(json, "restart_s").number, 0.25);
  EXPECT_EQ(Get(json, "peak_rss_mb").number, 31);
  EXPECT_TRUE(Get(json, "receiver_binary").is_null);
}

TEST(LoadReportTest, RatiosOnlyWithTheirCeilingAndZeroStaysAFigure) {
  Report r;
  r.scenario = "throughput";
  r.receiver = "in-process";
  r.deliveries_per_s = 3000;
  r.delivered = 0;  // measured: zero is a figure, not "unknown"
  r.cpu_us_per_delivery = 120;
  r.wrk = CeilingResult{.ran = false, .note = "wrk not installed"};
  r.curl = CeilingResult{.ran = true, .per_s = 10000};
  r.curl_handles = 10;
  r.curl_one_handle = CeilingResult{.ran = true, .per_s = 900};
  const std::string json = ReportJson(r);
  EXPECT_EQ(Get(json, "curl_loop_handles").number, 10);
  EXPECT_EQ(Get(json, "curl_loop_one_handle_per_s").number, 900);
  EXPECT_TRUE(Get(json, "wrk_per_s").is_null) << json;
  EXPECT_TRUE(Get(json, "ratio_wrk").is_null) << json;
  EXPECT_EQ(Get(json, "curl_loop_per_s").number, 10000);
  EXPECT_DOUBLE_EQ(Get(json, "ratio_curl").number, 0.3);
  EXPECT_FALSE(Get(json, "delivered").is_null);
  EXPECT_EQ(Get(json, "delivered").number, 0);
  EXPECT_EQ(Get(json, "cpu_us_per_delivery").number, 120);
  EXPECT_THAT(json, HasSubstr(R"("receiver":"in-process")"));
}

// The bare curl ceiling over several multi handles answers like the one
// handle loop: every transfer gets its response (a real receiver).
TEST(CurlCeilingTest, SeveralHandlesCarryEveryTransfer) {
  auto rx = receiver::Receiver::Start();
  ASSERT_NE(rx, nullptr);
  CeilingRequest req{.url = rx->Url("/ceiling"), .body = R"({"x":1})"};
  for (int handles : {1, 4}) {
    CeilingResult c =
        RunCurlLoop(req, /*concurrency=*/8, /*seconds=*/0.3, handles);
    EXPECT_TRUE(c.ran);
    EXPECT_GT(c.responses, 0u) << handles << " handles";
    EXPECT_EQ(c.errors, 0u) << handles << " handles";
    EXPECT_EQ(c.non_2xx, 0u) << handles << " handles";
  }
}

// Runs the test with PATH set to `path`, then restores it.
class PathGuard {
 public:
  explicit PathGuard(const std::string& path) {
    if (const char* p = getenv("PATH")) old_ = p;
    setenv("PATH", path.c_str(), 1);
  }
  ~PathGuard() { setenv("PATH", old_.c_str(), 1); }

 private:
  std::string old_;
};

TEST(LoadReceiverPlacementTest, ChildNeedsTheBinaryAndNeverFallsBack) {
  LoadFlags flags;
  std::string error;
  {
    // Not next to this test binary, not on PATH: an error naming the way
    // out, not an in-process receiver.
    PathGuard path("/nonexistent-dir");
    EXPECT_FALSE(ReceiverFor(flags, &error).has_value());
    EXPECT_THAT(error, HasSubstr("hooklog-receiver not found"));
    EXPECT_THAT(error, HasSubstr("--receiver inproc"));
  }
  flags.receiver_bin = "/nonexistent-dir/hooklog-receiver";
  error.clear();
  EXPECT_FALSE(ReceiverFor(flags, &error).has_value());
  EXPECT_THAT(error, HasSubstr("--receiver-bin"));

  flags.receiver_bin.clear();
  {
    const std::string dir =
        std::filesystem::path(HOOKLOG_RECEIVER_BINARY).parent_path();
    PathGuard path("/nonexistent-dir:" + dir);
    auto c = ReceiverFor(flags, &error);
    ASSERT_TRUE(c.has_value()) << error;
    EXPECT_TRUE(c->child);
    EXPECT_EQ(c->binary, dir + "/hooklog-receiver");
  }
  flags.receiver = "inproc";
  auto c = ReceiverFor(flags, &error);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->child);
}

}  // namespace
}  // namespace hooklog::load
