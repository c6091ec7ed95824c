// Signing and Retry-After parsing, checked against published vectors and
// an independent HMAC computation.
#include "hooklog/signing.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <set>
#include <thread>
#include <vector>

#include "transport/signing_internal.h"

namespace hooklog {
namespace {

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kMsgId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kTs = 1614265330;
constexpr char kBody[] = R"({"test": 2432232314})";
constexpr char kExpected[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(SigningTest, StandardWebhooksPublishedVector) {
  auto sig = StandardWebhooksSignature({kSecret}, kMsgId, kTs, kBody);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(*sig, kExpected);
  EXPECT_TRUE(VerifyStandardWebhooks({kSecret}, kMsgId, kTs, kBody, kExpected));
}

TEST(SigningTest, VerifyRejectsTampering) {
  EXPECT_FALSE(
      VerifyStandardWebhooks({kSecret}, kMsgId, kTs + 1, kBody, kExpected));
  EXPECT_FALSE(VerifyStandardWebhooks({kSecret}, kMsgId, kTs,
                                      R"({"test": 2432232315})", kExpected));
  EXPECT_FALSE(
      VerifyStandardWebhooks({kSecret}, "msg_other", kTs, kBody, kExpected));
  EXPECT_FALSE(VerifyStandardWebhooks({kSecret}, kMsgId, kTs, kBody,
                                      "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVl"
                                      "NIOLJ1OE="));
  EXPECT_FALSE(VerifyStandardWebhooks({kSecret}, kMsgId, kTs, kBody, ""));
}

TEST(SigningTest, RotationSendsTwoSignaturesEachVerifiable) {
  const std::string fresh = NewSigningSecret();
  auto sig = StandardWebhooksSignature({fresh, kSecret}, kMsgId, kTs, kBody);
  ASSERT_TRUE(sig.ok());
  const size_t space = sig->find(' ');
  ASSERT_NE(space, std::string::npos);
  EXPECT_EQ(sig->substr(space + 1), kExpected);  // old secret second
  EXPECT_EQ(sig->find(' ', space + 1), std::string::npos);
  EXPECT_TRUE(VerifyStandardWebhooks({kSecret}, kMsgId, kTs, kBody, *sig));
  EXPECT_TRUE(VerifyStandardWebhooks({fresh}, kMsgId, kTs, kBody, *sig));
  EXPECT_FALSE(
      VerifyStandardWebhooks({NewSigningSecret()}, kMsgId, kTs, kBody, *sig));
}

TEST(SigningTest, IndependentHmacCheck) {
  // Recompute with OpenSSL directly from the decoded key.
  auto key = signing_internal::Base64Decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.has_value());
  const std::string content =
      std::string(kMsgId) + "." + std::to_string(kTs) + "." + kBody;
  unsigned char md[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(),
       md, &len);
  ASSERT_EQ(len, 32u);
  EXPECT_EQ("v1," + signing_internal::Base64Encode(
                        std::string(reinterpret_cast<char*>(md), len)),
            kExpected);
}

// HmacSha256 reuses one EVP_MAC_CTX per thread, re-keyed on every call:
// RFC 4231 vectors with the key changing between calls (and back), the empty
// key, and several threads at once must all give the right MACs.
TEST(SigningTest, CachedHmacContextRekeysCorrectly) {
  using signing_internal::HexLower;
  using signing_internal::HmacSha256;
  const std::string key1(20, '\x0b');
  const char kMac1[] =
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  const char kMac2[] =
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const char kMacEmpty[] =
      "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
  auto check = [&] {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(HexLower(HmacSha256(key1, "Hi There")), kMac1);
      EXPECT_EQ(HexLower(HmacSha256("Jefe", "what do ya want for nothing?")),
                kMac2);
      EXPECT_EQ(HexLower(HmacSha256("", "")), kMacEmpty);
      EXPECT_EQ(HexLower(HmacSha256(key1, "Hi There")), kMac1);
    }
  };
  check();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(check);
  for (auto& t : threads) t.join();
}

// More keys than the per-thread contexts (8): every MAC must still be the
// key's, whether its context was kept, replaced, or keyed again.
TEST(SigningTest, CachedHmacContextsSurviveMoreKeysThanSlots) {
  using signing_internal::HmacSha256;
  auto reference = [](const std::string& key, const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
         &len);
    return std::string(reinterpret_cast<char*>(md), len);
  };
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) keys.push_back("key-" + std::to_string(i));
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      // Cycles through all 12, and keeps returning to key 0 and key 1.
      for (size_t k : {i, size_t{0}, size_t{1}}) {
        const std::string data = "msg " + std::to_string(round * 100 + k);
        ASSERT_EQ(HmacSha256(keys[k], data), reference(keys[k], data))
            << "key " << k << " round " << round;
      }
    }
  }
}

TEST(SigningTest, SecretsValidatedAndRandom) {
  EXPECT_TRUE(ValidateSigningSecret(kSecret).ok());
  EXPECT_FALSE(ValidateSigningSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").ok());
  EXPECT_FALSE(ValidateSigningSecret("whsec_!!!!").ok());
  EXPECT_FALSE(ValidateSigningSecret("whsec_c2hvcnQ=").ok());  // 5 bytes
  EXPECT_FALSE(StandardWebhooksSignature({"whsec_bad"}, "id", 1, "").ok());
  EXPECT_FALSE(StandardWebhooksSignature({}, "id", 1, "").ok());
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string s = NewSigningSecret();
    EXPECT_TRUE(ValidateSigningSecret(s).ok()) << s;
    EXPECT_TRUE(seen.insert(s).second);
  }
  EXPECT_TRUE(ValidateSigningSecret(NewSigningSecret(24)).ok());
  EXPECT_TRUE(ValidateSigningSecret(NewSigningSecret(64)).ok());
}

TEST(SigningTest, ClosientSchemeRoundTrip) {
  const std::vector<std::string> secrets = {"csk_new", "csk_old"};
  const std::string h = ClosientSignature(secrets, 1700000000, "{}");
  EXPECT_EQ(h.rfind("t=1700000000,v1=", 0), 0u);
  EXPECT_EQ(std::count(h.begin(), h.end(), '='), 3);  // t= and two v1=
  // Independent check of the first v1: hex HMAC(secret bytes, "t.body").
  EXPECT_EQ(h.substr(h.find("v1=") + 3, 64),
            signing_internal::HexLower(
                signing_internal::HmacSha256("csk_new", "1700000000.{}")));
  EXPECT_TRUE(VerifyClosient({"csk_old"}, "{}", h));
  EXPECT_FALSE(VerifyClosient({"csk_other"}, "{}", h));
  EXPECT_FALSE(VerifyClosient({"csk_new"}, "{ }", h));
  EXPECT_FALSE(VerifyClosient({"csk_new"}, "{}", "v1=abc"));
}

TEST(RetryAfterTest, Seconds) {
  EXPECT_EQ(*ParseRetryAfterSeconds("120", 0), 120);
  EXPECT_EQ(*ParseRetryAfterSeconds(" 0 ", 0), 0);
  EXPECT_EQ(*ParseRetryAfterSeconds("99999999999999999999", 0),
            int64_t{1} << 40);
}

TEST(RetryAfterTest, HttpDates) {
  const int64_t t = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(*ParseRetryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT", t - 30),
            30);
  EXPECT_EQ(*ParseRetryAfterSeconds("Sunday, 06-Nov-94 08:49:37 GMT", t - 5),
            5);
  EXPECT_EQ(*ParseRetryAfterSeconds("Sun Nov  6 08:49:37 1994", t - 1), 1);
  // A date in the past means "now".
  EXPECT_EQ(*ParseRetryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT", t + 99),
            0);
  EXPECT_EQ(
      *ParseRetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 60),
      60);
}

TEST(RetryAfterTest, GarbageIsAnError) {
  for (const char* bad :
       {"", "soon", "-5", "1.5", "12abc", "Sun, 06 Nov 1994 08:49:37",
        "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT"}) {
    EXPECT_FALSE(ParseRetryAfterSeconds(bad, 0).ok()) << bad;
  }
}

}  // namespace
}  // namespace hooklog
