#!/usr/bin/env bash
# Side-by-side HTTP load run on one machine: the same small GET through
#   (a) stella-gw (--workers 1) + the demo service,
#   (b) nginx (1 worker) proxying to an nginx upstream that returns the same body,
#   (c) HAProxy (nbthread 1) proxying to that upstream,
#   (d) the upstream directly;
# closed-loop wrk at 50 and 1,000 connections and with a new connection per request, the same over
# HTTPS (keep-alive, new connections with full TLS 1.3 handshakes and with resumed ones), a
# fixed-rate h2load run, the RSS of each proxy holding 10,000 idle keep-alive connections, and
# stella-gw's allocations per request and one worker against two. Prints a markdown report; --write-docs also puts it
# into docs/performance.md between <!-- load:begin --> and <!-- load:end -->. See load/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

duration=${DURATION:-10}
binary=$repo/build/release/cli/stella-gw
write_docs=0
rate=2000
rate_clients=10
idle=10000
port_base=18000
profile=0
keep_tmp=0
extras=1
tls=1
rounds=1
targets="stella haproxy nginx upstream"
tls_targets="stella haproxy nginx"
original_args=("$@")

usage() {
  cat <<EOF
usage: bash load/run.sh [options]
  --duration S      seconds per measurement (default \$DURATION or 10)
  --binary PATH     stella-gw binary (default build/release/cli/stella-gw)
  --write-docs      replace the load section of docs/performance.md with the report
  --rate N          total requests/s for the fixed-rate run (default 2000)
  --rate-clients N  connections for the fixed-rate run (default 10; N must divide the rate)
  --idle N          idle keep-alive connections for the RSS step (default 10000; 0 skips it)
  --port-base P     use ports P..P+12 on 127.0.0.1 (default 18000)
  --profile         also profile the gateway: perf record during a wrk -c50 run, and
                    strace -c on stella-gw and HAProxy for syscalls per request
  --rounds N        repeat the wrk and h2load measurements N times, targets interleaved, and
                    report the median round of each cell (default 1; use 3 on a shared machine)
  --keep-tmp        keep the temporary directory (configs, logs, raw outputs)
  --no-extras       skip stella-gw's own figures (allocations per request, workers 1 vs 2)
  --no-tls          skip the HTTPS cells
EOF
}

while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --write-docs) write_docs=1; shift ;;
    --rate) rate=$2; shift 2 ;;
    --rate-clients) rate_clients=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --port-base) port_base=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --keep-tmp) keep_tmp=1; shift ;;
    --no-extras) extras=0; shift ;;
    --no-tls) tls=0; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in wrk h2load nginx haproxy curl python3 openssl; do
  command -v "$tool" >/dev/null || die "$tool not found (bash scripts/setup.sh installs it)"
done
# The interpreter itself, not a wrapper (pyenv shims fork): $! must be the process that holds the
# idle connections, so that stopping it closes them.
python=$(python3 -c 'import sys; print(sys.executable)')
if ((profile)); then
  for tool in perf strace; do
    command -v "$tool" >/dev/null || die "$tool not found (needed by --profile)"
  done
fi
[[ -x $binary ]] || die "no stella-gw binary at $binary (cmake --preset release && cmake --build --preset release, or pass --binary)"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
((rate % rate_clients == 0)) || die "--rate ($rate) must be a multiple of --rate-clients ($rate_clients)"
rps_per_client=$((rate / rate_clients))

p_gw=$port_base p_svc=$((port_base + 1)) p_up=$((port_base + 2)) p_nginx=$((port_base + 3))
p_haproxy=$((port_base + 4))
# HTTPS: each server once with TLS session tickets (clients may resume) and once without (every
# new connection is a full handshake); stella-gw needs a gateway (and demo service) for each.
p_gw_tls=$((port_base + 5)) p_svc_tls=$((port_base + 6)) p_gw_full=$((port_base + 7))
p_svc_full=$((port_base + 8)) p_nginx_tls=$((port_base + 9)) p_nginx_full=$((port_base + 10))
p_haproxy_tls=$((port_base + 11)) p_haproxy_full=$((port_base + 12))
path=/api/v1/demo/echo

# File descriptors: each side of 10,000 connections needs 10,000 of them. Children inherit this.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
if ((idle > 0 && nofile < idle + 200)); then
  log "ulimit -n is $nofile: lowering --idle from $idle to $((nofile - 200))"
  idle=$((nofile - 200))
fi
fd_budget=$((nofile < 65536 ? nofile : 65536))

dir=$(mktemp -d "${TMPDIR:-/tmp}/stella-load.XXXXXX")
certs=
res=$dir/results
mkdir -p "$res"
pids=()
holder_pid=

cleanup() {
  local rc=$?
  set +e
  [[ -n $holder_pid ]] && kill -TERM "$holder_pid" 2>/dev/null
  # Reverse start order: the service before its gateway, the proxies before their upstream.
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null
  done
  for pid in "${pids[@]}" $holder_pid; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if ((keep_tmp)) || ((rc != 0)); then
    log "kept $dir (logs, configs, raw outputs)"
  else
    rm -rf "$dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}
for p in $p_gw $p_svc $p_up $p_nginx $p_haproxy $p_gw_tls $p_svc_tls $p_gw_full $p_svc_full \
  $p_nginx_tls $p_nginx_full $p_haproxy_tls $p_haproxy_full; do
  port_free "$p" || die "port $p on 127.0.0.1 is in use (choose others with --port-base)"
done

wait_http() {  # PID URL [grep pattern] — up to 30 s, or until PID exits
  local pid=$1 url=$2 pattern=${3:-}
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    local body
    if body=$(curl -sf --max-time 1 ${certs:+--cacert "$certs/ca.pem"} "$url" 2>/dev/null); then
      if [[ -z $pattern ]] || grep -q -- "$pattern" <<<"$body"; then return 0; fi
    fi
    sleep 0.1
  done
  return 1
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load_avg)
log "load average before the run: $load_before; temp dir $dir"

# --- stella-gw + demo service -------------------------------------------------------------------
# One certificate for every HTTPS server: the dev CA's ECDSA P-256 leaf for localhost/127.0.0.1.
if ((tls)); then
  certs=$dir/certs
  "$binary" tls dev-certs --out "$certs" >"$dir/dev-certs.log" 2>&1 ||
    die "stella-gw tls dev-certs failed: $(tail -3 "$dir/dev-certs.log")"
  cat "$certs/gateway.pem" "$certs/gateway-key.pem" >"$certs/haproxy.pem"
fi
# A one-worker gateway (the dev default with room for the idle-connection step) and its demo
# service. TICKETS (true|false) makes the listener HTTPS with http.tls.sessionTickets so.
start_stella() {  # NAME HTTP_PORT SERVICE_PORT [TICKETS]; sets st_gw_pid st_svc_pid
  local name=$1 hp=$2 sp=$3 tickets=${4:-} scheme=http tls_block=
  if [[ -n $tickets ]]; then
    scheme=https
    tls_block="
    tls:
      enabled: true
      certificatePath: \"$certs/gateway.pem\"
      privateKeyPath: \"$certs/gateway-key.pem\"
      sessionTickets: $tickets"
  fi
  cat >"$dir/$name.yaml" <<EOF
# Generated by load/run.sh
gateway:
  node: {region: "local", nodeId: "gw-load-$name", environment: "dev"}
  http:
    host: "127.0.0.1"
    port: $hp
    workers: 1
    maxConnections: $((idle + 5000))
    drainTimeout: "1s"$tls_block
  transports:
    tcp: {enabled: true, host: "127.0.0.1", port: $sp}
    tls: {enabled: false}
  auth: {enabled: false}
  rateLimiting: {enabled: false}
EOF
  "$binary" serve --config "$dir/$name.yaml" --workers 1 >"$dir/$name.log" 2>&1 &
  st_gw_pid=$!
  pids+=("$st_gw_pid")
  wait_http "$st_gw_pid" "$scheme://127.0.0.1:$hp/health/live" ||
    die "stella-gw ($name) did not start: $(tail -5 "$dir/$name.log")"
  "$binary" service demo --gateway "tcp://127.0.0.1:$sp" --region local >"$dir/$name-service.log" 2>&1 &
  st_svc_pid=$!
  pids+=("$st_svc_pid")
  wait_http "$st_svc_pid" "$scheme://127.0.0.1:$hp/health/ready" '"instances":1,' ||
    die "demo service ($name) did not register: $(tail -5 "$dir/$name-service.log")"
  wait_http "$st_gw_pid" "$scheme://127.0.0.1:$hp$path" || die "GET $path through stella-gw ($name) fails"
  log "stella-gw ($name${tickets:+, HTTPS, sessionTickets $tickets}) pid $st_gw_pid on :$hp, demo service pid $st_svc_pid"
}
start_stella gateway "$p_gw" "$p_svc"
gw_pid=$st_gw_pid svc_pid=$st_svc_pid
if ((tls)); then
  start_stella gateway-tls "$p_gw_tls" "$p_svc_tls" true
  gwt_pid=$st_gw_pid svct_pid=$st_svc_pid
  start_stella gateway-full "$p_gw_full" "$p_svc_full" false
  gwf_pid=$st_gw_pid svcf_pid=$st_svc_pid
fi

# The body the demo echo gives wrk's request (only a Host header): the upstream returns it verbatim.
curl -sf -H 'User-Agent:' -H 'Accept:' -o "$dir/body.json" "http://127.0.0.1:$p_gw$path"
body_bytes=$(wc -c <"$dir/body.json")
nginx_body=$(python3 - "$dir/body.json" <<'EOF'
import sys
body = open(sys.argv[1], encoding="utf-8", errors="replace").read()
# nginx single-quoted string: escape \ and '; '$' would start a variable, so keep the length
# with '_' instead (the demo echo has none in practice).
print(body.replace("\\", "\\\\").replace("'", "\\'").replace("$", "_"), end="")
EOF
)
log "demo echo body: $body_bytes bytes"

# --- nginx upstream and nginx proxy --------------------------------------------------------------
nginx_conf() {  # PREFIX_DIR SERVER_BLOCK_FILE
  local user_line=
  if [[ $(id -u) -eq 0 ]]; then user_line="user $(id -un) $(id -gn);"; fi
  cat <<EOF
# Generated by load/run.sh
$user_line
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $fd_budget;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections $((fd_budget - 100)); multi_accept on; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  client_body_temp_path $1/tmp/client; proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi; uwsgi_temp_path $1/tmp/uwsgi; scgi_temp_path $1/tmp/scgi;
$(cat "$2")
}
EOF
}
mkdir -p "$dir/upstream/tmp" "$dir/nginx/tmp"
cat >"$dir/upstream/server.inc" <<EOF
  server {
    listen 127.0.0.1:$p_up;
    location = $path { default_type application/json; return 200 '$nginx_body'; }
    location / { return 404; }
  }
EOF
proxy_location='location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }'
cat >"$dir/nginx/server.inc" <<EOF
  upstream up { server 127.0.0.1:$p_up; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$p_nginx;
    $proxy_location
  }
EOF
if ((tls)); then
  cat >>"$dir/nginx/server.inc" <<EOF
  ssl_certificate $certs/gateway.pem;
  ssl_certificate_key $certs/gateway-key.pem;
  ssl_protocols TLSv1.3;
  server {
    listen 127.0.0.1:$p_nginx_tls ssl;
    ssl_session_tickets on;
    $proxy_location
  }
  server {
    listen 127.0.0.1:$p_nginx_full ssl;
    ssl_session_tickets off;
    ssl_session_cache off;
    $proxy_location
  }
EOF
fi
nginx_conf "$dir/upstream" "$dir/upstream/server.inc" >"$dir/upstream/nginx.conf"
nginx_conf "$dir/nginx" "$dir/nginx/server.inc" >"$dir/nginx/nginx.conf"
nginx -e "$dir/upstream/error.log" -p "$dir/upstream" -c nginx.conf >"$dir/upstream/stdout.log" 2>&1 &
up_pid=$!
pids+=("$up_pid")
wait_http "$up_pid" "http://127.0.0.1:$p_up$path" || die "nginx upstream did not start: $(tail -5 "$dir/upstream/error.log" "$dir/upstream/stdout.log")"
nginx -e "$dir/nginx/error.log" -p "$dir/nginx" -c nginx.conf >"$dir/nginx/stdout.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
wait_http "$nginx_pid" "http://127.0.0.1:$p_nginx$path" || die "nginx proxy did not start: $(tail -5 "$dir/nginx/error.log" "$dir/nginx/stdout.log")"
worker_of() { pgrep -P "$1" | head -1; }
up_worker=$(worker_of "$up_pid")
nginx_worker=$(worker_of "$nginx_pid")
log "nginx upstream pid $up_pid (worker $up_worker) on :$p_up, nginx proxy pid $nginx_pid (worker $nginx_worker) on :$p_nginx"

# --- HAProxy -------------------------------------------------------------------------------------
cat >"$dir/haproxy.cfg" <<EOF
# Generated by load/run.sh
global
  nbthread 1
  # No server-side session cache: with tickets off (no-tls-tickets) nothing can resume.
  tune.ssl.cachesize 0
  # maxconn asks for 2 fds per connection; with a lower hard limit, run with what there is
  # (idle client connections need one fd each).
  no strict-limits
  maxconn $((fd_budget - 200))
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  timeout http-request 10s
  maxconn $((fd_budget - 200))
frontend fe
  bind 127.0.0.1:$p_haproxy
$(((tls)) && echo "  bind 127.0.0.1:$p_haproxy_tls ssl crt $certs/haproxy.pem ssl-min-ver TLSv1.3")
$(((tls)) && echo "  bind 127.0.0.1:$p_haproxy_full ssl crt $certs/haproxy.pem ssl-min-ver TLSv1.3 no-tls-tickets")
  default_backend up
backend up
  server u1 127.0.0.1:$p_up
EOF
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=("$haproxy_pid")
wait_http "$haproxy_pid" "http://127.0.0.1:$p_haproxy$path" || die "HAProxy did not start: $(tail -5 "$dir/haproxy.log")"
log "HAProxy pid $haproxy_pid on :$p_haproxy"

tls_ports=
((tls)) && tls_ports="$p_gw_tls $p_gw_full $p_nginx_tls $p_nginx_full $p_haproxy_tls $p_haproxy_full"
for port in $p_gw $p_nginx $p_haproxy $p_up $tls_ports; do
  scheme=http
  [[ " $tls_ports " == *" $port "* ]] && scheme=https
  n=$(curl -sf ${certs:+--cacert "$certs/ca.pem"} -H 'User-Agent:' -H 'Accept:' -o /dev/null \
    -w '%{size_download}' "$scheme://127.0.0.1:$port$path")
  want=$body_bytes
  # The echo names the scheme it was reached by: X-Forwarded-Proto "https" is one byte longer.
  [[ $port == "$p_gw_tls" || $port == "$p_gw_full" ]] && want=$((body_bytes + 1))
  [[ $n == "$want" ]] || die "body through $scheme :$port is $n bytes, expected $want"
done

# Whether an HTTPS port resumes a session: openssl s_client once with -sess_out, then with
# -sess_in ("Reused" or "New"). The report prints it beside the connection rates.
resumes() {  # PORT
  local sess=$dir/session-$1.pem out req
  req=$(printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path")
  printf '%s' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$1" -ign_eof \
    -sess_out "$sess" >/dev/null 2>&1 || true
  out=$(printf '%s' "$req" | timeout 10 openssl s_client -connect "127.0.0.1:$1" -ign_eof \
    -sess_in "$sess" 2>&1 || true)
  if grep -q '^Reused, TLSv1.3' <<<"$out"; then echo yes; else echo no; fi
}
if ((tls)); then
  {
    echo "stella-tlsresume=$(resumes "$p_gw_tls")"
    echo "stella-tlsfull=$(resumes "$p_gw_full")"
    echo "haproxy-tlsresume=$(resumes "$p_haproxy_tls")"
    echo "haproxy-tlsfull=$(resumes "$p_haproxy_full")"
    echo "nginx-tlsresume=$(resumes "$p_nginx_tls")"
    echo "nginx-tlsfull=$(resumes "$p_nginx_full")"
  } >"$res/resumes.env"
  log "session resumption per HTTPS port: $(tr '\n' ' ' <"$res/resumes.env")"
fi

url_of() {  # TARGET [MODE]: MODE tls/tlsresume (tickets on) or tlsfull (tickets off) is HTTPS
  case $1:${2:-} in
    stella:tls | stella:tlsresume) echo "https://127.0.0.1:$p_gw_tls$path" ;;
    stella:tlsfull) echo "https://127.0.0.1:$p_gw_full$path" ;;
    haproxy:tls | haproxy:tlsresume) echo "https://127.0.0.1:$p_haproxy_tls$path" ;;
    haproxy:tlsfull) echo "https://127.0.0.1:$p_haproxy_full$path" ;;
    nginx:tls | nginx:tlsresume) echo "https://127.0.0.1:$p_nginx_tls$path" ;;
    nginx:tlsfull) echo "https://127.0.0.1:$p_nginx_full$path" ;;
    stella:*) echo "http://127.0.0.1:$p_gw$path" ;;
    haproxy:*) echo "http://127.0.0.1:$p_haproxy$path" ;;
    nginx:*) echo "http://127.0.0.1:$p_nginx$path" ;;
    upstream:*) echo "http://127.0.0.1:$p_up$path" ;;
  esac
}
procs_of() {  # TARGET [MODE]: the processes that do the work, NAME=PID ...
  case $1:${2:-} in
    stella:tls | stella:tlsresume) echo "gateway=$gwt_pid service=$svct_pid" ;;
    stella:tlsfull) echo "gateway=$gwf_pid service=$svcf_pid" ;;
    stella:*) echo "gateway=$gw_pid service=$svc_pid" ;;
    haproxy:*) echo "haproxy=$haproxy_pid upstream=$up_worker" ;;
    nginx:*) echo "proxy=$nginx_worker upstream=$up_worker" ;;
    upstream:*) echo "upstream=$up_worker" ;;
  esac
}

# --- 1. idle keep-alive connections (first, while every process is fresh) ------------------------
idle_step() {  # TARGET PID PORT PATH LABEL [CA_FILE: HTTPS]
  local target=$1 pid=$2 port=$3 ipath=$4 label=$5 ca=${6:-} before after line
  sleep 1
  before=$(rss_kb "$pid")
  local out=$dir/holder-$target.out
  "$python" "$here/idle_conns.py" 127.0.0.1 "$port" "$ipath" "$idle" ${ca:+"$ca"} </dev/null >"$out" 2>&1 &
  holder_pid=$!
  for _ in $(seq 1200); do
    grep -q '^held=' "$out" && break
    kill -0 "$holder_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 1
  after=$(rss_kb "$pid")
  line=$(grep -m1 '^held=' "$out" || true)
  if ! kill -0 "$holder_pid" 2>/dev/null; then
    local rc=0
    wait "$holder_pid" || rc=$?
    line="client exited early (status $rc): $(tr '\n' ' ' <"$out" | tail -c 300)"
  fi
  kill -TERM "$holder_pid" 2>/dev/null || true
  wait "$holder_pid" 2>/dev/null || true
  holder_pid=
  printf 'process=%s\nbefore_kb=%s\nafter_kb=%s\nholder=%s\n' "$label" "$before" "$after" "$line" \
    >"$res/rss-$target.env"
  log "idle $target: RSS ${before} kB -> ${after} kB; $line"
  sleep 2  # let the server process the closes
}
if ((idle > 0)); then
  log "idle step: $idle keep-alive connections to each proxy (ulimit -n $nofile)"
  idle_step stella "$gw_pid" "$p_gw" /health/live "stella-gw"
  idle_step haproxy "$haproxy_pid" "$p_haproxy" "$path" "HAProxy"
  idle_step nginx "$nginx_worker" "$p_nginx" "$path" "nginx worker"
  if ((tls)); then
    idle_step stella-tls "$gwt_pid" "$p_gw_tls" /health/live "stella-gw, HTTPS" "$certs/ca.pem"
    idle_step haproxy-tls "$haproxy_pid" "$p_haproxy_tls" "$path" "HAProxy, HTTPS" "$certs/ca.pem"
    idle_step nginx-tls "$nginx_worker" "$p_nginx_tls" "$path" "nginx worker, HTTPS" "$certs/ca.pem"
  fi
fi

# --- 2. closed loop: wrk ------------------------------------------------------------------------
wrk_cell() {  # TARGET CONNS THREADS ROUND [close]
  local target=$1 c=$2 t=$3 r=$4 mode=${5:-} url name pid cell
  url=$(url_of "$target" "$mode")
  local extra=()
  # close (and the TLS new-connection modes): every request on a new connection (wrk reconnects
  # after each answer), so requests/s is new connections per second. wrk keeps its SSL object
  # across reconnections and so offers the last session: resumed where the server sent tickets.
  [[ $mode == close || $mode == tlsfull || $mode == tlsresume ]] && extra=(-H "Connection: close")
  cell=c$c$mode
  wrk -t"$t" -c"$c" -d2s "${extra[@]}" "$url" >/dev/null 2>&1 || true  # warm-up
  declare -A before=()
  for kv in $(procs_of "$target" "$mode"); do before[${kv%%=*}]=$(cpu_ticks "${kv#*=}"); done
  wrk -t"$t" -c"$c" -d"${duration}s" --timeout 10s --latency "${extra[@]}" "$url" \
    >"$res/wrk-$target-$cell-r$r.txt" 2>&1 ||
    log "wrk failed for $target at $c connections (see $res/wrk-$target-$cell-r$r.txt)"
  {
    echo "clk_tck=$(getconf CLK_TCK)"
    for kv in $(procs_of "$target" "$mode"); do
      name=${kv%%=*} pid=${kv#*=}
      echo "$name=$(($(cpu_ticks "$pid") - ${before[$name]}))"
    done
  } >"$res/cpu-$target-$cell-r$r.env"
  log "wrk $target $cell round $r: $(grep -h 'Requests/sec' "$res/wrk-$target-$cell-r$r.txt" | tr -s ' ')"
}
for ((r = 1; r <= rounds; r++)); do
  for target in $targets; do wrk_cell "$target" 50 1 "$r"; done
  for target in $targets; do wrk_cell "$target" 1000 2 "$r"; done
  for target in $targets; do wrk_cell "$target" 20 1 "$r" close; done
  if ((tls)); then
    for target in $tls_targets; do wrk_cell "$target" 50 1 "$r" tls; done
    for target in $tls_targets; do wrk_cell "$target" 20 1 "$r" tlsfull; done
    for target in $tls_targets; do wrk_cell "$target" 20 1 "$r" tlsresume; done
  fi
done

# --- 3. fixed rate: h2load ----------------------------------------------------------------------
for ((r = 1; r <= rounds; r++)); do
  for target in $targets; do
    h2load --h1 -c"$rate_clients" --rps "$rps_per_client" -D "$duration" --warm-up-time 2 \
      --log-file "$res/h2-$target-r$r.log" "$(url_of "$target")" >"$res/h2-$target-r$r.txt" 2>&1 ||
      log "h2load failed for $target (see $res/h2-$target-r$r.txt)"
    log "h2load $target round $r: $(grep -h 'finished in' "$res/h2-$target-r$r.txt")"
  done
done

# --- 4. optional profile of the gateway ---------------------------------------------------------
if ((profile)); then
  log "profile: perf record on stella-gw during wrk -t1 -c50"
  perf record -F 999 -p "$gw_pid" -o "$dir/perf.data" -- sleep "$duration" >"$dir/perf.log" 2>&1 &
  perf_pid=$!
  wrk -t1 -c50 -d"${duration}s" "$(url_of stella)" >"$dir/wrk-perf.txt" 2>&1 || true
  wait "$perf_pid" || true
  perf report -i "$dir/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]-]+$//' | cut -c1-160 | head -15 \
      >"$res/profile-perf.txt" || true
  for target in stella haproxy; do
    pid=$gw_pid
    [[ $target == haproxy ]] && pid=$haproxy_pid
    log "profile: strace -c on $target during wrk -t1 -c50 -d5s"
    timeout -s INT 6 strace -c -f -p "$pid" -o "$dir/strace-$target.txt" 2>/dev/null &
    st_pid=$!
    sleep 0.5
    wrk -t1 -c50 -d5s "$(url_of "$target")" >"$dir/wrk-strace-$target.txt" 2>&1 || true
    wait "$st_pid" || true
    {
      echo "requests=$(awk '/requests in/ {print $1}' "$dir/wrk-strace-$target.txt")"
      cat "$dir/strace-$target.txt"
    } >"$res/strace-$target.txt"
  done
fi

# --- 5. stella-gw's own figures: allocations per request, one worker against two -----------------
# Each script starts its own gateway and demo service (the side-by-side processes keep running).
if ((extras)); then
  log "allocations per request (load/alloc_bench.sh)"
  bash "$here/alloc_bench.sh" --binary "$binary" --path "$path" >"$res/alloc.txt" 2>&1 ||
    log "alloc_bench.sh failed (see $res/alloc.txt)"
  log "workers (load/workers_bench.sh)"
  bash "$here/workers_bench.sh" --binary "$binary" --seconds "$duration" >"$res/workers.txt" 2>&1 ||
    log "workers_bench.sh failed (see $res/workers.txt)"
fi

# --- report -------------------------------------------------------------------------------------
cmd="bash load/run.sh"
((${#original_args[@]})) && cmd+=" ${original_args[*]}"
stella_version=$("$binary" version 2>/dev/null | awk '{print $2}')
git_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "?")
if [[ -n $(git -C "$repo" status --porcelain 2>/dev/null | head -1) ]]; then git_rev+=" + local changes"; fi
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu=$(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2; exit}')"
  echo "cores=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "load_before=$load_before"
  echo "load_after=$(load_avg)"
  echo "command=$cmd"
  echo "binary=${binary#"$repo"/}"
  echo "v_wrk=$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "v_h2load=h2load $(h2load --version 2>&1 | head -1 | awk '{print $NF}')"
  echo "v_nginx=$(nginx -v 2>&1 | sed 's/^nginx version: //; s#/# #')"
  echo "v_haproxy=HAProxy $(haproxy -v 2>&1 | head -1 | awk '{print $3}')"
  echo "v_stella=${stella_version:-?} (git $git_rev)"
  echo "path=$path"
  echo "body_bytes=$body_bytes"
  echo "duration=$duration"
  echo "rate=$rate"
  echo "rate_clients=$rate_clients"
  echo "rps_per_client=$rps_per_client"
  echo "idle_conns=$idle"
  echo "nofile=$nofile"
  echo "rounds=$rounds"
  echo "tls=$tls"
} >"$res/meta.env"
cp "$dir/body.json" "$res/body.json"

if ((write_docs)); then
  python3 "$here/report.py" "$res" --write-docs "$repo/docs/performance.md"
else
  python3 "$here/report.py" "$res"
fi
