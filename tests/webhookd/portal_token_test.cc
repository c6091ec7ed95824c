// Portal tokens (webhookd/portal_token.h): the round trip, the strict
// parsers, and every way a token can be refused.
#include "webhookd/portal_token.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace webhookd {
namespace {

const PortalKey kKey = DerivePortalKey("key-one-0123456789abcdef");
const PortalKey kOther = DerivePortalKey("key-two-0123456789abcdef");

PortalClaims Claims() {
  PortalClaims c;
  c.metadata = {{"customer", "acme"}, {"region", "eu \"west\" é"}};
  c.issued_at = 1000;
  c.expires_at = 5000;
  return c;
}

TEST(PortalTokenTest, RoundTripsUnderAnyConfiguredKey) {
  const std::string token = SignPortalToken(kKey, Claims());
  PortalClaims got;
  std::vector<PortalKey> keys = {kOther, kKey};
  EXPECT_EQ(VerifyPortalToken(keys, token, 4999, &got), TokenCheck::kOk);
  EXPECT_EQ(got, Claims());
  EXPECT_EQ(ParsePortalPayload(EncodePortalPayload(Claims())), Claims());
  EXPECT_EQ(EncodePortalPayload(Claims()).substr(0, 8), "{\"v\":1,\"");
}

TEST(PortalTokenTest, KeyIsDerivedNotTheApiKey) {
  EXPECT_NE(DerivePortalKey("a-key-0123456789abcdef"),
            DerivePortalKey("b-key-0123456789abcdef"));
  const std::string api_key = "key-one-0123456789abcdef";
  EXPECT_NE(std::string(kKey.begin(), kKey.end()), api_key.substr(0, 32));
}

TEST(PortalTokenTest, ExpiredAtExpiry) {
  const std::string token = SignPortalToken(kKey, Claims());
  PortalClaims got;
  std::vector<PortalKey> keys = {kKey};
  EXPECT_EQ(VerifyPortalToken(keys, token, 5000, &got), TokenCheck::kExpired);
  EXPECT_EQ(VerifyPortalToken(keys, token, 99999, &got), TokenCheck::kExpired);
}

TEST(PortalTokenTest, RemovedKeyOrTamperedIsABadSignature) {
  const std::string token = SignPortalToken(kKey, Claims());
  PortalClaims got;
  std::vector<PortalKey> only_other = {kOther};
  EXPECT_EQ(VerifyPortalToken(only_other, token, 1, &got),
            TokenCheck::kBadSignature);
  std::vector<PortalKey> keys = {kKey};
  // Another payload under the old signature (a longer ttl, another tenant).
  PortalClaims longer = Claims();
  longer.expires_at = 9999999;
  std::string forged = SignPortalToken(kOther, longer);
  forged = forged.substr(0, forged.find('.')) + token.substr(token.find('.'));
  EXPECT_EQ(VerifyPortalToken(keys, forged, 1, &got),
            TokenCheck::kBadSignature);
  // One character of the payload or of the signature changed.
  for (size_t i : {size_t{0}, token.find('.') - 1, token.size() - 2}) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_NE(VerifyPortalToken(keys, t, 1, &got), TokenCheck::kOk) << i;
  }
}

TEST(PortalTokenTest, MalformedTokens) {
  const std::string token = SignPortalToken(kKey, Claims());
  const std::string sig = token.substr(token.find('.'));
  std::vector<PortalKey> keys = {kKey};
  PortalClaims got;
  for (const std::string& bad :
       {std::string(), std::string("."), std::string("abc"),
        token.substr(0, token.find('.')), sig, token + ".x", token + "=",
        token.substr(0, token.size() - 1),
        std::string(kMaxPortalTokenBytes + 1, 'A')}) {
    EXPECT_EQ(VerifyPortalToken(keys, bad, 1, &got), TokenCheck::kMalformed)
        << bad;
  }
}

TEST(PortalTokenTest, PayloadParsedStrictly) {
  EXPECT_TRUE(ParsePortalPayload(R"({"iat":1,"exp":2,"m":{"a":"b"},"v":1})"));
  for (const char* bad : {
           R"({"v":2,"m":{"a":"b"},"exp":2,"iat":1})",
           R"({"v":1,"m":{},"exp":2,"iat":1})",
           R"({"v":1,"m":{"a":""},"exp":2,"iat":1})",
           R"({"v":1,"m":{"":"b"},"exp":2,"iat":1})",
           R"({"v":1,"m":{"a":1},"exp":2,"iat":1})",
           R"({"v":1,"m":{"a":"b","a":"c"},"exp":2,"iat":1})",
           R"({"v":1,"m":{"a":"b"},"exp":2.5,"iat":1})",
           R"({"v":1,"m":{"a":"b"},"exp":-2,"iat":1})",
           R"({"v":1,"m":{"a":"b"},"exp":"2","iat":1})",
           R"({"v":1,"m":{"a":"b"},"exp":2})",
           R"({"v":1,"m":{"a":"b"},"exp":2,"iat":1,"x":0})",
           R"({"v":1,"v":1,"m":{"a":"b"},"exp":2,"iat":1})",
           R"([1])",
           "{\"v\":1,\"m\":{\"a\":\"\xff\"},\"exp\":2,\"iat\":1}",
       }) {
    EXPECT_FALSE(ParsePortalPayload(bad)) << bad;
  }
}

TEST(PortalTokenTest, Base64UrlIsCanonical) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "\xff\xfe\x00"}) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9="));   // padding
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // stray bits: "Zg" is canonical
  EXPECT_FALSE(Base64UrlDecode("Zm9v+"));  // not the url alphabet
  EXPECT_FALSE(Base64UrlDecode("Z"));      // impossible length
  EXPECT_TRUE(Base64UrlDecode("Zg"));
}

}  // namespace
}  // namespace webhookd
