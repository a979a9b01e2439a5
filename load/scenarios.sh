#!/usr/bin/env bash
# The seed's load scenarios A–G without k6: bash load/scenarios.sh [--only C] [--quick]
# [--binary PATH] [--curve [--compare]] [--workers N] [--out DIR] [--timing-advisory].
# Builds the release binary when no --binary is given and it is missing; load/scenarios.py does
# the rest (its header says what).
set -euo pipefail
cd "$(dirname "$0")/.."
source load/lib.sh
bin=
args=()
while (($#)); do
  case $1 in
    --binary)
      (($# >= 2)) || { echo "load/scenarios.sh: --binary needs a path" >&2; exit 2; }
      bin=$2; shift 2 ;;
    --binary=*) bin=${1#--binary=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -z $bin ]]; then
  bin=build/release/cli/stella-gw
  ensure_binary "$bin"
elif [[ ! -x $bin ]]; then
  echo "load/scenarios.sh: --binary '$bin' is not an executable" >&2
  exit 2
fi
exec python3 load/scenarios.py --binary "$bin" "${args[@]}"
