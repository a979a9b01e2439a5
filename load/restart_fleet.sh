#!/usr/bin/env bash
# A gateway restart with a thousand service connections reconnecting at once (the seed's
# gateway-restart scenario on real processes): a fleet process (`stella-gw service fleet`,
# 50 services × 20 instances, each instance its own connection) registers with a gateway; the
# gateway is killed (SIGKILL) and started again on the same ports; the script reports how long
# until every instance is registered again and checks that every service answers.
#   bash load/restart_fleet.sh [--services S] [--instances I] [--binary PATH] [--limit SECONDS]
# Exits 1 when the fleet is not whole again within --limit (60 s) or a service does not answer.
set -euo pipefail
cd "$(dirname "$0")/.."
services=50
instances=20
limit=60
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --services) services="$2"; shift 2 ;;
    --instances) instances="$2"; shift 2 ;;
    --limit) limit="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--services S] [--instances I] [--binary PATH] [--limit SECONDS]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
all=$((services * instances))
with_workdir
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port); tcp_port=$(free_port)
cat > "$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: $tcp_port, maxConnections: $((all + 100)) } }
http: { host: 127.0.0.1, port: $http_port, workers: 1 }
health: { heartbeatIntervalSeconds: 5, heartbeatTimeoutSeconds: 15 }
YAML
instances_now() {
  curl -s -m 2 "http://127.0.0.1:$http_port/health/ready" | grep -o '"instances":[0-9]*' | head -1 | cut -d: -f2 || true
}
wait_whole() {  # prints the seconds it took, or fails after $limit
  local start=$(date +%s.%N)
  while :; do
    [[ "$(instances_now)" == "$all" ]] && { echo "$(date +%s.%N) - $start" | bc; return 0; }
    (( $(echo "$(date +%s.%N) - $start > $limit" | bc) )) && return 1
    sleep 0.1
  done
}
answering() {
  local ok=0 s name
  for s in $(seq "$services"); do
    name=$(printf 'svc%02d' "$s")
    curl -s -m 5 "http://127.0.0.1:$http_port/api/v1/$name/echo" | grep -q "\"instance\":\"$name-" && ok=$((ok + 1))
  done
  echo "$ok"
}
start_gateway "$bin" "$work/gw.yaml" "$work/gw-1.log"
"$bin" service fleet --gateway "tcp://127.0.0.1:$tcp_port" --services "$services" \
  --instances "$instances" >"$work/fleet.log" 2>&1 &
fleet=$!
extra_pids=("$fleet")
first=$(wait_whole) || { echo "FAILED: the fleet did not register within ${limit}s ($(instances_now) of $all)"; exit 1; }
echo "first start: all $all instances registered in ${first}s; services answering: $(answering) of $services"
gw_cpu_before=$(awk '{print $14 + $15}' "/proc/$gw/stat")
kill -9 "$gw"; wait "$gw" 2>/dev/null || true
start_gateway "$bin" "$work/gw.yaml" "$work/gw-2.log"
again=$(wait_whole) || { echo "FAILED: $(instances_now) of $all back within ${limit}s after the restart"; exit 1; }
cpu=$(awk '{print $14 + $15}' "/proc/$gw/stat")
hz=$(getconf CLK_TCK)
answered=$(answering)
echo "restart: all $all instances registered again in ${again}s (reconnect backoff up to 10 s, full jitter); gateway CPU meanwhile $(echo "scale=2; $cpu / $hz" | bc)s; services answering: $answered of $services"
echo "gateway RSS with $all service connections: $(awk '/VmRSS/ {print $2}' "/proc/$gw/status") KiB"
[[ "$answered" == "$services" ]] || { echo "FAILED: not every service answers"; exit 1; }
