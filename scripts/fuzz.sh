#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan) and runs each for a bounded time on a
# scratch copy of its committed corpus. A finding (crash, leak, invariant) fails the script and
# leaves the reproducer in build/fuzz/findings/<target>/.
# Usage: scripts/fuzz.sh [seconds-per-target]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache: rewrite paths relative to the checkout and leave the directory out of the hash, so a
# fresh clone in another folder reuses what an earlier build on this machine compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
seconds=${1:-30}

bash scripts/setup.sh
cmake --preset fuzz >/dev/null
targets=()
for src in fuzz/*_fuzz.cpp; do targets+=("$(basename "$src" .cpp)"); done
cmake --build --preset fuzz --target "${targets[@]}"

status=0
for src in fuzz/*_fuzz.cpp; do
  target=$(basename "$src" .cpp)
  name=${target%_fuzz}
  work=build/fuzz/work/$name
  findings=build/fuzz/findings/$name
  rm -rf "$work" && mkdir -p "$work" "$findings"
  cp -r "fuzz/corpus/$name/." "$work/"
  dict=()
  [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
  echo "== fuzz $name for ${seconds}s"
  if ! "build/fuzz/fuzz/$target" "$work" "${dict[@]}" -max_total_time="$seconds" \
      -max_len=8192 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" \
      -print_final_stats=1 2> "build/fuzz/$name.log"; then
    echo "!! $name: finding; see build/fuzz/$name.log and $findings/"
    tail -n 40 "build/fuzz/$name.log"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "build/fuzz/$name.log" || true
  fi
done
exit $status
