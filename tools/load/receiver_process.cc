#include "tools/load/receiver_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace hooklog::load {
namespace {

namespace fs = std::filesystem;

std::string ReadSome(int fd, int timeout_ms) {
  std::string out;
  char buf[1024];
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, timeout_ms) > 0) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
    if (out.find('\n') != std::string::npos) break;
  }
  return out;
}

}  // namespace

std::string FindReceiverBinary() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path p = self.parent_path() / "hooklog-receiver";
    if (access(p.c_str(), X_OK) == 0) return fs::canonical(p, ec).string();
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      fs::path p = fs::path(dir) / "hooklog-receiver";
      if (access(p.c_str(), X_OK) == 0) return p.string();
    }
  }
  return "";
}

std::unique_ptr<LoadReceiver> LoadReceiver::Start(const ReceiverConfig& c) {
  std::unique_ptr<LoadReceiver> r(new LoadReceiver);
  if (!c.child) {
    receiver::Receiver::Options o;
    o.threads = c.threads;
    o.record = false;
    r->rx_ = receiver::Receiver::Start(o);
    if (!r->rx_) return nullptr;
    receiver::MixSpec mix;
    mix.seed = c.seed;
    mix.fail_rate = c.fail_rate;
    mix.rate_limit_rate = c.rate_limit_rate;
    mix.ok.delay = c.delay;
    if (c.fail_rate > 0 || c.rate_limit_rate > 0) {
      r->rx_->SetDefaultScript(receiver::RandomMix(mix));
    } else {
      r->rx_->SetDefaultReply(mix.ok);
    }
    r->base_ = r->rx_->Url("");
    if (!r->base_.empty() && r->base_.back() == '/') r->base_.pop_back();
    return r;
  }
  std::vector<std::string> args = {c.binary,
                                   "--port",
                                   "0",
                                   "--threads",
                                   std::to_string(c.threads),
                                   "--seed",
                                   std::to_string(c.seed),
                                   "--delay-ms",
                                   std::to_string(c.delay.count()),
                                   "--fail-rate",
                                   std::to_string(c.fail_rate),
                                   "--rate-limit-rate",
                                   std::to_string(c.rate_limit_rate),
                                   "--quiet"};
  pid_t pid = 0;
  int out_fd = -1;
  if (!SpawnWithStdoutPipe(args, /*search_path=*/false, &pid, &out_fd)) {
    std::fprintf(stderr, "hooklog-load: cannot start %s\n", c.binary.c_str());
    return nullptr;
  }
  r->pid_ = pid;
  r->out_fd_ = out_fd;
  std::string line = ReadSome(out_fd, 10000);
  const std::string marker = "listening on ";
  auto at = line.find(marker);
  if (at == std::string::npos) {
    std::fprintf(stderr, "hooklog-load: receiver did not start: %s\n",
                 line.c_str());
    return nullptr;  // the destructor reaps the child
  }
  std::string url = line.substr(at + marker.size());
  while (!url.empty() &&
         (url.back() == '\n' || url.back() == '/' || url.back() == '\r')) {
    url.pop_back();
  }
  r->base_ = url;
  return r;
}

LoadReceiver::~LoadReceiver() { Stop(); }

std::optional<double> LoadReceiver::PeakRssMb() const {
  if (pid_ <= 0) return std::nullopt;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::atof(line.c_str() + 6) / 1024.0;
    }
  }
  return std::nullopt;
}

double LoadReceiver::CpuSeconds() const {
  if (rx_) return rx_->ThreadCpuSeconds();
  if (pid_ <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)),
                std::istreambuf_iterator<char>());
  auto close_paren = s.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream in(s.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields from 3 (state) on; utime is field 14, stime 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

std::string LoadReceiver::Stop() {
  std::string out;
  if (rx_) {
    out = "requests=" + std::to_string(rx_->total()) +
          " max_concurrent=" + std::to_string(rx_->max_concurrent()) +
          " connections=" + std::to_string(rx_->connections_accepted());
    rx_->Stop();
    rx_.reset();
  }
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    out = ReadSome(out_fd_, 5000);
    int status = 0;
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      usleep(100'000);
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    close(out_fd_);
    out_fd_ = -1;
    while (!out.empty() && out.back() == '\n') out.pop_back();
  }
  return out;
}

bool SpawnWithStdoutPipe(const std::vector<std::string>& args, bool search_path,
                         pid_t* pid, int* read_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  std::vector<char*> argv;
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  int rc = search_path
               ? posix_spawnp(pid, argv[0], &fa, nullptr, argv.data(), environ)
               : posix_spawn(pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return false;
  }
  *read_fd = fds[0];
  return true;
}

}  // namespace hooklog::load
