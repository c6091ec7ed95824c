// hooklog-receiver: a webhook receiver to point hooklog (or anything that
// sends webhooks) at. It listens, verifies Standard Webhooks or Closient
// signatures with the given secrets, prints one line per request, can be
// told to fail a share of requests, and prints its counters when stopped.
// The demo, the load tool and the transport benchmark's wrk comparison run
// it too.
//
//   hooklog-receiver [--address A] [--port N] [--secret S]...
//       [--scheme standard|closient] [--fail-rate F] [--rate-limit-rate F]
//       [--reset-rate F] [--delay-ms N] [--seed N] [--threads N]
//       [--tls [--cert-out FILE]] [--quiet] [--print-body]
//
// Prints "hooklog-receiver listening on <url>" once ready, runs until
// SIGINT/SIGTERM, then prints the counters. Exit codes: 0 after a signal,
// 1 when it cannot listen, 2 on a bad flag.
#include <simdjson.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli/flags.h"
#include "tools/receiver/receiver.h"

namespace {

using hooklog::receiver::RecordedRequest;
using hooklog::receiver::Reply;

struct Counters {
  std::atomic<uint64_t> ok{0}, failed{0}, rate_limited{0}, reset{0},
      signature_ok{0};
};

// "2026-12-01T07:50:01.123Z".
std::string FormatTime(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      t.time_since_epoch())
                      .count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char b[96];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return b;
}

// The event type: the Standard Webhooks body's "type", else the Closient
// header, else "-".
std::string EventType(const RecordedRequest& r) {
  std::string header = r.Header("X-Closient-Event-Type");
  if (!header.empty()) return header;
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string body(r.body);
  std::string_view type;
  if (!parser.parse(body)["type"].get_string().get(type)) {
    return std::string(type);
  }
  return "-";
}

std::string Answer(const Reply& reply) {
  switch (reply.action) {
    case Reply::Action::kResetBeforeResponse:
      return "reset";
    case Reply::Action::kResetMidResponse:
      return "reset mid-response";
    case Reply::Action::kCloseMidResponse:
      return "closed mid-response";
    case Reply::Action::kNeverAnswer:
      return "no answer";
    case Reply::Action::kRespond:
      break;
  }
  std::string out = std::to_string(reply.status);
  if (reply.delay.count() > 0) {
    out += " after " + std::to_string(reply.delay.count()) + " ms";
  }
  return out;
}

void CountAnswer(const Reply& reply, Counters* c) {
  if (reply.action == Reply::Action::kResetBeforeResponse) {
    ++c->reset;
  } else if (reply.status == 429) {
    ++c->rate_limited;
  } else if (reply.status >= 200 && reply.status < 300) {
    ++c->ok;
  } else {
    ++c->failed;
  }
}

// One line per request:
//   <time> <method> <path> id=<webhook-id> type=<event type>
//   signature=ok|FAILED|unchecked body=<bytes>B -> <answer>
void PrintRequest(const RecordedRequest& r, const Reply& reply,
                  bool print_body) {
  static std::mutex mu;
  std::string line = FormatTime(r.arrival) + " " + r.method + " " + r.target +
                     " id=" + (r.webhook_id.empty() ? "-" : r.webhook_id) +
                     " type=" + EventType(r) + " signature=" +
                     (!r.signature_ok   ? "unchecked"
                      : *r.signature_ok ? "ok"
                                        : "FAILED") +
                     " body=" + std::to_string(r.body.size()) + "B -> " +
                     Answer(reply) + "\n";
  if (print_body) line += "  " + r.body + "\n";
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  using hooklog::receiver::MixSpec;
  using hooklog::receiver::Receiver;
  Receiver::Options opts;
  opts.record = false;  // nothing reads the recordings; count only
  MixSpec mix;
  std::vector<std::string> secrets;
  std::string scheme = "standard";
  int64_t delay_ms = 0;
  bool quiet = false;
  bool print_body = false;
  std::string cert_out;

  hooklog::cli::FlagSet flags(
      "hooklog-receiver", "[flags]",
      "A webhook receiver: prints each request it gets, verifies signatures\n"
      "with --secret, and can fail a share of requests on purpose. Prints\n"
      "\"hooklog-receiver listening on <url>\" once ready; stop it with\n"
      "SIGINT or SIGTERM (Ctrl-C) to get its counters.");
  flags.String("address", &opts.address, "address to listen on", "A");
  flags.Int("port", &opts.port, "port to listen on, 0: any free port");
  flags.Strings("secret", &secrets,
                "signing secret to verify with, whsec_... (any one may match)");
  flags.Choice("scheme", &scheme, {"standard", "closient"},
               "signature scheme: Standard Webhooks or Closient");
  flags.Double("fail-rate", &mix.fail_rate, "share of requests answered 500", 0,
               1);
  flags.Double("rate-limit-rate", &mix.rate_limit_rate,
               "share of requests answered 429 with Retry-After: 1", 0, 1);
  flags.Double("reset-rate", &mix.reset_rate,
               "share of requests answered by a connection reset", 0, 1);
  flags.Int("delay-ms", &delay_ms, "wait this long before every answer",
            int64_t{0}, int64_t{3'600'000});
  flags.Int("seed", &mix.seed, "seed of the random failure mix");
  flags.Int("threads", &opts.threads, "threads serving connections", 1, 256);
  flags.Bool("tls", &opts.tls,
             "serve HTTPS with a self-signed certificate for localhost");
  flags.String("cert-out", &cert_out,
               "with --tls: write the certificate (PEM) here, for the "
               "client's CA file",
               "FILE");
  flags.Bool("quiet", &quiet, "do not print a line per request");
  flags.Bool("print-body", &print_body, "print each request's body too");
  flags.ParseOrExit(argc, argv);
  if (!cert_out.empty() && !opts.tls) {
    std::fprintf(stderr, "hooklog-receiver: --cert-out needs --tls\n");
    return 2;
  }
  if (mix.fail_rate + mix.rate_limit_rate + mix.reset_rate > 1) {
    std::fprintf(stderr,
                 "hooklog-receiver: --fail-rate + --rate-limit-rate + "
                 "--reset-rate must be at most 1\n");
    return 2;
  }
  mix.ok.delay = std::chrono::milliseconds(delay_ms);

  Counters counters;
  opts.on_request = [&counters, quiet, print_body](const RecordedRequest& r,
                                                   const Reply& reply) {
    CountAnswer(reply, &counters);
    if (r.signature_ok.value_or(false)) ++counters.signature_ok;
    if (!quiet) PrintRequest(r, reply, print_body);
  };

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
  if (!secrets.empty()) {
    rx->SetSecrets("", secrets,
                   scheme == "closient" ? hooklog::SignatureScheme::kClosient
                                        : hooklog::SignatureScheme::kStandard);
  }
  if (!cert_out.empty()) {
    const std::string pem = rx->CertificatePem();
    std::FILE* f = std::fopen(cert_out.c_str(), "w");
    bool written =
        f != nullptr && std::fwrite(pem.data(), 1, pem.size(), f) == pem.size();
    if (f != nullptr && std::fclose(f) != 0) written = false;
    if (!written) {
      std::fprintf(stderr, "hooklog-receiver: cannot write %s\n",
                   cert_out.c_str());
      return 1;
    }
  }
  std::printf("hooklog-receiver listening on %s\n", rx->Url("").c_str());
  if (secrets.empty() && !quiet) {
    std::printf("(no --secret: signatures are not checked)\n");
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  rx->Stop();
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf(
      "requests=%llu max_concurrent=%llu connections=%llu "
      "signature_failures=%llu signature_ok=%llu answered_2xx=%llu "
      "answered_500=%llu answered_429=%llu resets=%llu\n",
      u(rx->total()), u(rx->max_concurrent()), u(rx->connections_accepted()),
      u(rx->signature_failures()), u(counters.signature_ok), u(counters.ok),
      u(counters.failed), u(counters.rate_limited), u(counters.reset));
  return 0;
}
