#!/usr/bin/env bash
# The crash loop (tests/reliability/crash_loop_test.cc, docs/reliability.md)
# with many more kill cycles than CI runs.
#   scripts/soak.sh [cycles] [seed]    # default: 300 cycles, a random seed
#   scripts/soak.sh --cluster [cycles] [seed]
#       the three-node crash loop (tests/cluster/crash_loop_test.cc) on
#       PostgreSQL instead: default 200 kills; uses HOOKLOG_TEST_POSTGRES,
#       or starts a throw-away server (scripts/postgres.sh) for the run
# Environment:
#   SOAK_BUILD=asan|release  which tree to build and run (default asan: the
#                            kill points are compiled in, sanitizers on;
#                            release has no kill points: random SIGKILLs only)
#   BUILD_DIR=DIR            run an already built tree as is (no build)
#   HOOKLOG_CRASH_RATE       events published per second (default 40;
#                            --cluster: HOOKLOG_CLUSTER_RATE, default 20)
#   HOOKLOG_CRASH_VERIFY_EVERY  hooklog-admin verify every N kills (default 25)
#   HOOKLOG_CRASH_KEEP_DIR=1 keep the data directory for inspection
# Prints the seed first and the summary line last; exits non-zero when a
# check fails. Re-run a failing seed with: scripts/soak.sh <cycles> <seed>.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=0
if [ "${1:-}" = "--cluster" ]; then
  cluster=1
  shift
fi
cycles=${1:-$([ "$cluster" -eq 1 ] && echo 200 || echo 300)}
seed=${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
kind=${SOAK_BUILD:-asan}
if [ "$cluster" -eq 1 ]; then
  test_target=cluster_test
  test_rel=tests/cluster/cluster_test
  filter='ClusterCrashLoop.*'
  summary='^cluster crash loop summary'
else
  test_target=reliability_test
  test_rel=tests/reliability/reliability_test
  filter='CrashLoop.*'
  summary='^crash loop summary'
fi

if [ -n "${BUILD_DIR:-}" ]; then
  dir=$BUILD_DIR
else
  case "$kind" in
    asan) dir=build-asan ;;
    release) dir=build ;;
    *) echo "usage: SOAK_BUILD=asan|release $0 [--cluster] [cycles] [seed]" >&2; exit 2 ;;
  esac
  HOOKLOG_JOBS=${HOOKLOG_JOBS:-2} scripts/build.sh "$kind" \
    "$test_target" webhookd hooklog-admin
fi
test_bin=$dir/$test_rel
[ -x "$test_bin" ] || { echo "soak: $test_bin not built" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export HOOKLOG_CRASH_CYCLES=$cycles HOOKLOG_CRASH_SEED=$seed
export HOOKLOG_CRASH_VERIFY_EVERY=${HOOKLOG_CRASH_VERIFY_EVERY:-25}
export HOOKLOG_CLUSTER_CYCLES=$cycles HOOKLOG_CLUSTER_SEED=$seed

log=$(mktemp)
own_pg=0
cleanup() {
  rm -f "$log"
  if [ "$own_pg" -eq 1 ]; then scripts/postgres.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if [ "$cluster" -eq 1 ] && [ -z "${HOOKLOG_TEST_POSTGRES:-}" ]; then
  eval "$(scripts/postgres.sh start)"
  own_pg=1
fi

echo "soak: $cycles kill cycles, seed $seed, tree $dir"
status=0
"$test_bin" --gtest_filter="$filter" 2>&1 | tee "$log" || status=$?
echo
grep -E "$summary" "$log" || echo "soak: no summary (the test stopped early)"
if [ "$status" -ne 0 ]; then
  echo "soak: FAILED (seed $seed; reproduce with: $0 $([ "$cluster" -eq 1 ] && echo "--cluster ")$cycles $seed)"
fi
exit "$status"
