#!/usr/bin/env bash
# The whole test suite, as CI runs it (README Quick start, second command):
#   1. installs what is missing (scripts/setup.sh), and checks that every
#      combination of the HOOKLOG_BUILD_* options configures;
#   2. builds everything with ASan+UBSan and warnings as errors, and runs
#      every test (ctest), including the examples and the consumer build;
#   3. builds the concurrent parts (engine, storage, transport) with TSan and
#      runs their tests;
#   4. runs each benchmark and the load tool for a moment (from the ASan
#      tree), so that benchmarks never rot;
#   5. builds the libFuzzer targets with clang and runs each for 20 s
#      (scripts/fuzz.sh; longer runs: scripts/fuzz.sh 300).
# The ASan ctest run includes the PostgreSQL adapter's suite against a real
# PostgreSQL 15 (scripts/postgres.sh starts a throw-away cluster), the
# reliability suite (tests/reliability: the
# webhookd crash loop, 40 SIGKILL cycles), the fault matrix, disk faults
# (a real full tmpfs; needs root, as in CI) and the fuzz regression cases.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"

echo "== Every HOOKLOG_BUILD_* combination configures"
scripts/check_build_options.sh build-options

echo "== ASan+UBSan build and full test suite"
scripts/build.sh asan
log=$(mktemp)
# A throw-away PostgreSQL 15 cluster for the PostgreSQL adapter's tests
# (with CI=true they fail rather than skip without one).
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop >/dev/null 2>&1 || true; rm -f "$log"' EXIT
ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 | tee "$log"

echo "== TSan: engine, storage and transport tests"
scripts/build.sh tsan build.ninja
tsan_targets=$(ninja -C build-tsan -t targets all |
  sed -nE 's/^((engine|storage|transport)[a-z_]*_test): .*/\1/p' | sort -u)
scripts/build.sh tsan $tsan_targets
ctest --test-dir build-tsan --output-on-failure -j2 --timeout 600 \
  -L "^($(echo $tsan_targets | tr ' ' '|'))$" | tee -a "$log"

echo "== Benchmark smoke run (seconds each, ASan build: they must not rot)"
export HOOKLOG_FAIRNESS_N=300 HOOKLOG_BENCH_DELIVERIES=2000 HOOKLOG_BENCH_RESTART_EVENTS=2000
for b in build-asan/bench/bench_* build-asan/bench/transport/bench_*; do
  [ -x "$b" ] || continue
  echo "-- $b"
  "$b" --benchmark_min_time=0.01 >/dev/null
done
build-asan/tools/hooklog-load --scenario throughput --events 2000 --smoke --json | tail -n 1

echo "== Fuzzing: every target for 20 s (clang, libFuzzer, ASan+UBSan)"
scripts/fuzz.sh 20
# ctest exits non-zero on any failure (set -o pipefail), so reaching this
# line means every test passed; sum what ran under both sanitizers.
total=$(( $(sed -nE 's/.*tests passed, [0-9]+ tests failed out of ([0-9]+)/\1/p' "$log" |
  paste -sd+) ))
echo "tests: ${total} passed, 0 failed"
