#include "fuzz/json_check.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace hooklog::fuzz {
namespace {

class Validator {
 public:
  explicit Validator(std::string_view s) : s_(s) {}

  std::string Run() {
    SkipWs();
    if (!Value(0)) return Error();
    SkipWs();
    if (p_ != s_.size()) {
      why_ = "trailing characters";
      return Error();
    }
    return "";
  }

 private:
  static constexpr int kMaxDepth = 512;

  std::string Error() const {
    return why_ + " at byte " + std::to_string(p_) + " of " +
           std::to_string(s_.size());
  }
  bool Fail(const char* why) {
    if (why_.empty()) why_ = why;
    return false;
  }
  bool More() const { return p_ < s_.size(); }
  unsigned char Peek() const { return static_cast<unsigned char>(s_[p_]); }
  void SkipWs() {
    while (More() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' ||
                      Peek() == '\r')) {
      ++p_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(p_, word.size()) != word) return Fail("bad literal");
    p_ += word.size();
    return true;
  }

  bool Value(int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    if (!More()) return Fail("value expected");
    switch (Peek()) {
      case '{':
        return Object(depth);
      case '[':
        return Array(depth);
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  bool Object(int depth) {
    ++p_;  // '{'
    SkipWs();
    if (More() && Peek() == '}') {
      ++p_;
      return true;
    }
    while (true) {
      SkipWs();
      if (!More() || Peek() != '"') return Fail("object key expected");
      if (!String()) return false;
      SkipWs();
      if (!More() || Peek() != ':') return Fail("':' expected");
      ++p_;
      SkipWs();
      if (!Value(depth + 1)) return false;
      SkipWs();
      if (!More()) return Fail("unterminated object");
      if (Peek() == '}') {
        ++p_;
        return true;
      }
      if (Peek() != ',') return Fail("',' or '}' expected");
      ++p_;
    }
  }

  bool Array(int depth) {
    ++p_;  // '['
    SkipWs();
    if (More() && Peek() == ']') {
      ++p_;
      return true;
    }
    while (true) {
      SkipWs();
      if (!Value(depth + 1)) return false;
      SkipWs();
      if (!More()) return Fail("unterminated array");
      if (Peek() == ']') {
        ++p_;
        return true;
      }
      if (Peek() != ',') return Fail("',' or ']' expected");
      ++p_;
    }
  }

  bool Digits() {
    size_t start = p_;
    while (More() && Peek() >= '0' && Peek() <= '9') ++p_;
    return p_ > start;
  }

  bool Number() {
    if (More() && Peek() == '-') ++p_;
    if (!More()) return Fail("number expected");
    if (Peek() == '0') {
      ++p_;
    } else if (!Digits()) {
      return Fail("number expected");
    }
    if (More() && Peek() == '.') {
      ++p_;
      if (!Digits()) return Fail("digits expected after '.'");
    }
    if (More() && (Peek() == 'e' || Peek() == 'E')) {
      ++p_;
      if (More() && (Peek() == '+' || Peek() == '-')) ++p_;
      if (!Digits()) return Fail("exponent digits expected");
    }
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (p_ + 4 > s_.size()) return Fail("short \\u escape");
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      unsigned char c = Peek();
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return Fail("bad \\u escape");
      *v = *v * 16 + static_cast<uint32_t>(d);
      ++p_;
    }
    return true;
  }

  // One UTF-8 sequence starting at p_ (the lead byte is >= 0x80).
  bool Utf8() {
    unsigned char c = Peek();
    int n;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return Fail("invalid UTF-8 lead byte");
    }
    ++p_;
    for (int i = 0; i < n; ++i) {
      if (!More() || (Peek() & 0xC0) != 0x80) {
        return Fail("truncated UTF-8 sequence");
      }
      cp = (cp << 6) | (Peek() & 0x3F);
      ++p_;
    }
    if (cp < min) return Fail("overlong UTF-8");
    if (cp > 0x10FFFF) return Fail("UTF-8 beyond U+10FFFF");
    if (cp >= 0xD800 && cp <= 0xDFFF) return Fail("UTF-8 surrogate");
    return true;
  }

  bool String() {
    ++p_;  // '"'
    while (true) {
      if (!More()) return Fail("unterminated string");
      unsigned char c = Peek();
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return Fail("unescaped control character in string");
      if (c >= 0x80) {
        if (!Utf8()) return false;
        continue;
      }
      ++p_;
      if (c != '\\') continue;
      if (!More()) return Fail("unterminated escape");
      unsigned char e = Peek();
      ++p_;
      if (e == 'u') {
        uint32_t v;
        if (!Hex4(&v)) return false;
        // Escaped surrogates must pair up (RFC 8259 allows lone ones
        // grammatically, but they are not text; no writer should emit them).
        if (v >= 0xDC00 && v <= 0xDFFF) return Fail("lone low surrogate");
        if (v >= 0xD800 && v <= 0xDBFF) {
          if (s_.substr(p_, 2) != "\\u") return Fail("lone high surrogate");
          p_ += 2;
          uint32_t lo;
          if (!Hex4(&lo)) return false;
          if (lo < 0xDC00 || lo > 0xDFFF) return Fail("lone high surrogate");
        }
      } else if (std::string_view("\"\\/bfnrt").find(static_cast<char>(e)) ==
                 std::string_view::npos) {
        return Fail("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t p_ = 0;
  std::string why_;
};

}  // namespace

std::string JsonProblem(std::string_view text) { return Validator(text).Run(); }

}  // namespace hooklog::fuzz
