#!/usr/bin/env bash
# The whole benchmark suite, one command (about 12 minutes on 2 busy cores):
#   1. installs what is missing (scripts/setup.sh: wrk, libbenchmark, ...);
#   2. builds the optimized tree (scripts/build.sh release → ./build);
#   3. runs the micro benchmarks (Google Benchmark, short but meaningful
#      min_time) and saves their JSON;
#   4. runs every hooklog-load scenario (throughput, slow, faulty, restart),
#      each measuring wrk and a bare libcurl-multi loop against the same
#      receiver in the same run;
#   5. prints a summary table. Record figures in bench/RESULTS.md.
#
#   scripts/bench.sh                 # everything
#   scripts/bench.sh micro           # only the micro benchmarks
#   scripts/bench.sh load [SCENARIO] # only the load scenarios (or one)
#   scripts/bench.sh peers [N [C]]   # hooklog beside a BullMQ worker pool
#                                    # (scripts/bench_peers.sh)
#
# Environment: HOOKLOG_BENCH_OUT (results directory, default
# build/bench-results/<timestamp>), HOOKLOG_RESTART_EVENTS (default 500000; the
# DESIGN target is 10000000, which takes several minutes more to fill).
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
if [[ $what == peers ]]; then
  shift
  exec scripts/bench_peers.sh "$@"
fi
only=${2:-}
out=${HOOKLOG_BENCH_OUT:-build/bench-results/$(date +%Y%m%d-%H%M%S)}
restart_events=${HOOKLOG_RESTART_EVENTS:-500000}
mkdir -p "$out"

scripts/setup.sh
HOOKLOG_JOBS=${HOOKLOG_JOBS:-2} scripts/build.sh release \
  hooklog-load hooklog-receiver bench_engine bench_storage \
  bench_codec_signing

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

if [[ $what == all || $what == micro ]]; then
  for b in bench_engine bench_codec_signing bench_storage; do
    echo "== micro: $b"
    # bench_storage builds its data sets once; its restart case is the
    # storage-only view (the end-to-end one is hooklog-load's restart).
    build/bench/$b --benchmark_min_time=0.3 \
      --benchmark_out="$out/$b.json" --benchmark_out_format=json
  done
fi

load() {  # scenario, extra flags...
  local s=$1
  shift
  [[ -n $only && $only != "$s" ]] && return 0
  echo "== load: hooklog-load --scenario $s $* --json"
  build/tools/hooklog-load --scenario "$s" "$@" --json |
    tee "$out/load-$s.txt" || echo "hooklog-load $s: exit $? (lost deliveries or timeout)"
}
if [[ $what == all || $what == load ]]; then
  load throughput --events 100000
  load slow --events 60000
  load faulty --events 10000
  load restart --restart-events "$restart_events"
fi

echo "== summary (JSON: last line of $out/load-*.txt)"
python3 - "$out" <<'PY'
import glob, json, os, sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "load-*.txt"))):
    lines = [l for l in open(f) if l.startswith("{")]
    if lines:
        rows.append(json.loads(lines[-1]))
def f(v, spec):  # null (not measured in that run) prints as "-"
    return "-" if v is None else format(v, spec)
for r in rows:
    if r["scenario"] == "restart":
        print(f'{r["scenario"]:<11} events {f(r["restart_events"], ">10")}  '
              f'restart {f(r["restart_s"], ".3f")} s (again {f(r["restart_again_s"], ".3f")} s)')
    else:
        print(f'{r["scenario"]:<11} {f(r["deliveries_per_s"], ">9.0f")}/s  '
              f'wrk {f(r["wrk_per_s"], ">9.0f")}/s  curl {f(r["curl_loop_per_s"], ">9.0f")}/s  '
              f'ratio_wrk {f(r["ratio_wrk"], ".2f")}  ratio_curl {f(r["ratio_curl"], ".2f")}  '
              f'p50 {f(r["p50_ms"], ".0f")} ms  p99 {f(r["p99_ms"], ".0f")} ms  '
              f'rss {f(r["peak_rss_mb"], ".0f")} MiB  '
              f'cpu/delivery {f(r.get("cpu_us_per_delivery"), ".0f")} us  lost {r["lost"]}')
PY
echo "results: $out (record them in bench/RESULTS.md)"
