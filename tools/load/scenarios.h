// What each hooklog-load scenario sets up: the receiver's behaviour and
// placement, the engine's options, the payload, the ceilings' request, and
// the scratch directories.
//
//   throughput  fast receiver, 4 endpoints, 64 in flight
//   slow        every answer after 1 s, 10 endpoints, 10,000 in flight
//   faulty      10 % 500 and 5 % 429 (Retry-After: 1), a short retry
//               schedule
//   restart     time to reopen a big store (restart_run.h)
//
// Thread-safety: stateless functions.
#ifndef HOOKLOG_TOOLS_LOAD_SCENARIOS_H_
#define HOOKLOG_TOOLS_LOAD_SCENARIOS_H_

#include <optional>
#include <string>

#include "hooklog/engine.h"
#include "tools/load/ceilings.h"
#include "tools/load/load_flags.h"
#include "tools/load/receiver_process.h"

namespace hooklog::load {

// The receiver for the scenario. The child placement needs hooklog-receiver
// (--receiver-bin, next to this executable, or on PATH): when it is not
// found this returns nullopt and sets *error; it never falls back to the
// in-process receiver, which only --receiver inproc selects.
std::optional<ReceiverConfig> ReceiverFor(const LoadFlags& flags,
                                          std::string* error);

EngineOptions EngineOptionsFor(const LoadFlags& flags);

// An event's data of about `bytes` bytes (JSON).
std::string Payload(size_t bytes);

// The body the engine sends for one event (same shape and size), and its
// headers, pre-signed, for the ceilings.
CeilingRequest CeilingRequestFor(const std::string& url,
                                 const std::string& payload);

// A fresh directory under --dir (or $TMPDIR) named for `what`.
std::string NewTempDir(const LoadFlags& flags, const std::string& what);
double DirSizeMb(const std::string& dir);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_SCENARIOS_H_
