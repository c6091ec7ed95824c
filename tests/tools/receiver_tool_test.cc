// hooklog-receiver, the binary: it prints its URL, one line per request
// with the signature verdict, its counters on SIGTERM, and refuses bad flags
// with exit code 2.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "hooklog/signing.h"

extern char** environ;

namespace hooklog {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A child process with stdout and stderr on one pipe.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    std::vector<char*> argv;
    args.insert(args.begin(), HOOKLOG_RECEIVER_BINARY);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (fd_ >= 0) close(fd_);
  }

  // Reads until `text` appears in the output (or EOF / 10 s).
  bool ReadUntil(const std::string& text) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out_.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) {
        return false;
      }
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      out_.append(buf, size_t(n));
    }
    return true;
  }
  // Exit code (-1 when killed by a signal).
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int ReadAllAndWait() {
    ReadUntil(std::string(1, '\0'));  // until EOF
    return Wait();
  }
  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
};

// One HTTP/1.1 POST over a fresh connection; returns the status line.
std::string Post(uint16_t port, const std::string& path,
                 const std::vector<std::string>& headers,
                 const std::string& body) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return "connect failed";
  }
  std::string req =
      "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n";
  for (const std::string& h : headers) req += h + "\r\n";
  req += "\r\n" + body;
  (void)!write(s, req.data(), req.size());
  std::string resp;
  char buf[1024];
  ssize_t n;
  while ((n = read(s, buf, sizeof buf)) > 0) resp.append(buf, size_t(n));
  close(s);
  return resp.substr(0, resp.find("\r\n"));
}

TEST(ReceiverToolTest, PrintsEachRequestWithItsSignatureVerdict) {
  const std::string secret = NewSigningSecret();
  Child rx({"--port", "0", "--secret", secret});
  ASSERT_GT(rx.pid(), 0);
  ASSERT_TRUE(rx.ReadUntil("\n")) << rx.out();
  const std::string marker = "hooklog-receiver listening on http://127.0.0.1:";
  ASSERT_THAT(rx.out(), HasSubstr(marker));
  const uint16_t port = uint16_t(
      std::stoi(rx.out().substr(rx.out().find(marker) + marker.size())));

  const std::string body =
      R"({"id":"evt_1","type":"order.paid","data":{"n":1}})";
  const int64_t now = int64_t(std::time(nullptr));
  auto sig = StandardWebhooksSignature({secret}, "msg_good", now, body);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(
      Post(port, "/hooks",
           {"webhook-id: msg_good", "webhook-timestamp: " + std::to_string(now),
            "webhook-signature: " + *sig},
           body),
      "HTTP/1.1 200 OK");
  ASSERT_TRUE(rx.ReadUntil("id=msg_good")) << rx.out();
  EXPECT_EQ(
      Post(port, "/other",
           {"webhook-id: msg_bad", "webhook-timestamp: " + std::to_string(now),
            "webhook-signature: v1,AAAA"},
           body),
      "HTTP/1.1 200 OK");
  ASSERT_TRUE(rx.ReadUntil("id=msg_bad")) << rx.out();
  ASSERT_TRUE(rx.ReadUntil("\n"));

  kill(rx.pid(), SIGTERM);
  EXPECT_EQ(rx.ReadAllAndWait(), 0);
  const std::string& out = rx.out();
  EXPECT_THAT(out, HasSubstr(" POST /hooks id=msg_good type=order.paid "
                             "signature=ok body=" +
                             std::to_string(body.size()) + "B -> 200\n"));
  EXPECT_THAT(out, HasSubstr(" POST /other id=msg_bad type=order.paid "
                             "signature=FAILED body="));
  EXPECT_THAT(out, HasSubstr("requests=2 "));
  EXPECT_THAT(out, HasSubstr("signature_failures=1 signature_ok=1 "));
}

TEST(ReceiverToolTest, FailRateOneAnswers500AndQuietPrintsNoRequestLines) {
  Child rx({"--port", "0", "--fail-rate", "1", "--quiet"});
  ASSERT_TRUE(rx.ReadUntil("\n")) << rx.out();
  const std::string marker = "listening on http://127.0.0.1:";
  ASSERT_THAT(rx.out(), HasSubstr(marker));
  const uint16_t port = uint16_t(
      std::stoi(rx.out().substr(rx.out().find(marker) + marker.size())));
  EXPECT_EQ(Post(port, "/x", {}, "{}"), "HTTP/1.1 500 Internal Server Error");
  kill(rx.pid(), SIGTERM);
  EXPECT_EQ(rx.ReadAllAndWait(), 0);
  EXPECT_THAT(rx.out(), Not(HasSubstr(" POST /x ")));
  EXPECT_THAT(rx.out(), HasSubstr("requests=1 "));
  EXPECT_THAT(rx.out(), HasSubstr("answered_500=1 "));
}

TEST(ReceiverToolTest, TlsWritesItsCertificateForTheClient) {
  const std::string pem_path =
      ::testing::TempDir() + "receiver_tool_test_cert.pem";
  std::remove(pem_path.c_str());
  Child rx({"--port", "0", "--tls", "--cert-out", pem_path});
  ASSERT_TRUE(rx.ReadUntil("\n")) << rx.out();
  EXPECT_THAT(rx.out(), HasSubstr("listening on https://127.0.0.1:"));
  std::FILE* f = std::fopen(pem_path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char head[40] = {};
  EXPECT_GT(std::fread(head, 1, sizeof head - 1, f), 0u);
  std::fclose(f);
  EXPECT_THAT(std::string(head), HasSubstr("-----BEGIN CERTIFICATE-----"));
  kill(rx.pid(), SIGTERM);
  EXPECT_EQ(rx.ReadAllAndWait(), 0);
  std::remove(pem_path.c_str());
}

TEST(ReceiverToolTest, BadFlagsExitTwoWithAMessageAndHelpExitsZero) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--port", "70000"}, "--port: '70000' is out of range"},
      {{"--fail-rate", "lots"}, "--fail-rate: 'lots' is not a number"},
      {{"--scheme", "md5"}, "--scheme: 'md5' is not one of"},
      {{"--secret"}, "--secret needs a value"},
      {{"--colour"}, "unknown flag --colour"},
      {{"--fail-rate", "0.6", "--reset-rate", "0.6"}, "must be at most 1"},
      {{"--cert-out", "/tmp/x.pem"}, "--cert-out needs --tls"},
  };
  for (const auto& [args, message] : cases) {
    Child rx(args);
    EXPECT_EQ(rx.ReadAllAndWait(), 2) << args[0];
    EXPECT_THAT(rx.out(), HasSubstr(message));
    EXPECT_THAT(rx.out(), Not(HasSubstr("listening")));
  }
  Child help({"--help"});
  EXPECT_EQ(help.ReadAllAndWait(), 0);
  EXPECT_THAT(help.out(), HasSubstr("usage: hooklog-receiver"));
  EXPECT_THAT(help.out(), HasSubstr("--print-body"));
}

}  // namespace
}  // namespace hooklog
