// The LISTEN session of the PostgreSQL adapter (see pg_listener.h).
//
// Everything here is non-blocking (PQconnectStartParams / PQconnectPoll,
// PQsendQuery, PQconsumeInput) and waits with poll() on the session's
// socket, so that no step can outlast the caller's timeout: a follower
// thread that waits for other nodes' appends must also notice when it is
// asked to stop.
#include "storage/postgres/pg_listener.h"

#include <poll.h>

#include <cerrno>
#include <thread>

#include "storage/postgres/pg_conn.h"

namespace hooklog::pg {

Listener::Listener(std::string conninfo, std::string setup, std::string channel,
                   std::string own_payload)
    : conninfo_(std::move(conninfo)),
      setup_(std::move(setup)),
      channel_(std::move(channel)),
      own_payload_(std::move(own_payload)) {}

Listener::~Listener() { Drop(); }

void Listener::Drop() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool Listener::PollUntil(short events, Deadline deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{PQsocket(conn_), events, 0};
    if (p.fd < 0) return false;
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;  // ready, or an error the next libpq call sees
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool Listener::Connect(Deadline deadline) {
  const char* keys[] = {"dbname", nullptr};
  const char* values[] = {conninfo_.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) {
    Drop();
    return false;
  }
  // The server's message when it ends an idle session ("terminating
  // connection due to administrator command") arrives outside any query,
  // which libpq would print to stderr: the loss is handled (the next Wait
  // reconnects), so it is not printed.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  // libpq's protocol: start as if PQconnectPoll had asked to write.
  PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
  while (ps != PGRES_POLLING_OK) {
    if (ps == PGRES_POLLING_FAILED ||
        !PollUntil(ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
      Drop();
      return false;
    }
    ps = PQconnectPoll(conn_);
  }
  if (PQsetnonblocking(conn_, 1) != 0) {
    Drop();
    return false;
  }
  const std::string sql = setup_ + "; LISTEN " + QuoteIdent(channel_);
  if (PQsendQuery(conn_, sql.c_str()) != 1) {
    Drop();
    return false;
  }
  // Flush, then read every result of the script until libpq is idle.
  for (;;) {
    const int f = PQflush(conn_);
    if (f < 0) {
      Drop();
      return false;
    }
    if (f == 0) break;
    if (!PollUntil(POLLOUT, deadline)) {
      Drop();
      return false;
    }
  }
  bool ok = true;
  for (;;) {
    if (PQconsumeInput(conn_) != 1) {
      Drop();
      return false;
    }
    if (PQisBusy(conn_)) {
      if (!PollUntil(POLLIN, deadline)) {
        Drop();
        return false;
      }
      continue;
    }
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) break;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) ok = false;
    PQclear(r);
  }
  if (!ok) Drop();
  return ok;
}

bool Listener::Wait(Duration timeout) {
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  if (conn_ == nullptr) {
    // Appends made while no session listened were never notified: a new
    // session returns at once so that the caller re-reads the log. A
    // failed connect waits out the timeout instead, so that a caller
    // looping on Wait does not spin while the server is away.
    if (!Connect(deadline)) std::this_thread::sleep_until(deadline);
    return false;
  }
  for (;;) {
    if (PQconsumeInput(conn_) != 1 || PQstatus(conn_) != CONNECTION_OK) {
      Drop();  // the next call reconnects
      return false;
    }
    bool other = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      if (own_payload_ != n->extra) other = true;
      PQfreemem(n);
    }
    if (other) return true;
    if (!PollUntil(POLLIN, deadline)) return false;
  }
}

}  // namespace hooklog::pg
