// HTTP/2 opt-in and the curl < 8 trap: a stream reset by the server must be
// reported as a failure, never as a success.
//
// Debian's nghttpd cannot be told to reset a stream, so this test runs a
// tiny HTTP/2 server of its own (cleartext, prior knowledge, one request
// per connection) written against RFC 9113 framing: it answers SETTINGS,
// waits for the request's END_STREAM, then either answers 200 or resets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "tests/transport/transport_fixture.h"

namespace hooklog::testing {
namespace {

enum class H2Mode {
  kOk,                     // HEADERS :status 200 + END_STREAM
  kRstBeforeHeaders,       // RST_STREAM(INTERNAL_ERROR)
  kHeadersThenRst,         // HEADERS :status 200 (no END_STREAM), RST_STREAM
  kHeadersThenRstNoError,  // same with RST_STREAM(NO_ERROR)
  kHeadersThenGoaway,      // HEADERS (no END_STREAM), GOAWAY, close
};

class TinyH2Server {
 public:
  explicit TinyH2Server(H2Mode mode) : mode_(mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { Run(); });
  }
  ~TinyH2Server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/h2";
  }
  int requests() const { return requests_.load(); }

 private:
  static std::string Frame(uint8_t type, uint8_t flags, uint32_t stream,
                           const std::string& payload) {
    std::string f;
    const size_t n = payload.size();
    f.push_back(static_cast<char>((n >> 16) & 0xFF));
    f.push_back(static_cast<char>((n >> 8) & 0xFF));
    f.push_back(static_cast<char>(n & 0xFF));
    f.push_back(static_cast<char>(type));
    f.push_back(static_cast<char>(flags));
    for (int s = 24; s >= 0; s -= 8) {
      f.push_back(static_cast<char>((stream >> s) & 0xFF));
    }
    return f + payload;
  }
  static std::string U32(uint32_t v) {
    std::string s;
    for (int b = 24; b >= 0; b -= 8) s.push_back(static_cast<char>(v >> b));
    return s;
  }
  static void SendAll(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      Serve(c);
      ::close(c);
    }
  }

  void Serve(int c) {
    std::string in;
    bool preface = false;
    bool answered = false;
    SendAll(c, Frame(4, 0, 0, ""));  // our SETTINGS
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[16384];
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      if (!preface) {
        if (in.size() < 24) continue;
        in.erase(0, 24);  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        preface = true;
      }
      while (in.size() >= 9) {
        const size_t len = (static_cast<uint8_t>(in[0]) << 16) |
                           (static_cast<uint8_t>(in[1]) << 8) |
                           static_cast<uint8_t>(in[2]);
        if (in.size() < 9 + len) break;
        const uint8_t type = static_cast<uint8_t>(in[3]);
        const uint8_t flags = static_cast<uint8_t>(in[4]);
        const uint32_t stream = ((static_cast<uint8_t>(in[5]) & 0x7F) << 24) |
                                (static_cast<uint8_t>(in[6]) << 16) |
                                (static_cast<uint8_t>(in[7]) << 8) |
                                static_cast<uint8_t>(in[8]);
        in.erase(0, 9 + len);
        if (type == 4 && !(flags & 1)) SendAll(c, Frame(4, 1, 0, ""));
        if (type == 6 && !(flags & 1)) {
          SendAll(c, Frame(6, 1, 0, std::string(8, '\0')));
        }
        const bool end_stream = (type == 0 || type == 1) && (flags & 1);
        if (end_stream && !answered) {
          answered = true;
          ++requests_;
          Answer(c, stream);
        }
      }
    }
  }

  void Answer(int c, uint32_t stream) {
    const std::string status200 = "\x88";  // HPACK static index 8
    switch (mode_) {
      case H2Mode::kOk:
        SendAll(c, Frame(1, 0x4 | 0x1, stream, status200));
        break;
      case H2Mode::kRstBeforeHeaders:
        SendAll(c, Frame(3, 0, stream, U32(2)));
        break;
      case H2Mode::kHeadersThenRst:
        SendAll(c,
                Frame(1, 0x4, stream, status200) + Frame(3, 0, stream, U32(2)));
        break;
      case H2Mode::kHeadersThenRstNoError:
        SendAll(c,
                Frame(1, 0x4, stream, status200) + Frame(3, 0, stream, U32(0)));
        break;
      case H2Mode::kHeadersThenGoaway:
        SendAll(c, Frame(1, 0x4, stream, status200) +
                       Frame(7, 0, 0, U32(0) + U32(2)));
        break;
    }
  }

  H2Mode mode_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class Http2Test : public ::testing::TestWithParam<H2Mode> {
 protected:
  void TearDown() override {
    transport_.reset();
    io_.Stop();
  }
  IoThreads io_;
  std::unique_ptr<Transport> transport_ =
      NewCurlTransport(io_.io(), {.allow_private_targets = true});
};

TEST_F(Http2Test, OptInSpeaksHttp2AndSucceeds) {
  TinyH2Server server(H2Mode::kOk);
  AttemptRequest req = MakeRequest(server.Url());
  req.http2 = true;
  req.timeout = std::chrono::milliseconds(5000);
  AttemptResult r = SendAndWait(*transport_, req);
  EXPECT_EQ(r.error, ErrorClass::kNone) << r.error_detail;
  EXPECT_EQ(r.http_status_code, 200);
  EXPECT_EQ(server.requests(), 1);
}

TEST_P(Http2Test, ResetStreamIsAFailureNeverASuccess) {
  TinyH2Server server(GetParam());
  AttemptRequest req = MakeRequest(server.Url());
  req.http2 = true;
  req.timeout = std::chrono::milliseconds(5000);
  AttemptResult r = SendAndWait(*transport_, req);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_NE(r.error, ErrorClass::kNone)
      << "a reset stream was reported as HTTP "
      << r.http_status_code.value_or(0);
  EXPECT_FALSE(r.http_status_code.has_value());
  EXPECT_EQ(r.error, ErrorClass::kReset) << r.error_detail;
  // Logged so that a curl upgrade shows which layer caught it.
  std::printf("h2 mode %d: %s\n", static_cast<int>(GetParam()),
              r.error_detail.c_str());
}

INSTANTIATE_TEST_SUITE_P(Modes, Http2Test,
                         ::testing::Values(H2Mode::kRstBeforeHeaders,
                                           H2Mode::kHeadersThenRst,
                                           H2Mode::kHeadersThenRstNoError,
                                           H2Mode::kHeadersThenGoaway));

}  // namespace
}  // namespace hooklog::testing
