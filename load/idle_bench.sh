#!/usr/bin/env bash
# Memory per idle keep-alive connection: the gateway's RSS (one worker) before and while N
# connections are held open, each after one answered request (load/idle_conns.py). Two kinds:
# a request the gateway answers itself (GET /health/live) and one forwarded to the demo service
# (GET /api/v1/demo/status/200), each against a fresh gateway; with --tls, the same two over
# HTTPS (TLS 1.3, a dev certificate) against a gateway with http.tls on.
#   bash load/idle_bench.sh [--connections N] [--binary PATH] [--tls]
set -euo pipefail
cd "$(dirname "$0")/.."
n=10000
bin=build/release/cli/stella-gw
tls=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) n="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    --tls) tls=1; shift ;;
    *) echo "usage: $0 [--connections N] [--binary PATH] [--tls]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
need_nofile $((n + 100))
ensure_binary "$bin"
bin=$(realpath "$bin")
with_workdir
many_conns_config "$work/gw.yaml" "$n"
scheme=http ca=()
if ((tls)); then
  https_config "$bin" "$work/gw.yaml"
  ca=("$work/certs/ca.pem")
fi
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
measure() {  # PATH
  start_gateway "$bin" "$work/gw.yaml" "$work/gw.log"
  start_demo "$bin" idle-1 "$work/svc.log"
  curl -sf ${ca[0]:+--cacert "${ca[0]}"} -o /dev/null "$scheme://127.0.0.1:$http$1" ||
    { echo "no answer on $1" >&2; exit 1; }
  local before after line
  before=$(rss_kb "$gw")
  # exec: the coprocess is python itself, so killing it closes the connections
  coproc holder { exec python3 load/idle_conns.py 127.0.0.1 "$http" "$1" "$n" "${ca[@]}"; }
  read -r line <&"${holder[0]}"
  sleep 1
  after=$(rss_kb "$gw")
  kill "$holder_PID" 2>/dev/null || true
  wait "$holder_PID" 2>/dev/null || true
  kill "$svc" "$gw"; wait "$svc" "$gw" 2>/dev/null || true
  local held=${line#held=}; held=${held%% *}
  awk -v p="$1" -v h="$held" -v b="$before" -v a="$after" -v l="$line" 'BEGIN {
    printf "%-28s %s; RSS %.1f MB -> %.1f MB: %.2f KiB per connection\n",
      p, l, b / 1024, a / 1024, (a - b) / (h > 0 ? h : 1) }'
}
measure /health/live
measure /api/v1/demo/status/200
