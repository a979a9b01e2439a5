#!/usr/bin/env bash
# The training run of a profile-guided build (scripts/build-pgo.sh): the side-by-side
# benchmark's own workloads (load/run.sh) against a binary built with -fprofile-generate, so
# that its profile counts the paths those workloads take. One gateway (one worker) and one demo
# service, both the given binary (the SDK is profiled too): the echo at 50 and 1,000
# connections, new connections, a health probe, then HTTPS keep-alive and new HTTPS
# connections. Each process writes its counts when it exits, so both are stopped with SIGTERM
# and waited for. Fails when a wrk run completes no request or gets an answer other than 2xx.
# Last, five virtual seconds of the simulator's soak benchmark (sim/bench/soak-1000.yaml), which
# runs the same selection, sessions and codec in one process; it fails if the simulation does.
#   bash load/pgo_train.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 1 && -x "$1" ]] || { echo "usage: $0 BINARY (built with -fprofile-generate)" >&2; exit 2; }
bin=$(realpath "$1")
source load/lib.sh
with_workdir

train() {
  local out requests
  out=$(wrk "$@")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  if ((${requests:-0} == 0)) || grep -q "Non-2xx" <<<"$out"; then
    echo "pgo training: wrk $* failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "pgo training: wrk $*: $requests requests"
}
stop() {
  kill -TERM "$gw" "$svc"
  wait "$gw" "$svc" || true
}

one_worker_config "$work/gw.yaml"
start_gateway "$bin" "$work/gw.yaml" "$work/gw.log"
start_demo "$bin" pgo-1 "$work/svc.log"
url="http://127.0.0.1:$http/api/v1/demo/echo"
train -t1 -c50 -d8s "$url"
train -t2 -c1000 -d5s "$url"
train -t1 -c20 -d4s -H 'Connection: close' "$url"
train -t1 -c10 -d2s "http://127.0.0.1:$http/health/live"
stop

https_config "$bin" "$work/gw.yaml"
start_gateway "$bin" "$work/gw.yaml" "$work/gw-tls.log"
start_demo "$bin" pgo-2 "$work/svc-tls.log"
url="https://127.0.0.1:$http/api/v1/demo/echo"
train -t1 -c50 -d5s "$url"
train -t1 -c20 -d3s -H 'Connection: close' "$url"
stop

"$bin" sim --topology sim/bench/soak-1000.yaml --seed 1 --duration 5s >"$work/sim.txt" ||
  { echo "pgo training: the simulation failed:" >&2; cat "$work/sim.txt" >&2; exit 1; }
echo "pgo training: sim soak-1000, 5 s virtual"
