#!/usr/bin/env bash
# Many concurrently active client connections: wrk -t2 with N connections (default 10,000), each
# sending requests back to back, through one gateway (one worker) to I demo instances (default
# 10: one service connection carries at most 1,024 requests at once, so 10,000 outstanding
# requests need 10 instances or get 503 for the excess). Reports requests/s, latency, errors,
# statuses, and the gateway's RSS before, during and at its peak.
#   bash load/active_bench.sh [--connections N] [--instances I] [--seconds S] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
n=10000
instances=10
seconds=20
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) n="$2"; shift 2 ;;
    --instances) instances="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--connections N] [--instances I] [--seconds S] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
need_nofile $((n + 200))
ensure_binary "$bin"
bin=$(realpath "$bin")
with_workdir
many_conns_config "$work/gw.yaml" "$n"
start_gateway "$bin" "$work/gw.yaml" "$work/gw.log"
for i in $(seq "$instances"); do
  "$bin" service demo --gateway "tcp://127.0.0.1:$tcp" --instance "active-$i" >"$work/svc$i.log" 2>&1 &
  extra_pids+=($!)
done
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http/health/ready" | grep -q "\"instances\":$instances," && break
  sleep 0.1
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
before=$(rss_kb "$gw")
url="http://127.0.0.1:$http/api/v1/demo/status/200"
(sleep $((seconds / 2)); rss_kb "$gw" > "$work/during") &
extra_pids+=($!)
echo "wrk -t2 -c$n -d${seconds}s --latency $url ($instances demo instances)"
wrk -t2 -c"$n" -d"${seconds}s" --latency "$url" | grep -E "requests in|Socket errors|Non-2xx|Requests/sec|^ +(50|90|99)%"
wait "${extra_pids[-1]}" 2>/dev/null || true
peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$gw/status")
echo "gateway RSS: before $((before / 1024)) MB, during $(($(cat "$work/during") / 1024)) MB, peak $((peak / 1024)) MB"
echo "statuses (gateway_requests_total):"
curl -s "http://127.0.0.1:$http/metrics" | grep '^gateway_requests_total' | grep -v 'path="/metrics"' |
  sed -E 's/.*status="([0-9]+)"\} (.*)/  \1: \2/'
