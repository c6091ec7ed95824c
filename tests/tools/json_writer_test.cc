// The one JSON writer behind every webhookd response.
#include "tools/cli/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace hooklog::cli {
namespace {

std::string Str(std::string_view s) {
  JsonWriter w;
  w.String(s);
  return std::move(w).Take();
}

TEST(JsonWriterTest, EscapesQuotesBackslashAndControlCharacters) {
  EXPECT_EQ(Str("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Str("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(Str(std::string("\x00\x01\x1f\x7f", 4)),
            R"("\u0000\u0001\u001f\u007f")");
  EXPECT_EQ(Str("/"), R"("/")");
}

TEST(JsonWriterTest, PassesUtf8ThroughAndReplacesInvalidBytes) {
  EXPECT_EQ(Str("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // A lone continuation byte, a truncated sequence, an overlong '/', a
  // surrogate: each becomes U+FFFD so that the output stays valid UTF-8.
  EXPECT_EQ(Str("a\x80z"), "\"a\xEF\xBF\xBDz\"");
  EXPECT_EQ(Str("a\xE2\x82"), "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Str("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(Str("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriterTest, NestsWithCommasAndRoundTripsThroughAParser) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").Int(-1);
  w.Key("b").BeginArray().String("x").Null().Bool(true).Double(0.5).EndArray();
  w.Key("c").BeginObject().EndObject();
  w.Key("d").BeginArray().EndArray();
  w.Key("e\n").Uint(18446744073709551615ull);
  w.Key("f").Double(1.0 / 0.0);
  w.Key("g").Raw(R"({"k":[1,2]})");
  w.Key("h").OptString(std::nullopt).Key("i").OptInt(7);
  w.EndObject();
  EXPECT_EQ(w.str(),
            R"({"a":-1,"b":["x",null,true,0.5],"c":{},"d":[],"e\n":)"
            R"(18446744073709551615,"f":null,"g":{"k":[1,2]},"h":null,"i":7})");
  simdjson::dom::parser p;
  simdjson::padded_string text(w.str());
  EXPECT_FALSE(p.parse(text).error());
}

TEST(JsonWriterTest, EveryByteStringParsesBack) {
  // All 256 byte values: the output is always valid JSON (and UTF-8).
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string json = Str(all);
  simdjson::dom::parser p;
  simdjson::padded_string text(json);
  std::string_view back;
  ASSERT_FALSE(p.parse(text).get_string().get(back));
  EXPECT_EQ(back.substr(0, 128), all.substr(0, 128));
}

}  // namespace
}  // namespace hooklog::cli
