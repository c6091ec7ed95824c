#!/usr/bin/env bash
# hooklog beside the peer a Node team would pick instead: a BullMQ queue on
# Redis with one worker process per core, each job signed with the npm
# standardwebhooks library and POSTed with fetch (bench/peers/bullmq). Both
# deliver EVENTS webhooks to the same hooklog-receiver binary (1 thread,
# verifying every signature) at the same total concurrency, back to back in
# one run; the last line is one JSON object with both rates and their ratio.
#
#   scripts/bench_peers.sh [EVENTS [CONCURRENCY]]   # defaults 20000, 64
#
# Redis runs with appendonly + appendfsync everysec (BullMQ's recommended
# durability); hooklog fsyncs every group commit (stronger). Needs the
# Debian packages redis-server, nodejs and npm (scripts/setup.sh) and the npm
# registry once (npm ci from the committed lockfile).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-20000}
conc=${2:-64}
workers=$(nproc)

scripts/setup.sh
HOOKLOG_JOBS=${HOOKLOG_JOBS:-2} scripts/build.sh release hooklog-load hooklog-receiver >/dev/null
(cd bench/peers/bullmq && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

tmp=$(mktemp -d)
pids=()
cleanup() {  # workers first, Redis last
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secret=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp" --save '' \
  --appendonly yes --appendfsync everysec --daemonize no >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

build/tools/hooklog-receiver --port 0 --threads 1 --secret "$secret" --quiet \
  >"$tmp/receiver.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$tmp/receiver.log" && break; sleep 0.1; done
url=$(sed -nE 's/.*listening on (http[^ ]*).*/\1/p' "$tmp/receiver.log" | head -1)
[ -n "$url" ] || { echo "bench_peers: receiver did not start" >&2; cat "$tmp/receiver.log" >&2; exit 1; }

echo "== peer: BullMQ, $workers worker processes x $((conc / workers)) concurrency, $events events" >&2
for _ in $(seq "$workers"); do
  node bench/peers/bullmq/peer.mjs worker "$redis_port" "$url" "$secret" $((conc / workers)) \
    2>>"$tmp/workers.log" &
  pids+=($!)
done
sleep 1
peer=$(node bench/peers/bullmq/peer.mjs produce "$redis_port" "$events")
echo "$peer" >&2
kill -INT "${pids[1]}" 2>/dev/null || true  # the receiver prints its counters
sleep 0.5
grep -E "signature|requests" "$tmp/receiver.log" | tail -2 >&2 || true

echo "== hooklog: hooklog-load --scenario throughput --events $events --concurrency $conc" >&2
ours=$(build/tools/hooklog-load --scenario throughput --events "$events" \
  --concurrency "$conc" --no-ceilings --json | tail -n 1)
echo "$ours" >&2

python3 - "$peer" "$ours" <<'PY'
import json, sys
peer, ours = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "scenario": "peers",
    "events": peer["events"],
    "bullmq_deliveries_per_s": peer["deliveries_per_s"],
    "bullmq_failed": peer["failed"],
    "hooklog_deliveries_per_s": round(ours["deliveries_per_s"], 1),
    "hooklog_lost": ours["lost"],
    "ratio_hooklog_to_bullmq": round(ours["deliveries_per_s"] / peer["deliveries_per_s"], 2),
}))
PY
