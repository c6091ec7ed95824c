// ScriptedTransport: a deterministic Transport for engine tests.
//
// Every Send() is recorded. A script decides its result at once, or holds the
// attempt until the test completes it (CompleteNext), which lets a test
// control exactly when and how each attempt ends.
//
// Thread-safety: all methods are thread-safe. Results are delivered on the
// io_context, never inside Send().
#ifndef HOOKLOG_TESTS_SUPPORT_SCRIPTED_TRANSPORT_H_
#define HOOKLOG_TESTS_SUPPORT_SCRIPTED_TRANSPORT_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "hooklog/options.h"
#include "hooklog/transport.h"

namespace hooklog::testing {

class ScriptedTransport : public Transport {
 public:
  // Returns the result for a request, or nullopt to hold it.
  using Script =
      std::function<std::optional<AttemptResult>(const AttemptRequest&)>;

  explicit ScriptedTransport(boost::asio::io_context& io) : io_(io) {}

  void SetScript(Script script);
  void Send(AttemptRequest request,
            std::function<void(AttemptResult)> done) override;
  void Shutdown() override;
  size_t InFlight() const override;

  // Completes the oldest held attempt. False if none is held.
  bool CompleteNext(AttemptResult result);
  // Waits until at least `n` requests were sent in total.
  bool WaitForRequests(
      size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Waits until at least `n` attempts are held.
  bool WaitForHeld(
      size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<AttemptRequest> requests() const;
  size_t held() const;

  // An EngineOptions::transport_factory making a ScriptedTransport and
  // storing its address in *out (valid while the engine lives).
  static std::function<std::unique_ptr<Transport>(boost::asio::io_context&)>
  Factory(ScriptedTransport** out, Script script = nullptr);

  static AttemptResult Http(int code, std::string body = "ok");
  static AttemptResult Error(ErrorClass e);

 private:
  struct Held {
    AttemptRequest request;
    std::function<void(AttemptResult)> done;
  };
  void Deliver(std::function<void(AttemptResult)> done, AttemptResult r);

  boost::asio::io_context& io_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Script script_;
  std::vector<AttemptRequest> requests_;
  std::deque<Held> held_;
  bool shut_down_ = false;
};

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_SUPPORT_SCRIPTED_TRANSPORT_H_
