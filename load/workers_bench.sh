#!/usr/bin/env bash
# One gateway worker against two, on this machine: the same small request through stella-gw
# with http.workers 1 and 2 (one demo service, which connects once: its link lives on worker 0,
# so with two workers half the requests hop to worker 0 and back), wrk -t1 at 50 and 200
# connections; requests/s, latency and the gateway's CPU time per request.
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
echo "| workers | connections | req/s | p50 ms | p99 ms | gateway CPU µs/request |"
echo "|---|---|---|---|---|---|"
for workers in 1 2; do
  cat > "$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: $workers }
YAML
  start_gateway "$bin" "$work/gw.yaml" "$work/gw-$workers.log"
  start_demo "$bin" w-$workers "$work/svc-$workers.log"
  url="http://127.0.0.1:$http/api/v1/demo/status/200"
  wrk -t1 -c50 -d2s "$url" >/dev/null  # warm-up
  for c in 50 200; do
    wrk_cpu "$gw" -t1 -c"$c" -d"${seconds}s" --latency "$url"
    p50=$(awk '$1 == "50%" {print $2}' <<<"$wrk_out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$wrk_out")
    echo "| $workers | $c | $rps | $p50 | $p99 | $cpu_us |"
  done
  kill "$svc" "$gw"; wait "$svc" "$gw" 2>/dev/null || true
  svc=; gw=
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
