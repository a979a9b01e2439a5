#!/usr/bin/env bash
# The seed's load scenarios A–G without k6: bash load/scenarios.sh [--only C] [--quick]
# [--binary PATH] [--curve] [--workers N] [--out DIR]. Builds the release binary when none is
# given and it is missing; load/scenarios.py does the rest (its header says what).
set -euo pipefail
cd "$(dirname "$0")/.."
source load/lib.sh
bin=build/release/cli/stella-gw
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ ${args[i]} == --binary ]]; then bin=${args[i + 1]}; fi
done
ensure_binary "$bin"
exec python3 load/scenarios.py --binary "$bin" "$@"
