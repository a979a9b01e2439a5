#!/usr/bin/env bash
# Pipelined requests forwarded concurrently against one at a time: the same gateway binary with
# http.maxPipelinedRequests 16 (the default) and 1, wrk sending DEPTH GETs per write on each
# connection (load/pipeline.lua). Two paths through one demo service: /slow/10 (the service
# takes 10 ms: concurrency is what counts) and /status/200 (no wait: the cost of the machinery).
# Prints requests/s and the gateway's CPU time per request (not latency: wrk times a pipelined
# batch, not each request in it, so its percentiles mean nothing here).
#   bash load/pipeline_bench.sh [--seconds S] [--depth N] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
depth=16
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --depth) depth="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--depth N] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
with_workdir
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| maxPipelinedRequests | path | connections × depth | req/s | gateway CPU µs/request |"
echo "|---|---|---|---|---|"
for max in 16 1; do
  cat >"$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1, maxPipelinedRequests: $max }
YAML
  start_gateway "$bin" "$work/gw.yaml" "$work/gw-$max.log"
  start_demo "$bin" p-$max "$work/svc-$max.log"
  for run in "/api/v1/demo/slow/10 4" "/api/v1/demo/status/200 50"; do
    read -r path conns <<<"$run"
    url="http://127.0.0.1:$http$path"
    wrk -t1 -c"$conns" -d2s -s load/pipeline.lua "$url" -- "$depth" >/dev/null  # warm-up
    wrk_cpu "$gw" -t1 -c"$conns" -d"${seconds}s" -s load/pipeline.lua "$url" -- "$depth"
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$wrk_out")
    [[ -z "$errors" ]] || { echo "errors at maxPipelinedRequests $max, $path: $errors" >&2; exit 1; }
    echo "| $max | $path | $conns × $depth | $rps | $cpu_us |"
  done
  kill "$svc" "$gw"; wait "$svc" "$gw" 2>/dev/null || true
  svc=; gw=
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
