#!/usr/bin/env bash
# A client uploads a large body through the gateway to a service that reads it slowly (the
# demo's sink at ?rate=): the service must count every byte, the gateway's and the service's RSS
# stay flat (the service's CREDIT paces the gateway, which stops reading the client;
# docs/protocol.md §8.2), and small requests to the same instance meanwhile are all answered.
#   bash load/slow_upload.sh [--bytes N] [--rate BYTES_PER_S] [--binary PATH]
# Defaults: 1 GiB at 10 MiB/s (chunked, curl -T -), build/release/cli/stella-gw (built when
# missing). Prints RSS before / peak for both processes and the small requests' statuses; exits 1
# when the upload is incomplete or a small request was not answered 200.
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=1073741824
rate=10485760
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bytes) bytes="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--bytes N] [--rate BYTES_PER_S] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
with_workdir
cat > "$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1, bodyTimeout: 1m }
routing: { defaultTimeout: 1m, maxRequestBodySize: 100GB }
YAML
start_gateway "$bin" "$work/gw.yaml" "$work/gw.log"
start_demo "$bin" sink-1 "$work/svc.log"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
gw_before=$(rss "$gw"); gw_peak=$gw_before
svc_before=$(rss "$svc"); svc_peak=$svc_before
head -c "$bytes" /dev/zero |
  curl -s -T - -X POST -H 'Content-Type: application/octet-stream' -o "$work/out" \
    -w '%{http_code} %{size_upload} %{time_total}\n' \
    "http://127.0.0.1:$http/api/v1/demo/sink?rate=$rate" >"$work/curl.out" &
cpid=$!
ok=0; other=0
while kill -0 "$cpid" 2>/dev/null; do
  r=$(rss "$gw"); (( r > gw_peak )) && gw_peak=$r
  r=$(rss "$svc"); (( r > svc_peak )) && svc_peak=$r
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$http/api/v1/demo/echo") || true
  if [[ "$code" == 200 ]]; then ok=$((ok + 1)); else other=$((other + 1)); fi
  sleep 0.5
done
wait "$cpid" || true
read -r code sent secs <"$work/curl.out"
counted=$(grep -o '"bytes":[0-9]*' "$work/out" | cut -d: -f2 || true)
echo "upload: status $code, $sent bytes sent in ${secs}s; the sink counted ${counted:-none} of $bytes (rate $rate B/s)"
echo "gateway RSS: before ${gw_before} KiB, peak ${gw_peak} KiB, growth $((gw_peak - gw_before)) KiB"
echo "service RSS: before ${svc_before} KiB, peak ${svc_peak} KiB, growth $((svc_peak - svc_before)) KiB"
echo "small requests to the same instance during the upload: $ok × 200, $other other"
[[ "$code" == 200 && "${counted:-}" == "$bytes" && "$other" == 0 ]] ||
  { echo "FAILED"; tail -5 "$work/gw.log"; exit 1; }
