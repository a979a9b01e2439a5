#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test: the debug build (ASan + UBSan) runs the whole
# ctest suite (unit, property, CLI, and fuzz-corpus replay); the release build must compile
# warning-free and its benchmarks run once as a smoke check (no timing is asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache: rewrite paths relative to the checkout and leave the directory out of the hash, so a
# fresh clone in another folder reuses what an earlier build on this machine compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

bash scripts/setup.sh

echo "== debug (ASan + UBSan): build"
cmake --preset debug >/dev/null
cmake --build --preset debug
echo "== debug: ctest"
ctest --preset debug

echo "== release: build (the binary and the benchmarks; the tests ran in the debug build)"
cmake --preset release >/dev/null
cmake --build --preset release --target stella-gw stella_bench stella_roundtrip
echo "== release: benchmark smoke run"
./build/release/bench/stella_bench --benchmark_min_time=0.01 >/dev/null
echo "== all tests passed"
