#!/usr/bin/env bash
# Line and branch coverage per folder (the seed's testing matrix: 90 % unit on the decision
# logic, 80 % with the integration tests). Builds the coverage preset (GCC --coverage, -O0, no
# sanitizers), runs the unit and property suites, reads the counters with gcovr, then runs the
# end-to-end and transport suites (the real binary, built with the same instrumentation) and
# reads them again. Prints both tables; writes build/coverage/{unit,all}.json and summary.md.
#
#   bash scripts/coverage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
bash scripts/setup.sh
command -v gcovr >/dev/null || { echo "coverage: needs gcovr (apt-get install gcovr)" >&2; exit 2; }

cmake --preset coverage >/dev/null
cmake --build --preset coverage
out=build/coverage
find "$out" -name '*.gcda' -delete

# What the summary covers: the product's code, not its tests, fuzzers or benchmarks.
filters=(--filter 'core/' --filter 'gateway/' --filter 'transport-' --filter 'microservice/'
         --filter 'sim/' --filter 'cli/')
summary() {  # NAME
  gcovr -r . --object-directory "$out" "${filters[@]}" --exclude-unreachable-branches \
    --exclude-throw-branches --json-summary "$out/$1.json" --json-summary-pretty -j 2 >/dev/null
}

echo "== unit and property suites"
ctest --preset coverage -E '^(e2e|transport)\.' >/dev/null || echo "coverage: some unit test failed (counted anyway)"
summary unit
echo "== end-to-end and transport suites"
ctest --preset coverage -R '^(e2e|transport)\.' >/dev/null || echo "coverage: some e2e test failed (counted anyway)"
summary all

python3 - "$out" <<'PY'
import json, sys, collections
out = sys.argv[1]
def folders(name):
    d = json.load(open(f"{out}/{name}.json"))
    agg = collections.defaultdict(lambda: [0, 0, 0, 0])
    for f in d["files"]:
        parts = f["filename"].split("/")
        key = "/".join(parts[:2]) if parts[0] == "gateway" and parts[1] in (
            "auth", "config", "http", "openapi", "ratelimit", "redis") else parts[0]
        if key == "gateway":
            key = "gateway (routing, health, selection)"
        a = agg[key]
        a[0] += f["line_covered"]; a[1] += f["line_total"]
        a[2] += f["branch_covered"]; a[3] += f["branch_total"]
    tot = [sum(v[i] for v in agg.values()) for i in range(4)]
    return agg, tot
unit, unit_tot = folders("unit")
alls, all_tot = folders("all")
pct = lambda c, t: f"{100 * c / t:.1f} %" if t else "n/a"
rows = ["| folder | unit: lines | unit: branches | all tests: lines | all tests: branches |",
        "|---|---|---|---|---|"]
for k in sorted(alls):
    u = unit.get(k, [0, 0, 0, 0]); a = alls[k]
    rows.append(f"| {k} | {pct(u[0], u[1])} | {pct(u[2], u[3])} | {pct(a[0], a[1])} | {pct(a[2], a[3])} |")
rows.append(f"| **total** | {pct(unit_tot[0], unit_tot[1])} | {pct(unit_tot[2], unit_tot[3])} | "
            f"{pct(all_tot[0], all_tot[1])} | {pct(all_tot[2], all_tot[3])} |")
text = "\n".join(rows) + "\n"
open(f"{out}/summary.md", "w").write(text)
print(text)
PY
echo "coverage: $out/summary.md, $out/unit.json, $out/all.json"
