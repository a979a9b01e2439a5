#!/usr/bin/env bash
# A release build of stella-gw optimised with GCC's profile-guided optimisation:
# build/pgo/cli/stella-gw. Three steps: build with -fprofile-generate, run the side-by-side
# benchmark's workloads against it (load/pgo_train.sh), build again with -fprofile-use. About
# twelve minutes on two cores. docs/performance.md ("Profile-guided build") has what it changes;
# the release preset (build/release) stays the plain -O3 build.
#   bash scripts/build-pgo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true  # as scripts/test.sh
bash scripts/setup.sh
dir=build/pgo
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DSTELLA_BUILD_TESTS=OFF
        -DSTELLA_BUILD_BENCH=OFF)
# Counts from an earlier training would be merged into the new ones: start from none.
if [[ -d "$dir" ]]; then find "$dir" -name '*.gcda' -delete; fi
echo "== pgo: instrumented build"
cmake -S . -B "$dir" "${common[@]}" -DCMAKE_CXX_FLAGS="-fprofile-generate -fprofile-update=atomic" \
  -DCMAKE_EXE_LINKER_FLAGS=-fprofile-generate >/dev/null
cmake --build "$dir" -j2 --target stella-gw
echo "== pgo: training (load/pgo_train.sh)"
bash load/pgo_train.sh "$dir/cli/stella-gw"
echo "== pgo: optimised build"
# -fprofile-partial-training: code the training did not reach is optimised as usual, not for size.
cmake -S . -B "$dir" "${common[@]}" \
  -DCMAKE_CXX_FLAGS="-fprofile-use -fprofile-partial-training -Wno-missing-profile" \
  -DCMAKE_EXE_LINKER_FLAGS= >/dev/null
cmake --build "$dir" -j2 --target stella-gw
echo "pgo: $dir/cli/stella-gw"
