// A stdio rocksdb::Logger that survives write errors (see info_log.h).
#include "storage/rocksdb/info_log.h"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace hooklog::rocksdb_internal {
namespace {

class TolerantLogger : public rocksdb::Logger {
 public:
  TolerantLogger(FILE* f, rocksdb::InfoLogLevel level)
      : rocksdb::Logger(level), f_(f) {}
  ~TolerantLogger() override { fclose(f_); }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char when[32];
    time_t now = time(nullptr);
    tm t{};
    gmtime_r(&now, &t);
    strftime(when, sizeof(when), "%Y/%m/%d-%H:%M:%S ", &t);
    std::lock_guard<std::mutex> l(mu_);
    fputs(when, f_);
    vfprintf(f_, format, ap);
    fputc('\n', f_);
    // A failure (ENOSPC) is ignored on purpose, and the error flag cleared
    // so that the next line is tried again once there is room.
    fflush(f_);
    clearerr(f_);
  }

 private:
  std::mutex mu_;
  FILE* const f_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> OpenTolerantLogger(
    const std::string& path, rocksdb::InfoLogLevel level) {
  FILE* f = fopen(path.c_str(), "ae");
  if (f == nullptr) return nullptr;
  return std::make_shared<TolerantLogger>(f, level);
}

}  // namespace hooklog::rocksdb_internal
