// JsonWriter: the one JSON serializer behind every webhookd response.
//
// A streaming writer that tracks commas itself, so callers only say what to
// write:
//
//   JsonWriter w;
//   w.BeginObject();
//   w.Key("id").String(id);
//   w.Key("tags").BeginArray().String("a").EndArray();
//   w.EndObject();
//   std::string body = std::move(w).Take();
//
// Strings are escaped per RFC 8259: quote and backslash, \b \f \n \r \t, other
// control characters (< 0x20, and 0x7F for readability) as \u00XX; bytes of
// 0x80 and above pass through unchanged, so UTF-8 text stays UTF-8. Invalid
// UTF-8 never reaches the writer from the engine (it validates input), but
// if it did, each invalid byte is replaced by U+FFFD so that the output is
// always valid JSON text.
//
// Thread-safety: a value; one writer per response.
#ifndef HOOKLOG_TOOLS_CLI_JSON_WRITER_H_
#define HOOKLOG_TOOLS_CLI_JSON_WRITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hooklog::cli {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Inside an object: the next member's name. The value must follow.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  // Finite numbers in the shortest form that round-trips; NaN/Inf as null.
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A value that is already valid JSON text (e.g. a validated payload).
  JsonWriter& Raw(std::string_view json);

  // Optional helpers: null when empty.
  JsonWriter& OptString(const std::optional<std::string>& s);
  JsonWriter& OptInt(const std::optional<int>& v);

  const std::string& str() const { return out_; }
  std::string Take() && { return std::move(out_); }

  // Appends `s` escaped (without the surrounding quotes) to `out`.
  static void Escape(std::string_view s, std::string* out);

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open container: true once it has a member.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

}  // namespace hooklog::cli

#endif  // HOOKLOG_TOOLS_CLI_JSON_WRITER_H_
