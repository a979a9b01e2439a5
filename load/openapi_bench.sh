#!/usr/bin/env bash
# The seed's scenario B shape (50 concurrent readers of the aggregated document) against the
# release binary, with nginx serving the same bytes as a static file beside it (1 worker each):
#
#   bash load/openapi_bench.sh [--binary PATH] [--services N] [--seconds S]
#
# Starts a gateway (openapi.cacheTtlSeconds 300, one worker), the demo service and N-1 more demo
# services under their own path prefixes (so the document has N services' operations and
# schemas), then:
#   1. the build time: the first GET /openapi.json after the services registered (it builds);
#   2. wrk -t1 -c50 on /openapi.json, on /openapi.yaml, and on nginx serving the same JSON file;
#   3. the gateway's CPU per request over the JSON run.
# Prints the document size and, per run, requests/s and latency percentiles. Nothing is
# asserted: docs/performance.md records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
source load/lib.sh

bin=build/release/cli/stella-gw
services=20
seconds=10
while (($#)); do
  case $1 in
    --binary) bin=$2; shift 2 ;;
    --services) services=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--services N] [--seconds S]" >&2; exit 2 ;;
  esac
done
ensure_binary "$bin"
for tool in wrk nginx curl; do command -v "$tool" >/dev/null || { echo "needs $tool (bash scripts/setup.sh)" >&2; exit 2; }; done

dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

cat >"$dir/gateway.yaml" <<EOF
gateway:
  node: {region: local, nodeId: gw-bench}
transports:
  tcp: {enabled: true, host: 127.0.0.1, port: 0}
http: {host: 127.0.0.1, port: 0, workers: 1}
openapi:
  cacheTtlSeconds: 300
  ui: {enabled: false}
EOF
start_gateway "$bin" "$dir/gateway.yaml" "$dir/gateway.log"
pids+=("$gw")
start_demo "$bin" demo-1 "$dir/demo-1.log"
pids+=("$svc")
for i in $(seq 2 "$services"); do
  "$bin" service demo --gateway "tcp://127.0.0.1:$tcp" --name "svc$i" \
    --path-prefix "/api/v1/svc$i" >"$dir/svc$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 200); do
  [[ $(grep -c "registered" "$dir/gateway.log" || true) -ge $services ]] && break
  sleep 0.1
done
sleep 0.5

url="http://127.0.0.1:$http"
build_s=$(curl -s -o "$dir/doc.json" -w '%{time_total}' "$url/openapi.json")
size=$(stat -c %s "$dir/doc.json")
ops=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(len(v) for v in d['paths'].values()), len(d['components']['schemas']))" "$dir/doc.json")
echo "document: $size bytes, $(cut -d' ' -f1 <<<"$ops") operations, $(cut -d' ' -f2 <<<"$ops") schemas, $services services"
echo "first GET (builds JSON, YAML and $services per-service documents): ${build_s}s"

# nginx, one worker, the same bytes as a static file.
port_nginx=$((http + 1))
mkdir -p "$dir/nginx/tmp" "$dir/nginx/www"
cp "$dir/doc.json" "$dir/nginx/www/openapi.json"
user_line=
if [[ $(id -u) -eq 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi
cat >"$dir/nginx/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $dir/nginx/tmp/client; proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi; uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  etag on;
  server {
    listen 127.0.0.1:$port_nginx;
    location = /openapi.json { root $dir/nginx/www; default_type application/json; }
  }
}
EOF
nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
pids+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$port_nginx/openapi.json" && break; sleep 0.1; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {  # NAME URL
  local out
  out=$(wrk -t1 -c50 -d"${seconds}s" --latency "$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  printf '%-28s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
  last_rps=$rps
}
hz=$(getconf CLK_TCK)
before=$(cpu_ticks "$gw")
run "stella-gw /openapi.json" "$url/openapi.json"
after=$(cpu_ticks "$gw")
echo "  gateway CPU per request: $(python3 -c "print(round(($after - $before) / $hz / ($last_rps * $seconds) * 1e6, 1))") µs"
run "stella-gw /openapi.yaml" "$url/openapi.yaml"
run "nginx static file" "http://127.0.0.1:$port_nginx/openapi.json"
echo "(machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); wrk, the gateway and nginx share them)"
