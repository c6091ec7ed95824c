#!/usr/bin/env bash
# Proves that every HOOKLOG_BUILD_* option works on its own and in any
# combination: configures all 32 combinations of TESTS, BENCH, WEBHOOKD,
# TOOLS and EXAMPLES (one scratch build tree, reconfigured each time so the
# compiler checks run once); with --build, also builds the library alone
# with everything off (CI only configures: the sanitizer builds compile every
# target already).
#   scripts/check_build_options.sh [--build] [scratch-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=false
if [ "${1:-}" = "--build" ]; then build=true; shift; fi
dir=${1:-build-options}
options=(TESTS BENCH WEBHOOKD TOOLS EXAMPLES)
n=${#options[@]}
for ((mask = 0; mask < (1 << n); mask++)); do
  flags=()
  label=""
  for ((i = 0; i < n; i++)); do
    if (((mask >> i) & 1)); then v=ON; label+="${options[i]} "; else v=OFF; fi
    flags+=("-DHOOKLOG_BUILD_${options[i]}=$v")
  done
  if ! out=$(cmake -S . -B "$dir" -G Ninja "${flags[@]}" 2>&1); then
    echo "check_build_options: configure failed with ON: ${label:-none}" >&2
    echo "$out" >&2
    exit 1
  fi
done
echo "check_build_options: all $((1 << n)) combinations configure"
$build || exit 0
# Everything off: the library alone still builds.
cmake -S . -B "$dir" -G Ninja -DHOOKLOG_BUILD_TESTS=OFF -DHOOKLOG_BUILD_BENCH=OFF \
  -DHOOKLOG_BUILD_WEBHOOKD=OFF -DHOOKLOG_BUILD_TOOLS=OFF \
  -DHOOKLOG_BUILD_EXAMPLES=OFF >/dev/null
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fi
ninja -C "$dir" -j "${HOOKLOG_JOBS:-$(nproc)}" >/dev/null
echo "check_build_options: the library builds with every option off"
