#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test: the debug build (ASan + UBSan) runs the whole
# ctest suite (unit, property, CLI, and fuzz-corpus replay); a ThreadSanitizer build runs the
# end-to-end and transport suites; 50,000 requests go through the real binary while services
# are killed, stopped and drained, and every answer must belong to its request; the release
# build must compile warning-free and its benchmarks run once as a smoke check, and the load
# scenarios A–G run a few seconds each against it (no timing is asserted); the profile-guided
# build (scripts/build-pgo.sh) must build and its training run answer every request.
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

echo "== tsan: the real binary and the transports under ThreadSanitizer (workers, transport executor)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target stella-gw e2e_tests transport_tests
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan

echo "== no cross-talk under faults: 50,000 requests through the debug binary (load/crosstalk.py)"
python3 load/crosstalk.py --requests 50000 --binary build/debug/cli/stella-gw

echo "== release: build (the binary and the benchmarks; the tests ran in the debug build)"
cmake --preset release >/dev/null
cmake --build --preset release --target stella-gw stella_bench stella_roundtrip
echo "== release: benchmark smoke run"
./build/release/bench/stella_bench --benchmark_min_time=0.01 >/dev/null
echo "== load scenarios A–G, a few seconds each, on the release binary (load/scenarios.sh --quick)"
# Every scenario must run end to end and meet every threshold on statuses and content (the
# rate-limit count, Retry-After, no 503, descriptors back). Latency and memory-growth misses are
# printed but do not fail: on a shared 2-core CI machine a few seconds' timing is the machine's.
bash load/scenarios.sh --quick --timing-advisory --binary build/release/cli/stella-gw \
  --out build/scenarios/ci
echo "== a gateway restart with 1,000 service connections reconnecting (load/restart_fleet.sh)"
bash load/restart_fleet.sh --binary build/release/cli/stella-gw
echo "== the profile-guided build (scripts/build-pgo.sh): its training run must get only 2xx"
bash scripts/build-pgo.sh
echo "== all tests passed"
