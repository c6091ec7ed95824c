// Structured one-line logs on stderr for webhookd.
//
// Each line is logfmt: `time=2026-11-26T23:07:04.123Z level=info msg="..."
// key=value ...`; values with spaces, quotes or '=' are quoted and escaped so
// that a line always parses back; control characters and bytes that are not
// well-formed UTF-8 are written as \xNN, so that every line is valid UTF-8.
// Secrets (API keys, signing secrets) must never be passed as fields;
// callers log ids, never credentials.
//
// Thread-safety: Log() may be called from any thread; each line is written
// with one fwrite so that lines from different threads never interleave.
#ifndef HOOKLOG_WEBHOOKD_LOG_H_
#define HOOKLOG_WEBHOOKD_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace webhookd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug" | "info" | "warn" | "error" (also "warning"); false otherwise.
bool ParseLogLevel(std::string_view text, LogLevel* level);
std::string_view LogLevelName(LogLevel level);

// Lines below `level` are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields = {});

// The logfmt rendering of one line (without the trailing newline), exposed
// for tests.
std::string FormatLogLine(LogLevel level, std::string_view msg,
                          std::initializer_list<LogField> fields);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_LOG_H_
