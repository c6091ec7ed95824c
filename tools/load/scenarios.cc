#include "tools/load/scenarios.h"

#include <unistd.h>

#include <filesystem>

#include "hooklog/signing.h"

namespace hooklog::load {

namespace fs = std::filesystem;

std::optional<ReceiverConfig> ReceiverFor(const LoadFlags& flags,
                                          std::string* error) {
  ReceiverConfig c;
  c.threads = flags.receiver_threads;
  if (flags.scenario == "slow") c.delay = std::chrono::seconds(1);
  if (flags.scenario == "faulty") {
    c.fail_rate = 0.10;
    c.rate_limit_rate = 0.05;
  }
  c.child = flags.receiver == "child";
  if (!c.child) return c;
  if (!flags.receiver_bin.empty()) {
    if (access(flags.receiver_bin.c_str(), X_OK) != 0) {
      *error =
          "--receiver-bin " + flags.receiver_bin + " is not an executable file";
      return std::nullopt;
    }
    c.binary = flags.receiver_bin;
    return c;
  }
  c.binary = FindReceiverBinary();
  if (c.binary.empty()) {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    *error = "hooklog-receiver not found next to " +
             (ec ? std::string("this executable") : self.string()) +
             " nor on PATH; install it beside hooklog-load, give "
             "--receiver-bin PATH, or ask for --receiver inproc (the "
             "receiver's memory then counts as the engine's)";
    return std::nullopt;
  }
  return c;
}

EngineOptions EngineOptionsFor(const LoadFlags& flags) {
  EngineOptions o;
  o.threads = flags.engine_threads;
  o.transport.allow_private_targets = true;
  o.transport.max_connections = long(flags.max_connections);
  o.transport.transfers_per_handle = size_t(flags.transfers_per_handle);
  o.global_max_in_flight = uint32_t(flags.concurrency);
  o.default_max_in_flight =
      uint32_t((flags.concurrency + flags.endpoints - 1) / flags.endpoints);
  if (flags.scenario == "faulty") {
    // Short schedule: 0, 100 ms, 200 ms, 400 ms, 800 ms, then 1 s; 25
    // attempts so that 10 % failures cannot exhaust it (0.1^25).
    using std::chrono::milliseconds;
    std::vector<Duration> s = {Duration(0), milliseconds(100),
                               milliseconds(200), milliseconds(400),
                               milliseconds(800)};
    while (s.size() < 25) s.push_back(std::chrono::seconds(1));
    o.retry.schedule = s;
    o.retry.min_retry_after = std::chrono::seconds(1);
  }
  return o;
}

std::string Payload(size_t bytes) {
  std::string s = R"({"order":12345,"items":[)";
  while (s.size() + 30 < bytes) s += R"({"sku":"A-1","qty":2},)";
  s += R"({"sku":"Z"}]})";
  return s;
}

CeilingRequest CeilingRequestFor(const std::string& url,
                                 const std::string& payload) {
  CeilingRequest req;
  req.url = url;
  MessageId mid = MessageId::NewRandom();
  const std::string id = EventIdString(mid);
  req.body = R"({"id":")" + id + R"(","type":"load.0","created_at":")" +
             FormatIso8601(SystemClock()->Now()) + R"(","data":)" + payload +
             "}";
  const int64_t now = SystemClock()->Now() / kSecond;
  auto sig = StandardWebhooksSignature({NewSigningSecret()}, id, now, req.body);
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", std::string("hooklog/") + Version()},
                 {"webhook-id", id},
                 {"webhook-timestamp", std::to_string(now)},
                 {"webhook-signature", sig.ok() ? *sig : "v1,x"}};
  return req;
}

std::string NewTempDir(const LoadFlags& flags, const std::string& what) {
  fs::path base =
      flags.dir.empty() ? fs::temp_directory_path() : fs::path(flags.dir);
  fs::path p = base / ("hooklog-load-" + what + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

double DirSizeMb(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return double(total) / (1024.0 * 1024.0);
}

}  // namespace hooklog::load
