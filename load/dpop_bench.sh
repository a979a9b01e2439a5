#!/usr/bin/env bash
# DPoP-authenticated requests per second through one gateway worker, against one core's ES256
# verify rate from `openssl speed` in the same run (docs/performance.md, "Authentication").
#   bash load/dpop_bench.sh [--seconds S] [--connections C] [--binary PATH]
# Every request carries the same DPoP-bound access token (the gateway's token cache answers for
# it) and a fresh proof (minted beforehand, one per request: a proof used twice is a replay), so
# each request costs the gateway one proof signature check. wrk drives it with one thread from a
# Lua script that hands out the proofs in order.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
conns=32
bin=build/release/cli/stella-gw
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --binary) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--connections C] [--binary PATH]" >&2; exit 2 ;;
  esac
done
source load/lib.sh
ensure_binary "$bin"
with_workdir
"$bin" token keygen --out "$work/issuer.json" --public-out "$work/jwks.json" 2>/dev/null
"$bin" token keygen --out "$work/client.json" 2>/dev/null
cat > "$work/gw.yaml" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1, externalUrl: "http://bench.test" }
telemetry: { logging: { requests: false } }
auth:
  enabled: true
  authority: { issuer: "https://issuer.bench", jwksFile: "$work/jwks.json",
               audiences: [stella-gateway] }
  replayCache: { capacity: 10000000 }
YAML
start_gateway "$bin" "$work/gw.yaml" "$work/gw.log"
start_demo "$bin" bench-1 "$work/svc.log"
token=$("$bin" token mint --key "$work/issuer.json" --issuer https://issuer.bench \
  --audience stella-gateway --scope demo:read --tenant acme --dpop-key "$work/client.json" --ttl 3600)
# Enough proofs for 40k requests a second, made before the clock starts.
count=$((seconds * 40000))
echo "minting $count proofs ..."
"$bin" token dpop --key "$work/client.json" --method GET --url http://bench.test/api/v1/demo/secure \
  --token "$token" --count "$count" > "$work/proofs.txt"
cat > "$work/dpop.lua" <<LUA
local proofs = {}
local n = 0
init = function(args)
  for line in io.lines("$work/proofs.txt") do n = n + 1; proofs[n] = line end
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/demo/secure",
    {["Authorization"] = "DPoP $token", ["DPoP"] = proofs[i]})
end
done = function(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d\n", summary.errors.status))
end
LUA
# The gateway's own CPU time over the run: on a small machine wrk, the demo service and the
# gateway share the cores, so req/s alone understates what one gateway core does.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
hz=$(getconf CLK_TCK)
before=$(cpu_ticks)
echo "== wrk -t1 -c$conns -d${seconds}s, one gateway worker"
wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$work/dpop.lua" "http://127.0.0.1:$http" |
  tee "$work/wrk.txt"
after=$(cpu_ticks)
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
bad=$(awk '/non-2xx\/3xx:/ {print $2}' "$work/wrk.txt")
echo "== openssl speed -seconds 3 ecdsap256 (one core)"
openssl speed -seconds 3 ecdsap256 2>/dev/null | tee "$work/speed.txt" | tail -2
verify=$(awk '/256 bits ecdsa \(nistp256\)/ {print $NF}' "$work/speed.txt")
cpu=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "machine:${cpu}, $(nproc) cores"
echo "DPoP-authenticated req/s (one worker): $rps   refused: $bad"
awk -v b="$before" -v a="$after" -v hz="$hz" -v n="$requests" -v v="$verify" 'BEGIN {
  cpu = (a - b) / hz
  printf "gateway CPU: %.2f s for %d requests = %.1f us per request\n", cpu, n, 1e6 * cpu / n
  printf "DPoP-authenticated req/s per gateway core: %.0f\n", n / cpu
  printf "ES256 verify/s (openssl, one core):        %s\n", v
  printf "ratio (per gateway core / openssl verify): %.0f %%\n", 100 * (n / cpu) / v
}'
