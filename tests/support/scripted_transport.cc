#include "tests/support/scripted_transport.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace hooklog::testing {

void ScriptedTransport::SetScript(Script script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(script);
}

void ScriptedTransport::Deliver(std::function<void(AttemptResult)> done,
                                AttemptResult r) {
  boost::asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable {
    done(std::move(r));
  });
}

void ScriptedTransport::Send(AttemptRequest request,
                             std::function<void(AttemptResult)> done) {
  std::optional<AttemptResult> result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    if (shut_down_) {
      result = Error(ErrorClass::kOther);
    } else if (script_) {
      result = script_(request);
    }
    if (!result) held_.push_back(Held{std::move(request), std::move(done)});
    cv_.notify_all();
  }
  if (result) Deliver(std::move(done), std::move(*result));
}

void ScriptedTransport::Shutdown() {
  std::deque<Held> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    held.swap(held_);
  }
  for (Held& h : held) Deliver(std::move(h.done), Error(ErrorClass::kOther));
}

size_t ScriptedTransport::InFlight() const { return held(); }

bool ScriptedTransport::CompleteNext(AttemptResult result) {
  Held h;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (held_.empty()) return false;
    h = std::move(held_.front());
    held_.pop_front();
  }
  Deliver(std::move(h.done), std::move(result));
  return true;
}

bool ScriptedTransport::WaitForRequests(size_t n,
                                        std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool ScriptedTransport::WaitForHeld(size_t n,
                                    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return held_.size() >= n; });
}

std::vector<AttemptRequest> ScriptedTransport::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t ScriptedTransport::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_.size();
}

std::function<std::unique_ptr<Transport>(boost::asio::io_context&)>
ScriptedTransport::Factory(ScriptedTransport** out, Script script) {
  return [out, script](boost::asio::io_context& io) {
    auto t = std::make_unique<ScriptedTransport>(io);
    t->SetScript(script);
    *out = t.get();
    return std::unique_ptr<Transport>(std::move(t));
  };
}

AttemptResult ScriptedTransport::Http(int code, std::string body) {
  AttemptResult r;
  r.http_status_code = code;
  r.response_body = std::move(body);
  r.latency = std::chrono::milliseconds(3);
  return r;
}

AttemptResult ScriptedTransport::Error(ErrorClass e) {
  AttemptResult r;
  r.error = e;
  r.error_detail = std::string(ErrorClassName(e));
  r.latency = std::chrono::milliseconds(1);
  return r;
}

}  // namespace hooklog::testing
