// Shared set-up for transport tests: an io_context run by two threads, a
// curl transport on it, and a way to send one attempt and wait for its
// result (with a bound, and checking `done` runs exactly once and never
// inside Send()).
#ifndef HOOKLOG_TESTS_TRANSPORT_TRANSPORT_FIXTURE_H_
#define HOOKLOG_TESTS_TRANSPORT_TRANSPORT_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hooklog/signing.h"
#include "hooklog/transport.h"

namespace hooklog::testing {

inline constexpr char kTestSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class IoThreads {
 public:
  explicit IoThreads(int n = 2) : guard_(io_.get_executor()) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() { Stop(); }
  void Stop() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
      guard_;
  std::vector<std::thread> threads_;
};

// Collects results of many attempts.
class Results {
 public:
  std::function<void(AttemptResult)> Callback(size_t index) {
    return [this, index](AttemptResult r) {
      std::lock_guard<std::mutex> lock(mu_);
      if (results_.size() <= index) results_.resize(index + 1);
      if (results_[index].has_value()) ++duplicates_;
      results_[index] = std::move(r);
      ++count_;
      cv_.notify_all();
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }
  std::vector<std::optional<AttemptResult>> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  size_t duplicates() {
    std::lock_guard<std::mutex> lock(mu_);
    return duplicates_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<AttemptResult>> results_;
  size_t count_ = 0;
  size_t duplicates_ = 0;
};

inline AttemptRequest MakeRequest(std::string url,
                                  std::string body = R"({"hello":"world"})") {
  AttemptRequest r;
  r.url = std::move(url);
  r.body = std::move(body);
  r.webhook_id = "evt_23456789ABCDEFGHJKLMNP";
  r.delivery_id = "23456789ABCDEFGHJKLMNP";
  r.event_type = "invoice.paid";
  r.secrets = {kTestSecret};
  r.connect_timeout = std::chrono::milliseconds(3000);
  r.timeout = std::chrono::milliseconds(10000);
  return r;
}

// Sends one attempt and waits (bounded) for its result.
inline AttemptResult SendAndWait(
    Transport& t, AttemptRequest req,
    std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  Results results;
  thread_local bool inside_send = false;
  std::atomic<bool> called_inside_send{false};
  auto cb = results.Callback(0);
  inside_send = true;
  t.Send(std::move(req), [&, cb](AttemptResult r) {
    if (inside_send) called_inside_send = true;
    cb(std::move(r));
  });
  inside_send = false;
  EXPECT_TRUE(results.WaitFor(1, limit)) << "attempt did not complete";
  EXPECT_FALSE(called_inside_send.load()) << "done called inside Send()";
  auto all = results.Take();
  EXPECT_EQ(results.duplicates(), 0u);
  if (all.empty() || !all[0]) {
    return AttemptResult{.error = ErrorClass::kOther,
                         .error_detail = "no result"};
  }
  return *all[0];
}

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_TRANSPORT_TRANSPORT_FIXTURE_H_
