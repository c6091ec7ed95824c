// The groups of insert_hints.h, derived from key_layout.h. A wrong group
// costs only speed, never correctness: RocksDB checks that a hinted
// position still brackets the key and searches upwards when it does not.
#include "storage/rocksdb/insert_hints.h"

#include "storage/rocksdb/key_layout.h"

namespace hooklog::rocksdb_internal {
namespace {

// Keys of `min_size` bytes or more whose first byte is in `kinds` (or any
// first byte when `kinds` is empty) are grouped by their first
// `prefix_bytes`, or by all but the last `suffix_bytes` when prefix_bytes
// is 0.
class HintGroups : public rocksdb::SliceTransform {
 public:
  HintGroups(const char* name, std::string_view kinds, size_t min_size,
             size_t prefix_bytes, size_t suffix_bytes)
      : name_(name),
        kinds_(kinds),
        min_size_(min_size),
        prefix_bytes_(prefix_bytes),
        suffix_bytes_(suffix_bytes) {}

  const char* Name() const override { return name_; }

  bool InDomain(const rocksdb::Slice& key) const override {
    if (key.size() < min_size_) return false;
    return kinds_.empty() || kinds_.find(key[0]) != std::string_view::npos;
  }

  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const size_t n =
        prefix_bytes_ != 0 ? prefix_bytes_ : key.size() - suffix_bytes_;
    return rocksdb::Slice(key.data(), n);
  }

 private:
  const char* name_;
  std::string_view kinds_;
  size_t min_size_;
  size_t prefix_bytes_;
  size_t suffix_bytes_;
};

constexpr char kRowKinds[] = {kRowMessage, kRowDelivery, '\0'};
constexpr char kIndexKinds[] = {kIdxDeliveries, kIdxDeliveryStatus,
                                kIdxEndpoints, '\0'};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> LogInsertHints() {
  // The top half of a sequence number: one group for the next 4 billion.
  static const auto t = std::make_shared<HintGroups>(
      "hooklog.log_hints", "", kSeqKeyBytes, kSeqKeyBytes / 2, 0);
  return t;
}

std::shared_ptr<const rocksdb::SliceTransform> RowInsertHints() {
  static const auto t = std::make_shared<HintGroups>(
      "hooklog.row_hints", kRowKinds, 1 + kIdBytes, 1, 0);
  return t;
}

std::shared_ptr<const rocksdb::SliceTransform> IndexInsertHints() {
  static const auto t =
      std::make_shared<HintGroups>("hooklog.index_hints", kIndexKinds,
                                   1 + kOrderSuffixBytes, 0, kOrderSuffixBytes);
  return t;
}

}  // namespace hooklog::rocksdb_internal
