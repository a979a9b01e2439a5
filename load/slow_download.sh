#!/usr/bin/env bash
# A slow client downloads a large body through the gateway: the body must arrive complete and
# the gateway's RSS stay flat (flow control pauses the service; docs/protocol.md §8.2).
#   bash load/slow_download.sh [--bytes N] [--rate R] [--binary PATH]
# Defaults: 1 GiB at curl --limit-rate 10M, build/release/cli/stella-gw (built when missing).
# Prints the gateway's RSS before, its peak during the download, and the growth; exits 1 when
# the download is incomplete.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=1073741824
rate=10M
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bytes) bytes="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--bytes N] [--rate R] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
with_workdir
cat > "$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1 }
routing: { defaultTimeout: 1h }
YAML
start_gateway "$bin" "$work/gw.yaml" "$work/gw.log"
start_demo "$bin" bulk-1 "$work/svc.log"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss "$gw")
peak=$before
curl -s --limit-rate "$rate" -o "$work/out" -w '%{http_code} %{size_download} %{time_total}\n' \
  "http://127.0.0.1:$http/api/v1/demo/bytes/$bytes" >"$work/curl.out" &
cpid=$!
while kill -0 "$cpid" 2>/dev/null; do
  r=$(rss "$gw"); (( r > peak )) && peak=$r
  sleep 0.5
done
wait "$cpid" || true
read -r code got secs <"$work/curl.out"
echo "download: status $code, $got of $bytes bytes in ${secs}s (curl --limit-rate $rate)"
echo "gateway RSS: before ${before} KiB, peak ${peak} KiB, growth $((peak - before)) KiB"
echo "service RSS at the end: $(rss "$svc") KiB"
[[ "$code" == 200 && "$got" == "$bytes" ]] || { echo "INCOMPLETE"; tail -5 "$work/gw.log"; exit 1; }
