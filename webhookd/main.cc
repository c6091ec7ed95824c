// webhookd: the Closient-compatible webhook REST daemon over a hooklog
// engine. See docs/webhookd.md and docs/api.md.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "hooklog/clock.h"
#include "hooklog/engine.h"
#include "webhookd/config.h"
#include "webhookd/daemon.h"
#include "webhookd/log.h"

int main(int argc, char** argv) {
  using webhookd::Log;
  using webhookd::LogLevel;
  webhookd::ParsedArgs args = webhookd::ParseArgs(
      argc, argv, [](const char* n) { return std::getenv(n); });
  if (!args.error.empty()) {
    std::fprintf(stderr, "webhookd: %s\n%s", args.error.c_str(),
                 webhookd::UsageText().c_str());
    return 2;
  }
  switch (args.command) {
    case webhookd::Command::kHelp:
      std::fputs(webhookd::UsageText().c_str(), stdout);
      return 0;
    case webhookd::Command::kVersion:
      std::printf("webhookd %s\n", hooklog::Version());
      return 0;
    case webhookd::Command::kKeygen:
      std::printf("%s\n", webhookd::NewApiKey().c_str());
      return 0;
    case webhookd::Command::kServe:
      break;
  }
  const webhookd::Config& c = args.config;
  webhookd::SetLogLevel(c.log_level);

  // Block the stop signals before any thread starts, so that every thread
  // inherits the mask and only sigwait() below receives them. libcurl runs
  // with NOSIGNAL, so SIGPIPE must be ignored process-wide.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::string schedule;
  for (const auto& d : c.retry_schedule) {
    if (!schedule.empty()) schedule += ',';
    schedule += hooklog::FormatDuration(d);
  }
  Log(LogLevel::kInfo, "starting",
      {{"version", hooklog::Version()},
       // Never the storage URL itself: it may carry a password.
       {"storage", c.storage.empty() ? "rocksdb" : "postgresql"},
       {c.storage.empty() ? "data_dir" : "schema",
        c.storage.empty() ? c.data_dir : c.storage_schema},
       {"api_keys", std::to_string(c.api_keys.size())},
       {"allow_private_targets", c.allow_private_targets ? "true" : "false"},
       {"retry_schedule", schedule.empty() ? "default" : schedule}});
  if (!c.storage.empty()) {
    // Which node this is and the lease settings it joins with: the first
    // thing to compare when two nodes disagree about who owns what.
    Log(LogLevel::kInfo, "cluster",
        {{"node_id", c.node_id},
         {"partitions", std::to_string(c.partitions)},
         {"lease_ttl", hooklog::FormatDuration(c.lease_ttl)}});
  }
  auto daemon = webhookd::Daemon::Start(c);
  if (!daemon.ok()) {
    Log(LogLevel::kError, "cannot start",
        {{"error", daemon.status().ToString()}});
    std::fprintf(stderr, "webhookd: cannot start: %s\n",
                 daemon.status().ToString().c_str());
    return 1;
  }
  std::printf("webhookd listening on %s\n", (*daemon)->url().c_str());
  std::fflush(stdout);
  Log(LogLevel::kInfo, "listening", {{"url", (*daemon)->url()}});

  int sig = 0;
  sigwait(&set, &sig);
  Log(LogLevel::kInfo, "stopping",
      {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*daemon)->Stop();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}
