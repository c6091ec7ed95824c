// Gate and InFlightCounter: what Engine::Shutdown waits on.
//
// Gate (after seastar's gate): a host call holds the gate from its
// "shutting down?" check until its handler is posted to the strand.
// Close() refuses new holders and blocks until the current ones have left,
// so no handler is posted after the strand's last turn (its callback would
// never run). A call either enters before Close() — then Shutdown waits for
// it and its handler runs — or is refused and answers Unavailable itself.
//
// InFlightCounter: the number of attempts in flight. Changed on the engine
// strand without a lock; only while someone waits in WaitForZero does the
// change that reaches zero take the mutex to notify it.
//
// Thread-safety: both are thread-safe.
#ifndef HOOKLOG_ENGINE_GATE_H_
#define HOOKLOG_ENGINE_GATE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace hooklog {

class Gate {
 public:
  // False once Close() was called; otherwise the caller holds the gate
  // until Leave().
  bool TryEnter() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    ++holders_;
    return true;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--holders_ == 0 && closed_) cv_.notify_all();
  }
  // Refuses new holders and waits for the current ones to leave.
  void Close() {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    cv_.wait(lock, [this] { return holders_ == 0; });
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  // Holds the gate for a scope when it could enter.
  class Holder {
   public:
    explicit Holder(Gate* gate) : gate_(gate->TryEnter() ? gate : nullptr) {}
    ~Holder() {
      if (gate_ != nullptr) gate_->Leave();
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    explicit operator bool() const { return gate_ != nullptr; }

   private:
    Gate* gate_;
  };

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t holders_ = 0;
  bool closed_ = false;
};

class InFlightCounter {
 public:
  void Add() { n_.fetch_add(1); }
  void Sub() {
    // Sequentially consistent: either this sees waiting_, or WaitForZero's
    // check (made after setting waiting_) sees the new count. The lock
    // orders the notify after the waiter's check-then-wait.
    if (n_.fetch_sub(1) == 1 && waiting_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_.notify_all();
    }
  }
  uint64_t value() const { return n_.load(); }
  // Blocks until the count is zero or `deadline`; true when it is zero.
  bool WaitForZero(std::chrono::steady_clock::time_point deadline) {
    waiting_.store(true);
    std::unique_lock<std::mutex> lock(mu_);
    const bool zero =
        cv_.wait_until(lock, deadline, [this] { return n_.load() == 0; });
    waiting_.store(false);
    return zero;
  }

 private:
  std::atomic<uint64_t> n_{0};
  std::atomic<bool> waiting_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace hooklog

#endif  // HOOKLOG_ENGINE_GATE_H_
