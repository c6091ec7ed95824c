#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the PostgreSQL storage adapter's
# tests and benchmark (docs/postgres.md).
#   eval "$(scripts/postgres.sh start)"  # starts one, exports its conninfo
#   scripts/postgres.sh env              # prints the exports again
#   scripts/postgres.sh stop             # stops it and removes its directory
#   scripts/postgres.sh halt [dir]       # stops the server, keeps the cluster
#   scripts/postgres.sh restart [dir]    # starts a halted (or running) server
#                                        # again, same port and data
# start prints `export HOOKLOG_TEST_POSTGRES=<conninfo>` (read by
# tests/postgres) and `export HOOKLOG_PG_DIR=<dir>` (read by env and stop).
# The cluster lives in one temporary directory (data, log, Unix socket) and
# listens on 127.0.0.1 on a free port as well as on its socket; it runs as
# the `postgres` user because initdb refuses root. Authentication is `trust`:
# for tests only.
set -euo pipefail

PG_BIN=${HOOKLOG_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}

die() { echo "postgres.sh: $*" >&2; exit 1; }
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"  # already a non-root user that owns the cluster
  fi
}

ensure_installed() {
  [ -x "$PG_BIN/initdb" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "postgresql-15 missing; run scripts/setup.sh as root"
  echo "postgres.sh: installing postgresql-15" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql-15 >&2
  [ -x "$PG_BIN/initdb" ] || die "no initdb in $PG_BIN after installing"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

print_env() {
  local dir=$1 port
  port=$(cat "$dir/port")
  echo "export HOOKLOG_PG_DIR='$dir'"
  echo "export HOOKLOG_TEST_POSTGRES='host=$dir port=$port dbname=hooklog user=postgres'"
}

# Starts the server of the cluster in $1 on the port recorded there.
server_start() {
  local dir=$1 port
  port=$(cat "$dir/port")
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c shared_buffers=64MB -c max_connections=100" \
    start >&2 || { cat "$dir/server.log" >&2; die "pg_ctl start failed"; }
}

cluster_dir() {
  local dir=${1:-${HOOKLOG_PG_DIR:-}}
  [ -n "$dir" ] || die "HOOKLOG_PG_DIR is not set (or pass the directory)"
  [ -d "$dir/data" ] || die "$dir holds no cluster"
  echo "$dir"
}

case "$cmd" in
  start)
    ensure_installed
    dir=$(mktemp -d /tmp/hooklog-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    port=$(free_port)
    echo "$port" >"$dir/port"
    # Small shared memory: the machine is shared. fsync stays on so that the
    # benchmark measures durable commits.
    server_start "$dir"
    as_pg "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt \
      -c "CREATE DATABASE hooklog" >&2
    print_env "$dir"
    ;;
  env)
    [ -n "${HOOKLOG_PG_DIR:-}" ] || die "HOOKLOG_PG_DIR is not set (eval the output of start)"
    print_env "$HOOKLOG_PG_DIR"
    ;;
  halt)
    # A database outage for tests: sessions are cut (-m fast), the data
    # stays for restart.
    dir=$(cluster_dir "${2:-}")
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    ;;
  restart)
    dir=$(cluster_dir "${2:-}")
    if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    fi
    server_start "$dir"
    ;;
  stop)
    dir=$(cluster_dir "${2:-}")
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    echo "unset HOOKLOG_PG_DIR HOOKLOG_TEST_POSTGRES"
    ;;
  *)
    echo "usage: $0 start|env|halt|restart|stop [dir]" >&2
    exit 2
    ;;
esac
