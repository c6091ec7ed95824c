#!/usr/bin/env bash
# Configures and builds hooklog.
#   scripts/build.sh                 # optimized build in ./build
#   scripts/build.sh asan            # ASan+UBSan build in ./build-asan
#   scripts/build.sh tsan [targets]  # TSan build in ./build-tsan
# Extra arguments are ninja targets (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-release}
[ $# -gt 0 ] && shift
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DHOOKLOG_SANITIZE=address -DCMAKE_CXX_FLAGS=-O1 -DHOOKLOG_KILL_POINTS=ON) ;;
  tsan) dir=build-tsan; flags=(-DCMAKE_BUILD_TYPE=Debug -DHOOKLOG_SANITIZE=thread -DCMAKE_CXX_FLAGS=-O1 -DHOOKLOG_BUILD_BENCH=OFF -DHOOKLOG_KILL_POINTS=ON) ;;
  *) echo "usage: $0 [release|asan|tsan] [ninja targets...]" >&2; exit 2 ;;
esac

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Let clones in other folders (CI) share the cache.
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fi
cmake -S . -B "$dir" -G Ninja -DHOOKLOG_WERROR=ON "${launcher[@]}" "${flags[@]}" >/dev/null
ninja -C "$dir" -j "${HOOKLOG_JOBS:-$(nproc)}" "$@"
