#!/usr/bin/env bash
# Quickstart: sets up the machine, builds stella-gw (release), starts the gateway with its
# embedded dev configuration (HTTP on 127.0.0.1:8080, service transport on 127.0.0.1:9100) and
# two demo service instances, shows a request routed through it, and keeps running until Ctrl-C.
#
#   HTTP_PORT / TCP_PORT override the ports (e.g. when 8080 is taken).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target stella-gw
gw=build/release/cli/stella-gw
http_port=${HTTP_PORT:-8080}
tcp_port=${TCP_PORT:-9100}
logs=$(mktemp -d)

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "logs are in $logs"
}
trap cleanup EXIT INT TERM

"$gw" serve --http-listen "127.0.0.1:$http_port" --tcp-listen "127.0.0.1:$tcp_port" \
  >"$logs/gateway.log" 2>&1 &
pids+=($!)
for i in 1 2; do
  "$gw" service demo --gateway "tcp://127.0.0.1:$tcp_port" --region local \
    --instance "demo-$i" >"$logs/demo-$i.log" 2>&1 &
  pids+=($!)
done

# Wait (up to 30 s) until both instances are registered and healthy.
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$http_port/health/ready" 2>/dev/null | grep -q '"healthy":2'; then
    break
  fi
  sleep 0.1
done

echo
echo "== gateway log:"
cat "$logs/gateway.log"
echo
echo "== readiness: curl -s http://127.0.0.1:$http_port/health/ready"
curl -sS "http://127.0.0.1:$http_port/health/ready"
echo
echo
echo "== a request routed to a demo service:"
echo "   curl -s 'http://127.0.0.1:$http_port/api/v1/demo/echo?hello=world'"
curl -sS "http://127.0.0.1:$http_port/api/v1/demo/echo?hello=world"
echo
echo
echo "The gateway and two demo instances are running (logs: $logs). Try:"
echo "  curl -i http://127.0.0.1:$http_port/api/v1/demo/echo"
echo "  curl -N http://127.0.0.1:$http_port/api/v1/demo/stream/5"
echo "  curl -i http://127.0.0.1:$http_port/api/v1/demo/slow/500"
echo "  curl -o /dev/null --limit-rate 10M http://127.0.0.1:$http_port/api/v1/demo/bytes/1073741824   # 1 GiB at a slow client's pace"
echo "  curl -i http://127.0.0.1:$http_port/api/v1/nothing     # 404 problem+json"
echo "  curl -s http://127.0.0.1:$http_port/metrics | grep gateway_requests_total   # by route"
echo "  curl -s http://127.0.0.1:$http_port/openapi.yaml | head -30   # the API, one OpenAPI 3.1 document"
echo "  open http://127.0.0.1:$http_port/docs in a browser               # the same, browsable (Swagger UI)"
echo "Ctrl-C stops everything."
wait "${pids[0]}"
