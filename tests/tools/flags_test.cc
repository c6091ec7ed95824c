// The flag parser every tool uses: forms, types, --help, and errors that
// name the flag and leave every variable as it was.
#include "tools/cli/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hooklog::cli {
namespace {

using ::testing::HasSubstr;
using Outcome = FlagSet::Outcome;

// A flag set with one flag of each kind, and its variables.
struct Fixture {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 1;
  int64_t events = 100;
  double rate = 0.5;
  bool quiet = false;
  bool color = true;
  std::vector<std::string> secrets = {"default-secret"};
  std::string scheme = "standard";
  FlagSet flags{"tool", "[flags]", "A tool."};

  Fixture() {
    flags.String("address", &address, "address to listen on", "A");
    flags.Int("port", &port, "port, 0: any free port");
    flags.Int("threads", &threads, "threads", 1, 64);
    flags.Int("events", &events, "events", int64_t{1}, int64_t{1'000'000});
    flags.Double("rate", &rate, "share of requests", 0.0, 1.0);
    flags.Bool("quiet", &quiet, "say less");
    flags.Bool("color", &color, "colour output");
    flags.Strings("secret", &secrets, "secret");
    flags.Choice("scheme", &scheme, {"standard", "closient"}, "scheme");
  }
  Outcome Parse(std::vector<std::string> args) { return flags.Parse(args); }
  void ExpectDefaults() const {
    EXPECT_EQ(address, "127.0.0.1");
    EXPECT_EQ(port, 8080);
    EXPECT_EQ(threads, 1);
    EXPECT_EQ(events, 100);
    EXPECT_EQ(rate, 0.5);
    EXPECT_FALSE(quiet);
    EXPECT_TRUE(color);
    EXPECT_EQ(secrets, std::vector<std::string>{"default-secret"});
    EXPECT_EQ(scheme, "standard");
  }
};

TEST(FlagsTest, NothingGivenKeepsTheDefaults) {
  Fixture f;
  ASSERT_EQ(f.Parse({}), Outcome::kOk) << f.flags.error();
  f.ExpectDefaults();
  EXPECT_FALSE(f.flags.IsSet("port"));
}

TEST(FlagsTest, BothFormsEveryType) {
  Fixture f;
  ASSERT_EQ(
      f.Parse({"--address", "::1", "--port=0", "--threads", "8",
               "--events=1000000", "--rate", "0.25", "--quiet", "--no-color",
               "--secret", "a", "--secret=b=c", "--scheme", "closient"}),
      Outcome::kOk)
      << f.flags.error();
  EXPECT_EQ(f.address, "::1");
  EXPECT_EQ(f.port, 0);
  EXPECT_EQ(f.threads, 8);
  EXPECT_EQ(f.events, 1'000'000);
  EXPECT_EQ(f.rate, 0.25);
  EXPECT_TRUE(f.quiet);
  EXPECT_FALSE(f.color);
  // The first occurrence replaces the default; later ones append. A value
  // may contain '=' after the first.
  EXPECT_EQ(f.secrets, (std::vector<std::string>{"a", "b=c"}));
  EXPECT_EQ(f.scheme, "closient");
  EXPECT_TRUE(f.flags.IsSet("port"));
}

TEST(FlagsTest, BoolValuesNegativeNumbersAndTheLastOccurrenceWins) {
  Fixture f;
  int64_t offset = 5;
  f.flags.Int("offset", &offset, "may be negative");
  ASSERT_EQ(f.Parse({"--quiet=yes", "--color=0", "--offset", "-3", "--port",
                     "1", "--port", "2"}),
            Outcome::kOk)
      << f.flags.error();
  EXPECT_TRUE(f.quiet);
  EXPECT_FALSE(f.color);
  EXPECT_EQ(offset, -3);
  EXPECT_EQ(f.port, 2);
}

TEST(FlagsTest, HelpIsGeneratedFromTheDeclarations) {
  Fixture f;
  EXPECT_EQ(f.Parse({"--port", "1", "--help"}), Outcome::kHelp);
  EXPECT_EQ(f.Parse({"-h"}), Outcome::kHelp);
  const std::string help = f.flags.Help();
  EXPECT_THAT(help, HasSubstr("usage: tool [flags]"));
  EXPECT_THAT(help, HasSubstr("A tool."));
  EXPECT_THAT(help, HasSubstr("--address A"));
  EXPECT_THAT(help, HasSubstr("(default '127.0.0.1')"));
  EXPECT_THAT(help, HasSubstr("--port N"));
  EXPECT_THAT(help, HasSubstr("(default 8080)"));
  EXPECT_THAT(help, HasSubstr("--scheme standard|closient"));
  EXPECT_THAT(help, HasSubstr("secret (repeatable)"));
  EXPECT_THAT(help, HasSubstr("--help"));
}

// Each error: the outcome, a message naming the flag, and no variable
// changed, even those given (validly) before the bad one.
struct ErrorCase {
  std::vector<std::string> args;
  std::string message;
};

TEST(FlagsTest, ErrorsNameTheFlagAndChangeNothing) {
  const std::vector<ErrorCase> cases = {
      {{"--port", "1", "--bogus"}, "unknown flag --bogus"},
      {{"--quiet", "--no-port"}, "unknown flag --no-port"},
      {{"--secret", "x", "--port"}, "--port needs a value"},
      {{"--port", "--quiet"}, "--port needs a value"},
      {{"--port", "65536"}, "--port: '65536' is out of range [0, 65535]"},
      {{"--port", "-1"}, "--port: '-1' is out of range [0, 65535]"},
      {{"--threads=0"}, "--threads: '0' is out of range [1, 64]"},
      {{"--events", "99999999999999999999"},
       "--events: '99999999999999999999' is out of range"},
      {{"--port", "80x"}, "--port: '80x' is not an integer"},
      {{"--threads", "1.5"}, "--threads: '1.5' is not an integer"},
      {{"--threads="}, "--threads: '' is not an integer"},
      {{"--rate", "half"}, "--rate: 'half' is not a number"},
      {{"--rate", "nan"}, "--rate: 'nan' is not a number"},
      {{"--rate", "1.5"}, "--rate: '1.5' is out of range [0, 1]"},
      {{"--quiet=maybe"}, "--quiet: 'maybe' is not true or false"},
      {{"--no-quiet=1"}, "--no-quiet takes no value"},
      {{"--scheme", "hmac"},
       "--scheme: 'hmac' is not one of standard|closient"},
      {{"--port", "1", "stray"}, "unexpected argument 'stray'"},
  };
  for (const ErrorCase& c : cases) {
    Fixture f;
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(f.Parse(c.args), Outcome::kError) << joined;
    EXPECT_THAT(f.flags.error(), HasSubstr(c.message)) << joined;
    f.ExpectDefaults();
    EXPECT_FALSE(f.flags.IsSet("port")) << joined;
  }
}

TEST(FlagsTest, PositionalArgumentsWhenAllowed) {
  std::string format = "text";
  FlagSet flags("admin", "verify|stats|prune <data-dir>", "");
  flags.Choice("format", &format, {"text", "json"}, "output");
  flags.AllowPositional(2, 2);
  ASSERT_EQ(
      flags.Parse(std::vector<std::string>{"stats", "--format=json", "/data"}),
      Outcome::kOk)
      << flags.error();
  EXPECT_EQ(flags.positional(), (std::vector<std::string>{"stats", "/data"}));
  EXPECT_EQ(format, "json");
  // After "--" everything is positional.
  ASSERT_EQ(flags.Parse(std::vector<std::string>{"verify", "--", "--odd-dir"}),
            Outcome::kOk);
  EXPECT_EQ(flags.positional(),
            (std::vector<std::string>{"verify", "--odd-dir"}));
  format = "text";
  EXPECT_EQ(flags.Parse(std::vector<std::string>{"stats", "--format=json"}),
            Outcome::kError);
  EXPECT_THAT(flags.error(), HasSubstr("expected 2 arguments"));
  EXPECT_EQ(format, "text");
  EXPECT_EQ(flags.positional(),
            (std::vector<std::string>{"verify", "--odd-dir"}));
}

TEST(FlagsTest, ArgvFormSkipsTheProgramName) {
  Fixture f;
  const char* argv[] = {"tool", "--port", "9"};
  ASSERT_EQ(f.flags.Parse(3, argv), Outcome::kOk) << f.flags.error();
  EXPECT_EQ(f.port, 9);
}

}  // namespace
}  // namespace hooklog::cli
