// FlagSet: the command-line flags of every hooklog tool.
//
// Each flag is declared with the variable it sets; the variable's value at
// declaration is the default (shown in --help). Then Parse():
//
//   cli::FlagSet flags("hooklog-receiver", "[flags]", "A webhook receiver.");
//   uint16_t port = 0;
//   std::vector<std::string> secrets;
//   bool quiet = false;
//   flags.Int("port", &port, "port to listen on, 0: any free port");
//   flags.Strings("secret", &secrets, "signing secret (repeatable)");
//   flags.Bool("quiet", &quiet, "do not print each request");
//   flags.ParseOrExit(argc, argv);  // --help: usage, exit 0; error: exit 2
//
// Accepted forms: `--name value` and `--name=value`; bools are `--name`,
// `--name=true|false` (also 1/0, yes/no) and `--no-name`; `-h` is --help;
// `--` ends the flags. A value that starts with "--" must use the `=` form.
// Integers are checked against their range (the variable's type, narrowed
// by the declared bounds), doubles must be finite and within bounds, choices
// must be one of the listed words. Repeatable strings collect every
// occurrence (the first one replaces the default). Positional arguments are
// an error unless AllowPositional() was called.
//
// Parsing is all-or-nothing: on any error (unknown flag, missing value, not
// a number, out of range, ...) no variable is changed and error() names the
// flag and says what is wrong.
//
// Thread-safety: a value; one thread.
#ifndef HOOKLOG_TOOLS_CLI_FLAGS_H_
#define HOOKLOG_TOOLS_CLI_FLAGS_H_

#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace hooklog::cli {

class FlagSet {
 public:
  enum class Outcome { kOk, kHelp, kError };

  // `args` is the usage line's part after the program name (e.g.
  // "[flags]" or "verify|stats|prune <data-dir>"); `summary` is printed
  // under it in Help().
  FlagSet(std::string program, std::string args, std::string summary);

  void String(std::string name, std::string* out, std::string help,
              std::string value_name = "S");
  // Repeatable: every occurrence appends.
  void Strings(std::string name, std::vector<std::string>* out,
               std::string help, std::string value_name = "S");
  // One of `choices`.
  void Choice(std::string name, std::string* out,
              std::vector<std::string> choices, std::string help);
  void Bool(std::string name, bool* out, std::string help);
  void Double(std::string name, double* out, std::string help,
              double min = std::numeric_limits<double>::lowest(),
              double max = std::numeric_limits<double>::max(),
              std::string value_name = "F");
  template <class T>
  requires std::is_integral_v<T> &&(!std::is_same_v<T, bool>)void Int(
      std::string name, T* out, std::string help,
      T min = std::numeric_limits<T>::lowest(),
      T max = std::numeric_limits<T>::max(), std::string value_name = "N");

  // Accepts between `min` and `max` positional arguments (see
  // positional()).
  void AllowPositional(size_t min, size_t max);

  // Parses argv[1..argc).
  Outcome Parse(int argc, const char* const* argv);
  // Parses `args` (no program name).
  Outcome Parse(const std::vector<std::string>& args);
  // Parse(); on kHelp prints Help() to stdout and exits 0; on kError prints
  // "<program>: <error>" and a pointer to --help to stderr and exits 2.
  void ParseOrExit(int argc, const char* const* argv);

  const std::string& error() const { return error_; }
  const std::vector<std::string>& positional() const { return positional_; }
  // True when the flag appeared on the command line (after a kOk parse).
  bool IsSet(std::string_view name) const;
  // Usage, summary and one line per flag with its default.
  std::string Help() const;

 private:
  struct Flag {
    std::string name;
    std::string value_name;  // "" for bools
    std::string help;
    std::string default_text;
    bool repeatable = false;
    bool is_bool = false;
    // Checks a value; "" when fine, else the reason (without the flag name).
    std::function<std::string(std::string_view)> check;
    // Stores a checked value.
    std::function<void(std::string_view)> apply;
    std::function<void()> clear;  // repeatable: drops the default
    bool set = false;
  };

  void Add(Flag flag);
  Flag* Find(std::string_view name);
  void IntFlag(std::string name, std::string help, std::string value_name,
               std::string default_text,
               std::function<std::string(std::string_view)> check,
               std::function<void(std::string_view)> apply);
  template <class T>
  static std::string ParseInt(std::string_view s, T min, T max, T* v);

  std::string program_, args_, summary_;
  std::vector<Flag> flags_;
  size_t min_positional_ = 0, max_positional_ = 0;
  std::vector<std::string> positional_;
  std::string error_;
};

template <class T>
std::string FlagSet::ParseInt(std::string_view s, T min, T max, T* v) {
  const std::string range = " is out of range [" + std::to_string(min) + ", " +
                            std::to_string(max) + "]";
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  const char* end = digits.data() + digits.size();
  auto [p, ec] = std::from_chars(digits.data(), end, *v);
  if (ec == std::errc::result_out_of_range)
    return "'" + std::string(s) + "'" + range;
  if (ec != std::errc() || p != end || digits.empty()) {
    // A number of another kind (negative for an unsigned flag, a fraction)
    // is still "out of range" or "not an integer"; say which.
    if (std::is_unsigned_v<T> && !digits.empty() && digits.front() == '-') {
      int64_t neg = 0;
      auto [q, nec] = std::from_chars(digits.data(), end, neg);
      if (nec == std::errc() && q == end)
        return "'" + std::string(s) + "'" + range;
    }
    return "'" + std::string(s) + "' is not an integer";
  }
  if (*v < min || *v > max) return "'" + std::string(s) + "'" + range;
  return "";
}

template <class T>
requires std::is_integral_v<T> &&
    (!std::is_same_v<T, bool>)void FlagSet::Int(std::string name, T* out,
                                                std::string help, T min, T max,
                                                std::string value_name) {
  IntFlag(
      std::move(name), std::move(help), std::move(value_name),
      std::to_string(*out),
      [min, max](std::string_view s) {
        T v{};
        return ParseInt<T>(s, min, max, &v);
      },
      [min, max, out](std::string_view s) {
        T v{};
        ParseInt<T>(s, min, max, &v);
        *out = v;
      });
}

}  // namespace hooklog::cli

#endif  // HOOKLOG_TOOLS_CLI_FLAGS_H_
