// The seed's k6 suite: scenarios A–G against a running stella-gw (docs/performance.md,
// "Load scenarios A–G").
//
//   k6 run --env BASE_URL=http://127.0.0.1:8080 load/k6/gateway_performance.k6.js
//   k6 run --env BASE_URL=... --env SCENARIO=scenario_c_routing_throughput load/k6/gateway_performance.k6.js
//
// Environment: BASE_URL (default http://127.0.0.1:8080); SCENARIO (one scenario; default all,
// one after another); TOKEN (a bearer access token with scope demo:read: scenario C then also
// calls the authenticated /api/v1/demo/secure); RATE_LIMIT and RATE_LIMITED_PATH (scenario E:
// the limit the gateway enforces on that path per client address and window; default 500 on
// /api/v1/demo/status/200, as load/scenarios.sh configures it).
//
// The gateway needs the demo service connected (`stella-gw service demo`) and, for E, the rate
// limit above. Without k6, `bash load/scenarios.sh` runs the same scenarios with wrk and applies
// the same thresholds: it reads them from the SCENARIOS block below, which is JSON, so the two
// cannot disagree.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

// BEGIN SCENARIOS (JSON: load/scenarios.py reads this block; keep it JSON)
const SCENARIOS = {
  "scenario_a_health_baseline": {
    "title": "A: health baseline",
    "purpose": "Sub-ms health probe overhead",
    "vus": 10, "duration": "1m", "quick_duration": "5s",
    "thresholds": {"http_req_duration": ["p(95)<10"], "checks": ["rate>0.99"]}
  },
  "scenario_b_openapi_aggregation": {
    "title": "B: OpenAPI aggregation",
    "purpose": "Spec cache under concurrent readers",
    "vus": 50, "duration": "75s", "quick_duration": "5s",
    "thresholds": {"http_req_duration": ["p(95)<200"], "checks": ["rate>0.99"]}
  },
  "scenario_c_routing_throughput": {
    "title": "C: routing throughput",
    "purpose": "Mixed-method routing at target RPS",
    "vus": 200, "rate": 5000, "duration": "2m", "quick_duration": "5s",
    "thresholds": {"http_req_duration": ["p(50)<2", "p(99)<5"], "http_req_failed": ["rate<0.001"],
                   "http_reqs": ["rate>=4500"]}
  },
  "scenario_d_correlation_id": {
    "title": "D: correlation id",
    "purpose": "Propagation overhead measurement",
    "vus": 20, "duration": "1m", "quick_duration": "6s",
    "thresholds": {"correlation_overhead_ms": ["p(95)<5"], "checks": ["rate>0.999"]}
  },
  "scenario_e_rate_limit_boundary": {
    "title": "E: rate limit boundary",
    "purpose": "Enforcement correctness at boundary",
    "vus": 100, "duration": "1m", "quick_duration": "5s",
    "thresholds": {"rate_limit_admitted": ["count<=500", "count>=500"],
                   "rate_limit_missing_retry_after": ["count<1"]}
  },
  "scenario_f_connection_ramp": {
    "title": "F: connection ramp",
    "purpose": "Transport saturation (ramp to 1000 VUs)",
    "vus": 1000, "duration": "2m", "quick_duration": "8s", "ramp": true, "think_ms": 100,
    "thresholds": {"http_503": ["count<1"], "http_req_failed": ["rate<0.01"]}
  },
  "scenario_g_steady_state_soak": {
    "title": "G: steady-state soak",
    "purpose": "Memory leak / resource exhaustion",
    "vus": 50, "duration": "10m", "quick_duration": "20s",
    "thresholds": {"http_req_failed": ["rate<0.001"], "http_req_duration": ["p(99)<50"]},
    "runner_checks": {"rss_growth_mib_per_min": "<1", "fds_back_to_baseline": "true"}
  }
};
// END SCENARIOS

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ONLY = __ENV.SCENARIO || '';
const TOKEN = __ENV.TOKEN || '';
const RATE_LIMIT = parseInt(__ENV.RATE_LIMIT || '500', 10);
const RATE_LIMITED_PATH = __ENV.RATE_LIMITED_PATH || '/api/v1/demo/status/200';

const correlationOverhead = new Trend('correlation_overhead_ms', true);
const rateLimitAdmitted = new Counter('rate_limit_admitted');
const rateLimitRefused = new Counter('rate_limit_refused');
const missingRetryAfter = new Counter('rate_limit_missing_retry_after');
const http503 = new Counter('http_503');
const gatewayRss = new Trend('gateway_rss_mib');

function seconds(d) {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  const n = parseInt(m[1], 10);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600 }[m[2]];
}

// The k6 options from SCENARIOS: each scenario starts when the one before it ends (plus 5 s),
// and each threshold applies to its own scenario's samples.
function buildOptions() {
  const scenarios = {};
  const thresholds = {};
  let start = 0;
  for (const [name, s] of Object.entries(SCENARIOS)) {
    if (ONLY && ONLY !== name) continue;
    const exec = name;
    // "rate": an open model at that many requests/s (VUs as the pool); "ramp": VUs from 0 to
    // `vus`; otherwise `vus` VUs in a closed loop.
    if (s.rate) {
      scenarios[name] = { executor: 'constant-arrival-rate', exec, startTime: `${start}s`,
                          rate: s.rate, timeUnit: '1s', duration: s.duration,
                          preAllocatedVUs: s.vus, maxVUs: s.vus };
    } else if (s.ramp) {
      scenarios[name] = { executor: 'ramping-vus', exec, startTime: `${start}s`, startVUs: 0,
                          stages: [{ duration: s.duration, target: s.vus }], gracefulRampDown: '5s' };
    } else {
      scenarios[name] = { executor: 'constant-vus', exec, startTime: `${start}s`, vus: s.vus,
                          duration: s.duration };
    }
    start += seconds(s.duration) + 5;
    for (const [metric, exprs] of Object.entries(s.thresholds)) {
      const limit = metric === 'rate_limit_admitted'
        ? exprs.map((e) => e.replace(/\d+$/, String(RATE_LIMIT))) : exprs;
      thresholds[`${metric}{scenario:${name}}`] = limit;
    }
  }
  return { scenarios, thresholds, discardResponseBodies: false };
}

export const options = buildOptions();

export function scenario_a_health_baseline() {
  const r = http.get(`${BASE_URL}/health/live`);
  check(r, { 'live': (x) => x.status === 200 && (x.body || '').indexOf('"live"') >= 0 });
}

export function scenario_b_openapi_aggregation() {
  const r = http.get(`${BASE_URL}/openapi.json`);
  check(r, {
    'an OpenAPI 3.1 document': (x) => x.status === 200 && (x.body || '').indexOf('"openapi":"3.1.0"') >= 0,
    'with the demo operations': (x) => (x.body || '').indexOf('getEcho') >= 0,
  });
}

const MIX = [
  ['GET', '/api/v1/demo/echo?mix=1', null],
  ['POST', '/api/v1/demo/echo', '{"hello":"world"}'],
  ['GET', '/api/v1/demo/items/42', null],
  ['GET', '/api/v1/demo/items/special', null],
  ['GET', '/api/v1/demo/files/a/b/c.txt', null],
];

export function scenario_c_routing_throughput() {
  const [method, path, body] = MIX[(__ITER + __VU) % MIX.length];
  const r = http.request(method, `${BASE_URL}${path}`, body,
    { headers: body ? { 'Content-Type': 'application/json' } : {} });
  check(r, { 'routed to the demo': (x) => x.status === 200 && (x.body || '').indexOf('"instance"') >= 0 });
  if (TOKEN && __ITER % 10 === 0) {
    const s = http.get(`${BASE_URL}/api/v1/demo/secure`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    check(s, { 'authenticated': (x) => x.status === 200 });
  }
}

export function scenario_d_correlation_id() {
  const id = `k6-${__VU}-${__ITER}`;
  const plain = http.get(`${BASE_URL}/api/v1/demo/echo`);
  const tagged = http.get(`${BASE_URL}/api/v1/demo/echo`, { headers: { 'X-Correlation-Id': id } });
  check(tagged, {
    'echoed on the answer': (x) => x.headers['X-Correlation-Id'] === id,
    'passed to the service': (x) => (x.body || '').indexOf(`"correlationId":"${id}"`) >= 0,
  });
  correlationOverhead.add(tagged.timings.duration - plain.timings.duration);
}

export function scenario_e_rate_limit_boundary() {
  const r = http.get(`${BASE_URL}${RATE_LIMITED_PATH}`);
  if (r.status === 429) {
    rateLimitRefused.add(1);
    if (!r.headers['Retry-After']) missingRetryAfter.add(1);
  } else if (r.status >= 200 && r.status < 300) {
    rateLimitAdmitted.add(1);
  }
}

export function scenario_f_connection_ramp() {
  const r = http.get(`${BASE_URL}/api/v1/demo/echo`);
  if (r.status === 503) http503.add(1);
  sleep(SCENARIOS.scenario_f_connection_ramp.think_ms / 1000);
}

export function scenario_g_steady_state_soak() {
  const r = http.get(`${BASE_URL}/api/v1/demo/echo`);
  check(r, { 'ok': (x) => x.status === 200 });
  if (__ITER % 2000 === 0) {  // now and then, from any VU of this scenario
    const m = http.get(`${BASE_URL}/metrics`);
    const line = /\nprocess_resident_memory_bytes ([0-9.e+]+)/.exec(m.body || '');
    if (line) gatewayRss.add(parseFloat(line[1]) / (1024 * 1024));
  }
}
