#include "engine/validation.h"

#include <gtest/gtest.h>

namespace hooklog {
namespace {

TEST(ValidateUrl, AcceptsHttpAndHttps) {
  for (const char* ok :
       {"https://example.com/hooks", "http://example.com:8080/a?b=c",
        "https://sub.example.co.uk", "http://[2001:db8::1]:80/x",
        "http://127.0.0.1:9000/", "HTTPS://EXAMPLE.COM"}) {
    EXPECT_TRUE(ValidateUrl(ok).ok()) << ok << ValidateUrl(ok).ToString();
  }
}

TEST(ValidateUrl, RejectsBadUrlsNamingTheField) {
  for (const char* bad : {"",
                          "ftp://example.com",
                          "file:///etc/passwd",
                          "gopher://x",
                          "https://user:pass@example.com/",
                          "https://@example.com",
                          "http://",
                          "http:///path",
                          "http://example.com:0/",
                          "http://example.com:65536/",
                          "http://example.com:abc/",
                          "http://example.com:/",
                          "https://exa mple.com",
                          "https://ex\r\nample",
                          "http://0x7f.0.0.1/",
                          "http://0177.0.0.1/",
                          "http://2130706433/",
                          "http://127.1/",
                          "http://[::1",
                          "example.com/hook"}) {
    Status st = ValidateUrl(bad);
    EXPECT_TRUE(st.IsInvalidArgument()) << bad;
    EXPECT_EQ(st.field(), "url") << bad;
  }
  EXPECT_TRUE(ValidateUrl("https://e.com/" + std::string(2100, 'a'))
                  .IsInvalidArgument());
}

TEST(ValidateHeaders, RejectsInjectionAndReservedNames) {
  EXPECT_TRUE(ValidateHeaders({{"X-Team", "billing"}}).ok());
  EXPECT_TRUE(ValidateHeaders({{"X-A", "v\r\nX-Evil: 1"}}).IsInvalidArgument());
  EXPECT_TRUE(ValidateHeaders({{"X-A", "v\nx"}}).IsInvalidArgument());
  EXPECT_TRUE(
      ValidateHeaders({{"X-A", std::string("a\0b", 3)}}).IsInvalidArgument());
  EXPECT_TRUE(ValidateHeaders({{"X A", "v"}}).IsInvalidArgument());
  EXPECT_TRUE(ValidateHeaders({{"", "v"}}).IsInvalidArgument());
  EXPECT_TRUE(
      ValidateHeaders({{"X-Big", std::string(4100, 'a')}}).IsInvalidArgument());
  for (const char* reserved :
       {"Content-Length", "content-type", "HOST", "Transfer-Encoding",
        "webhook-id", "Webhook-Signature", "X-Closient-Signature"}) {
    EXPECT_TRUE(ValidateHeaders({{reserved, "x"}}).IsInvalidArgument())
        << reserved;
  }
}

TEST(ValidateEventType, Syntax) {
  EXPECT_TRUE(ValidateEventType("order.paid", "type").ok());
  EXPECT_TRUE(ValidateEventType("A-b_c.9", "type").ok());
  EXPECT_TRUE(ValidateEventType(std::string(100, 'a'), "type").ok());
  EXPECT_FALSE(ValidateEventType(std::string(101, 'a'), "type").ok());
  EXPECT_FALSE(ValidateEventType("", "type").ok());
  EXPECT_FALSE(ValidateEventType("order paid", "type").ok());
  EXPECT_FALSE(ValidateEventType("order/paid", "type").ok());
  EXPECT_EQ(ValidateEventType("a b", "type").field(), "type");
  EXPECT_TRUE(ValidateEventTypeFilter({"*", "order.*", "user.created"}).ok());
  EXPECT_FALSE(ValidateEventTypeFilter({"order.**"}).ok());
  EXPECT_FALSE(ValidateEventTypeFilter({""}).ok());
}

TEST(ValidatePayload, JsonUtf8AndSize) {
  EXPECT_TRUE(ValidatePayload(R"({"a":[1,2,{"b":"é"}]})", 1024).ok());
  EXPECT_TRUE(ValidatePayload("[]", 1024).ok());
  EXPECT_TRUE(ValidatePayload("{", 1024).IsInvalidArgument());
  EXPECT_TRUE(ValidatePayload("{\"a\":1} x", 1024).IsInvalidArgument());
  EXPECT_TRUE(ValidatePayload("", 1024).IsInvalidArgument());
  EXPECT_TRUE(ValidatePayload("\"\xff\xfe\"", 1024).IsInvalidArgument());
  EXPECT_EQ(ValidatePayload(std::string(2000, ' '), 1024).code(),
            StatusCode::kResourceExhausted);
}

TEST(EndpointFilter, Matches) {
  Endpoint ep;
  ep.event_types = {"order.*", "user.created"};
  EXPECT_TRUE(ep.Matches("order.paid"));
  EXPECT_TRUE(ep.Matches("order.item.added"));
  EXPECT_FALSE(ep.Matches("order"));
  EXPECT_FALSE(ep.Matches("orders.paid"));
  EXPECT_TRUE(ep.Matches("user.created"));
  EXPECT_FALSE(ep.Matches("user.deleted"));
  ep.event_types = {"*"};
  EXPECT_TRUE(ep.Matches("anything"));
  ep.event_types = {};
  EXPECT_FALSE(ep.Matches("anything"));
}

}  // namespace
}  // namespace hooklog
