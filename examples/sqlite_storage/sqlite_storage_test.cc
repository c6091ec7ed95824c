// The SQLite example adapter passes hooklog's storage conformance suite:
// this file is all an adapter author needs to write to prove theirs.

#include "examples/sqlite_storage/sqlite_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "hooklog/testing/storage_conformance.h"

namespace {

struct SqliteFactory {
  static constexpr bool kPersistent = true;

  SqliteFactory() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "hooklog-sqlite-XXXXXX")
            .string();
    dir = mkdtemp(tmpl.data());
  }
  ~SqliteFactory() { std::filesystem::remove_all(dir); }

  std::unique_ptr<hooklog::Storage> Open() { return Reopen(); }
  std::unique_ptr<hooklog::Storage> Reopen() {
    auto s = hooklog_example::OpenSqliteStorage(dir + "/hooklog.db");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::string dir;
};

}  // namespace

namespace hooklog::testing {
// This example store is for one process: it keeps Storage's default
// SyncLeases (refused), so the partition-lease cases do not apply to it.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LeaseConformanceTest);
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, StorageConformanceTest,
                               ::testing::Types<SqliteFactory>);
}  // namespace hooklog::testing
