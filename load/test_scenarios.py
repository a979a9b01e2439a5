"""Unit tests of load/scenarios.py (run by ctest as load.scenarios_runner): the scenarios as the
k6 file defines them, threshold parsing and evaluation, wrk results in, pass/fail out, the soak
slope, the HTML report (rendered in headless Chromium when it is installed), and the k6 file
itself: node parses it, and the options it builds carry the runner's scenario names and
thresholds."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import scenarios as sc

SEED = {  # the seed's table: VUs and duration per scenario
    "scenario_a_health_baseline": (10, 60),
    "scenario_b_openapi_aggregation": (50, 75),
    "scenario_c_routing_throughput": (200, 120),
    "scenario_d_correlation_id": (20, 60),
    "scenario_e_rate_limit_boundary": (100, 60),
    "scenario_f_connection_ramp": (1000, 120),
    "scenario_g_steady_state_soak": (50, 600),
}

WRK_OUT = ('Running 1s test\nSTELLA-RESULT {"requests":1000,"duration_us":1000000,"bytes":1,'
           '"p50_us":900,"p90_us":1500,"p95_us":2000,"p99_us":4000,"max_us":9000,'
           '"mean_us":1000.0,"errors":{"connect":0,"read":1,"write":0,"timeout":0,"status":3},'
           '"statuses":{"200":990,"503":3,"429":6},"bad_checks":10,"missing_retry_after":2}\n')


class Scenarios(unittest.TestCase):
    def test_every_seed_scenario_with_its_name_vus_and_duration(self):
        s = sc.read_scenarios()
        self.assertEqual(list(s), list(SEED))
        for name, (vus, seconds) in SEED.items():
            self.assertEqual(s[name]["vus"], vus, name)
            self.assertEqual(sc.parse_duration(s[name]["duration"]), seconds, name)
            self.assertLess(sc.parse_duration(s[name]["quick_duration"]), 30, name)
            for metric, exprs in s[name]["thresholds"].items():
                for e in exprs:
                    sc.parse_threshold(e)  # every threshold is one the runner knows

    def test_the_seed_key_metrics_are_thresholds(self):
        s = sc.read_scenarios()
        self.assertIn("p(95)<10", s["scenario_a_health_baseline"]["thresholds"]["http_req_duration"])
        self.assertIn("p(95)<200",
                      s["scenario_b_openapi_aggregation"]["thresholds"]["http_req_duration"])
        self.assertEqual(s["scenario_c_routing_throughput"]["thresholds"]["http_req_duration"],
                         ["p(50)<2", "p(99)<5"])
        self.assertIn("p(95)<5",
                      s["scenario_d_correlation_id"]["thresholds"]["correlation_overhead_ms"])
        self.assertIn("count<1", s["scenario_f_connection_ramp"]["thresholds"]["http_503"])


class Thresholds(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(sc.parse_threshold("p(95)<10"), ("p(95)", "<", 10.0))
        self.assertEqual(sc.parse_threshold("p(99.9) <= 5"), ("p(99.9)", "<=", 5.0))
        self.assertEqual(sc.parse_threshold("rate>0.99"), ("rate", ">", 0.99))
        self.assertEqual(sc.parse_threshold("count>=500"), ("count", ">=", 500.0))
        for bad in ("p95<10", "rate", "p(95)<", "avg~3", "count<x"):
            with self.assertRaises(ValueError, msg=bad):
                sc.parse_threshold(bad)

    def test_evaluate(self):
        m = {"http_req_duration": {"p(95)": 9.9, "p(99)": 12.0}, "checks": {"rate": 1.0},
             "rate_limit_admitted": {"count": 500}}
        self.assertEqual(sc.evaluate(m, "http_req_duration", "p(95)<10"), (True, 9.9))
        self.assertEqual(sc.evaluate(m, "http_req_duration", "p(99)<10"), (False, 12.0))
        self.assertEqual(sc.evaluate(m, "rate_limit_admitted", "count<=500"), (True, 500))
        self.assertEqual(sc.evaluate(m, "rate_limit_admitted", "count>=501"), (False, 500))
        self.assertEqual(sc.evaluate(m, "http_req_failed", "rate<0.1"), (False, None))

    def test_durations(self):
        self.assertEqual(sc.parse_duration("75s"), 75)
        self.assertEqual(sc.parse_duration("2m"), 120)
        self.assertEqual(sc.parse_duration("500ms"), 0.5)
        with self.assertRaises(ValueError):
            sc.parse_duration("2 minutes")


class Results(unittest.TestCase):
    def test_a_wrk_result_becomes_k6_metrics(self):
        r = sc.parse_wrk(WRK_OUT)
        m = sc.metrics_of(r)
        self.assertAlmostEqual(m["http_req_duration"]["p(95)"], 2.0)
        self.assertAlmostEqual(m["http_req_duration"]["p(50)"], 0.9)
        # 3 × 503 + 6 × 429 + 1 read error of 1000
        self.assertAlmostEqual(m["http_req_failed"]["rate"], 0.010)
        self.assertAlmostEqual(m["checks"]["rate"], 0.99)
        self.assertEqual(m["http_503"]["count"], 3)
        self.assertAlmostEqual(m["http_reqs"]["rate"], 1000)

    def test_no_result_line_cannot_run(self):
        with self.assertRaises(sc.CannotRun):
            sc.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")

    def test_slope_after_warmup(self):
        flat_then_leak = [(t, 100.0 if t < 10 else 100.0 + (t - 10) / 30) for t in range(0, 60)]
        self.assertAlmostEqual(sc.slope_per_minute(flat_then_leak, 10), 2.0, places=6)
        jump_in_warmup = [(t, 50.0 if t < 5 else 80.0) for t in range(0, 60)]
        self.assertAlmostEqual(sc.slope_per_minute(jump_in_warmup, 10), 0.0, places=6)
        self.assertIsNone(sc.slope_per_minute([(0, 1), (1, 2)], 0))

    def test_pacing(self):
        self.assertEqual(sc.think_for(5000, 200), 40)
        self.assertEqual(sc.think_for(None, 200), 0)
        self.assertEqual(sc.think_for(1_000_000, 10), 0)

    def test_lua_script_quotes_what_it_embeds(self):
        lua = sc.lua_script([("POST", '/a"b', 'x\\y', {"K": 'v"'})], ['q"', "r"], "id", 25)
        self.assertIn('{"q\\"", "r"}', lua)
        self.assertIn('"/a\\"b"', lua)
        self.assertIn('"x\\\\y"', lua)
        self.assertIn("local think = 25", lua)


def fake_doc():
    metrics = {"http_req_duration": {"p(50)": 1.0, "p(90)": 2.0, "p(95)": 3.0, "p(99)": 4.0},
               "http_reqs": {"rate": 1234.0}, "rss_growth_mib_per_min": {"value": 0.1}}
    return {
        "started": "2026-11-30T12:00:00", "quick": True, "binary": "stella-gw",
        "machine": "2 cores, test", "exit_status": 1,
        "scenarios": [
            {"name": "scenario_a_health_baseline", "title": "A: health baseline", "vus": 10,
             "seconds": 5, "metrics": metrics, "ok": True,
             "checks": [{"metric": "http_req_duration", "threshold": "p(95)<10",
                         "measured": 3.0, "ok": True}]},
            {"name": "scenario_g_steady_state_soak", "title": "G: soak", "vus": 50, "seconds": 20,
             "metrics": metrics, "ok": False, "warmup_s": 5, "fds": {"before": 20, "after": 20},
             "samples": [{"t": t, "rss_mib": 20 + t / 100, "fds": 70} for t in range(20)],
             "checks": [{"metric": "rss_growth_mib_per_min", "threshold": "<1",
                         "measured": 0.1, "ok": False}]},
            {"name": "scenario_b_openapi_aggregation", "title": "B", "error": "wrk failed <x>"},
        ],
        "curve": {"slo": ["http_req_duration p(50)<2", "http_req_duration p(99)<5"],
                  "connections": 100,
                  "points": [{"target_rate": r, "connections": 100, "rps": r * 0.98,
                              "p50_ms": 0.5 + r / 10000, "p95_ms": 1 + r / 5000,
                              "p99_ms": 2 + r / 4000, "error_rate": 0.0, "cpu_percent": 10.0,
                              "rss_mib": 20.0, "meets_slo": r < 20000,
                              "phase_mean_ms": {"auth": 0.01, "routing": 0.001,
                                                "transport": 0.5, "request": 0.7}}
                             for r in (1000, 5000, 10000, 20000)],
                  "knee": None, "knee_reached": True},
    }


class Report(unittest.TestCase):
    def test_the_report_is_self_contained_and_shows_everything(self):
        doc = fake_doc()
        doc["curve"]["knee"] = doc["curve"]["points"][2]
        doc["compare_curve"] = dict(doc["curve"], target="haproxy-nginx", knee=None,
                                    knee_reached=False)
        html = sc.html_report(doc)
        self.assertNotIn("<script", html)
        self.assertNotIn("http://", html.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        self.assertIn("wrk failed &lt;x&gt;", html)  # escaped
        self.assertEqual(html.count("<svg"), 4)  # both curves, RSS and descriptors
        self.assertIn("Performance curve: haproxy-nginx", html)
        self.assertIn("p99 SLO 5 ms", html)
        self.assertIn("9800.0 req/s", html)          # the knee
        self.assertIn("Knee not reached", html)      # the comparison curve never broke it

    @unittest.skipUnless(shutil.which("chromium"), "chromium is not installed")
    def test_chromium_renders_the_report(self):
        doc = fake_doc()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "report.html")
            with open(path, "w") as f:
                f.write(sc.html_report(doc))
            dom = subprocess.run(
                ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={d}/profile",
                 "--dump-dom", "file://" + path],
                capture_output=True, text=True, timeout=120).stdout
        self.assertIn("<svg", dom)
        self.assertIn("G: soak", dom)
        self.assertGreaterEqual(dom.count("<circle"), 16)


@unittest.skipUnless(shutil.which("node"), "node is not installed")
class K6File(unittest.TestCase):
    def test_node_parses_it_and_its_options_match_the_runner(self):
        with open(sc.K6_FILE, encoding="utf-8") as f:
            text = f.read()
        # k6's modules do not exist under node: stand-ins with the same exports.
        stubbed = re.sub(r"^import .*$", "", text, flags=re.M)
        stubs = ("const http = {}; const check = () => true; const sleep = () => {};\n"
                 "class Counter { constructor(n) { this.n = n; } add() {} }\n"
                 "class Trend { constructor(n) { this.n = n; } add() {} }\n"
                 "const __ENV = process.env;\n")
        with tempfile.TemporaryDirectory() as d:
            mod = os.path.join(d, "k6.mjs")
            with open(mod, "w") as f:
                f.write(stubs + stubbed)
            check = subprocess.run(["node", "--check", mod], capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stderr)
            main = os.path.join(d, "main.mjs")
            with open(main, "w") as f:
                f.write("import { options } from './k6.mjs';\n"
                        "console.log(JSON.stringify(options));\n")
            env = dict(os.environ)
            env.pop("SCENARIO", None)
            out = subprocess.run(["node", main], capture_output=True, text=True, env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            options = json.loads(out.stdout)
            one_env = dict(env, SCENARIO="scenario_e_rate_limit_boundary", RATE_LIMIT="42")
            one = json.loads(subprocess.run(["node", main], capture_output=True, text=True,
                                            env=one_env, check=True).stdout)
        runner = sc.read_scenarios()
        self.assertEqual(list(options["scenarios"]), list(runner))
        want = {f"{m}{{scenario:{n}}}": exprs for n, s in runner.items()
                for m, exprs in s["thresholds"].items()}
        self.assertEqual(options["thresholds"], want)
        self.assertEqual(options["scenarios"]["scenario_c_routing_throughput"]["executor"],
                         "constant-arrival-rate")
        self.assertEqual(options["scenarios"]["scenario_f_connection_ramp"]["stages"][0]["target"],
                         1000)
        self.assertEqual(list(one["scenarios"]), ["scenario_e_rate_limit_boundary"])
        self.assertEqual(one["thresholds"]["rate_limit_admitted{scenario:scenario_e_rate_limit_boundary}"],
                         ["count<=42", "count>=42"])


if __name__ == "__main__":
    unittest.main()
