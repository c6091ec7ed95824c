#!/usr/bin/env bash
# The portal benchmark (bench/RESULTS.md, "Portal"): fills a fresh webhookd
# store with N deliveries the honest way — events published through the
# API, fanned out to E endpoints on a hooklog-receiver that answers 200, and
# delivered by the engine — timing the fill; then times the API calls each
# portal page makes (curl time_total, median of R runs) and a Chromium page
# load of each page (median of 3), and prints a Markdown table.
#
#   bench/portal/run.sh                  # 1,000,000 deliveries, 10 endpoints
#   PORTAL_BENCH_DELIVERIES=100000 bench/portal/run.sh
#
# Environment: PORTAL_BENCH_DELIVERIES (1000000), PORTAL_BENCH_ENDPOINTS
# (10), PORTAL_BENCH_REPEATS (5), PORTAL_BENCH_BUILD (./build: a release
# tree with webhookd, hooklog-receiver and the portal's node_modules),
# PORTAL_BENCH_DATA (a temporary directory; removed at the end unless set).
# Only loopback traffic; every loop is bounded; both servers are stopped at
# the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
n=${PORTAL_BENCH_DELIVERIES:-1000000}
eps=${PORTAL_BENCH_ENDPOINTS:-10}
repeats=${PORTAL_BENCH_REPEATS:-5}
build=${PORTAL_BENCH_BUILD:-$root/build}
webhookd=$build/webhookd/webhookd
receiver=$build/tools/hooklog-receiver
modules=$build/portal/node_modules
for f in "$webhookd" "$receiver" "$modules/playwright-core"; do
  [ -e "$f" ] || { echo "missing $f: scripts/build.sh release webhookd hooklog-receiver" >&2; exit 1; }
done
keep_data=${PORTAL_BENCH_DATA:+1}
data=${PORTAL_BENCH_DATA:-$(mktemp -d /tmp/portal-bench.XXXXXX)}
logs=$(mktemp -d /tmp/portal-bench-logs.XXXXXX)
key=portal-bench-key-0123456789abcdef

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$keep_data" ] || rm -rf "$data"
}
trap cleanup EXIT

wait_url() {  # file pid
  for _ in $(seq 1 400); do
    if grep -q ' listening on ' "$1" 2>/dev/null; then
      sed -n 's/.* listening on \(http[^ ]*\).*/\1/p' "$1" | head -1
      return 0
    fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

"$receiver" --address 127.0.0.1 --port 0 --quiet >"$logs/receiver.out" 2>&1 &
pids+=($!)
rx=$(wait_url "$logs/receiver.out" $!)
"$webhookd" --listen 127.0.0.1:0 --data-dir "$data" --api-key "$key" \
  --allow-private-targets --log-level warn >"$logs/webhookd.out" 2>"$logs/webhookd.log" &
pids+=($!)
url=$(wait_url "$logs/webhookd.out" $!)
echo "webhookd $url, receiver $rx, data $data" >&2

python3 "$root/bench/portal/fill.py" "$url" "$key" "$rx" "$n" "$eps" "$data" >"$logs/fill.json"
cat "$logs/fill.json" >&2

python3 "$root/bench/portal/api_times.py" "$url" "$key" "$repeats" >"$logs/api.md"
node "$root/bench/portal/page_load.mjs" "$url" "$key" "$modules" "$build/portal/dist" >"$logs/pages.md"

echo "## Portal benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD)"
echo
python3 - "$logs/fill.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"Fill: {f['deliveries']:,} deliveries ({f['events']:,} events x {f['endpoints']} endpoints) "
      f"published in {f['publish_s']:.1f} s, all delivered after {f['fill_s']:.1f} s "
      f"({f['deliveries'] / f['fill_s']:,.0f} deliveries/s); store {f['store_mib']:.0f} MiB.")
PY
echo
cat "$logs/api.md"
echo
cat "$logs/pages.md"
echo
for f in "$build"/portal/dist/*.gz; do printf '%s %s\n' "$(stat -c %s "$f")" "$(basename "$f")"; done |
  awk '{t += $1; s = s sprintf("%s %.1f KiB, ", $2, $1 / 1024)} END {printf "Bundle (gzip): %s total %.1f KiB\n", s, t / 1024}'
