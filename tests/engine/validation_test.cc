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

// Description and metadata limits count characters (code points), not
// bytes: 255 × "é" (510 bytes) is a valid description, 256 are not; the
// same for metadata keys (128) and values (512), in specs and in updates.
std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ValidateEndpointSpec, LimitsCountCharactersNotBytes) {
  const std::string kE = "\xC3\xA9";              // é, 2 bytes
  const std::string kEmoji = "\xF0\x9F\x98\x80";  // 😀, 4 bytes
  EndpointSpec spec{.url = "https://example.com/h"};
  for (const std::string& ch : {kE, kEmoji, std::string("a")}) {
    SCOPED_TRACE(ch);
    spec.description = Repeat(ch, 255);
    EXPECT_TRUE(ValidateEndpointSpec(spec).ok());
    spec.description = Repeat(ch, 256);
    Status st = ValidateEndpointSpec(spec);
    EXPECT_TRUE(st.IsInvalidArgument());
    EXPECT_EQ(st.field(), "description");
    spec.description.clear();

    spec.metadata = {{Repeat(ch, 128), Repeat(ch, 512)}};
    EXPECT_TRUE(ValidateEndpointSpec(spec).ok());
    spec.metadata = {{Repeat(ch, 129), "v"}};
    EXPECT_EQ(ValidateEndpointSpec(spec).field(), "metadata");
    spec.metadata = {{"k", Repeat(ch, 513)}};
    EXPECT_EQ(ValidateEndpointSpec(spec).field(), "metadata");
    spec.metadata.clear();
  }
  // Invalid UTF-8 is still refused, whatever its length.
  spec.description = "\xC3";
  EXPECT_TRUE(ValidateEndpointSpec(spec).IsInvalidArgument());
}

TEST(ValidateEndpointUpdate, MetadataPatchCountsCharacters) {
  const std::string kE = "\xC3\xA9";
  EndpointUpdate u;
  u.description = Repeat(kE, 255);
  u.metadata_patch = {{Repeat(kE, 128), Repeat(kE, 512)}};
  EXPECT_TRUE(ValidateEndpointUpdate(u).ok());
  u.description = Repeat(kE, 256);
  EXPECT_EQ(ValidateEndpointUpdate(u).field(), "description");
  u.description.reset();
  u.metadata_patch = {{Repeat(kE, 129), ""}};
  EXPECT_EQ(ValidateEndpointUpdate(u).field(), "metadata");
  u.metadata_patch = {{"k", Repeat(kE, 513)}};
  EXPECT_EQ(ValidateEndpointUpdate(u).field(), "metadata");
}

}  // namespace
}  // namespace hooklog
