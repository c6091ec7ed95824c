// The conformance suites instantiated for the built-in adapters (leases:
// the memory store only; RocksDB is one process's store).

#include <gtest/gtest.h>

#include "hooklog/rocksdb_storage.h"
#include "hooklog/testing/fake_clock.h"
#include "hooklog/testing/storage_conformance.h"
#include "tests/storage/temp_dir.h"

namespace hooklog::testing {
namespace {

struct MemoryFactory {
  static constexpr bool kPersistent = false;
  std::unique_ptr<Storage> Open() { return NewMemoryStorage(); }
  std::unique_ptr<Storage> Reopen() { return nullptr; }
};

struct RocksDbFactory {
  static constexpr bool kPersistent = true;
  TempDir dir;
  std::unique_ptr<Storage> Open() { return Reopen(); }
  std::unique_ptr<Storage> Reopen() {
    RocksDbOptions options;
    options.sync = false;             // durability is the crash test's business
    options.retention = Duration(0);  // test rows are dated in the past
    auto s = OpenRocksDbStorage(dir.Sub("db"), options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
};

// The same store with sync=true: every Append a real fsync.
struct RocksDbSyncFactory : RocksDbFactory {
  std::unique_ptr<Storage> Open() { return Reopen(); }
  std::unique_ptr<Storage> Reopen() {
    RocksDbOptions options;
    options.retention = Duration(0);
    auto s = OpenRocksDbStorage(dir.Sub("db"), options);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
};

// The memory store's leases, on a clock that moves only when a test says.
struct MemoryLeaseFactory {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::unique_ptr<Storage> Open() { return NewMemoryStorage(clock); }
  Duration ShortTtl() { return std::chrono::seconds(5); }
  void LetPass(Duration d) { clock->Advance(d); }
};
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, LeaseConformanceTest,
                               ::testing::Types<MemoryLeaseFactory>);

using Factories =
    ::testing::Types<MemoryFactory, RocksDbFactory, RocksDbSyncFactory>;
INSTANTIATE_TYPED_TEST_SUITE_P(Builtin, StorageConformanceTest, Factories);

}  // namespace
}  // namespace hooklog::testing
