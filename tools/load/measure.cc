#include "tools/load/measure.h"

#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace hooklog::load {

double PeakRssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = size_t(
      std::min<double>(double(v.size() - 1), std::floor(p * double(v.size()))));
  std::nth_element(v.begin(), v.begin() + ptrdiff_t(i), v.end());
  return v[i];
}

int64_t NowNs(SteadyClock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now() - t0)
      .count();
}

std::string MachineLine() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model = "?";
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return "nproc " + std::to_string(std::thread::hardware_concurrency()) + ", " +
         model;
}

std::string AllocatorName() {
  return dlsym(RTLD_DEFAULT, "mallctl") != nullptr ? "jemalloc" : "system";
}

void RaiseFdLimit() {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
  }
}

Result<uint64_t> ObservedStorage::Append(WriteBatch* batch) {
  Result<uint64_t> r = ForwardingStorage::Append(batch);
  if (!r.ok()) return r;
  const int64_t now = NowNs(t0_);
  uint64_t delivered = 0, dead = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Delivery& d : batch->deliveries) {
      if (!IsTerminal(d.status)) continue;
      terminal_.push_back({d.id, now});
      (d.status == DeliveryStatus::kDelivered ? delivered : dead)++;
    }
  }
  if (delivered + dead > 0) {
    last_terminal_ns_ = now;
    delivered_ += delivered;
    dead_ += dead;
  }
  return r;
}

std::vector<std::pair<DeliveryId, int64_t>> ObservedStorage::TakeTerminal() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(terminal_);
}

}  // namespace hooklog::load
