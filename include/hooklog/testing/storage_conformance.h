// The storage conformance suite: a typed GoogleTest suite that every Storage
// adapter (memory, RocksDB, SQLite example, yours) instantiates to prove it
// honours the contract of include/hooklog/storage.h.
//
// Usage, in one test .cc of your adapter (link hooklog::storage_conformance
// and GTest::gtest_main):
//
//   #include "hooklog/testing/storage_conformance.h"
//
//   struct MyFactory {
//     // true when data survives closing the store (then Reopen is required).
//     static constexpr bool kPersistent = true;
//     // A new, empty store. Called once per test, on a fresh factory.
//     std::unique_ptr<hooklog::Storage> Open();
//     // The same data again, after the store returned by Open()/Reopen()
//     // was destroyed. Only called when kPersistent.
//     std::unique_ptr<hooklog::Storage> Reopen();
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, StorageConformanceTest,
//                                  ::testing::Types<MyFactory>);
//
// (StorageConformanceTest lives in hooklog::testing; write the instantiation
// inside that namespace or qualify the name.) The factory is constructed per
// test and destroyed after the store: clean up temporary directories in its
// destructor.
//
// What is checked: gapless sequence assignment and ReadLog, row upserts and
// reads, visibility of a batch's events and rows together, every
// DeliveryQuery filter combination with time ranges against a reference
// model (ordering, page numbers, cursors, total_count), ListEndpoints
// (include_deleted, metadata AND filter, paging), counters and totals,
// idempotency records, LoadActive, concurrent appends, stats buckets
// (adds within and across batches, [from, to) ranges, empty series),
// replay job upserts and lists, per-message delivery lists (filters ANDed,
// cursors and pages), error paths (bad
// cursors and page sizes: InvalidArgument; unknown ids: NotFound) and, for
// persistent adapters, durability across reopen.
//
// Partition leases (adapters that several nodes share and that implement
// SyncLeases: memory, PostgreSQL) have a second suite, LeaseConformanceTest,
// whose factory also says how the store's clock passes:
//
//   struct MyLeaseFactory {
//     // A new, empty store.
//     std::unique_ptr<hooklog::Storage> Open();
//     // A ttl for the leases a test lets lapse; and a way to let at least
//     // `d` pass on the store's clock (a FakeClock's Advance; a sleep for a
//     // store on a real clock).
//     hooklog::Duration ShortTtl();
//     void LetPass(hooklog::Duration d);
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(My, LeaseConformanceTest,
//                                  ::testing::Types<MyLeaseFactory>);
//
// It checks the rules of include/hooklog/storage.h (LeaseSync): the first
// sync fixes the partition count, acquire / renew / release / leaving, the
// live nodes, bad requests (InvalidArgument, nothing changed) and fenced
// Appends (stored only while every fence is held; otherwise nothing stored
// and exactly the failing partitions listed).
//
// Thread-safety: tests run one at a time; some start their own threads.
#ifndef HOOKLOG_TESTING_STORAGE_CONFORMANCE_H_
#define HOOKLOG_TESTING_STORAGE_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "hooklog/storage.h"

namespace hooklog::testing {

// The checks themselves, one per test (storage_conformance.cc). They report
// through GoogleTest assertions.
namespace conformance {
void AppendAssignsGaplessSequences(Storage* s);
void ReadLogReturnsEventsInOrder(Storage* s);
void RowsAreReadableAfterAppend(Storage* s);
void UnknownIdsAreNotFound(Storage* s);
void UpsertReplacesRowsAndIndexes(Storage* s);
void EventsAndRowsBecomeVisibleTogether(Storage* s);
void ListDeliveriesMatchesModel(Storage* s);
void ListDeliveriesCursorPastEnd(Storage* s);
void ListEndpointsFiltersAndPaginates(Storage* s);
void CountersFollowRowChanges(Storage* s);
void IdempotencyRecords(Storage* s);
void LoadActiveReturnsEndpointsAndNonTerminalDeliveries(Storage* s);
void ConcurrentAppendsAreGapless(Storage* s);
void StatsBucketsAccumulate(Storage* s);
void ReplayJobsUpsertAndList(Storage* s);
void ListDeliveriesByMessage(Storage* s);
// `storage` is replaced by reopen() half way.
void ReopenKeepsEverything(
    std::unique_ptr<Storage>* storage,
    const std::function<std::unique_ptr<Storage>()>& reopen);

// The lease checks. `timing` lets leases lapse (see LeaseConformanceTest).
struct LeaseTiming {
  Duration short_ttl{0};
  std::function<void(Duration)> let_pass;
};
void FirstSyncCreatesPartitions(Storage* s, const LeaseTiming& timing);
void AcquireGrantsFreeLeasesOnly(Storage* s, const LeaseTiming& timing);
void LapsedLeaseGoesToAnotherNode(Storage* s, const LeaseTiming& timing);
void RenewExtendsOnlyAHeldLeaseAtItsEpoch(Storage* s,
                                          const LeaseTiming& timing);
void ReleaseLetsAnotherNodeTakeAtOnce(Storage* s, const LeaseTiming& timing);
void NodesAreListedUntilTheyLeaveOrLapse(Storage* s, const LeaseTiming& timing);
void BadLeaseSyncsAreRefusedAndChangeNothing(Storage* s,
                                             const LeaseTiming& timing);
void FencedAppendStoresOnlyWhileEveryFenceIsHeld(Storage* s,
                                                 const LeaseTiming& timing);
}  // namespace conformance

template <typename Factory>
class StorageConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = factory_.Open();
    ASSERT_NE(storage_, nullptr) << "Factory::Open() returned null";
  }
  void TearDown() override { storage_.reset(); }

  Storage* storage() { return storage_.get(); }

  Factory factory_;
  std::unique_ptr<Storage> storage_;
};

TYPED_TEST_SUITE_P(StorageConformanceTest);

#define HOOKLOG_CONFORMANCE_CASE(name)         \
  TYPED_TEST_P(StorageConformanceTest, name) { \
    conformance::name(this->storage());        \
  }

HOOKLOG_CONFORMANCE_CASE(AppendAssignsGaplessSequences)
HOOKLOG_CONFORMANCE_CASE(ReadLogReturnsEventsInOrder)
HOOKLOG_CONFORMANCE_CASE(RowsAreReadableAfterAppend)
HOOKLOG_CONFORMANCE_CASE(UnknownIdsAreNotFound)
HOOKLOG_CONFORMANCE_CASE(UpsertReplacesRowsAndIndexes)
HOOKLOG_CONFORMANCE_CASE(EventsAndRowsBecomeVisibleTogether)
HOOKLOG_CONFORMANCE_CASE(ListDeliveriesMatchesModel)
HOOKLOG_CONFORMANCE_CASE(ListDeliveriesCursorPastEnd)
HOOKLOG_CONFORMANCE_CASE(ListEndpointsFiltersAndPaginates)
HOOKLOG_CONFORMANCE_CASE(CountersFollowRowChanges)
HOOKLOG_CONFORMANCE_CASE(IdempotencyRecords)
HOOKLOG_CONFORMANCE_CASE(LoadActiveReturnsEndpointsAndNonTerminalDeliveries)
HOOKLOG_CONFORMANCE_CASE(ConcurrentAppendsAreGapless)
HOOKLOG_CONFORMANCE_CASE(StatsBucketsAccumulate)
HOOKLOG_CONFORMANCE_CASE(ReplayJobsUpsertAndList)
HOOKLOG_CONFORMANCE_CASE(ListDeliveriesByMessage)
#undef HOOKLOG_CONFORMANCE_CASE

TYPED_TEST_P(StorageConformanceTest, ReopenKeepsEverything) {
  if constexpr (!TypeParam::kPersistent) {
    GTEST_SKIP() << "in-memory adapter: nothing survives closing";
  } else {
    conformance::ReopenKeepsEverything(&this->storage_, [this] {
      this->storage_.reset();  // close first: one opener at a time
      return this->factory_.Reopen();
    });
  }
}

REGISTER_TYPED_TEST_SUITE_P(
    StorageConformanceTest, AppendAssignsGaplessSequences,
    ReadLogReturnsEventsInOrder, RowsAreReadableAfterAppend,
    UnknownIdsAreNotFound, UpsertReplacesRowsAndIndexes,
    EventsAndRowsBecomeVisibleTogether, ListDeliveriesMatchesModel,
    ListDeliveriesCursorPastEnd, ListEndpointsFiltersAndPaginates,
    CountersFollowRowChanges, IdempotencyRecords,
    LoadActiveReturnsEndpointsAndNonTerminalDeliveries,
    ConcurrentAppendsAreGapless, StatsBucketsAccumulate,
    ReplayJobsUpsertAndList, ListDeliveriesByMessage, ReopenKeepsEverything);

template <typename Factory>
class LeaseConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = factory_.Open();
    ASSERT_NE(storage_, nullptr) << "Factory::Open() returned null";
    timing_.short_ttl = factory_.ShortTtl();
    timing_.let_pass = [this](Duration d) { factory_.LetPass(d); };
  }
  void TearDown() override { storage_.reset(); }

  Factory factory_;
  std::unique_ptr<Storage> storage_;
  conformance::LeaseTiming timing_;
};

TYPED_TEST_SUITE_P(LeaseConformanceTest);

#define HOOKLOG_LEASE_CASE(name)                            \
  TYPED_TEST_P(LeaseConformanceTest, name) {                \
    conformance::name(this->storage_.get(), this->timing_); \
  }

HOOKLOG_LEASE_CASE(FirstSyncCreatesPartitions)
HOOKLOG_LEASE_CASE(AcquireGrantsFreeLeasesOnly)
HOOKLOG_LEASE_CASE(LapsedLeaseGoesToAnotherNode)
HOOKLOG_LEASE_CASE(RenewExtendsOnlyAHeldLeaseAtItsEpoch)
HOOKLOG_LEASE_CASE(ReleaseLetsAnotherNodeTakeAtOnce)
HOOKLOG_LEASE_CASE(NodesAreListedUntilTheyLeaveOrLapse)
HOOKLOG_LEASE_CASE(BadLeaseSyncsAreRefusedAndChangeNothing)
HOOKLOG_LEASE_CASE(FencedAppendStoresOnlyWhileEveryFenceIsHeld)
#undef HOOKLOG_LEASE_CASE

REGISTER_TYPED_TEST_SUITE_P(LeaseConformanceTest, FirstSyncCreatesPartitions,
                            AcquireGrantsFreeLeasesOnly,
                            LapsedLeaseGoesToAnotherNode,
                            RenewExtendsOnlyAHeldLeaseAtItsEpoch,
                            ReleaseLetsAnotherNodeTakeAtOnce,
                            NodesAreListedUntilTheyLeaveOrLapse,
                            BadLeaseSyncsAreRefusedAndChangeNothing,
                            FencedAppendStoresOnlyWhileEveryFenceIsHeld);

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTING_STORAGE_CONFORMANCE_H_
