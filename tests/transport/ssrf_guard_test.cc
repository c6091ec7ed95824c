// SSRF: the block list itself, and end to end through curl without the
// allow_private_targets opt-in (the receiver must never see a request).
#include "transport/ssrf_guard.h"

#include <gtest/gtest.h>

#include "tools/receiver/receiver.h"
#include "tests/transport/transport_fixture.h"

namespace hooklog::testing {

using receiver::Receiver;

namespace {

using transport_internal::IsBlockedLiteral;

TEST(SsrfGuardTest, BlockedIPv4Ranges) {
  for (const char* a : {"0.0.0.0",        "0.255.1.2",       "10.0.0.1",
                        "10.255.255.255", "100.64.0.1",      "100.127.255.254",
                        "127.0.0.1",      "127.8.9.10",      "169.254.169.254",
                        "172.16.0.1",     "172.31.255.255",  "192.0.0.8",
                        "192.0.2.1",      "192.168.1.1",     "198.18.0.1",
                        "198.19.255.255", "198.51.100.7",    "203.0.113.9",
                        "224.0.0.1",      "239.255.255.250", "240.0.0.1",
                        "255.255.255.255"}) {
    EXPECT_TRUE(IsBlockedLiteral(a)) << a;
  }
  for (const char* a :
       {"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.15.255.255",
        "172.32.0.0", "192.0.1.1", "192.169.0.1", "198.17.255.255",
        "198.20.0.0", "223.255.255.255", "93.184.216.34"}) {
    EXPECT_FALSE(IsBlockedLiteral(a)) << a;
  }
}

TEST(SsrfGuardTest, BlockedIPv6RangesAndEmbeddedIPv4) {
  for (const char* a :
       {"::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "ff02::1",
        "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
        "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1", "2002:c0a8:101::",
        "2001:0:4136:e378:8000:63bf:"
        "80ff:fffe" /* Teredo client 127.0.0.1 (inverted) */,
        "::127.0.0.1"}) {
    EXPECT_TRUE(IsBlockedLiteral(a)) << a;
  }
  for (const char* a :
       {"2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_FALSE(IsBlockedLiteral(a)) << a;
  }
}

class SsrfEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rx_ = Receiver::Start();
    ASSERT_NE(rx_, nullptr);
    Receiver::Options v6;
    v6.address = "::1";
    rx6_ = Receiver::Start(v6);               // may be null without IPv6
    transport_ = NewCurlTransport(io_.io(), {});  // no opt-in
  }
  void TearDown() override {
    transport_.reset();
    io_.Stop();
  }
  IoThreads io_;
  std::unique_ptr<Receiver> rx_, rx6_;
  std::unique_ptr<Transport> transport_;
};

TEST_F(SsrfEndToEndTest, LoopbackInEveryDisguiseIsBlocked) {
  const std::string port = std::to_string(rx_->port());
  std::vector<std::string> urls = {
      "http://127.0.0.1:" + port + "/",
      "http://localhost:" + port + "/",
      // curl 7.88 normalises these numeric forms to 127.0.0.1; either way
      // the connect-time check sees loopback.
      "http://0x7f.0.0.1:" + port + "/",
      "http://2130706433:" + port + "/",
      "http://0177.0.0.1:" + port + "/",
      "http://127.1:" + port + "/",
      "http://[::ffff:127.0.0.1]:" + port + "/",
      "http://169.254.169.254:" + port + "/latest/meta-data/",
      "http://0.0.0.0:" + port + "/",
  };
  urls.push_back(
      "http://[::1]:" + (rx6_ ? std::to_string(rx6_->port()) : port) + "/");
  for (const std::string& url : urls) {
    AttemptRequest req = MakeRequest(url);
    req.connect_timeout = std::chrono::milliseconds(2000);
    AttemptResult r = SendAndWait(*transport_, req);
    EXPECT_EQ(r.error, ErrorClass::kBlocked) << url << ": " << r.error_detail;
    EXPECT_FALSE(r.http_status_code.has_value()) << url;
    EXPECT_FALSE(r.response_body.has_value()) << url;
  }
  EXPECT_EQ(rx_->total(), 0u);
  if (rx6_) {
    EXPECT_EQ(rx6_->total(), 0u);
  }
}

}  // namespace
}  // namespace hooklog::testing
