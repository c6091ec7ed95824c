#include "hooklog/clock.h"

#include <gtest/gtest.h>

namespace hooklog {
namespace {

TEST(Iso8601, FormatsUtcWithZ) {
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso8601(1795734424LL * kSecond), "2026-11-26T23:07:04Z");
}

TEST(Iso8601, ParsesWhatItFormatsAndOffsets) {
  EXPECT_EQ(*ParseIso8601("2026-11-26T23:07:04Z"), 1795734424LL * kSecond);
  EXPECT_EQ(*ParseIso8601("2026-11-27T00:07:04+01:00"), 1795734424LL * kSecond);
  EXPECT_EQ(*ParseIso8601("2026-11-26T23:07:04.5Z"),
            1795734424LL * kSecond + 500000);
  EXPECT_EQ(*ParseIso8601("1970-01-02"), 86400 * kSecond);
  // Leap days exist in leap years only.
  EXPECT_TRUE(ParseIso8601("2028-02-29").ok());
  EXPECT_TRUE(ParseIso8601("2000-02-29").ok());
  EXPECT_EQ(*ParseIso8601("2026-12-31T00:00:00Z") + 86400 * kSecond,
            *ParseIso8601("2027-01-01"));
}

TEST(Iso8601, RejectsMalformed) {
  for (const char* bad :
       {"", "yesterday", "2026-13-01", "2026-02-29", "2026-04-31", "2100-02-29",
        "2026-11-26T23:07Z", "2026-11-26T23:07:04", "2026-11-26T25:00:00Z",
        "2026-11-26T23:07:04Zjunk", "2026-11-26T23:07:04.Z"}) {
    EXPECT_TRUE(ParseIso8601(bad).status().IsInvalidArgument()) << bad;
  }
}

TEST(Durations, ParseAndFormat) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("5s"), std::chrono::seconds(5));
  EXPECT_EQ(*ParseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*ParseDuration("2h"), std::chrono::hours(2));
  EXPECT_EQ(*ParseDuration("0"), Duration(0));
  EXPECT_EQ(FormatDuration(std::chrono::minutes(5)), "5m");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1500ms");
  for (const char* bad :
       {"", "5", "s", "-1s", "5x", "1.5s", "99999999999999999999h"}) {
    EXPECT_TRUE(ParseDuration(bad).status().IsInvalidArgument()) << bad;
  }
}

}  // namespace
}  // namespace hooklog
