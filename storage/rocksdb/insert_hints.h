// Memtable insert hints: which keys of each column family RocksDB's
// memtable may insert next to the previous insert of the same group instead
// of searching the skiplist from its top (ColumnFamilyOptions::
// memtable_insert_with_hint_prefix_extractor). The store's hot keys are
// time-ordered within a group (log sequence numbers, list-index suffixes,
// time-ordered row ids), so each insert lands beside the last one of its
// group and the search is a few steps instead of log2(memtable) key
// comparisons (bench/RESULTS.md, "Memtable insert hints").
//
// A hint is kept per distinct group in each memtable, so only groups whose
// number stays small are in a domain: per-message index entries and
// idempotency keys are not.
//
// Thread-safety: the returned transforms are immutable. Ownership: shared
// with the column family options.
#ifndef HOOKLOG_STORAGE_ROCKSDB_INSERT_HINTS_H_
#define HOOKLOG_STORAGE_ROCKSDB_INSERT_HINTS_H_

#include <rocksdb/slice_transform.h>

#include <memory>

namespace hooklog::rocksdb_internal {

// log: one group (keys are ascending sequence numbers).
std::shared_ptr<const rocksdb::SliceTransform> LogInsertHints();
// rows: one group per row kind for message and delivery rows, whose ids
// are time-ordered; other rows get no hint.
std::shared_ptr<const rocksdb::SliceTransform> RowInsertHints();
// index: one group per list (a key without its order suffix), except the
// per-message 'M' entries.
std::shared_ptr<const rocksdb::SliceTransform> IndexInsertHints();

}  // namespace hooklog::rocksdb_internal

#endif  // HOOKLOG_STORAGE_ROCKSDB_INSERT_HINTS_H_
