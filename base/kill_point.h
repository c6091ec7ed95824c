// White-box crash points for the reliability suite (tests/reliability).
//
// HOOKLOG_KILL_POINT("name") marks a moment where a crash is most likely to
// break a durability promise (after the WAL append but before the ack, after
// a 2xx but before `delivered` is recorded, ...). The points exist only in
// builds configured with -DHOOKLOG_KILL_POINTS=ON (scripts/build.sh turns it
// on for the sanitizer builds that run the tests, never for release); in any
// other build the macro expands to nothing.
//
// Even when compiled in, a point does nothing unless armed through the
// environment of the process:
//   HOOKLOG_KILL_POINTS="append_before_ack:0.01,replay_after_commit:0.5"
//   HOOKLOG_KILL_SEED=1234     (optional; default: random)
// An armed point raises SIGKILL on its own process with its probability each
// time it is reached, so the crash is as abrupt as `kill -9`.
//
// The points and what they test are listed in docs/reliability.md.
//
// Thread-safety: points may be reached from any thread.
#ifndef HOOKLOG_BASE_KILL_POINT_H_
#define HOOKLOG_BASE_KILL_POINT_H_

#include <string_view>

namespace hooklog::internal {

// Kills the process (SIGKILL) with the probability armed for `name`.
void MaybeKill(std::string_view name);

}  // namespace hooklog::internal

#ifdef HOOKLOG_KILL_POINTS
#define HOOKLOG_KILL_POINT(name) ::hooklog::internal::MaybeKill(name)
#else
#define HOOKLOG_KILL_POINT(name) \
  do {                           \
  } while (false)
#endif

#endif  // HOOKLOG_BASE_KILL_POINT_H_
