// Listener: one dedicated libpq session that LISTENs on a channel, for
// Storage::WaitForAppends (docs/postgres.md, "Notifications").
//
// Appends NOTIFY the channel in their transaction, so a notification is
// delivered at commit. Wait() blocks on the session's socket until a
// notification from another store arrives (one whose payload is not this
// store's own token), or the timeout passes. It never blocks longer than the
// timeout: connecting and LISTEN are asynchronous too, bounded by it.
// Notifications sent while the session was down are lost, so the call that
// (re)connects returns at once (the caller re-reads the log after every
// return). A session that fails is dropped and the next call reconnects.
//
// Thread-safety: one thread at a time (the adapter serializes callers).
// Ownership: owns its PGconn.
#ifndef HOOKLOG_STORAGE_POSTGRES_PG_LISTENER_H_
#define HOOKLOG_STORAGE_POSTGRES_PG_LISTENER_H_

#include <libpq-fe.h>

#include <chrono>
#include <string>

#include "hooklog/clock.h"

namespace hooklog::pg {

class Listener {
 public:
  // `conninfo` as for Conn; `setup` runs before LISTEN on every new session
  // (application_name and the like); notifications whose payload equals
  // `own_payload` (this store's appends) do not end a Wait.
  Listener(std::string conninfo, std::string setup, std::string channel,
           std::string own_payload);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // See the file comment. Returns whether a notification from another store
  // arrived (false: timeout, a reconnect, or an error).
  bool Wait(Duration timeout);

  // Whether the session is up (for tests and diagnostics).
  bool connected() const { return conn_ != nullptr; }

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  // Connects and LISTENs without blocking past `deadline`.
  bool Connect(Deadline deadline);
  // Waits until the socket is ready for `events` or `deadline`; false on
  // timeout or a poll error.
  bool PollUntil(short events, Deadline deadline);
  void Drop();

  const std::string conninfo_;
  const std::string setup_;
  const std::string channel_;
  const std::string own_payload_;
  PGconn* conn_ = nullptr;
};

}  // namespace hooklog::pg

#endif  // HOOKLOG_STORAGE_POSTGRES_PG_LISTENER_H_
