#!/usr/bin/env python3
"""The seed's load scenarios A-G without k6 (docs/performance.md, "Load scenarios A-G").

    bash load/scenarios.sh [--only C] [--quick] [--binary PATH] [--curve] [--out DIR]

Scenarios and thresholds come from the SCENARIOS block of load/k6/gateway_performance.k6.js:
one source of truth for k6 users and for this runner. The runner starts its own stack on
loopback (redis-server, the development Authority, stella-gw with authentication, rate limiting
and OpenAPI on, two demo service instances), drives each scenario with wrk (a Lua script per
scenario records statuses and checks the responses), applies the same thresholds, and prints
a table: scenario, metric, threshold, measured, pass/fail. Results go to DIR/results.json and
DIR/report.html (a self-contained page with charts).

Exit status: 0 when every scenario ran and met its thresholds, 1 when one missed, 2 when one
could not run (or the stack did not start).

--curve adds the stepped-load curve: scenario C's request mix from 100 connections at rising
target rates, then unpaced, every step judged against the SLO (C's thresholds), with the achieved rate, latency percentiles, error
rate, the gateway's CPU and RSS and the per-phase durations from /metrics at each step (the
seed's PerformanceCurvePoint), and the knee: the highest rate that still met the SLO.
"""

import argparse
import datetime
import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
K6_FILE = os.path.join(HERE, "k6", "gateway_performance.k6.js")
RATE_LIMIT = 500
RATE_LIMITED_PATH = "/api/v1/demo/status/200"
CORRELATION_ID = "scenario-d-4f2a9c"


class CannotRun(Exception):
    """A scenario (or the stack) could not run: exit 2."""


# ---- the scenarios and their thresholds, from the k6 file --------------------------------------


def read_scenarios(path=K6_FILE):
    """The SCENARIOS block of the k6 file (JSON between the BEGIN/END SCENARIOS markers)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"// BEGIN SCENARIOS[^\n]*\nconst SCENARIOS = (\{.*?\n\});\n// END SCENARIOS",
                  text, re.S)
    if not m:
        raise ValueError(f"{path}: no SCENARIOS block between the BEGIN/END markers")
    return json.loads(m.group(1))


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# Thresholds on time and rate (and on memory growth, which a short run on a shared machine cannot
# judge):
# with --timing-advisory a miss is reported but does not fail the run. Every other threshold —
# statuses, content checks, the rate-limit count, Retry-After, 503s, descriptors — always does.
TIMING_METRICS = {"http_req_duration", "correlation_overhead_ms", "rss_growth_mib_per_min",
                  "http_reqs"}

THRESHOLD = re.compile(r"^\s*(p\((\d+(?:\.\d+)?)\)|rate|count|value|avg|min|max|med)\s*"
                       r"(<=|>=|==|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_threshold(expr):
    """k6's threshold expression: ("p(95)", "<", 10.0), ("rate", "<", 0.001), ..."""
    m = THRESHOLD.match(expr)
    if not m:
        raise ValueError(f"not a threshold this runner knows: {expr!r}")
    agg = m.group(1) if not m.group(2) else f"p({float(m.group(2)):g})"
    return agg, m.group(3), float(m.group(4))


def compare(measured, op, bound):
    return {"<": measured < bound, "<=": measured <= bound, ">": measured > bound,
            ">=": measured >= bound, "==": measured == bound}[op]


def evaluate(metrics, metric, expr):
    """(passed, measured) for one threshold; measured is None when the metric is missing."""
    agg, op, bound = parse_threshold(expr)
    measured = metrics.get(metric, {}).get(agg)
    if measured is None:
        return False, None
    return compare(measured, op, bound), measured


def slope_per_minute(samples, warmup_s):
    """Least-squares slope (units per minute) of (t, value) samples after `warmup_s`."""
    pts = [(t, v) for t, v in samples if t >= warmup_s]
    if len(pts) < 3:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    if den == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in pts) / den * 60


def parse_wrk(output):
    """The JSON line the Lua script prints (STELLA-RESULT {...}) and wrk's error counts."""
    m = re.search(r"^STELLA-RESULT (\{.*\})$", output, re.M)
    if not m:
        raise CannotRun("wrk printed no result:\n" + output[-2000:])
    r = json.loads(m.group(1))
    return r


# ---- the stack ---------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=2.0, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError:
        return 0, ""


def wait_for(what, cond, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise CannotRun(f"{what} did not happen within {timeout:.0f} s")


class Processes:
    """Processes this runner started (each in its own session) and the one whose facts the
    curve reads (`main`): its CPU time and RSS from /proc."""

    def __init__(self):
        self.procs = []
        self.main = None
        self.http = 0

    def url(self, path):
        return f"http://127.0.0.1:{self.http}{path}"

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    def rss_mib(self):
        with open(f"/proc/{self.main.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self):
        with open(f"/proc/{self.main.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stack(Processes):
    def __init__(self, binary, workdir, workers):
        self.binary = binary
        self.dir = workdir
        self.workers = workers
        super().__init__()
        self.gateway = None
        self.token = ""

    def spawn(self, name, args):
        log = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self):
        redis_port = free_port()
        if not shutil.which("redis-server"):
            raise CannotRun("redis-server is not installed (bash scripts/setup.sh)")
        self.spawn("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"])
        wait_for("redis-server", lambda: self._connects(redis_port), 10)

        key = os.path.join(self.dir, "authority-key.json")
        self.spawn("authority", [self.binary, "authority", "dev", "--port", "0", "--key", key])
        issuer = []

        def authority_up():
            m = re.search(r"authority: issuer (http://\S+)", self.log("authority"))
            if m:
                issuer.append(m.group(1))
            return bool(m)

        wait_for("the development Authority", authority_up, 15)
        issuer = issuer[0]
        self.token = subprocess.run(
            [self.binary, "token", "mint", "--key", key, "--issuer", issuer, "--audience",
             "stella-gateway", "--scope", "demo:read", "--ttl", "7200"],
            check=True, capture_output=True, text=True).stdout.strip()

        config = os.path.join(self.dir, "gateway.yaml")
        with open(config, "w") as f:
            f.write(f"""gateway:
  node: {{region: local, nodeId: gw-scenarios}}
transports:
  tcp: {{enabled: true, host: 127.0.0.1, port: 0}}
http:
  host: 127.0.0.1
  port: 0
  workers: {self.workers}
  maxConnections: 20000
auth:
  enabled: true
  authority:
    issuer: "{issuer}"
    audiences: [stella-gateway]
    requireHttpsMetadata: false
  replayCache: {{type: redis, url: "redis://127.0.0.1:{redis_port}/0"}}
  anonymousServices: [demo]
rate_limiting:
  key_by: ip
  overrides:
    - match: {{service: demo, path: "/api/v1/demo/status/{{code}}"}}
      for_instance:
        rules: [{{max_requests: {RATE_LIMIT}, per_seconds: 3600}}]
openapi:
  cacheTtlSeconds: 300
""")
        self.gateway = self.main = self.spawn("gateway", [self.binary, "serve", "--config", config])
        ports = {}

        def gateway_up():
            m = re.search(r"listening https?=127\.0\.0\.1:(\d+) tcp=127\.0\.0\.1:(\d+)",
                          self.log("gateway"))
            if m:
                ports["http"], ports["tcp"] = int(m.group(1)), int(m.group(2))
            if self.gateway.poll() is not None:
                raise CannotRun("the gateway exited:\n" + self.log("gateway")[-2000:])
            return bool(m)

        wait_for("the gateway listening", gateway_up, 20)
        self.http = ports["http"]
        for i in (1, 2):
            self.spawn(f"demo-{i}", [self.binary, "service", "demo", "--gateway",
                                     f"tcp://127.0.0.1:{ports['tcp']}", "--instance", f"demo-{i}",
                                     "--region", "local"])

        def ready():
            status, body = http_get(self.url("/health/ready"))
            return status == 200 and '"healthy":2' in body

        wait_for("the gateway ready with 2 healthy demo instances", ready, 30)

    @staticmethod
    def _connects(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def fds(self):
        return len(os.listdir(f"/proc/{self.gateway.pid}/fd"))

    def settle(self, timeout=15.0):
        """Waits until the gateway's descriptor count stops falling (the previous scenario's
        connections closed), so that a baseline is not the tail of the last load."""
        end = time.time() + timeout
        last = self.fds()
        while time.time() < end:
            time.sleep(0.5)
            now = self.fds()
            if now >= last:
                return now
            last = now
        return last

    def phase_sums(self):
        """(sum, count) of the per-phase histograms on /metrics."""
        _, text = http_get(self.url("/metrics"), timeout=5)
        out = {}
        for phase in ("auth", "routing", "transport", "request"):
            total = count = 0.0
            for m in re.finditer(rf"^gateway_{phase}_duration_seconds_(sum|count)(?:\{{[^}}]*\}})? "
                                 r"([0-9.e+-]+)$", text, re.M):
                if m.group(1) == "sum":
                    total += float(m.group(2))
                else:
                    count += float(m.group(2))
            out[phase] = (total, count)
        return out


class CompareStack(Processes):
    """HAProxy (nbthread 1) in front of an nginx upstream (1 worker) that answers every path
    of the mix with the demo echo's body: the curve of a mainstream proxy on the same machine,
    the same requests and the same steps (docs/performance.md)."""

    def __init__(self, workdir, body):
        self.dir = os.path.join(workdir, "compare")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.body = body
        super().__init__()
        self.haproxy = None

    def start(self):
        if not (shutil.which("haproxy") and shutil.which("nginx")):
            raise CannotRun("haproxy and nginx are needed for --compare (bash scripts/setup.sh)")
        up, front = free_port(), free_port()
        body = self.body.replace("\\", "\\\\").replace("'", "\\'").replace("$", "_")
        user = ""
        if os.getuid() == 0:
            import grp
            import pwd
            user = (f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};")
        d = self.dir
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {d}/tmp/client; proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi; uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  server {{
    listen 127.0.0.1:{up};
    location / {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
""")
        with open(os.path.join(d, "haproxy.cfg"), "w") as f:
            f.write(f"""global
  nbthread 1
  no strict-limits
  maxconn 20000
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  timeout http-request 10s
  maxconn 20000
frontend fe
  bind 127.0.0.1:{front}
  default_backend up
backend up
  server u1 127.0.0.1:{up}
""")
        for name, args in (("nginx", ["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"),
                                      "-e", os.path.join(d, "nginx-error.log")]),
                           ("haproxy", ["haproxy", "-db", "-f", os.path.join(d, "haproxy.cfg")])):
            log = open(os.path.join(d, name + ".log"), "w")
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            self.procs.append(p)
            if name == "haproxy":
                self.haproxy = self.main = p
        self.http = front
        wait_for("HAProxy in front of nginx",
                 lambda: http_get(self.url("/api/v1/demo/echo"))[0] == 200, 15)

    def phase_sums(self):
        return {}


# ---- driving load with wrk ---------------------------------------------------------------------

LUA = r"""
-- Generated by load/scenarios.py: cycles through REQS, counts statuses and failed checks.
local reqs = REQS
local check_body = CHECK_BODY  -- every one of these substrings must be in the body
local check_header = CHECK_HEADER
local think = THINK_MS
local threads = {}
function setup(thread) table.insert(threads, thread) end
if think > 0 then
  function delay() return think end
end
function init(args)
  statuses = {}; bad = 0; missing_retry = 0; i = 0
  for k, r in ipairs(reqs) do
    reqs[k].raw = wrk.format(r[1], r[2], r[4], r[3])
  end
end
function request()
  i = i % #reqs + 1
  return reqs[i].raw
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local ok = true
  for _, want in ipairs(check_body) do
    if body == nil or not string.find(body, want, 1, true) then ok = false end
  end
  if check_header ~= "" and headers["X-Correlation-Id"] ~= check_header then ok = false end
  if status == 429 and headers["Retry-After"] == nil then missing_retry = missing_retry + 1 end
  if not ok then bad = bad + 1 end
end
function done(summary, latency, requests)
  local st = {}
  local bad_total, missing_total = 0, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do st[tostring(k)] = (st[tostring(k)] or 0) + v end
    bad_total = bad_total + t:get("bad")
    missing_total = missing_total + t:get("missing_retry")
  end
  local parts = {}
  for k, v in pairs(st) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format('STELLA-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"statuses":{%s},"bad_checks":%d,"missing_retry_after":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status,
    table.concat(parts, ","), bad_total, missing_total))
end
"""


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_script(reqs, check_body=(), check_header="", think_ms=0):
    items = []
    for method, path, body, headers in reqs:
        hs = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
        items.append(f"{{{lua_string(method)}, {lua_string(path)}, "
                     f"{lua_string(body) if body else 'nil'}, {{{hs}}}}}")
    return (LUA.replace("REQS", "{" + ", ".join(items) + "}")
               .replace("CHECK_BODY", "{" + ", ".join(lua_string(b) for b in check_body) + "}")
               .replace("CHECK_HEADER", lua_string(check_header))
               .replace("THINK_MS", str(int(think_ms))))


def think_for(rate, connections):
    """The pause per connection (ms) that makes `connections` offer `rate` requests/s (wrk's
    delay(): each connection waits this long before its next request)."""
    return 0 if not rate else max(0, round(connections * 1000 / rate))


def run_wrk(stack, workdir, name, reqs, connections, seconds, check_body=(), check_header="",
            threads=None, think_ms=0):
    script = os.path.join(workdir, name + ".lua")
    with open(script, "w") as f:
        f.write(lua_script(reqs, check_body, check_header, think_ms))
    threads = threads or (1 if connections <= 50 else 2)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", script, stack.url("/")]
    p = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    if p.returncode != 0:
        raise CannotRun(f"wrk failed ({p.returncode}): {p.stderr[-1000:]}")
    return parse_wrk(p.stdout)


def metrics_of(r):
    """k6-style metric values from one wrk result."""
    total = max(1, r["requests"])
    statuses = {int(k): v for k, v in r["statuses"].items()}
    failed = sum(v for k, v in statuses.items() if k >= 400) + \
        sum(r["errors"][k] for k in ("connect", "read", "write", "timeout"))
    ms = {f"p({p})": r[f"p{p}_us"] / 1000 for p in (50, 90, 95, 99)}
    ms.update({"avg": r["mean_us"] / 1000, "max": r["max_us"] / 1000, "med": r["p50_us"] / 1000})
    return {
        "http_req_duration": ms,
        "http_req_failed": {"rate": failed / total},
        "checks": {"rate": 1 - r["bad_checks"] / total},
        "http_reqs": {"count": r["requests"],
                      "rate": r["requests"] / max(1e-9, r["duration_us"] / 1e6)},
        "http_503": {"count": statuses.get(503, 0)},
    }


MIX = [
    ("GET", "/api/v1/demo/echo?mix=1", None, {}),
    ("POST", "/api/v1/demo/echo", '{"hello":"world"}', {"Content-Type": "application/json"}),
    ("GET", "/api/v1/demo/items/42", None, {}),
    ("GET", "/api/v1/demo/items/special", None, {}),
    ("GET", "/api/v1/demo/files/a/b/c.txt", None, {}),
]


def scenario_requests(name, stack):
    if name == "scenario_a_health_baseline":
        return [("GET", "/health/live", None, {})], ['"live"'], ""
    if name == "scenario_b_openapi_aggregation":
        return [("GET", "/openapi.json", None, {})], ['"openapi":"3.1.0"', "getEcho"], ""
    if name == "scenario_c_routing_throughput":
        mix = list(MIX)
        mix.append(("GET", "/api/v1/demo/secure", None,
                    {"Authorization": f"Bearer {stack.token}"}))
        # Every answer of the mix (echo and /secure alike) carries the verified identity.
        return mix, ['"identity"'], ""
    return list(MIX[:1]), ['"instance"'], ""


def run_scenario(name, spec, stack, workdir, quick):
    seconds = parse_duration(spec["quick_duration"] if quick else spec["duration"])
    vus = spec["vus"]
    result = {"name": name, "title": spec["title"], "vus": vus, "seconds": seconds}
    if hasattr(stack, "settle"):
        stack.settle()
    if name == "scenario_d_correlation_id":
        half = max(2.0, seconds / 2)
        reqs = [("GET", "/api/v1/demo/echo", None, {})]
        plain = run_wrk(stack, workdir, name + "-plain", reqs, vus, half)
        tagged_reqs = [("GET", "/api/v1/demo/echo", None, {"X-Correlation-Id": CORRELATION_ID})]
        tagged = run_wrk(stack, workdir, name + "-tagged", tagged_reqs, vus, half,
                         check_body=[f'"correlationId":"{CORRELATION_ID}"'],
                         check_header=CORRELATION_ID)
        m = metrics_of(tagged)
        base = metrics_of(plain)["http_req_duration"]
        m["correlation_overhead_ms"] = {
            f"p({p})": m["http_req_duration"][f"p({p})"] - base[f"p({p})"] for p in (50, 90, 95, 99)}
        result["raw"] = {"plain": plain, "tagged": tagged}
    elif name == "scenario_e_rate_limit_boundary":
        r = run_wrk(stack, workdir, name, [("GET", RATE_LIMITED_PATH, None, {})], vus, seconds)
        m = metrics_of(r)
        statuses = {int(k): v for k, v in r["statuses"].items()}
        m["rate_limit_admitted"] = {"count": sum(v for k, v in statuses.items() if 200 <= k < 300)}
        m["rate_limit_refused"] = {"count": statuses.get(429, 0)}
        m["rate_limit_missing_retry_after"] = {"count": r["missing_retry_after"]}
        result["raw"] = r
        result["limit"] = RATE_LIMIT
    elif name == "scenario_f_connection_ramp":
        # wrk cannot ramp: eight steps of rising connections make the same shape.
        steps = []
        for k in range(1, 9):
            steps.append(run_wrk(stack, workdir, f"{name}-{k}", list(MIX[:1]),
                                 vus * k // 8, seconds / 8, threads=2,
                                 think_ms=spec.get("think_ms", 0)))
        merged = dict(steps[-1])
        merged["requests"] = sum(s["requests"] for s in steps)
        merged["duration_us"] = sum(s["duration_us"] for s in steps)
        st = {}
        for s in steps:
            for k, v in s["statuses"].items():
                st[k] = st.get(k, 0) + v
        merged["statuses"] = st
        merged["errors"] = {k: sum(s["errors"][k] for s in steps) for k in steps[0]["errors"]}
        merged["bad_checks"] = sum(s["bad_checks"] for s in steps)
        m = metrics_of(merged)
        result["raw"] = {"steps": steps}
    elif name == "scenario_g_steady_state_soak":
        samples = []
        stop = threading.Event()
        base_fds = stack.settle()
        t0 = time.time()

        def sample():
            while not stop.is_set():
                samples.append((time.time() - t0, stack.rss_mib(), stack.fds()))
                stop.wait(1.0 if seconds > 60 else 0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        r = run_wrk(stack, workdir, name, list(MIX[:1]), vus, seconds,
                    check_body=['"instance"'])
        stop.set()
        sampler.join()
        m = metrics_of(r)
        warmup = max(5.0, seconds * 0.25)
        slope = slope_per_minute([(t, rss) for t, rss, _ in samples], warmup)
        end = time.time() + 10
        while stack.fds() > base_fds + 2 and time.time() < end:
            time.sleep(0.2)
        after = stack.fds()
        m["rss_growth_mib_per_min"] = {"value": slope}
        m["fds_back_to_baseline"] = {"value": 1.0 if after <= base_fds + 2 else 0.0}
        result["samples"] = [{"t": round(t, 2), "rss_mib": round(v, 2), "fds": n}
                             for t, v, n in samples]
        result["fds"] = {"before": base_fds, "after": after}
        result["warmup_s"] = warmup
        result["raw"] = r
    else:
        reqs, body, header = scenario_requests(name, stack)
        r = run_wrk(stack, workdir, name, reqs, vus, seconds, check_body=body,
                    check_header=header, think_ms=think_for(spec.get("rate"), vus))
        if spec.get("rate"):
            result["target_rate"] = spec["rate"]
        m = metrics_of(r)
        result["raw"] = r
    result["metrics"] = m
    checks = []
    for metric, exprs in spec["thresholds"].items():
        for expr in exprs:
            if metric == "rate_limit_admitted":
                expr = re.sub(r"\d+$", str(RATE_LIMIT), expr)
            ok, measured = evaluate(m, metric, expr)
            checks.append({"metric": metric, "threshold": expr, "measured": measured, "ok": ok})
    for metric, rule in spec.get("runner_checks", {}).items():
        value = m.get(metric, {}).get("value")
        if rule == "true":
            ok = value == 1.0
            checks.append({"metric": metric, "threshold": "true", "measured": value, "ok": ok})
        else:
            op, bound = re.fullmatch(r"(<=|>=|<|>)(-?[\d.]+)", rule).groups()
            ok = value is not None and compare(value, op, float(bound))
            checks.append({"metric": metric, "threshold": rule, "measured": value, "ok": ok})
    for c in checks:
        c["timing"] = c["metric"] in TIMING_METRICS
    result["checks"] = checks
    result["ok"] = all(c["ok"] for c in checks)
    result["ok_but_timing"] = all(c["ok"] or c["timing"] for c in checks)
    return result


# ---- the stepped-load curve --------------------------------------------------------------------


# Paced steps (wrk's delay() is whole milliseconds: 100 connections can be paced up to about
# 20,000 requests/s), then unpaced steps at rising connection counts: the most the machine
# gives, whatever is the bottleneck.
CURVE_RATES = (500, 1000, 2000, 5000, 10000, 15000, 20000)
CURVE_UNPACED = (100, 200, 400)
CURVE_CONNECTIONS = 100


def run_curve(stack, workdir, spec, quick, label="stella-gw"):
    """Scenario C's mix from 100 connections at rising target rates (each connection paced
    with wrk's delay()), then unpaced from 100, 200 and 400 connections: every step, so that
    a broken step at a low rate (the wake-up tail of paced connections) does not end it."""
    seconds = 3.0 if quick else 15.0
    # The SLO is C's latency and error thresholds; its rate threshold is what the steps vary.
    slo = [(metric, expr) for metric, exprs in spec["thresholds"].items() for expr in exprs
           if metric != "http_reqs"]
    points = []
    conns = CURVE_CONNECTIONS
    steps = [(rate, CURVE_CONNECTIONS) for rate in CURVE_RATES] + \
        [(None, c) for c in CURVE_UNPACED]
    for rate, conns in steps:
        before_cpu = stack.cpu_seconds()
        before = stack.phase_sums()
        mix = list(MIX)
        r = run_wrk(stack, workdir, f"curve-{label}-{rate or 'max'}-{conns}", mix, conns,
                    seconds, think_ms=think_for(rate, conns))
        after = stack.phase_sums()
        cpu = stack.cpu_seconds() - before_cpu
        m = metrics_of(r)
        phases = {}
        for phase, (s1, c1) in after.items():
            s0, c0 = before.get(phase, (0.0, 0.0))
            phases[phase] = ((s1 - s0) / (c1 - c0) * 1000) if c1 > c0 else None
        ok = all(evaluate(m, metric, expr)[0] for metric, expr in slo)
        points.append({
            "target_rate": rate if rate else "unpaced", "connections": conns,
            "rps": round(m["http_reqs"]["rate"], 1),
            "p50_ms": m["http_req_duration"]["p(50)"], "p95_ms": m["http_req_duration"]["p(95)"],
            "p99_ms": m["http_req_duration"]["p(99)"],
            "error_rate": m["http_req_failed"]["rate"],
            "cpu_percent": round(cpu / seconds * 100, 1), "rss_mib": round(stack.rss_mib(), 1),
            "phase_mean_ms": phases, "meets_slo": ok,
        })
    good = [p for p in points if p["meets_slo"]]
    knee = max(good, key=lambda p: p["rps"]) if good else None
    # The knee is where the SLO breaks: when the most loaded step still met it, the curve never
    # reached it (the machine, not the SLO, set the last rate).
    reached = bool(points) and not points[-1]["meets_slo"]
    return {"target": label, "slo": [f"{a} {b}" for a, b in slo],
            "connections": CURVE_CONNECTIONS, "points": points, "knee": knee,
            "knee_reached": reached}


# ---- output ------------------------------------------------------------------------------------


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def print_table(results):
    rows = [("scenario", "metric", "threshold", "measured", "result")]
    for r in results:
        if "error" in r:
            rows.append((r["name"], "-", "-", "-", "COULD NOT RUN"))
            continue
        for c in r["checks"]:
            rows.append((r["name"], c["metric"], c["threshold"], fmt(c["measured"]),
                         "pass" if c["ok"] else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for i, row in enumerate(rows):
        print("  ".join(col.ljust(w) for col, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def svg_line_chart(series, x_label, y_label, hlines=(), width=640, height=260):
    """Series: [(name, color, [(x, y)])]. Inline SVG, no script."""
    pts = [p for _, _, s in series for p in s if p[1] is not None]
    if not pts:
        return "<p>(no data)</p>"
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts] + [h for _, h in hlines]
    x0, x1 = min(xs), max(xs) or 1
    y1 = max(ys) * 1.1 or 1
    if x1 == x0:
        x1 = x0 + 1
    L, R, T, B = 60, 20, 20, 40

    def X(x):
        return L + (x - x0) / (x1 - x0) * (width - L - R)

    def Y(y):
        return height - B - y / y1 * (height - T - B)

    out = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
           f'font-family="sans-serif" font-size="11">',
           f'<line x1="{L}" y1="{height - B}" x2="{width - R}" y2="{height - B}" stroke="#999"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{height - B}" stroke="#999"/>',
           f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">{x_label}</text>',
           f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
           f'text-anchor="middle">{y_label}</text>']
    for i in range(5):
        v = y1 * i / 4
        out.append(f'<text x="{L - 4}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    for xv in sorted(set(xs))[:12]:
        out.append(f'<text x="{X(xv):.1f}" y="{height - B + 14}" text-anchor="middle">{xv:.4g}</text>')
    for label, h in hlines:
        out.append(f'<line x1="{L}" y1="{Y(h):.1f}" x2="{width - R}" y2="{Y(h):.1f}" '
                   f'stroke="#c00" stroke-dasharray="4 3"/>'
                   f'<text x="{width - R}" y="{Y(h) - 3:.1f}" text-anchor="end" fill="#c00">{label}</text>')
    for k, (name, color, s) in enumerate(series):
        s = [p for p in s if p[1] is not None]
        if not s:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{X(x):.1f},{Y(y):.1f}" for i, (x, y) in enumerate(s))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in s:
            out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{color}"/>')
        out.append(f'<text x="{L + 8 + k * 110}" y="{T + 10}" fill="{color}">{name}</text>')
    out.append("</svg>")
    return "".join(out)


def html_report(doc):
    esc = lambda s: (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<title>stella-gw load scenarios</title><style>",
             "body{font-family:sans-serif;margin:2em;color:#222} table{border-collapse:collapse}",
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left} .pass{color:#070}",
             ".fail{color:#c00;font-weight:bold} h2{margin-top:2em}</style></head><body>",
             f"<h1>stella-gw load scenarios</h1><p>{esc(doc['started'])} &middot; "
             f"{'quick' if doc['quick'] else 'full'} run &middot; {esc(doc['machine'])} &middot; "
             f"binary {esc(doc['binary'])}</p>",
             "<h2>Scenarios</h2><table><tr><th>scenario</th><th>VUs</th><th>seconds</th>"
             "<th>metric</th><th>threshold</th><th>measured</th><th>result</th></tr>"]
    for r in doc["scenarios"]:
        if "error" in r:
            parts.append(f"<tr><td>{esc(r['name'])}</td><td colspan='6' class='fail'>could not "
                         f"run: {esc(r['error'])}</td></tr>")
            continue
        for c in r["checks"]:
            cls = "pass" if c["ok"] else "fail"
            parts.append(f"<tr><td>{esc(r['title'])}</td><td>{r['vus']}</td><td>{r['seconds']:g}"
                         f"</td><td>{esc(c['metric'])}</td><td>{esc(c['threshold'])}</td>"
                         f"<td>{esc(fmt(c['measured']))}</td><td class='{cls}'>"
                         f"{'pass' if c['ok'] else 'FAIL'}</td></tr>")
    parts.append("</table>")
    lat = [(r["title"], r["metrics"]["http_req_duration"]) for r in doc["scenarios"]
           if "metrics" in r]
    if lat:
        parts.append("<h2>Latency per scenario</h2><table><tr><th>scenario</th><th>p50 ms</th>"
                     "<th>p95 ms</th><th>p99 ms</th><th>req/s</th></tr>")
        for r in doc["scenarios"]:
            if "metrics" not in r:
                continue
            d = r["metrics"]["http_req_duration"]
            parts.append(f"<tr><td>{esc(r['title'])}</td><td>{d['p(50)']:.3f}</td>"
                         f"<td>{d['p(95)']:.3f}</td><td>{d['p(99)']:.3f}</td>"
                         f"<td>{r['metrics']['http_reqs']['rate']:.0f}</td></tr>")
        parts.append("</table>")
    for curve in (doc.get("curve"), doc.get("compare_curve")):
        if curve:
            parts.append(curve_html(curve))
    soak = next((r for r in doc["scenarios"] if r.get("samples")), None)
    if soak:
        parts.append(soak_html(soak))
    parts.append("</body></html>\n")
    return "".join(parts)


def curve_html(curve):
    esc = lambda s: (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    parts = []
    pts = curve["points"]
    parts.append(f"<h2>Performance curve: {esc(curve.get('target', 'stella-gw'))} "
                 f"(scenario C's mix, rising target rate)</h2>")
    knee = curve.get("knee")
    label = ("Knee (the highest rate that met it)" if curve.get("knee_reached") else
             "Knee not reached: the most loaded step still met it; the highest rate measured")
    parts.append(f"<p>SLO: {esc(', '.join(curve['slo']))}. {label}: "
                 f"<b>{knee['rps'] if knee else 'none'} req/s</b>"
                 f"{' (target ' + str(knee['target_rate']) + ', ' + str(knee['connections']) + ' connections)' if knee else ''}.</p>")
    slo_lines = []
    for s in curve["slo"]:
        m = re.match(r"http_req_duration p\((\d+)\)<(\d+(?:\.\d+)?)", s)
        if m:
            slo_lines.append((f"p{m.group(1)} SLO {m.group(2)} ms", float(m.group(2))))
    parts.append(svg_line_chart(
        [("p50", "#4e79a7", [(p["rps"], p["p50_ms"]) for p in pts]),
         ("p95", "#f28e2b", [(p["rps"], p["p95_ms"]) for p in pts]),
         ("p99", "#e15759", [(p["rps"], p["p99_ms"]) for p in pts])],
        "requests/s", "latency (ms)", slo_lines))
    parts.append("<h3>Pipeline breakdown per step (mean ms per request, from /metrics)</h3>"
                 "<table><tr><th>target req/s</th><th>connections</th><th>req/s</th><th>auth</th><th>routing</th>"
                 "<th>transport</th><th>request</th><th>errors</th><th>CPU %</th>"
                 "<th>RSS MiB</th><th>SLO</th></tr>")
    for p in pts:
        ph = p["phase_mean_ms"]
        parts.append(f"<tr><td>{p['target_rate']}</td><td>{p['connections']}</td>"
                     f"<td>{p['rps']:.0f}</td>" +
                     "".join(f"<td>{fmt(ph.get(k))}</td>" for k in
                             ("auth", "routing", "transport", "request")) +
                     f"<td>{p['error_rate']:.4f}</td><td>{p['cpu_percent']}</td>"
                     f"<td>{p['rss_mib']}</td><td class='{'pass' if p['meets_slo'] else 'fail'}'>"
                     f"{'met' if p['meets_slo'] else 'broken'}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


def soak_html(soak):
    parts = []
    parts.append("<h2>Memory and descriptors over the soak (G)</h2>")
    s = soak["samples"]
    slope = soak["metrics"]["rss_growth_mib_per_min"]["value"]
    parts.append(f"<p>RSS slope after the {soak['warmup_s']:g} s warm-up: "
                 f"<b>{fmt(slope)} MiB/min</b> (threshold &lt; 1); descriptors "
                 f"{soak['fds']['before']} before, {soak['fds']['after']} after.</p>")
    parts.append(svg_line_chart([("RSS MiB", "#59a14f", [(x["t"], x["rss_mib"]) for x in s])],
                                "seconds", "RSS (MiB)"))
    parts.append(svg_line_chart([("open fds", "#b07aa1", [(x["t"], x["fds"]) for x in s])],
                                "seconds", "descriptors"))
    return "".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[],
                    help="a scenario: its letter (C) or full name; repeatable")
    ap.add_argument("--quick", action="store_true", help="each scenario for a few seconds")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/release/cli/stella-gw"))
    ap.add_argument("--workers", type=int, default=1, help="gateway http.workers (default 1)")
    ap.add_argument("--curve", action="store_true", help="also the stepped-load curve")
    ap.add_argument("--compare", action="store_true",
                    help="with --curve: the same curve through HAProxy in front of nginx")
    ap.add_argument("--out", help="directory for results.json and report.html")
    ap.add_argument("--timing-advisory", action="store_true",
                    help="latency and memory-growth misses are reported but do not fail (CI)")
    args = ap.parse_args(argv)

    scenarios = read_scenarios()
    wanted = []
    for name in scenarios:
        letter = name.split("_")[1].upper()
        if not args.only or letter in [o.upper() for o in args.only] or name in args.only:
            wanted.append(name)
    if not wanted:
        print(f"no scenario matches {args.only}; known: {', '.join(scenarios)}", file=sys.stderr)
        return 2
    if not shutil.which("wrk"):
        print("wrk is not installed (bash scripts/setup.sh)", file=sys.stderr)
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    out = args.out or os.path.join(ROOT, "build", "scenarios",
                                   datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="stella-scenarios-")
    stack = Stack(os.path.abspath(args.binary), workdir, args.workers)
    doc = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
           "quick": args.quick, "binary": args.binary,
           "machine": f"{os.cpu_count()} cores, " + platform_cpu(), "scenarios": []}
    status = 0

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)  # runs the finally below: every process stopped

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    try:
        stack.start()
        for name in wanted:
            spec = scenarios[name]
            print(f"== {spec['title']} ({name}): {spec['vus']} VUs, "
                  f"{spec['quick_duration'] if args.quick else spec['duration']}", flush=True)
            try:
                doc["scenarios"].append(run_scenario(name, spec, stack, workdir, args.quick))
            except (CannotRun, subprocess.SubprocessError, OSError) as e:
                doc["scenarios"].append({"name": name, "title": spec["title"], "error": str(e)})
        if args.curve:
            print("== performance curve (scenario C's mix)", flush=True)
            doc["curve"] = run_curve(stack, workdir, scenarios["scenario_c_routing_throughput"],
                                     args.quick)
            if args.compare:
                print("== the same curve through HAProxy -> nginx", flush=True)
                _, body = http_get(stack.url("/api/v1/demo/echo"))
                stack.stop()  # the machine to itself, as the gateway had it
                other = CompareStack(workdir, body)
                try:
                    other.start()
                    doc["compare_curve"] = run_curve(
                        other, workdir, scenarios["scenario_c_routing_throughput"], args.quick,
                        label="haproxy-nginx")
                except CannotRun as e:
                    print(f"the comparison could not run: {e}", file=sys.stderr)
                    doc["compare_error"] = str(e)
                finally:
                    other.stop()
    except CannotRun as e:
        print(f"the stack could not start: {e}", file=sys.stderr)
        for name in ("gateway", "authority", "redis"):
            tail = stack.log(name)[-1500:]
            if tail:
                print(f"--- {name}.log\n{tail}", file=sys.stderr)
        status = 2
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        import traceback
        traceback.print_exc()
        doc["error"] = f"{type(e).__name__}: {e}"
        status = 2
    finally:
        stack.stop()
    if status == 0:
        if any("error" in r for r in doc["scenarios"]) or "compare_error" in doc:
            status = 2
        elif not all(r["ok_but_timing" if args.timing_advisory else "ok"]
                     for r in doc["scenarios"]):
            status = 1
    doc["exit_status"] = status
    print()
    print_table(doc["scenarios"])
    for key in ("curve", "compare_curve"):
        if doc.get(key):
            c = doc[key]
            knee = c["knee"]
            what = "knee" if c.get("knee_reached") else "knee not reached; highest rate meeting the SLO"
            print(f"\ncurve {c['target']}: {len(c['points'])} steps; {what} "
                  f"{knee['rps'] if knee else 'none'} req/s")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out, "report.html"), "w") as f:
        f.write(html_report(doc))
    print(f"\nresults: {os.path.join(out, 'results.json')}")
    print(f"report:  {os.path.join(out, 'report.html')}")
    if status == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs:    {workdir}")
    return status


def platform_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
