#!/usr/bin/env python3
"""Turns the raw outputs that load/run.sh collected into the markdown report, and optionally
writes it into docs/performance.md between the markers.

    report.py RESULTS_DIR                    # prints the report
    report.py RESULTS_DIR --write-docs DOC   # also replaces <!-- load:begin --> .. <!-- load:end -->

RESULTS_DIR holds: meta.env (KEY=VALUE lines), wrk-TARGET-cN.txt (wrk --latency output),
h2-TARGET.txt and h2-TARGET.log (h2load output and --log-file), rss-TARGET.env, and optionally
profile-perf.txt / profile-strace.txt.
"""
import math
import os
import re
import sys
import textwrap

TARGETS = [
    ("stella", "stella-gw (1 worker) → demo service"),
    ("haproxy", "HAProxy (nbthread 1) → nginx upstream"),
    ("nginx", "nginx (1 worker) → nginx upstream"),
    ("upstream", "nginx upstream, direct"),
]
SECTION = "## HTTP ingress: side by side with nginx and HAProxy"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
UNIT_US = {"us": 1.0, "ms": 1000.0, "s": 1e6, "m": 60e6, "h": 3600e6}


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_env(path):
    out = {}
    text = read(path) or ""
    for line in text.splitlines():
        if "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def to_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    return float(m.group(1)) * UNIT_US[m.group(2)] if m else None


def fmt_us(us):
    if us is None:
        return "–"
    if us < 1000:
        return f"{us:.0f} µs"
    if us < 100_000:
        return f"{us / 1000:.2f} ms"
    return f"{us / 1000:.0f} ms"


def fmt_int(x):
    return "–" if x is None else f"{x:,.0f}"


def parse_wrk(text):
    """requests/s, p50, p99 (µs), plus error notes, from `wrk --latency` output."""
    if text is None:
        return None
    r = {"rps": None, "p50": None, "p99": None, "errors": []}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", text, re.M)
        if m:
            r[key] = to_us(m.group(1))
    m = re.search(r"Socket errors: (.*)", text)
    if m:
        r["errors"].append("socket errors: " + m.group(1).strip())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["errors"].append(m.group(1) + " non-2xx responses")
    m = re.search(r"(\d+) requests in ([0-9.]+\w+)", text)
    if m:
        r["requests"] = int(m.group(1))
    return r


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def parse_h2(text, log):
    if text is None:
        return None
    r = {}
    m = re.search(r"finished in [0-9.]+\w+, ([0-9.]+) req/s", text)
    r["rps"] = float(m.group(1)) if m else None
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    if m:
        r["total"], r["done"], r["ok"], r["failed"], r["errored"], r["timeout"] = map(
            int, m.groups())
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if m:
        r["min"], r["max"], r["mean"], r["sd"] = (to_us(x) for x in m.groups())
    lat = []
    for line in (log or "").splitlines():
        cols = line.split("\t")
        if len(cols) >= 3 and cols[1].startswith("2"):
            try:
                lat.append(float(cols[2]))
            except ValueError:
                pass
    lat.sort()
    r["n_log"] = len(lat)
    r["p50"] = percentile(lat, 50)
    r["p99"] = percentile(lat, 99)
    r["p999"] = percentile(lat, 99.9)
    return r


def round_files(results, stem, ext):
    """{round: path} for STEM-rN.EXT, or {1: STEM.EXT} (a single, unnumbered run)."""
    found = {}
    for name in os.listdir(results):
        m = re.fullmatch(re.escape(stem) + r"-r(\d+)\." + re.escape(ext), name)
        if m:
            found[int(m.group(1))] = os.path.join(results, name)
    if not found and os.path.exists(os.path.join(results, f"{stem}.{ext}")):
        found[1] = os.path.join(results, f"{stem}.{ext}")
    return found


def median_round(values):
    """The round whose value is the (lower) median; values: {round: number or None}."""
    ok = sorted((v, r) for r, v in values.items() if v is not None)
    if not ok:
        return None
    return ok[(len(ok) - 1) // 2][1]


def kb(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def fmt_mb(k):
    return "–" if k is None else f"{k / 1024:.1f} MB"


def build(results):
    meta = read_env(os.path.join(results, "meta.env"))
    out = []
    o = out.append
    o(f"Measured {meta.get('date', '?')} on {meta.get('cpu', '?')} ({meta.get('cores', '?')} "
      f"cores), Linux {meta.get('kernel', '?')}; load average just before the run "
      f"{meta.get('load_before', '?')}, after it {meta.get('load_after', '?')} (other builds may "
      f"have shared the machine). The load generators (wrk, h2load, the idle-connection script) "
      f"run on the same cores as the servers under test, so every number includes their cost.")
    o("")
    o("Command:")
    o("")
    o("```sh")
    o(meta.get("command", "bash load/run.sh"))
    o("```")
    o("")
    o(f"Tools: {meta.get('v_wrk', 'wrk ?')}; {meta.get('v_h2load', 'h2load ?')}; "
      f"{meta.get('v_nginx', 'nginx ?')}; {meta.get('v_haproxy', 'HAProxy ?')}; "
      f"stella-gw {meta.get('v_stella', '?')} (`{meta.get('binary', '?')}`).")
    o("")
    o(f"Request: `GET {meta.get('path', '/api/v1/demo/echo')}` with only a `Host` header (what wrk "
      f"and h2load send). Through stella-gw the demo service's echo handler answers it with a "
      f"{meta.get('body_bytes', '?')}-byte JSON body; the nginx upstream returns those same "
      f"{meta.get('body_bytes', '?')} bytes (captured from stella-gw at the start of the run) with "
      f"`return 200`, `application/json`. Every proxy keeps its upstream connections alive "
      f"(nginx `keepalive 64`, HAProxy `http-reuse always`, stella-gw's one multiplexed service "
      f"connection). One worker/thread each: stella-gw `--workers 1`, nginx "
      f"`worker_processes 1` (proxy and upstream are two separate nginx instances), HAProxy "
      f"`nbthread 1`; the demo service is one more process with its own event loop.")
    o("")

    d = meta.get("duration", "?")
    o(f"### Closed loop: wrk, {d} s per cell after a 2 s warm-up")
    o("")
    o("`wrk -t1 -c50 -d" + d + "s --latency URL` and `wrk -t2 -c1000 -d" + d +
      "s --latency URL`.")
    o("")
    rounds = int(meta.get("rounds", "1") or 1)
    if rounds > 1:
        o(f"{rounds} rounds, targets interleaved within each round. Each cell is the round with "
          f"the median requests/s (the lower middle one for an even count) with that round's p50 "
          f"and p99; in brackets, the range of requests/s over the rounds.")
        o("")
    o("| target | 50 conns: req/s | p50 | p99 | 1,000 conns: req/s | p50 | p99 |")
    o("|---|---|---|---|---|---|---|")
    wrk = {}
    wrk_round = {}
    notes = []
    for key, label in TARGETS:
        row = [label]
        for c in ("50", "1000"):
            files = round_files(results, f"wrk-{key}-c{c}", "txt")
            parsed = {rn: parse_wrk(read(f)) for rn, f in files.items()}
            chosen = median_round({rn: (v or {}).get("rps") for rn, v in parsed.items()})
            r = parsed.get(chosen) if chosen else None
            wrk[(key, c)] = r
            wrk_round[(key, c)] = chosen
            if r is None:
                row += ["–", "–", "–"]
                continue
            for rn, v in sorted(parsed.items()):
                if v and rn != chosen and v.get("requests") and any(
                        not re.fullmatch(r"socket errors: connect 0, read 0, write 0, timeout 0", e)
                        for e in v["errors"]):
                    notes.append(f"{label}, {c} connections, round {rn}: " + "; ".join(v["errors"]))
            if not r.get("requests"):
                row += ["0", "–", "–"]
                notes.append(f"{label}, {c} connections: no request completed")
                continue
            rps_text = fmt_int(r["rps"])
            all_rps = [v["rps"] for v in parsed.values() if v and v.get("rps") is not None]
            if len(all_rps) > 1:
                rps_text += f" ({fmt_int(min(all_rps))}–{fmt_int(max(all_rps))})"
            row += [rps_text, fmt_us(r["p50"]), fmt_us(r["p99"])]
            errs = [e for e in r["errors"]
                    if not re.fullmatch(r"socket errors: connect 0, read 0, write 0, timeout 0", e)]
            if errs:
                notes.append(f"{label}, {c} connections: " + "; ".join(errs))
        o("| " + " | ".join(row) + " |")
    o("")
    if notes:
        o("wrk reported: " + " · ".join(notes) + ".")
        o("")

    close = {}
    close_rows = []
    for key, label in TARGETS:
        r, rps_text, errs, _ = median_cell(results, key, "c20close")
        if not r:
            continue
        close[key] = r
        close_rows.append(f"| {label} | {rps_text} | {fmt_us(r['p50'])} | {fmt_us(r['p99'])} | "
                          f"{'; '.join(errs) or '–'} |")
    if close_rows:
        o(f"### New connections: `wrk -t1 -c20 -d{d}s -H 'Connection: close'`")
        o("")
        o("Every request on a new TCP connection (the server closes after each answer and wrk "
          "reconnects), so requests/s is new connections per second (plain HTTP).")
        o("")
        o("| target | connections/s | p50 | p99 | wrk errors |")
        o("|---|---|---|---|---|")
        out.extend(close_rows)
        o("")

    cpu_rows = []
    for key, label in TARGETS:
        text = cpu_text(results, key, "c50", wrk_round.get((key, "50")), wrk.get((key, "50")))
        if text:
            cpu_rows.append(f"| {label} | {text} |")
    if cpu_rows:
        o("CPU time per request at 50 connections (user + system, from /proc/PID/stat over the "
          "wrk run, 10 ms tick resolution; wrk's own share not included):")
        o("")
        o("| target | µs per request, by process | total µs |")
        o("|---|---|---|")
        out.extend(cpu_rows)
        o("")

    tls = build_tls(results, meta, d, rounds)
    out.extend(tls["lines"])

    rate = meta.get("rate", "?")
    clients = meta.get("rate_clients", "?")
    o(f"### Fixed rate: h2load, {rate} requests/s ({clients} connections), {d} s after a 2 s "
      f"warm-up")
    o("")
    o("`h2load --h1 -c" + clients + " --rps " + meta.get("rps_per_client", "?") + " -D " + d +
      " --warm-up-time 2 --log-file LOG URL`; p50/p99 come from the per-request log (third column, "
      "µs), the rest from h2load's summary.")
    o("")
    if rounds > 1:
        o("Each row is the round with the median p99.")
        o("")
    o("| target | achieved req/s | failed | min | mean | p50 | p99 | max | sd |")
    o("|---|---|---|---|---|---|---|---|---|")
    h2 = {}
    for key, label in TARGETS:
        files = round_files(results, f"h2-{key}", "txt")
        parsed = {rn: parse_h2(read(f), read(f[:-4] + ".log")) for rn, f in files.items()}
        chosen = median_round({rn: (v or {}).get("p99") for rn, v in parsed.items()})
        r = parsed.get(chosen) if chosen else None
        h2[key] = r
        if r is None:
            o(f"| {label} | – | – | – | – | – | – | – | – |")
            continue
        bad = sum(r.get(k, 0) for k in ("failed", "errored", "timeout"))
        o(f"| {label} | {fmt_int(r.get('rps'))} | {bad} | {fmt_us(r.get('min'))} | "
          f"{fmt_us(r.get('mean'))} | {fmt_us(r.get('p50'))} | {fmt_us(r.get('p99'))} | "
          f"{fmt_us(r.get('max'))} | {fmt_us(r.get('sd'))} |")
    o("")
    try:
        want = float(rate)
        short = [f"{dict(TARGETS)[k]} reached {fmt_int(v['rps'])}" for k, v in h2.items()
                 if v and v.get("rps") is not None and v["rps"] < 0.95 * want]
    except ValueError:
        short = []
    if short:
        o("Below the requested rate (the latencies then include queueing): " + "; ".join(short) +
          ".")
        o("")
    s, u = h2.get("stella"), h2.get("upstream")
    overhead = None
    if s and u and None not in (s.get("p50"), u.get("p50"), s.get("p99"), u.get("p99")):
        overhead = (s["p50"] - u["p50"], s["p99"] - u["p99"])
        o(f"Gateway overhead, defined as stella-gw's latency minus the upstream-direct latency at "
          f"the same fixed rate: p50 {fmt_us(overhead[0])}, p99 {fmt_us(overhead[1])} (this "
          f"includes the demo service's own work, which the nginx upstream does not have).")
        o("")

    n_idle = meta.get("idle_conns", "?")
    rss = {}
    if n_idle != "0":
        o(f"### {n_idle} idle keep-alive connections")
        o("")
        o(f"Each connection sends one request (stella-gw: `GET /health/live`, answered by the gateway "
          f"itself; nginx and HAProxy: the proxied `GET {meta.get('path', '/api/v1/demo/echo')}`), reads "
          f"the response and stays open (`load/idle_conns.py`; HTTPS rows: the same over TLS 1.3, "
          f"on the servers with session tickets on). VmRSS from /proc/PID/status before "
          f"opening them and while they are held; for nginx, the worker process (the master holds no "
          f"connections). Processes were started fresh for this step.")
        o("")
        o("| process | held | RSS before | RSS with connections | per connection |")
        o("|---|---|---|---|---|")
        for key, label in TARGETS[:3] + [(k + "-tls", v + ", HTTPS") for k, v in TARGETS[:3]]:
            e = read_env(os.path.join(results, f"rss-{key}.env"))
            if not e:
                continue
            b, a = kb(e.get("before_kb")), kb(e.get("after_kb"))
            held = re.search(r"held=(\d+)", e.get("holder", ""))
            held_n = int(held.group(1)) if held else None
            per = (f"{(a - b) * 1024 / held_n / 1024:.1f} KiB" if None not in (a, b) and held_n
                   else "–")
            rss[key] = (b, a, held_n, e.get("holder", ""))
            o(f"| {e.get('process', label)} | {fmt_int(held_n)} | {fmt_mb(b)} | {fmt_mb(a)} | {per} |")
        o("")
        holder_notes = [f"{k}: {v[3] or 'no report from the client'}" for k, v in rss.items()
                        if "failed=0 " not in v[3] or "closed_by_server=0 " not in v[3]]
        if holder_notes:
            o("Idle-connection client reported: " + " · ".join(holder_notes) + ".")
            o("")

    o("### Against the targets")
    o("")
    for c in ("50", "1000"):
        st, hp = wrk.get(("stella", c)), wrk.get(("haproxy", c))
        if not (st and hp and st["rps"] and hp["rps"]):
            continue
        ratio = st["rps"] / hp["rps"]
        # Issue 14's aim: a quarter more requests/s than HAProxy, not merely as many.
        rps_ok = ratio >= 1.25
        p99_ok = st["p99"] is not None and hp["p99"] is not None and st["p99"] <= hp["p99"]
        verdict = "met" if rps_ok and p99_ok else "missed"
        detail = (f"{fmt_int(st['rps'])} vs {fmt_int(hp['rps'])} req/s ({ratio:.2f}×), "
                  f"p99 {fmt_us(st['p99'])} vs {fmt_us(hp['p99'])}")
        o(f"- stella-gw ≥ 1.25× HAProxy's requests/s with p99 no higher, {c} connections: "
          f"**{verdict}** — {detail}.")
    st, hp = close.get("stella"), close.get("haproxy")
    if st and hp and st["rps"] and hp["rps"]:
        ratio = st["rps"] / hp["rps"]
        o(f"- new connections per second (plain) ≥ HAProxy's: **{'met' if ratio >= 1 else 'missed'}**"
          f" — {fmt_int(st['rps'])} vs {fmt_int(hp['rps'])} ({(ratio - 1) * 100:+.0f} %).")
    for cell, what in (("c20tlsfull", "full TLS 1.3 handshakes"),
                       ("c20tlsresume", "resumed TLS 1.3 sessions")):
        st, hp = tls["cells"].get(("stella", cell)), tls["cells"].get(("haproxy", cell))
        if st and hp and st["rps"] and hp["rps"]:
            ratio = st["rps"] / hp["rps"]
            p99_ok = None not in (st["p99"], hp["p99"]) and st["p99"] <= hp["p99"]
            o(f"- new HTTPS connections per second, {what}, ≥ HAProxy's with p99 no higher: "
              f"**{'met' if ratio >= 1 and p99_ok else 'missed'}** — {fmt_int(st['rps'])} vs "
              f"{fmt_int(hp['rps'])} ({(ratio - 1) * 100:+.0f} %), p99 {fmt_us(st['p99'])} vs "
              f"{fmt_us(hp['p99'])}.")
    st, hp = tls["cells"].get(("stella", "c50tls")), tls["cells"].get(("haproxy", "c50tls"))
    if st and hp and st["rps"] and hp["rps"]:
        ratio = st["rps"] / hp["rps"]
        o(f"- HTTPS keep-alive requests/s at 50 connections ≥ 1.25× HAProxy's: "
          f"**{'met' if ratio >= 1.25 else 'missed'}** — {fmt_int(st['rps'])} vs "
          f"{fmt_int(hp['rps'])} ({ratio:.2f}×).")
    if overhead:
        ok = overhead[0] < 2000 and overhead[1] < 5000
        o(f"- Gateway overhead at {rate} req/s (p50 < 2 ms, p99 < 5 ms): **"
          f"{'met' if ok else 'missed'}** — p50 {fmt_us(overhead[0])}, p99 {fmt_us(overhead[1])} "
          f"(stella-gw end to end: p50 {fmt_us(s['p50'])}, p99 {fmt_us(s['p99'])}; the upstream "
          f"directly: p50 {fmt_us(u['p50'])}, p99 {fmt_us(u['p99'])}).")
    if "stella" in rss and rss["stella"][1] is not None:
        b, a, held_n, _ = rss["stella"]
        ok = a < 512 * 1024 and held_n is not None and str(held_n) == n_idle
        o(f"- {n_idle} idle connections under 512 MB: **{'met' if ok else 'missed'}** — "
          f"{fmt_int(held_n)} held, RSS {fmt_mb(a)}.")
    o("")

    alloc = read(os.path.join(results, "alloc.txt"))
    if alloc:
        o("### stella-gw: allocations per request (`load/alloc_bench.sh`)")
        o("")
        o("```text")
        o(alloc.rstrip())
        o("```")
        o("")
    workers = read(os.path.join(results, "workers.txt"))
    if workers:
        o("### stella-gw: one worker against two (`load/workers_bench.sh`)")
        o("")
        out.extend(workers.rstrip().splitlines())
        o("")

    perf = read(os.path.join(results, "profile-perf.txt"))
    straces = {k: parse_strace(read(os.path.join(results, f"strace-{k}.txt")))
               for k in ("stella", "haproxy")}
    straces = {k: v for k, v in straces.items() if v}
    if perf or straces:
        o("### Profile under `wrk -t1 -c50`")
        o("")
        if perf:
            o(f"stella-gw process only (the demo service is not included): `perf record -F 999 -p "
              f"PID` for {d} s, `perf report --no-children --sort dso,symbol` (self time):")
            o("")
            o("```text")
            o(perf.rstrip())
            o("```")
            o("")
        if straces:
            o("System calls per request, `strace -c -f -p PID` during a separate 5 s wrk run "
              "(strace slows the process down; only the per-request counts matter):")
            o("")
            names = sorted({n for v in straces.values() for n in v[1]},
                           key=lambda n: -max(v[1].get(n, 0) / max(v[0], 1)
                                              for v in straces.values()))
            keys = [k for k, _ in TARGETS if k in straces]
            o("| syscall | " + " | ".join(dict(TARGETS)[k].split(" ")[0] for k in keys) + " |")
            o("|---|" + "---|" * len(keys))
            for n in names[:10]:
                o(f"| {n} | " + " | ".join(
                    f"{straces[k][1].get(n, 0) / max(straces[k][0], 1):.2f}" for k in keys) + " |")
            o("| **total** | " + " | ".join(
                f"**{sum(straces[k][1].values()) / max(straces[k][0], 1):.2f}**" for k in keys) + " |")
            o("")
    return "\n".join(wrap(out)).rstrip() + "\n"


def median_cell(results, key, cell):
    """The median round of one wrk cell: (parsed, "req/s (min–max)", error notes, round)."""
    files = round_files(results, f"wrk-{key}-{cell}", "txt")
    parsed = {rn: parse_wrk(read(f)) for rn, f in files.items()}
    chosen = median_round({rn: (v or {}).get("rps") for rn, v in parsed.items()})
    r = parsed.get(chosen) if chosen else None
    if not r or not r.get("requests"):
        return None, "–", [], None
    all_rps = [v["rps"] for v in parsed.values() if v and v.get("rps") is not None]
    rps_text = fmt_int(r["rps"])
    if len(all_rps) > 1:
        rps_text += f" ({fmt_int(min(all_rps))}–{fmt_int(max(all_rps))})"
    errs = [e for e in r["errors"]
            if not re.fullmatch(r"socket errors: connect 0, read 0, write 0, timeout 0", e)]
    return r, rps_text, errs, chosen


def cpu_text(results, key, cell, rn, r):
    """Per-request CPU ("name µs, name µs | total µs") of a cell's chosen round, or None."""
    e = read_env(os.path.join(results, f"cpu-{key}-{cell}-r{rn}.env"))
    if not e:
        e = read_env(os.path.join(results, f"cpu-{key}-{cell}.env"))
    if not e or not r or not r.get("requests"):
        return None
    tck = float(e.pop("clk_tck", "100"))
    parts = [f"{name} {int(t) / tck * 1e6 / r['requests']:.1f}" for name, t in e.items()]
    total = sum(int(t) for t in e.values()) / tck * 1e6 / r["requests"]
    return ", ".join(parts) + f" | {total:.1f}"


def build_tls(results, meta, d, rounds):
    """The HTTPS table: keep-alive, full handshakes, resumed sessions; and the CPU per request."""
    out = {"lines": [], "cells": {}}
    if meta.get("tls", "0") != "1":
        return out
    o = out["lines"].append
    resumes = read_env(os.path.join(results, "resumes.env"))
    rows, cpu_rows = [], []
    cells = (("c50tls", "keep-alive, 50 conns: req/s"),
             ("c20tlsfull", "full handshakes, 20 conns: conns/s"),
             ("c20tlsresume", "resumed, 20 conns: conns/s"))
    for key, label in TARGETS[:3]:
        row = [label]
        for cell, _ in cells:
            r, rps_text, errs, rn = median_cell(results, key, cell)
            out["cells"][(key, cell)] = r
            if r is None:
                row += ["–", "–", "–"]
                continue
            if errs:
                rps_text += " (" + "; ".join(errs) + ")"
            row += [rps_text, fmt_us(r["p50"]), fmt_us(r["p99"])]
            text = cpu_text(results, key, cell, rn, r)
            if text and cell != "c50tls":
                cpu_rows.append(f"| {label} | {cell[3:]} | {text} |")
            elif text:
                cpu_rows.append(f"| {label} | keep-alive | {text} |")
        rows.append("| " + " | ".join(row) + " |")
    o(f"### HTTPS (TLS 1.3): wrk, {d} s per cell after a 2 s warm-up")
    o("")
    o("The same request over TLS 1.3 (one ECDSA P-256 certificate from `stella-gw tls dev-certs` for "
      "every server; X25519, TLS_AES_256_GCM_SHA384). Keep-alive: `wrk -t1 -c50`. New connections: "
      "`wrk -t1 -c20 -H 'Connection: close'`; wrk keeps its SSL object across reconnections and "
      "offers the previous session, so the rate is of full handshakes against servers that send no "
      "session tickets (stella-gw `http.tls.sessionTickets: false`, nginx `ssl_session_tickets "
      "off; ssl_session_cache off`, HAProxy `no-tls-tickets` with `tune.ssl.cachesize 0`) and of "
      "resumed sessions against the same servers with tickets on (their defaults). Whether a port "
      "resumes is checked with `openssl s_client -sess_out` / `-sess_in` before the run: "
      + ", ".join(f"{k} {v}" for k, v in sorted(resumes.items())) + ".")
    o("")
    if rounds > 1:
        o("Each cell is the round with the median rate; in brackets, the range over the rounds.")
        o("")
    o("| target | " + " | ".join(f"{h} | p50 | p99" for _, h in cells) + " |")
    o("|---|" + "---|---|---|" * len(cells))
    out["lines"].extend(rows)
    o("")
    if cpu_rows:
        o("CPU time per request (per new connection in the handshake cells), µs, user + system:")
        o("")
        o("| target | cell | by process | total |")
        o("|---|---|---|---|")
        out["lines"].extend(cpu_rows)
        o("")
    return out


def wrap(lines, width=100):
    """Wraps prose at `width` like the rest of docs/performance.md; tables and code stay."""
    result, in_code = [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        if in_code or line.startswith(("```", "|", "#")) or len(line) <= width:
            result.append(line)
        elif line.startswith("- "):
            result.extend(textwrap.wrap(line, width, subsequent_indent="  ",
                                        break_long_words=False, break_on_hyphens=False))
        else:
            result.extend(textwrap.wrap(line, width, break_long_words=False,
                                        break_on_hyphens=False))
    return result


def parse_strace(text):
    """(requests, {syscall: calls}) from run.sh's strace file (requests=N, then strace -c)."""
    if not text:
        return None
    m = re.search(r"requests=(\d+)", text)
    if not m:
        return None
    calls = {}
    for line in text.splitlines():
        cols = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(cols) >= 5 and re.fullmatch(r"[0-9.]+", cols[0]) and cols[-1] != "total":
            try:
                calls[cols[-1]] = int(cols[3])
            except ValueError:
                pass
    return int(m.group(1)), calls


def write_docs(doc, report):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    block = f"{BEGIN}\n{report}{END}"
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        i, j = text.index(BEGIN), text.index(END) + len(END)
        text = text[:i] + block + text[j:]
    elif SECTION in text:
        i = text.index(SECTION) + len(SECTION)
        text = text[:i] + "\n\n" + block + "\n" + text[i:].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + block + "\n"
    tmp = doc + ".load-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, doc)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    report = build(sys.argv[1])
    sys.stdout.write(report)
    if len(sys.argv) == 4 and sys.argv[2] == "--write-docs":
        write_docs(sys.argv[3], report)
        print(f"\nreport: wrote {sys.argv[3]}", file=sys.stderr)


if __name__ == "__main__":
    main()
