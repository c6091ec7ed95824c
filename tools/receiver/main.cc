// hooklog-receiver: the Receiver as a standalone process, for demos,
// the load tool and the transport benchmark's wrk comparison.
//
//   hooklog-receiver [--address A] [--port N] [--threads N]
//       [--fail-rate F] [--rate-limit-rate F] [--reset-rate F]
//       [--delay-ms N] [--seed N] [--secret S]... [--scheme standard|closient]
//       [--record] [--tls]
//
// Prints "hooklog-receiver listening on <url>" once ready, runs until
// SIGINT/SIGTERM, then prints the counters.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "tools/receiver/receiver.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: hooklog-receiver [--address A] [--port N] "
               "[--threads N] [--fail-rate F] [--rate-limit-rate F] "
               "[--reset-rate F] [--delay-ms N] [--seed N] [--secret S]... "
               "[--scheme standard|closient] [--record] [--tls]\n");
}

}  // namespace

int main(int argc, char** argv) {
  using hooklog::receiver::MixSpec;
  using hooklog::receiver::Receiver;
  Receiver::Options opts;
  opts.record = false;
  MixSpec mix;
  std::vector<std::string> secrets;
  hooklog::SignatureScheme scheme = hooklog::SignatureScheme::kStandard;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--address") {
      opts.address = next();
    } else if (a == "--port") {
      opts.port = static_cast<uint16_t>(std::atoi(next()));
    } else if (a == "--threads") {
      opts.threads = std::atoi(next());
    } else if (a == "--fail-rate") {
      mix.fail_rate = std::atof(next());
    } else if (a == "--rate-limit-rate") {
      mix.rate_limit_rate = std::atof(next());
    } else if (a == "--reset-rate") {
      mix.reset_rate = std::atof(next());
    } else if (a == "--delay-ms") {
      mix.ok.delay = std::chrono::milliseconds(std::atoll(next()));
    } else if (a == "--seed") {
      mix.seed = std::strtoull(next(), nullptr, 10);
    } else if (a == "--secret") {
      secrets.emplace_back(next());
    } else if (a == "--scheme") {
      std::string_view s = next();
      if (s == "closient") {
        scheme = hooklog::SignatureScheme::kClosient;
      } else if (s != "standard") {
        Usage();
        return 2;
      }
    } else if (a == "--record") {
      opts.record = true;
    } else if (a == "--tls") {
      opts.tls = true;
    } else {
      Usage();
      return 2;
    }
  }

  // Block the stop signals before any thread starts so that only sigwait()
  // below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto rx = Receiver::Start(opts);
  if (!rx) return 1;
  if (mix.fail_rate > 0 || mix.rate_limit_rate > 0 || mix.reset_rate > 0) {
    rx->SetDefaultScript(hooklog::receiver::RandomMix(mix));
  } else {
    rx->SetDefaultReply(mix.ok);
  }
  if (!secrets.empty()) rx->SetSecrets("", secrets, scheme);
  std::printf("hooklog-receiver listening on %s\n", rx->Url("").c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  rx->Stop();
  std::printf(
      "requests=%llu max_concurrent=%llu connections=%llu "
      "signature_failures=%llu\n",
      static_cast<unsigned long long>(rx->total()),
      static_cast<unsigned long long>(rx->max_concurrent()),
      static_cast<unsigned long long>(rx->connections_accepted()),
      static_cast<unsigned long long>(rx->signature_failures()));
  return 0;
}
