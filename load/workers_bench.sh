#!/usr/bin/env bash
# One gateway worker against two, on this machine: the same small request through stella-gw
# with http.workers 1 and 2, wrk -t1 at 50 and 200 connections; requests/s, latency and the
# gateway's CPU time per request. With two workers twice: the demo service connected once (its
# link lands on one worker, so requests read by the other hop to it and back) and connected
# once per worker (`--connections 2`: every request is sent on its own worker).
#   bash load/workers_bench.sh [--seconds S] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
with_workdir
echo "| workers | service connections | client connections | req/s | p50 ms | p99 ms | gateway CPU µs/request |"
echo "|---|---|---|---|---|---|---|"
for run in "1 1" "2 1" "2 2"; do
  read -r workers links <<<"$run"
  cat > "$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: $workers }
YAML
  start_gateway "$bin" "$work/gw.yaml" "$work/gw-$workers-$links.log"
  start_demo "$bin" w-$workers "$work/svc-$workers-$links.log" "$links"
  url="http://127.0.0.1:$http/api/v1/demo/status/200"
  wrk -t1 -c50 -d2s "$url" >/dev/null  # warm-up
  for c in 50 200; do
    wrk_cpu "$gw" -t1 -c"$c" -d"${seconds}s" --latency "$url"
    p50=$(awk '$1 == "50%" {print $2}' <<<"$wrk_out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$wrk_out")
    echo "| $workers | $links | $c | $rps | $p50 | $p99 | $cpu_us |"
  done
  kill "$svc" "$gw"; wait "$svc" "$gw" 2>/dev/null || true
  svc=; gw=
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
