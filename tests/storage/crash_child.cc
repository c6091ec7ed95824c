// Child process of the crash test: appends engine-like batches to a RocksDB
// store (sync=true) as fast as it can and reports every acknowledged
// sequence number to the parent (8 bytes, native order, on fd 1) only AFTER
// Append returned OK. Extra threads append concurrently so that overlapping
// Appends (which take turns on the store's write lock) are killed too. Runs
// until killed.
//
// usage: storage_crash_child <data-dir> <seed>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "hooklog/rocksdb_storage.h"
#include "tests/storage/event_stream.h"

namespace {

std::mutex report_mu;

void Report(uint64_t seq) {
  std::lock_guard<std::mutex> lock(report_mu);
  const char* p = reinterpret_cast<const char*>(&seq);
  size_t left = sizeof seq;
  while (left > 0) {
    ssize_t n = write(1, p, left);
    if (n <= 0) std::_Exit(3);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  hooklog::RocksDbOptions options;
  options.sync = true;
  options.retention = hooklog::Duration(0);  // rows are dated in the past
  auto opened = hooklog::OpenRocksDbStorage(argv[1], options);
  if (!opened.ok()) {
    std::fprintf(stderr, "crash child: %s\n",
                 opened.status().ToString().c_str());
    return 1;
  }
  hooklog::Storage* s = opened->get();
  const uint32_t seed =
      static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));
  // Messages without deliveries, from other threads: valid on their own.
  std::vector<std::thread> helpers;
  for (int t = 0; t < 3; ++t) {
    helpers.emplace_back([s] {
      for (;;) {
        hooklog::Message m;
        m.id = hooklog::MessageId::NewRandom();
        m.event_type = "side.thread";
        m.payload = "{\"side\":true}";
        m.created_at = 1'790'000'000LL * hooklog::kSecond;
        hooklog::WriteBatch b;
        b.events.push_back(hooklog::Event{
            0, m.created_at, hooklog::EventType::kMessageAccepted, m.id.raw(),
            hooklog::MessageAccepted{m}});
        b.messages.push_back(m);
        auto r = s->Append(&b);
        if (!r.ok()) std::_Exit(4);
        Report(*r);
      }
    });
  }
  hooklog::testing::EngineLikeWriter w(seed,
                                       1'790'000'000LL * hooklog::kSecond);
  if (!w.LoadFrom(s).ok()) return 5;
  for (;;) {
    hooklog::WriteBatch b = w.NextBatch();
    auto r = s->Append(&b);
    if (!r.ok()) {
      std::fprintf(stderr, "crash child: %s\n", r.status().ToString().c_str());
      std::_Exit(6);
    }
    if (!w.Commit(b).ok()) std::_Exit(7);
    Report(*r);
  }
}
