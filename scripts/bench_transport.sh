#!/usr/bin/env bash
# Transport benchmark: hooklog's curl transport, a bare libcurl-multi loop and
# wrk, all against ONE hooklog-test-receiver process, same concurrency, same
# POST. Prints items/s and the ratios.
#
#   scripts/bench_transport.sh [BUILD_DIR] [CONCURRENCY] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
CONC=${2:-64}
SECS=${3:-5}
RX=$BUILD/tests/support/receiver/hooklog-test-receiver
BENCH=$BUILD/bench/transport/bench_transport
for f in "$RX" "$BENCH"; do
  [[ -x $f ]] || { echo "missing $f (build it first)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }

out=$(mktemp); lua=$(mktemp --suffix=.lua); json=$(mktemp)
"$RX" --port 0 >"$out" 2>&1 &
rx_pid=$!
trap 'kill $rx_pid 2>/dev/null || true; rm -f "$out" "$lua" "$json"' EXIT
for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
URL=$(awk '/listening/{print $NF}' "$out")
echo "receiver: $URL  concurrency: $CONC  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"id":"evt_23456789ABCDEFGHJKLMNP","type":"invoice.paid","created_at":"2026-01-01T00:00:00Z","data":{"amount":4200}}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk_rps=$(wrk -t1 -c"$CONC" -d"${SECS}s" -s "$lua" "$URL/bench" | awk '/Requests\/sec/{print $2}')

HOOKLOG_BENCH_URL="$URL/bench" "$BENCH" --benchmark_min_time="$SECS" \
  --benchmark_filter="/${CONC}/" --benchmark_format=json >"$json" 2>/dev/null || \
HOOKLOG_BENCH_URL="$URL/bench" "$BENCH" --benchmark_min_time="$SECS" \
  --benchmark_format=json >"$json"

python3 - "$json" "$wrk_rps" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
wrk = float(sys.argv[2])
rate = {b["name"].split("/")[0]: b["items_per_second"] for b in data["benchmarks"]}
t, bare = rate.get("BM_Transport", 0.0), rate.get("BM_BareCurlMulti", 0.0)
print(f"wrk (POST, keep-alive):   {wrk:10.0f} req/s")
print(f"bare libcurl multi loop:  {bare:10.0f} req/s")
print(f"hooklog transport:        {t:10.0f} req/s")
if bare: print(f"transport / bare curl:    {t / bare:10.2f}   (target >= 0.90)")
if wrk:  print(f"transport / wrk:          {t / wrk:10.2f}")
if wrk:  print(f"bare curl / wrk:          {bare / wrk:10.2f}")
PY
