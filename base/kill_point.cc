#include "base/kill_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

namespace hooklog::internal {
namespace {

struct Armed {
  std::unordered_map<std::string, double> probability;
  std::mt19937_64 rng;
  std::mutex mu;
};

// Parsed once, on first use: the environment is fixed for the life of the
// process, and a point on a hot path must cost one hash lookup at most.
Armed* Load() {
  const char* spec = std::getenv("HOOKLOG_KILL_POINTS");
  if (spec == nullptr || *spec == '\0') return nullptr;
  auto* armed = new Armed;  // lives until the process dies
  std::string s(spec);
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    pos = end + 1;
    size_t colon = item.find(':');
    if (colon == std::string::npos) continue;
    armed->probability[item.substr(0, colon)] =
        std::strtod(item.c_str() + colon + 1, nullptr);
  }
  const char* seed = std::getenv("HOOKLOG_KILL_SEED");
  armed->rng.seed(seed != nullptr ? std::strtoull(seed, nullptr, 10)
                                  : std::random_device{}());
  return armed;
}

}  // namespace

void MaybeKill(std::string_view name) {
  static Armed* armed = Load();
  if (armed == nullptr) return;
  auto it = armed->probability.find(std::string(name));
  if (it == armed->probability.end()) return;
  std::lock_guard<std::mutex> lock(armed->mu);
  if (std::uniform_real_distribution<double>(0, 1)(armed->rng) < it->second) {
    // stderr is unbuffered: the line is out before the signal lands.
    std::fprintf(stderr, "hooklog: kill point %.*s fired\n",
                 static_cast<int>(name.size()), name.data());
    ::kill(::getpid(), SIGKILL);
  }
}

}  // namespace hooklog::internal
