#!/usr/bin/env bash
# What rate limiting costs when limits are not reached (docs/performance.md, "Rate limiting"):
# one gateway worker and the demo service, wrk -t1 -c50 on /api/v1/demo/echo, three gateways
# in turn, each measured --rounds times interleaved:
#   off          no rate_limiting block
#   instance     two instance rules far above the load (every request checked and counted)
#   environment  the same plus one environment rule in a real redis-server on loopback, the
#                activation gate at 0 (every request asks Redis)
#   bash load/ratelimit_bench.sh [--seconds S] [--rounds N] [--binary PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
rounds=2
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--rounds N] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
base="transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1 }
telemetry: { logging: { requests: false } }"
instance="
rate_limiting:
  key_by: ip
  for_instance:
    rules: [{max_requests: 100000000, per_seconds: 1}, {max_requests: 1000000000, per_seconds: 60}]"
environment="$instance
  process_back_pressure_when_more_than_per_5min: 0
  for_environment:
    valkey_connection: \"127.0.0.1:$redis_port\"
    check_timeout: 50ms
    rules: [{max_requests: 1000000000, per_seconds: 60}]"
printf '%s\n' "$base" > "$work/off.yaml"
printf '%s\n%s\n' "$base" "$instance" > "$work/instance.yaml"
printf '%s\n%s\n' "$base" "$environment" > "$work/environment.yaml"
start() {  # name → gw, svc, http
  start_gateway "$bin" "$work/$1.yaml" "$work/$1.log"
  start_demo "$bin" "bench-$1" "$work/$1.svc.log"
}
echo "| round | gateway | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for round in $(seq "$rounds"); do
  for name in off instance environment; do
    start "$name"
    wrk -t1 -c50 -d2s "http://127.0.0.1:$http/api/v1/demo/echo" >/dev/null  # warm-up
    out=$(wrk -t1 -c50 -d"${seconds}s" --latency "http://127.0.0.1:$http/api/v1/demo/echo")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "| $round | $name | $rps | $p50 | $p99 | ${bad:-0} |"
    kill "$svc" "$gw" 2>/dev/null || true
    wait "$svc" "$gw" 2>/dev/null || true
  done
done
echo
echo "machine: $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"
