# Shared by the load scripts (sourced, not run): the binary, and one gateway with one demo
# service on ephemeral loopback ports.
#
#   source "$(dirname "$0")/lib.sh"
#   ensure_binary "$bin"                    # builds the release binary when it is missing
#   start_gateway "$bin" CONFIG LOG         # sets gw (pid), http and tcp (ports)
#   start_demo "$bin" INSTANCE LOG [N]      # sets svc (pid); returns once its N connections registered
#   with_workdir                            # sets work (a temporary directory); at exit stops
#                                           # gw, svc and extra_pids, and removes it
#   need_nofile N                           # exits unless more than N descriptors may be open
#   many_conns_config FILE N                # a one-worker gateway config with room for N clients
#   one_worker_config FILE                  # a one-worker gateway config (ephemeral ports)
#   https_config BIN FILE                   # turns the config's http listener to TLS 1.3 with a
#                                           # dev certificate in $work/certs; sets scheme=https
#   wrk_cpu PID WRK_ARGS...                 # runs wrk; sets wrk_out, requests, rps and cpu_us
#                                           # (PID's user + system CPU µs per request meanwhile)

ensure_binary() {
  if [[ ! -x "$1" ]]; then
    cmake --preset release >/dev/null && ninja -C build/release -j2 stella-gw >/dev/null
  fi
}

start_gateway() {
  local bin=$1 config=$2 log=$3
  "$bin" serve --config "$config" >"$log" 2>&1 &
  gw=$!
  gateway_log=$log
  for _ in $(seq 100); do grep -q "listening" "$log" && break; sleep 0.1; done
  http=$(grep -o 'https\?=127.0.0.1:[0-9]*' "$log" | cut -d: -f2)
  tcp=$(grep -o 'tcp=127.0.0.1:[0-9]*' "$log" | cut -d: -f2)
  [[ -n "$http" && -n "$tcp" ]] || { echo "the gateway did not start:" >&2; tail -5 "$log" >&2; return 1; }
}

# start_demo BIN INSTANCE LOG [CONNECTIONS]: one demo instance, connected CONNECTIONS times (1).
start_demo() {
  local bin=$1 instance=$2 log=$3 connections=${4:-1}
  "$bin" service demo --gateway "tcp://127.0.0.1:$tcp" --instance "$instance" \
    --connections "$connections" >"$log" 2>&1 &
  svc=$!
  for _ in $(seq 100); do
    (($(grep -c "registered" "$gateway_log") >= connections)) && break
    sleep 0.1
  done
}

need_nofile() {
  local nofile
  nofile=$(ulimit -n)
  ((nofile > $1)) || { echo "ulimit -n is $nofile: needs more than $1" >&2; exit 1; }
}

many_conns_config() {
  cat >"$1" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1, maxConnections: $(($2 + 1000)) }
YAML
}

one_worker_config() {
  cat >"$1" <<YAML
transports: { tcp: { enabled: true, host: 127.0.0.1, port: 0 } }
http: { host: 127.0.0.1, port: 0, workers: 1 }
YAML
}

https_config() {
  "$1" tls dev-certs --out "$work/certs" >/dev/null
  sed -i "s#^http: { \(.*\) }#http: { \1, tls: { enabled: true, certificatePath: $work/certs/gateway.pem, privateKeyPath: $work/certs/gateway-key.pem } }#" "$2"
  scheme=https
}

with_workdir() {
  work=$(mktemp -d)
  extra_pids=()
  trap 'kill "${svc:-}" "${gw:-}" "${extra_pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
}

wrk_cpu() {
  local pid=$1 before after
  shift
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  wrk_out=$(wrk "$@")
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  requests=$(awk '/requests in/ {print $1}' <<<"$wrk_out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$wrk_out")
  cpu_us=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v r="$requests" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / r }')
}
