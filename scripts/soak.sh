#!/usr/bin/env bash
# The crash loop (tests/reliability/crash_loop_test.cc, docs/reliability.md)
# with many more kill cycles than CI runs.
#   scripts/soak.sh [cycles] [seed]    # default: 300 cycles, a random seed
# Environment:
#   SOAK_BUILD=asan|release  which tree to build and run (default asan: the
#                            kill points are compiled in, sanitizers on;
#                            release has no kill points: random SIGKILLs only)
#   BUILD_DIR=DIR            run an already built tree as is (no build)
#   HOOKLOG_CRASH_RATE       events published per second (default 40)
#   HOOKLOG_CRASH_VERIFY_EVERY  hooklog-admin verify every N kills (default 25)
#   HOOKLOG_CRASH_KEEP_DIR=1 keep the data directory for inspection
# Prints the seed first and the summary line last; exits non-zero when a
# check fails. Re-run a failing seed with: scripts/soak.sh <cycles> <seed>.
set -euo pipefail
cd "$(dirname "$0")/.."

cycles=${1:-300}
seed=${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
kind=${SOAK_BUILD:-asan}

if [ -n "${BUILD_DIR:-}" ]; then
  dir=$BUILD_DIR
else
  case "$kind" in
    asan) dir=build-asan ;;
    release) dir=build ;;
    *) echo "usage: SOAK_BUILD=asan|release $0 [cycles] [seed]" >&2; exit 2 ;;
  esac
  HOOKLOG_JOBS=${HOOKLOG_JOBS:-2} scripts/build.sh "$kind" \
    reliability_test webhookd hooklog-admin
fi
test_bin=$dir/tests/reliability/reliability_test
[ -x "$test_bin" ] || { echo "soak: $test_bin not built" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export HOOKLOG_CRASH_CYCLES=$cycles HOOKLOG_CRASH_SEED=$seed
export HOOKLOG_CRASH_VERIFY_EVERY=${HOOKLOG_CRASH_VERIFY_EVERY:-25}

echo "soak: $cycles kill cycles, seed $seed, tree $dir"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$test_bin" --gtest_filter='CrashLoop.*' 2>&1 | tee "$log" || status=$?
echo
grep -E '^crash loop summary' "$log" || echo "soak: no summary (the test stopped early)"
if [ "$status" -ne 0 ]; then
  echo "soak: FAILED (seed $seed; reproduce with: $0 $cycles $seed)"
fi
exit "$status"
