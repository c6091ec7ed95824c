// CRC32C (Castagnoli), the checksum of the event format (docs/event_format.md).
//
// Our own small table-driven implementation: RocksDB's crc32c is not part of
// its public headers, and the event format must not depend on a storage
// engine anyway.
//
// Thread-safety: pure functions.
#ifndef HOOKLOG_BASE_CRC32C_H_
#define HOOKLOG_BASE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hooklog::storage_internal {

// Returns the CRC32C of data[0, n) continuing from `crc` (0 to start).
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);
inline uint32_t Crc32c(std::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

}  // namespace hooklog::storage_internal

#endif  // HOOKLOG_BASE_CRC32C_H_
