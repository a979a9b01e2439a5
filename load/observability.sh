#!/usr/bin/env bash
# What observability costs: the same binary, the same small GET through the demo service, with
#   (off) metrics recording disabled and no request log lines, and
#   (on)  metrics recorded and one JSON request line per request written to a file,
# measured in one run with wrk -t1 -c50, rounds interleaved (off, on, off, on, ...), medians
# reported. Prints a markdown table; --write-docs puts it into docs/performance.md between
# <!-- observability:begin --> and <!-- observability:end -->.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
binary=$repo/build/release/cli/stella-gw
duration=10
rounds=3
write_docs=0
port_base=18100
path=/api/v1/demo/echo

while (($#)); do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --port-base) port_base=$2; shift 2 ;;
    --write-docs) write_docs=1; shift ;;
    -h|--help)
      echo "usage: bash load/observability.sh [--binary PATH] [--duration S] [--rounds N] [--port-base P] [--write-docs]"
      exit 0 ;;
    *) echo "observability.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $binary ]] || { echo "no stella-gw binary at $binary (cmake --preset release && cmake --build --preset release --target stella-gw, or --binary)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing (bash scripts/setup.sh installs it)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/stella-obs.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT

start() {  # NAME HTTP_PORT TCP_PORT TELEMETRY_YAML
  local name=$1 http=$2 tcp=$3
  cat >"$dir/$name.yaml" <<YAML
gateway:
  node: {region: local, nodeId: "gw-$name"}
  http: {host: 127.0.0.1, port: $http, workers: 1}
  transports:
    tcp: {enabled: true, host: 127.0.0.1, port: $tcp}
  telemetry:
$4
YAML
  "$binary" serve --config "$dir/$name.yaml" >"$dir/$name.log" 2>&1 &
  pids+=($!)
  gw_pid[$name]=$!
  "$binary" service demo --gateway "tcp://127.0.0.1:$tcp" --instance "demo-$name" >"$dir/$name-svc.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$http$path" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "gateway $name did not route: $(tail -3 "$dir/$name.log")" >&2
  exit 1
}

declare -A gw_pid
p_off=$port_base p_on=$((port_base + 2))
start off "$p_off" $((port_base + 1)) "    metrics: {enabled: false}
    logging: {format: text, requests: false}"
start on "$p_on" $((port_base + 3)) "    metrics: {enabled: true}
    logging: {format: json, output: \"$dir/requests.jsonl\"}"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
measure() {  # NAME PORT → "requests/s gateway-CPU-µs-per-request"
  local before after out
  before=$(ticks "${gw_pid[$1]}")
  out=$(wrk -t1 -c50 -d"${duration}s" "http://127.0.0.1:$2$path")
  after=$(ticks "${gw_pid[$1]}")
  awk -v b="$before" -v a="$after" -v hz="$hz" '
    /requests in/ {n = $1}
    /^Requests\/sec:/ {r = $2}
    END {printf "%s %.2f\n", r, (a - b) / hz * 1e6 / n}' <<<"$out"
}
off=() on=() off_cpu=() on_cpu=()
for p in $p_off $p_on; do wrk -t1 -c50 -d2s "http://127.0.0.1:$p$path" >/dev/null; done  # warm-up
for ((r = 1; r <= rounds; r++)); do
  read -r a b <<<"$(measure off "$p_off")"
  off+=("$a") off_cpu+=("$b")
  read -r a b <<<"$(measure on "$p_on")"
  on+=("$a") on_cpu+=("$b")
  echo "round $r: off ${off[-1]} req/s ${off_cpu[-1]} us CPU/req, on ${on[-1]} req/s ${on_cpu[-1]} us CPU/req" >&2
done
lines=$(wc -l <"$dir/requests.jsonl")
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
c_off=$(median "${off_cpu[@]}") c_on=$(median "${on_cpu[@]}")
loss=$(awk -v a="$m_off" -v b="$m_on" 'BEGIN {printf "%.1f", (a - b) / a * 100}')
cpu_more=$(awk -v a="$c_off" -v b="$c_on" 'BEGIN {printf "%.1f", (b - a) / a * 100}')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')

report=$(cat <<MD
Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), \`bash load/observability.sh --rounds $rounds --duration $duration\`:
wrk -t1 -c50 for ${duration} s per round against two gateways (\`--workers 1\`, each with its own
demo service), rounds interleaved, median of $rounds.

| configuration | requests/s (median) | gateway CPU per request (median) | rounds (req/s) |
|---|---|---|---|
| metrics off, no request log lines | $m_off | $c_off µs | ${off[*]} |
| metrics on, JSON request line per request to a file | $m_on | $c_on µs | ${on[*]} |

Throughput lost to observability: **${loss} %**; gateway CPU per request: **+${cpu_more} %**
(target: at most 3 % of requests/s). The JSON file received $lines request lines during the run.
CPU per request is the gateway process's user + system time over the requests wrk completed; it
is steadier than requests/s on a shared 2-core machine, where wrk, the demo service and the
gateway compete for the same cores.
MD
)
echo "$report"
if ((write_docs)); then
  python3 - "$repo/docs/performance.md" "$report" <<'PY'
import sys, re
path, body = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- observability:begin -->", "<!-- observability:end -->"
block = begin + "\n" + body + "\n" + end
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n## Observability overhead\n\n" + block + "\n"
open(path, "w").write(text)
PY
fi
