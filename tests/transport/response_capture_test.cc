#include "transport/response_capture.h"

#include <gtest/gtest.h>

namespace hooklog::transport_internal {
namespace {

size_t CountChars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

TEST(Utf8PrefixTest, AsciiIsCutAtTheLimit) {
  EXPECT_EQ(Utf8Prefix(std::string(300, 'a'), 256), std::string(256, 'a'));
  EXPECT_EQ(Utf8Prefix("short", 256), "short");
  EXPECT_EQ(Utf8Prefix("", 256), "");
}

TEST(Utf8PrefixTest, NeverCutsAMultiByteCharacter) {
  std::string s;
  for (int i = 0; i < 300; ++i) s += "\xC3\xA9";  // é
  std::string p = Utf8Prefix(s, 256);
  EXPECT_EQ(p.size(), 512u);
  EXPECT_EQ(CountChars(p), 256u);
  std::string emoji;
  for (int i = 0; i < 300; ++i) emoji += "\xF0\x9F\x98\x80";  // 😀
  p = Utf8Prefix(emoji, 256);
  EXPECT_EQ(p.size(), 1024u);
  // A 4-byte character straddling byte 256 stays whole.
  std::string mixed = std::string(254, 'a') + "\xF0\x9F\x98\x80" + "zz";
  EXPECT_EQ(Utf8Prefix(mixed, 256),
            std::string(254, 'a') + "\xF0\x9F\x98\x80" + "z");
}

TEST(Utf8PrefixTest, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(Utf8Prefix("a\xFF"
                       "b",
                       256),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Utf8Prefix("\xC3", 256), "\xEF\xBF\xBD");  // truncated
  EXPECT_EQ(Utf8Prefix("\xC0\xAF", 256), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(Utf8Prefix("\xED\xA0\x80", 1), "\xEF\xBF\xBD");  // surrogate
}

}  // namespace
}  // namespace hooklog::transport_internal
