#include "tools/cli/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace hooklog::cli {
namespace {

std::string FormatDouble(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

FlagSet::FlagSet(std::string program, std::string args, std::string summary)
    : program_(std::move(program)),
      args_(std::move(args)),
      summary_(std::move(summary)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagSet::IsSet(std::string_view name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return f.set;
  }
  return false;
}

void FlagSet::String(std::string name, std::string* out, std::string help,
                     std::string value_name) {
  Flag f;
  f.name = std::move(name);
  f.value_name = std::move(value_name);
  f.help = std::move(help);
  f.default_text = out->empty() ? "" : Quote(*out);
  f.check = [](std::string_view) { return std::string(); };
  f.apply = [out](std::string_view v) { *out = std::string(v); };
  Add(std::move(f));
}

void FlagSet::Strings(std::string name, std::vector<std::string>* out,
                      std::string help, std::string value_name) {
  Flag f;
  f.name = std::move(name);
  f.value_name = std::move(value_name);
  f.help = std::move(help);
  f.repeatable = true;
  f.check = [](std::string_view) { return std::string(); };
  f.apply = [out](std::string_view v) { out->emplace_back(v); };
  f.clear = [out] { out->clear(); };
  Add(std::move(f));
}

void FlagSet::Choice(std::string name, std::string* out,
                     std::vector<std::string> choices, std::string help) {
  std::string joined;
  for (const std::string& c : choices) {
    joined += (joined.empty() ? "" : "|") + c;
  }
  Flag f;
  f.name = std::move(name);
  f.value_name = joined;
  f.help = std::move(help);
  f.default_text = out->empty() ? "" : *out;
  f.check = [choices = std::move(choices), joined](std::string_view v) {
    for (const std::string& c : choices) {
      if (c == v) return std::string();
    }
    return Quote(v) + " is not one of " + joined;
  };
  f.apply = [out](std::string_view v) { *out = std::string(v); };
  Add(std::move(f));
}

void FlagSet::Bool(std::string name, bool* out, std::string help) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.is_bool = true;
  f.default_text = *out ? "true" : "";
  f.check = [](std::string_view v) {
    for (std::string_view ok :
         {"true", "false", "1", "0", "yes", "no", "on", "off"}) {
      if (v == ok) return std::string();
    }
    return Quote(v) + " is not true or false";
  };
  f.apply = [out](std::string_view v) {
    *out = v == "true" || v == "1" || v == "yes" || v == "on";
  };
  Add(std::move(f));
}

void FlagSet::Double(std::string name, double* out, std::string help,
                     double min, double max, std::string value_name) {
  auto parse = [min, max](std::string_view s, double* v) -> std::string {
    std::string text(s);
    char* end = nullptr;
    errno = 0;
    *v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || std::isnan(*v) ||
        std::isinf(*v) || errno == ERANGE) {
      return Quote(s) + " is not a number";
    }
    if (*v < min || *v > max) {
      return Quote(s) + " is out of range [" + FormatDouble(min) + ", " +
             FormatDouble(max) + "]";
    }
    return "";
  };
  Flag f;
  f.name = std::move(name);
  f.value_name = std::move(value_name);
  f.help = std::move(help);
  f.default_text = FormatDouble(*out);
  f.check = [parse](std::string_view s) {
    double v = 0;
    return parse(s, &v);
  };
  f.apply = [parse, out](std::string_view s) {
    double v = 0;
    parse(s, &v);
    *out = v;
  };
  Add(std::move(f));
}

void FlagSet::IntFlag(std::string name, std::string help,
                      std::string value_name, std::string default_text,
                      std::function<std::string(std::string_view)> check,
                      std::function<void(std::string_view)> apply) {
  Flag f;
  f.name = std::move(name);
  f.value_name = std::move(value_name);
  f.help = std::move(help);
  f.default_text = std::move(default_text);
  f.check = std::move(check);
  f.apply = std::move(apply);
  Add(std::move(f));
}

void FlagSet::AllowPositional(size_t min, size_t max) {
  min_positional_ = min;
  max_positional_ = max;
}

FlagSet::Outcome FlagSet::Parse(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

FlagSet::Outcome FlagSet::Parse(const std::vector<std::string>& args) {
  // Phase 1: find every flag and value and check it; nothing is stored.
  struct Pending {
    Flag* flag;
    std::string value;
  };
  std::vector<Pending> pending;
  std::vector<std::string> positional;
  error_.clear();
  auto fail = [this](std::string message) {
    error_ = std::move(message);
    return Outcome::kError;
  };
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-' ||
        (a[1] != '-' && a != "-h")) {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") return Outcome::kHelp;
    std::string_view body = std::string_view(a).substr(2);
    const size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    Flag* f = Find(name);
    bool negated = false;
    if (f == nullptr && name.starts_with("no-")) {
      f = Find(name.substr(3));
      if (f != nullptr && !f->is_bool) f = nullptr;
      negated = f != nullptr;
    }
    if (f == nullptr) return fail("unknown flag --" + std::string(name));
    std::string value;
    if (f->is_bool) {
      if (negated) {
        if (eq != std::string_view::npos) {
          return fail("--" + std::string(name) + " takes no value");
        }
        value = "false";
      } else {
        value = eq == std::string_view::npos ? "true"
                                             : std::string(body.substr(eq + 1));
      }
    } else if (eq != std::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      value = args[++i];
    } else {
      return fail("--" + f->name + " needs a value (" + f->value_name + ")");
    }
    if (std::string why = f->check(value); !why.empty()) {
      return fail("--" + f->name + ": " + why);
    }
    pending.push_back({f, std::move(value)});
  }
  if (positional.size() < min_positional_ ||
      positional.size() > max_positional_) {
    if (max_positional_ == 0) {
      return fail("unexpected argument " + Quote(positional.front()));
    }
    return fail("expected " +
                (min_positional_ == max_positional_
                     ? std::to_string(min_positional_)
                     : std::to_string(min_positional_) + " to " +
                           std::to_string(max_positional_)) +
                " arguments (" + args_ + "), got " +
                std::to_string(positional.size()));
  }
  // Phase 2: every value is valid; store them.
  for (Flag& f : flags_) f.set = false;
  for (Pending& p : pending) {
    if (p.flag->repeatable && !p.flag->set && p.flag->clear) p.flag->clear();
    p.flag->apply(p.value);
    p.flag->set = true;
  }
  positional_ = std::move(positional);
  return Outcome::kOk;
}

void FlagSet::ParseOrExit(int argc, const char* const* argv) {
  switch (Parse(argc, argv)) {
    case Outcome::kOk:
      return;
    case Outcome::kHelp:
      std::fputs(Help().c_str(), stdout);
      std::exit(0);
    case Outcome::kError:
      std::fprintf(stderr, "%s: %s\n(%s --help lists the flags)\n",
                   program_.c_str(), error_.c_str(), program_.c_str());
      std::exit(2);
  }
}

std::string FlagSet::Help() const {
  std::string out = "usage: " + program_ + " " + args_ + "\n";
  if (!summary_.empty()) out += "\n" + summary_ + "\n";
  out += "\nflags:\n";
  auto line = [&out](std::string left, const std::string& help) {
    out += "  " + left;
    if (left.size() < 28) {
      out.append(28 - left.size(), ' ');
    } else {
      out += "\n" + std::string(30, ' ');
    }
    out += help + "\n";
  };
  for (const Flag& f : flags_) {
    std::string left = "--" + f.name;
    if (!f.is_bool) left += " " + f.value_name;
    std::string help = f.help;
    if (f.repeatable) help += " (repeatable)";
    if (!f.default_text.empty()) help += " (default " + f.default_text + ")";
    line(left, help);
  }
  line("--help", "print this help and exit");
  return out;
}

}  // namespace hooklog::cli
