#!/usr/bin/env bash
# Transport benchmark: hooklog's curl transport, a bare libcurl-multi loop and
# wrk, all against ONE hooklog-receiver process, same concurrency, same
# POST. Prints items/s and the ratios.
#
#   scripts/bench_transport.sh [BUILD_DIR] [CONCURRENCY] [SECONDS] [ROUNDS]
#
# The machine is shared and noisy, so the three clients run in ROUNDS
# (default 3) alternating rounds (wrk, transport, bare loop, then again);
# each round's ratios compare runs seconds apart, and the medians are
# reported.
set -euo pipefail
BUILD=${1:-build}
CONC=${2:-64}
SECS=${3:-5}
ROUNDS=${4:-3}
RX=$BUILD/tools/hooklog-receiver
BENCH=$BUILD/bench/transport/bench_transport
for f in "$RX" "$BENCH"; do
  [[ -x $f ]] || { echo "missing $f (build it first)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }

out=$(mktemp); lua=$(mktemp --suffix=.lua); json=$(mktemp)
"$RX" --port 0 --quiet >"$out" 2>&1 &
rx_pid=$!
trap 'kill $rx_pid 2>/dev/null || true; rm -f "$out" "$lua" "$json" "$json".*' EXIT
for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
URL=$(awk '/listening/{print $NF}' "$out")
echo "receiver: $URL  concurrency: $CONC  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"id":"evt_23456789ABCDEFGHJKLMNP","type":"invoice.paid","created_at":"2026-01-01T00:00:00Z","data":{"amount":4200}}'
wrk.headers["Content-Type"] = "application/json"
LUA
for round in $(seq "$ROUNDS"); do
  wrk_rps=$(wrk -t1 -c"$CONC" -d"${SECS}s" -s "$lua" "$URL/bench" | awk '/Requests\/sec/{print $2}')
  for bm in BM_Transport BM_BareCurlMulti; do
    HOOKLOG_BENCH_URL="$URL/bench" "$BENCH" --benchmark_min_time="$SECS" \
      --benchmark_filter="^$bm/${CONC}/" --benchmark_format=json \
      >"$json.$round.$bm" 2>/dev/null
  done
  echo "$wrk_rps" >"$json.$round.wrk"
done

python3 - "$json" "$ROUNDS" <<'PY'
import json, statistics, sys
base, rounds = sys.argv[1], int(sys.argv[2])
def rate(path):
    data = json.load(open(path))
    return data["benchmarks"][0]["items_per_second"] if data["benchmarks"] else 0.0
rows = []
for r in range(1, rounds + 1):
    wrk = float(open(f"{base}.{r}.wrk").read().strip() or 0)
    t = rate(f"{base}.{r}.BM_Transport")
    bare = rate(f"{base}.{r}.BM_BareCurlMulti")
    rows.append((wrk, bare, t))
    print(f"round {r}: wrk {wrk:8.0f}  bare curl {bare:8.0f}  transport {t:8.0f}"
          f"  transport/bare {t / bare if bare else 0:5.2f}")
med = lambda xs: statistics.median(xs)
wrk, bare, t = (med([row[i] for row in rows]) for i in range(3))
print(f"wrk (POST, keep-alive):   {wrk:10.0f} req/s   (median of {rounds})")
print(f"bare libcurl multi loop:  {bare:10.0f} req/s")
print(f"hooklog transport:        {t:10.0f} req/s")
print(f"transport / bare curl:    {med([r[2] / r[1] for r in rows if r[1]]):10.2f}"
      "   (median of per-round ratios; target >= 0.90)")
print(f"transport / wrk:          {med([r[2] / r[0] for r in rows if r[0]]):10.2f}")
print(f"bare curl / wrk:          {med([r[1] / r[0] for r in rows if r[0]]):10.2f}")
PY
