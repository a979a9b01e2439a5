#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test stella-gw. Idempotent: packages
# already present are not touched, and apt is not called at all when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev clang-format
  libboost1.81-dev libboost-url1.81-dev libssl-dev
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev prometheus-cpp-dev
  # the Redis/Valkey client (DPoP replay cache, rate limiting) and the real server its tests use
  libhiredis-dev redis-server
  # tests: tokens and DPoP proofs from an independent JOSE implementation
  python3-jwcrypto
  # the tsan preset (ThreadSanitizer runtime; normally pulled in by g++ already)
  libtsan2
  # tests: promtool (metrics format, alert rules)
  prometheus
  # tests: /openapi.yaml read back by a second YAML reader; /docs loaded in headless Chromium
  python3-yaml chromium
  # scripts/coverage.sh: line and branch coverage per folder
  gcovr
  # load/run.sh: the side-by-side HTTP benchmark (peers, load generators, profilers)
  nginx-light haproxy wrk nghttp2-client curl python3 linux-perf strace
  # load/instr_bench.sh: the gateway's instructions per request (callgrind)
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm (Swagger UI for /docs, the OpenAPI validator the tests run): any install will
# do (Debian's packages when there is none).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The npm packages of tools/openapi (versions pinned by its package-lock.json): Swagger UI's
# distribution files, served from disk at /docs (openapi.ui.assetsDir), and the validator.
# Installed again only when the lock file changed. No install scripts run.
tools="$(dirname "$0")/../tools/openapi"
stamp="$tools/node_modules/.stella-lock"
if ! cmp -s "$tools/package-lock.json" "$stamp" 2>/dev/null; then
  echo "setup: npm ci in tools/openapi"
  (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$tools/package-lock.json" "$stamp"
fi
