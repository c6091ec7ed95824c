#include "tools/load/ceilings.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "tools/load/receiver_process.h"

extern char** environ;

namespace hooklog::load {
namespace {

using Clock = std::chrono::steady_clock;

// "1.23ms" → 1.23; units us, ms, s, m.
double ParseWrkDurationMs(const std::string& v) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  std::string unit = end ? end : "";
  if (unit == "us") return x / 1000.0;
  if (unit == "ms") return x;
  if (unit == "s") return x * 1000.0;
  if (unit == "m") return x * 60000.0;
  return x;
}

// Runs argv, returns its stdout; kills it after `limit`.
std::string RunCapture(const std::vector<std::string>& args,
                       std::chrono::seconds limit, int* exit_code) {
  *exit_code = -1;
  pid_t pid = 0;
  int fd = -1;
  if (!SpawnWithStdoutPipe(args, /*search_path=*/true, &pid, &fd)) return "";
  std::string out;
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - Clock::now())
                    .count();
    if (left <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (n <= 0) continue;
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) break;
    out.append(buf, size_t(r));
  }
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) *exit_code = WEXITSTATUS(status);
  return out;
}

std::string LuaLong(const std::string& s) { return "[==[" + s + "]==]"; }

}  // namespace

CeilingResult RunWrk(const CeilingRequest& req, int concurrency, int seconds) {
  CeilingResult res;
  const auto lua = std::filesystem::temp_directory_path() /
                   ("hooklog-load-" + std::to_string(getpid()) + ".lua");
  {
    std::ofstream f(lua);
    f << "wrk.method = \"POST\"\n";
    f << "wrk.body = " << LuaLong(req.body) << "\n";
    for (const auto& [k, v] : req.headers) {
      // Header names are tokens: a plain quoted string is safe.
      f << "wrk.headers[\"" << k << "\"] = " << LuaLong(v) << "\n";
    }
  }
  const int threads = std::max(1, std::min(2, concurrency));
  int code = -1;
  std::string out = RunCapture(
      {"wrk", "-t" + std::to_string(threads),
       "-c" + std::to_string(concurrency), "-d" + std::to_string(seconds) + "s",
       "--latency", "--timeout", "20s", "-s", lua.string(), req.url},
      std::chrono::seconds(seconds + 15), &code);
  std::filesystem::remove(lua);
  if (code != 0 || out.empty()) {
    res.note = "wrk did not run (apt-get install -y wrk)";
    return res;
  }
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string a, b;
    ls >> a >> b;
    if (a == "Requests/sec:") res.per_s = std::atof(b.c_str());
    if (a == "50%") res.p50_ms = ParseWrkDurationMs(b);
    if (a == "99%") res.p99_ms = ParseWrkDurationMs(b);
    if (line.find("requests in") != std::string::npos) {
      res.responses = std::strtoull(a.c_str(), nullptr, 10);
    }
    if (line.find("Non-2xx") != std::string::npos) {
      res.non_2xx =
          std::strtoull(line.substr(line.rfind(' ') + 1).c_str(), nullptr, 10);
    }
    if (line.find("Socket errors") != std::string::npos) {
      // "Socket errors: connect 0, read 0, write 0, timeout 0"
      uint64_t sum = 0;
      for (const char* k : {"connect ", "read ", "write ", "timeout "}) {
        auto p = line.find(k);
        if (p != std::string::npos) {
          sum += std::strtoull(line.c_str() + p + std::strlen(k), nullptr, 10);
        }
      }
      res.errors = sum;
    }
  }
  res.ran = res.per_s > 0;
  if (!res.ran) res.note = "could not parse wrk output";
  return res;
}

CeilingResult RunCurlLoop(const CeilingRequest& req, int concurrency,
                          double seconds, int handles) {
  CeilingResult res;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  handles = std::clamp(handles, 1, std::max(1, concurrency));
  curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  auto discard = +[](char*, size_t s, size_t n, void*) { return s * n; };
  std::vector<CURL*> easies;
  for (int i = 0; i < concurrency; ++i) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, long(req.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_PRIVATE,
                     reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
    easies.push_back(e);
  }
  std::vector<Clock::time_point> started(easies.size(), Clock::now());
  std::vector<double> lat_ms;
  lat_ms.reserve(1 << 20);
  const auto t0 = Clock::now();
  const auto end = t0 + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
  // curl_multi_socket_action driven by one epoll over every handle's
  // sockets: O(active sockets) per wake, so that 10,000 connections do not
  // cost a poll() over all of them. Easy handle i belongs to multi handle
  // i % handles, the way the transport spreads attempts over its handles
  // (transport/sharded_transport.h); an epoll entry carries (handle, fd).
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  struct Shard {
    int ep = -1;
    uint32_t index = 0;
    CURLM* multi = nullptr;
    // When curl's timer expires; nullopt when it has none.
    std::optional<Clock::time_point> timer;
  };
  std::vector<Shard> shards(static_cast<size_t>(handles));
  auto on_socket =
      +[](CURL*, curl_socket_t fd, int what, void* user, void* sockp) -> int {
    auto* sh = static_cast<Shard*>(user);
    epoll_event ev{};
    ev.data.u64 = (uint64_t(sh->index) << 32) | uint32_t(fd);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(sh->ep, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
                (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (epoll_ctl(sh->ep, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) !=
        0) {
      epoll_ctl(sh->ep, sockp ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    }
    // Non-null socketp from now on: the next call for fd modifies.
    curl_multi_assign(sh->multi, fd, sh);
    return 0;
  };
  auto on_timer = +[](CURLM*, long ms, void* user) -> int {
    auto* sh = static_cast<Shard*>(user);
    if (ms < 0) {
      sh->timer.reset();
    } else {
      sh->timer = Clock::now() + std::chrono::milliseconds(ms);
    }
    return 0;
  };
  int running = 0;
  for (size_t h = 0; h < shards.size(); ++h) {
    Shard& sh = shards[h];
    sh.ep = ep;
    sh.index = uint32_t(h);
    sh.multi = curl_multi_init();
    curl_multi_setopt(sh.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(sh.multi, CURLMOPT_SOCKETDATA, &sh);
    curl_multi_setopt(sh.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(sh.multi, CURLMOPT_TIMERDATA, &sh);
  }
  for (size_t i = 0; i < easies.size(); ++i) {
    curl_multi_add_handle(shards[i % shards.size()].multi, easies[i]);
  }
  for (Shard& sh : shards) {
    curl_multi_socket_action(sh.multi, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  std::vector<epoll_event> events(1024);
  while (Clock::now() < end) {
    int wait = 20;
    const auto now0 = Clock::now();
    for (const Shard& sh : shards) {
      if (!sh.timer) continue;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      *sh.timer - now0)
                      .count();
      wait = std::min(wait, int(std::clamp<int64_t>(left, 0, 20)));
    }
    int n = epoll_wait(ep, events.data(), int(events.size()), wait);
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events[size_t(i)];
      int flags = (ev.events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                  (ev.events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                  (ev.events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
      Shard& sh = shards[size_t(ev.data.u64 >> 32)];
      curl_multi_socket_action(sh.multi, curl_socket_t(uint32_t(ev.data.u64)),
                               flags, &running);
    }
    for (Shard& sh : shards) {
      // Expired timers run even while sockets keep the loop busy (curl
      // starts newly added transfers from its timer).
      if (sh.timer && Clock::now() >= *sh.timer) {
        sh.timer.reset();
        curl_multi_socket_action(sh.multi, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(sh.multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* e = m->easy_handle;
        const auto now = Clock::now();
        char* priv = nullptr;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        const size_t idx = size_t(reinterpret_cast<uintptr_t>(priv));
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (m->data.result != CURLE_OK || code == 0) {
          ++res.errors;
        } else {
          ++res.responses;
          if (code < 200 || code > 299) ++res.non_2xx;
          if (lat_ms.size() < lat_ms.capacity()) {
            lat_ms.push_back(
                std::chrono::duration<double, std::milli>(now - started[idx])
                    .count());
          }
        }
        curl_multi_remove_handle(sh.multi, e);
        if (now < end) {
          started[idx] = now;
          curl_multi_add_handle(sh.multi, e);
        }
      }
    }
  }
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - t0).count();
  for (size_t i = 0; i < easies.size(); ++i) {
    curl_multi_remove_handle(shards[i % shards.size()].multi, easies[i]);
    curl_easy_cleanup(easies[i]);
  }
  for (Shard& sh : shards) curl_multi_cleanup(sh.multi);
  curl_slist_free_all(headers);
  close(ep);
  res.per_s = elapsed > 0 ? double(res.responses) / elapsed : 0;
  if (!lat_ms.empty()) {
    std::sort(lat_ms.begin(), lat_ms.end());
    res.p50_ms = lat_ms[lat_ms.size() / 2];
    res.p99_ms = lat_ms[lat_ms.size() * 99 / 100];
  }
  res.ran = true;
  return res;
}

}  // namespace hooklog::load
