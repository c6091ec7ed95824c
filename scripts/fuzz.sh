#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang + ASan + UBSan) in ./build-fuzz
# and runs each for a bounded time on a scratch copy of its seed corpus, so
# the committed corpus never grows by itself (docs/fuzzing.md).
#   scripts/fuzz.sh [seconds-per-target] [target...]   # default 300, all
# Prints one line per target (runs, exec/s, result) and exits non-zero when
# any target crashed or broke an invariant; the line names the crash file
# (kept under build-fuzz/artifacts/<target>/) to replay with
#   build-fuzz/fuzz/fuzz_<target> <crash file>
# and to copy into tests/regress/cases/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
[ $# -gt 0 ] && shift
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [seconds-per-target] [target...]" >&2; exit 2 ;;
esac

bash scripts/setup.sh

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fi
# The library and everything else get coverage instrumentation
# (fuzzer-no-link) with ASan+UBSan (HOOKLOG_SANITIZE=address, UBSan not
# recoverable so that it aborts); fuzz/CMakeLists.txt links libFuzzer's main
# into the targets only. Not -Werror: clang's warnings are reported, not
# fatal, here; the gcc builds hold the line.
build_start=$(date +%s)
cmake -S . -B build-fuzz -G Ninja "${launcher[@]}" \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="-O1 -fsanitize=fuzzer-no-link" \
  -DHOOKLOG_SANITIZE=address \
  -DHOOKLOG_BUILD_FUZZERS=ON \
  -DHOOKLOG_BUILD_TESTS=OFF -DHOOKLOG_BUILD_BENCH=OFF \
  -DHOOKLOG_BUILD_EXAMPLES=ON >/dev/null
ninja -C build-fuzz -j "${HOOKLOG_JOBS:-2}" fuzzers
echo "fuzz: build took $(($(date +%s) - build_start)) s"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "fuzz: $t: no executable $bin" >&2
    failed=1
    continue
  fi
  corpus=$scratch/$t
  artifacts=$PWD/build-fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/corpus/"$t"/* "$corpus"/
  extra=()
  [ -f fuzz/dict/"$t".dict ] && extra+=(-dict=fuzz/dict/"$t".dict)
  # The engine's threads allocate after an input returns, so libFuzzer's
  # per-input leak check (a full LeakSanitizer scan whenever mallocs and
  # frees differ) would run on nearly every input and cut the speed by
  # half; leaks are still checked once at exit.
  [ "$t" = webhookd_api ] && extra+=(-detect_leaks=0)
  log=$scratch/$t.log
  rc=0
  "$bin" "$corpus" "${extra[@]}" -max_total_time="$seconds" -timeout=60 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t: ok, ${runs:-?} runs, ${speed:-?} exec/s"
  else
    failed=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz: $t: FAILED (exit $rc), ${runs:-?} runs; crash file: ${crash:-none}"
    # The report itself: the invariant or the sanitizer's summary.
    grep -E 'fuzz: invariant violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' \
      "$log" | head -5 | sed 's/^/    /'
    cp "$log" "$artifacts/last.log"
    echo "    full log: $artifacts/last.log"
  fi
done
exit "$failed"
