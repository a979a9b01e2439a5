#!/usr/bin/env bash
# Heap allocations per request, by process: the gateway (one worker) and the demo service,
# under wrk -c50 on GET /api/v1/demo/status/200 (the small request of docs/performance.md).
# Both processes run with tools/alloc_count (LD_PRELOAD: every malloc, calloc, realloc and
# aligned allocation counted; C++ operator new included); the counts are read after a warm-up
# and after the measured run, and divided by the requests wrk completed. --tls: the same over
# HTTPS (TLS 1.3, a dev certificate), OpenSSL's allocations included.
#   bash load/alloc_bench.sh [--seconds S] [--binary PATH] [--path PATH] [--tls]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=5
bin=build/release/cli/stella-gw
path=/api/v1/demo/status/200
tls=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    --path) path="$2"; shift 2 ;;
    --tls) tls=1; shift ;;
    *) echo "usage: $0 [--seconds S] [--binary PATH] [--path PATH] [--tls]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
bin=$(realpath "$bin")
with_workdir
cc -O2 -shared -fPIC -o "$work/alloc_count.so" tools/alloc_count/alloc_count.c
one_worker_config "$work/gw.yaml"
scheme=http
((tls)) && https_config "$bin" "$work/gw.yaml"
# The counter goes into the two stella-gw processes only (not into the helpers lib.sh runs).
cat > "$work/counted" <<SH
#!/bin/sh
case "\$1" in serve) f=gw ;; *) f=svc ;; esac
STELLA_ALLOC_COUNT_FILE="$work/\$f.count" LD_PRELOAD="$work/alloc_count.so" exec "$bin" "\$@"
SH
chmod +x "$work/counted"
start_gateway "$work/counted" "$work/gw.yaml" "$work/gw.log"
start_demo "$work/counted" alloc-1 "$work/svc.log"
count() { od -An -tu8 "$1" | tr -d ' '; }
url="$scheme://127.0.0.1:$http$path"
curl -skf -o /dev/null "$url" || { echo "the gateway does not answer $path" >&2; exit 1; }
wrk -t1 -c50 -d2s "$url" >/dev/null  # warm-up: connections, buffers, pools
gw0=$(count "$work/gw.count"); svc0=$(count "$work/svc.count")
out=$(wrk -t1 -c50 -d"${seconds}s" "$url")
gw1=$(count "$work/gw.count"); svc1=$(count "$work/svc.count")
requests=$(awk '/requests in/ {print $1}' <<<"$out")
non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
echo "wrk -t1 -c50 -d${seconds}s $path: $requests requests${non2xx:+ ($non2xx non-2xx)}"
awk -v r="$requests" -v g=$((gw1 - gw0)) -v s=$((svc1 - svc0)) 'BEGIN {
  printf "allocations per request: gateway %.1f, demo service %.1f\n", g / r, s / r }'
