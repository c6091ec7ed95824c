#include "hooklog/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace hooklog {
namespace {

TEST(ShortUuid, KnownValues) {
  EXPECT_EQ(Uuid128{}.ToString(), "2222222222222222222222");
  EXPECT_EQ((Uuid128{0, 1}).ToString(), "2222222222222222222223");
  EXPECT_EQ((Uuid128{~0ULL, ~0ULL}).ToString(), "oZEq7ovRbLq6UnGMPwc8B5");
  EXPECT_EQ((Uuid128{0x0123456789abcdefULL, 0xfedcba9876543210ULL}).ToString(),
            "2DYiVtse6TvbAwFi4dbvih");
}

TEST(ShortUuid, RoundTripsRandomIds) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    Uuid128 u = Uuid128::NewRandom();
    std::string s = u.ToString();
    ASSERT_EQ(s.size(), 22u);
    auto back = Uuid128::Parse(s);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, u);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ShortUuid, RejectsWrongLength) {
  EXPECT_TRUE(Uuid128::Parse("").status().IsInvalidArgument());
  EXPECT_TRUE(
      Uuid128::Parse("222222222222222222222").status().IsInvalidArgument());
  EXPECT_TRUE(
      Uuid128::Parse("22222222222222222222222").status().IsInvalidArgument());
}

TEST(ShortUuid, RejectsForeignCharacters) {
  // 0, 1, I, O, l are not in the alphabet; nor are '-' and non-ASCII bytes.
  for (const char* bad : {"0222222222222222222222", "1222222222222222222222",
                          "I222222222222222222222", "O222222222222222222222",
                          "l222222222222222222222", "-222222222222222222222",
                          "\xc3\xa9"
                          "22222222222222222222"}) {
    EXPECT_TRUE(Uuid128::Parse(bad).status().IsInvalidArgument()) << bad;
  }
}

TEST(ShortUuid, RejectsValuesOf2To128OrMore) {
  EXPECT_TRUE(Uuid128::Parse("oZEq7ovRbLq6UnGMPwc8B5").ok());
  EXPECT_TRUE(
      Uuid128::Parse("oZEq7ovRbLq6UnGMPwc8B6").status().IsInvalidArgument());
  EXPECT_TRUE(
      Uuid128::Parse("zzzzzzzzzzzzzzzzzzzzzz").status().IsInvalidArgument());
}

TEST(ShortUuid, StrongTypesParse) {
  auto id = DeliveryId::Parse("2DYiVtse6TvbAwFi4dbvih");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToString(), "2DYiVtse6TvbAwFi4dbvih");
  EXPECT_FALSE(EndpointId::Parse("not-an-id").ok());
}

}  // namespace
}  // namespace hooklog
