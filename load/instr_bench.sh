#!/usr/bin/env bash
# Instructions the gateway executes per request, counted by valgrind's callgrind: a figure that
# does not move with the machine's load, so two binaries can be compared on a shared, noisy
# machine where CPU-time figures spread ±15-25 %. The gateway (one worker) runs under callgrind,
# the demo service natively; after a warm-up the counters are zeroed (callgrind_control -z), wrk
# runs, the counters are dumped (-d) and divided by the requests wrk completed. Under callgrind the
# gateway runs about 50 times slower, so the request count is small but the count per request is
# steady (about ±1 % run to run plain, ±3 % over TLS). Instructions are not time: system calls
# (the kernel's share, most of the time per request) and cache misses are not in them.
# With --close every request comes on a new connection (`Connection: close`, as load/run.sh's
# new-connection cells): the count is then per connection, accept to close (and per handshake
# with --tls; wrk offers its last session, so --tls --close resumes unless the gateway sends no
# tickets: add --no-tickets for full handshakes).
#   bash load/instr_bench.sh [--binary PATH] [--path PATH] [--tls] [--close] [--no-tickets]
#                            [--connections N] [--seconds S] [--annotate N]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/cli/stella-gw
path=/api/v1/demo/echo
tls=0
conns=10
seconds=8
annotate=0
close=0
tickets=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) bin="$2"; shift 2 ;;
    --path) path="$2"; shift 2 ;;
    --tls) tls=1; shift ;;
    --close) close=1; shift ;;
    --no-tickets) tickets=0; shift ;;
    --connections) conns="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --annotate) annotate="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--path PATH] [--tls] [--close] [--no-tickets] [--connections N] [--seconds S] [--annotate N]" >&2
       exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind is missing (scripts/setup.sh installs it)" >&2; exit 1; }
source load/lib.sh
ensure_binary "$bin"
bin=$(realpath "$bin")
with_workdir
one_worker_config "$work/gw.yaml"
scheme=http
((tls)) && https_config "$bin" "$work/gw.yaml"
((tls && !tickets)) && sed -i 's#tls: { enabled: true,#tls: { enabled: true, sessionTickets: false,#' "$work/gw.yaml"
wrk_args=()
((close)) && wrk_args=(-H 'Connection: close')
# Only the gateway runs under callgrind (the wrapper is what start_gateway starts).
cat > "$work/under_callgrind" <<SH
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$bin" "\$@"
SH
chmod +x "$work/under_callgrind"
start_gateway "$work/under_callgrind" "$work/gw.yaml" "$work/gw.log"
start_demo "$bin" instr-1 "$work/svc.log"
url="$scheme://127.0.0.1:$http$path"
curl -skf -o /dev/null "$url" || { echo "the gateway does not answer $path" >&2; exit 1; }
wrk -t1 -c"$conns" -d3s "${wrk_args[@]}" "$url" >/dev/null  # warm-up: connections, buffers, pools
callgrind_control -z "$gw" >/dev/null 2>&1
out=$(wrk -t1 -c"$conns" -d"${seconds}s" "${wrk_args[@]}" "$url")
callgrind_control -d "$gw" >/dev/null 2>&1
requests=$(awk '/requests in/ {print $1}' <<<"$out")
((${requests:-0} > 0)) || { echo "wrk completed no requests: $out" >&2; exit 1; }
dump=$(ls -t "$work"/callgrind.out* | head -1)
total=$(awk '/^summary:/ {print $2}' "$dump")
echo "wrk -t1 -c$conns -d${seconds}s $url: $requests requests under callgrind"
what=request
((close)) && what="connection (one request each)"
echo "gateway instructions per $what: $((total / requests))"
if ((annotate > 0)); then
  echo "top $annotate functions by their own instructions per request:"
  # callgrind_annotate's lines: "COUNT (SHARE%)  FILE:FUNCTION [OBJECT]"; the first ones are
  # the callers that hold everything (main, the event loop): skipped by their share.
  callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
    awk -v r="$requests" -v n="$annotate" '
      match($0, /^ *[0-9,]+ \( *[0-9.]+%\)  /) {
        c = $1; gsub(",", "", c); share = $0; sub(/^[^(]*\( */, "", share); sub(/%.*/, "", share)
        if (share + 0 > 90) next
        printf "%8.0f  %s\n", c / r, substr($0, RLENGTH + 1, 140); if (++k >= n) exit }'
fi
