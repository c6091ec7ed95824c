#!/usr/bin/env bash
# Installs every Debian 12 package hooklog needs to build, test, benchmark
# and run its demo. Idempotent: does nothing when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git python3 curl
  clang clang-format libclang-rt-14-dev
  libboost-dev libboost-system-dev
  librocksdb-dev libsimdjson-dev libcurl4-openssl-dev libssl-dev openssl
  libsqlite3-dev libjemalloc-dev
  libpq-dev postgresql-15
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk nghttp2-server ca-certificates
  chromium
  redis-server
)

# chromium: the portal's browser tests (tests/portal, through playwright-core;
# never a browser download). Node.js and npm (the peer benchmark, the
# portal's bundle): Debian's packages
# unless the machine already has node and npm (an image may ship a newer
# nodejs that bundles npm, which Debian's npm package would conflict with).
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
