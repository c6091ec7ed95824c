// FakeClock: a Clock that only moves when a test says so.
//
// Thread-safety: thread-safe. Advance() calls observers on the calling thread.
#ifndef HOOKLOG_TESTING_FAKE_CLOCK_H_
#define HOOKLOG_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <map>
#include <mutex>

#include "hooklog/clock.h"

namespace hooklog::testing {

class FakeClock : public Clock {
 public:
  explicit FakeClock(Timestamp start = 1'790'000'000LL * kSecond)
      : now_(start) {}

  Timestamp Now() const override { return now_.load(); }

  void Advance(Duration d) {
    now_.fetch_add(d.count());
    Notify();
  }
  void Set(Timestamp t) {
    now_.store(t);
    Notify();
  }

  uint64_t AddObserver(std::function<void()> observer) override {
    std::lock_guard<std::mutex> lock(mu_);
    observers_[++next_token_] = std::move(observer);
    return next_token_;
  }
  void RemoveObserver(uint64_t token) override {
    std::lock_guard<std::mutex> lock(mu_);
    observers_.erase(token);
  }

 private:
  void Notify() {
    std::map<uint64_t, std::function<void()>> copy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      copy = observers_;
    }
    for (auto& [token, fn] : copy) fn();
  }

  std::atomic<Timestamp> now_;
  std::mutex mu_;
  uint64_t next_token_ = 0;
  std::map<uint64_t, std::function<void()>> observers_;
};

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTING_FAKE_CLOCK_H_
