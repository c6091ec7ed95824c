// Regression test of the fuzz targets: every file of fuzz/corpus/<target>/
// (the seeds) and tests/regress/cases/<target>/ (inputs that once crashed or
// broke an invariant) goes through the target's check function, which must
// find nothing wrong. A crash here is a crash of the code under test.
//
// docs/fuzzing.md: to add a case, copy the crash file libFuzzer wrote into
// tests/regress/cases/<target>/ under a name that says what it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "fuzz/json_check.h"
#include "fuzz/targets.h"

namespace hooklog::fuzz {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const Target* FindTarget(const std::string& name) {
  for (const Target& t : AllTargets()) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

std::set<fs::path> Sorted(const fs::path& dir) {
  std::set<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir))
    out.insert(entry.path());
  return out;
}

// Every input under `root`/<target>/, sorted for a stable order.
std::vector<std::pair<const Target*, fs::path>> Inputs(const fs::path& root) {
  std::vector<std::pair<const Target*, fs::path>> out;
  if (!fs::exists(root)) return out;
  for (const fs::path& dir : Sorted(root)) {
    if (!fs::is_directory(dir)) continue;
    const Target* t = FindTarget(dir.filename().string());
    // A folder that names no target is a typo: its cases would never run.
    EXPECT_NE(t, nullptr) << "no fuzz target named " << dir;
    if (t == nullptr) continue;
    for (const fs::path& f : Sorted(dir)) {
      if (fs::is_regular_file(f)) out.emplace_back(t, f);
    }
  }
  return out;
}

class RegressTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { ShutdownTargets(); }

  static void RunAll(const fs::path& root, size_t* count) {
    *count = 0;
    for (const auto& [target, file] : Inputs(root)) {
      std::string problem = target->check(ReadFile(file));
      EXPECT_EQ(problem, "") << target->name << ": " << file;
      ++*count;
    }
  }
};

TEST_F(RegressTest, EveryTargetHasASeedCorpus) {
  for (const Target& t : AllTargets()) {
    fs::path dir = fs::path(HOOKLOG_FUZZ_CORPUS_DIR) / t.name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    EXPECT_FALSE(fs::is_empty(dir)) << dir;
  }
}

TEST_F(RegressTest, CorpusInputsPassTheirChecks) {
  size_t n;
  RunAll(HOOKLOG_FUZZ_CORPUS_DIR, &n);
  EXPECT_GT(n, 0u);
}

TEST_F(RegressTest, RegressionCasesPassTheirChecks) {
  size_t n;
  RunAll(HOOKLOG_REGRESS_CASES_DIR, &n);
  std::printf("regress: %zu cases\n", n);
}

// The webhookd check judges answers with its own JSON validator: it must
// reject what is not JSON, or the check could never fail.
TEST_F(RegressTest, JsonValidatorRejectsInvalidJson) {
  EXPECT_EQ(JsonProblem(R"({"a":[1,-2.5e3,"\u00e9\ud83d\ude00",null]})"), "");
  EXPECT_EQ(JsonProblem(" \"caf\xc3\xa9\" "), "");
  for (const char* bad :
       {"", "{", "{\"a\":1,}", "[1 2]", "01", "1.", "\"\x01\"", "\"\\x\"",
        "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\\ud800\"", "{} {}",
        "nul", "{\"a\"}"}) {
    EXPECT_NE(JsonProblem(bad), "") << bad;
  }
}

}  // namespace
}  // namespace hooklog::fuzz
