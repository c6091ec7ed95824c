#include "webhookd/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace webhookd {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

// The length of the well-formed UTF-8 sequence starting at v[i] (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 when the
// bytes there are not one.
size_t Utf8SequenceLength(std::string_view v, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(v[k]); };
  const unsigned char c = at(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > v.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  }
  return n;
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7F) {
      return true;
    }
    // Bytes >= 0x80 are fine unquoted only as part of well-formed UTF-8.
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(v, i);
      if (n == 0) return true;
      i += n - 1;
    }
  }
  return false;
}

void AppendValue(std::string_view v, std::string* out) {
  if (!NeedsQuotes(v)) {
    out->append(v);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  const auto escape = [out](unsigned char c) {
    *out += "\\x";
    *out += kHex[c >> 4];
    *out += kHex[c & 0xF];
  };
  *out += '"';
  for (size_t i = 0; i < v.size(); ++i) {
    const char ch = v[i];
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      // Well-formed UTF-8 is kept; any other byte (e.g. from a raw request
      // path) is escaped, so that every line is valid UTF-8.
      const size_t n = Utf8SequenceLength(v, i);
      if (n == 0) {
        escape(c);
      } else {
        out->append(v.substr(i, n));
        i += n - 1;
      }
    } else if (c == '"' || c == '\\') {
      *out += '\\';
      *out += ch;
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      // Control characters would let a value forge a second log line.
      escape(c);
    } else {
      *out += ch;
    }
  }
  *out += '"';
}

std::string NowWithMillis() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch())
                .count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // sized for any int fields, which keeps -Wformat quiet
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "debug") {
    *level = LogLevel::kDebug;
  } else if (text == "info") {
    *level = LogLevel::kInfo;
  } else if (text == "warn" || text == "warning") {
    *level = LogLevel::kWarn;
  } else if (text == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level; }

std::string FormatLogLine(LogLevel level, std::string_view msg,
                          std::initializer_list<LogField> fields) {
  std::string line = "time=" + NowWithMillis();
  line += " level=";
  line += LogLevelName(level);
  line += " msg=";
  AppendValue(msg, &line);
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    AppendValue(v, &line);
  }
  return line;
}

void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line = FormatLogLine(level, msg, fields);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace webhookd
