// The restart scenario: a store with many log events and some pending
// deliveries is written (with sync off, in a forked child so that its
// memory does not count), then the engine is reopened over it twice and the
// time from opening to the first publish acknowledged is measured.
//
// Thread-safety: one call at a time; forks before starting any thread of
// its own.
#ifndef HOOKLOG_TOOLS_LOAD_RESTART_RUN_H_
#define HOOKLOG_TOOLS_LOAD_RESTART_RUN_H_

#include "tools/load/load_flags.h"

namespace hooklog::load {

// Runs it and prints the report. 0 when both restarts succeeded.
int RunRestart(const LoadFlags& flags);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_RESTART_RUN_H_
