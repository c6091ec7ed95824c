// TcpRelay: a TCP relay on 127.0.0.1 in front of a real server, which a
// test stops (every connection cut, new ones refused) and starts again on
// the same port: "the server went away and came back" without touching the
// server other tests share.
//
// Thread-safety: Start/Stop from one thread; the relay runs its own threads.
// Ownership: owns its sockets and threads; the destructor stops it.
#ifndef HOOKLOG_TESTS_POSTGRES_TCP_RELAY_H_
#define HOOKLOG_TESTS_POSTGRES_TCP_RELAY_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace hooklog::testing {

class TcpRelay {
 public:
  explicit TcpRelay(int target_port) : target_port_(target_port) {}
  ~TcpRelay() { Stop(); }
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  // Listens (on a free port the first time, then on the same one) and
  // relays every accepted connection to the target. False on failure.
  bool Start() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) return false;
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = Loopback(port_);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(listen_fd_);
      listen_fd_ = -1;
      return false;
    }
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] { Accept(); });
    return true;
  }

  // Refuses new connections and cuts every relayed one.
  void Stop() {
    if (listen_fd_ < 0) return;
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    accepter_.join();
    close(listen_fd_);
    listen_fd_ = -1;
    std::vector<std::thread> pumps;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);  // wakes the pumps
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

  int port() const { return port_; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void Accept() {
    for (;;) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;  // shut down by Stop
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in t = Loopback(target_port_);
      if (server < 0 ||
          connect(server, reinterpret_cast<sockaddr*>(&t), sizeof t) != 0) {
        if (server >= 0) close(server);
        close(client);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([client, server] { Pump(client, server); });
    }
  }

  // Copies both ways until either side ends (the fds are closed by Stop).
  static void Pump(int a, int b) {
    char buf[16384];
    for (;;) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) return;
      for (int i = 0; i < 2; ++i) {
        if (p[i].revents == 0) continue;
        const int from = i == 0 ? a : b, to = i == 0 ? b : a;
        const ssize_t n = read(from, buf, sizeof buf);
        if (n <= 0) {
          shutdown(to, SHUT_RDWR);
          shutdown(from, SHUT_RDWR);
          return;
        }
        for (ssize_t off = 0; off < n;) {
          // MSG_NOSIGNAL: a peer that is gone is an error, not SIGPIPE.
          const ssize_t w =
              send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) return;
          off += w;
        }
      }
    }
  }

  const int target_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::thread accepter_;
  std::mutex mu_;
  std::vector<int> fds_;            // guarded by mu_
  std::vector<std::thread> pumps_;  // guarded by mu_
};

}  // namespace hooklog::testing

#endif  // HOOKLOG_TESTS_POSTGRES_TCP_RELAY_H_
