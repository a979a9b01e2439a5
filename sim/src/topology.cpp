#include "stella/sim/topology.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "stella/core/path_template.hpp"
#include "yaml_reader.hpp"

namespace stella::sim {

using detail::Node;

const char* failure_kind_name(FailureKind k) noexcept {
  switch (k) {
    case FailureKind::crash:
      return "crash";
    case FailureKind::restart:
      return "restart";
    case FailureKind::pause:
      return "pause";
    case FailureKind::slowdown:
      return "slowdown";
    case FailureKind::flap:
      return "flap";
    case FailureKind::partition:
      return "partition";
    case FailureKind::drain:
      return "drain";
    case FailureKind::gateway_restart:
      return "gateway-restart";
  }
  return "?";
}

const Region* Topology::region(std::string_view n) const noexcept {
  for (const Region& r : regions)
    if (r.name == n) return &r;
  return nullptr;
}

core::Duration Topology::latency(std::string_view a, std::string_view b) const noexcept {
  if (a == b) return network.same_region;
  for (const LatencyPair& p : network.pairs)
    if ((p.a == a && p.b == b) || (p.a == b && p.b == a)) return p.latency;
  return network.default_latency;
}

namespace {

Distribution parse_distribution(const Node& n) {
  const std::string kind = n.only_key({"fixed", "normal", "lognormal", "percentiles"});
  const Node v = n[kind.c_str()];
  if (kind == "fixed") return Distribution::fixed(v.duration());
  if (kind == "normal") {
    v.expect_map({"mean", "stddev"});
    return Distribution::normal(v["mean"].duration(), v["stddev"].duration());
  }
  if (kind == "lognormal") {
    v.expect_map({"median", "sigma"});
    const double sigma = v["sigma"].number();
    if (sigma < 0 || sigma > 5) v["sigma"].fail("sigma must be in [0, 5]");
    return Distribution::lognormal(v["median"].duration(), sigma);
  }
  // percentiles: {p50: 4ms, p99: 20ms, p99.9: 40ms, p100: 80ms}
  v.expect_map({"p0", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9", "p99.99", "p100"});
  std::vector<std::pair<double, core::Duration>> pts;
  for (const char* key :
       {"p0", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9", "p99.99", "p100"}) {
    if (v.has(key)) pts.emplace_back(std::stod(std::string(key + 1)) / 100.0, v[key].duration());
  }
  if (pts.size() < 2) v.fail("give at least two percentiles (e.g. p50 and p100)");
  for (std::size_t i = 1; i < pts.size(); ++i)
    if (pts[i].second < pts[i - 1].second) v.fail("percentile values must not decrease");
  return Distribution::percentiles(std::move(pts));
}

void parse_gateway(const Node& n, GatewayConfig& g) {
  n.expect_map({"region", "heartbeatInterval", "heartbeatTimeout", "unhealthyThreshold",
                "healthyThreshold", "defaultTimeout", "policy", "overprovisioningFactor",
                "maxCandidates", "preferHealthy", "processingTime", "workers", "workerQueueLimit",
                "maxInFlightPerConnection"});
  g.region = n["region"].str();
  n.get("heartbeatInterval", g.heartbeat_interval);
  n.get("heartbeatTimeout", g.heartbeat_timeout);
  n.get("unhealthyThreshold", g.unhealthy_threshold);
  n.get("healthyThreshold", g.healthy_threshold);
  n.get("defaultTimeout", g.default_timeout);
  if (n.has("policy")) {
    const auto p = gw::parse_policy(n["policy"].str());
    if (!p) n["policy"].fail("unknown policy (lowest-ping, p2c, round-robin)");
    g.policy = *p;
  }
  n.get("overprovisioningFactor", g.overprovisioning_factor);
  n.get("maxCandidates", g.max_candidates);
  n.get("preferHealthy", g.prefer_healthy);
  if (n.has("processingTime")) g.processing = parse_distribution(n["processingTime"]);
  n.get("workers", g.workers);
  n.get("workerQueueLimit", g.worker_queue_limit);
  n.get("maxInFlightPerConnection", g.max_in_flight_per_connection);
  if (g.heartbeat_interval <= core::Duration::zero()) n.fail("heartbeatInterval must be > 0");
  if (g.heartbeat_timeout < g.heartbeat_interval)
    n.fail("heartbeatTimeout must be >= heartbeatInterval");
  if (g.unhealthy_threshold == 0 || g.healthy_threshold == 0) n.fail("thresholds must be >= 1");
  if (g.default_timeout <= core::Duration::zero()) n.fail("defaultTimeout must be > 0");
  if (g.max_in_flight_per_connection == 0) n.fail("maxInFlightPerConnection must be >= 1");
}

Service parse_service(const Node& n, const Topology& t) {
  n.expect_map({"name", "version", "endpoints", "instances"});
  Service s;
  s.name = n["name"].str();
  n.get("version", s.version);
  for (const Node& e : n["endpoints"].items()) {
    e.expect_map({"method", "path", "timeout"});
    Endpoint ep{e["method"].str(), e["path"].str(), core::Duration::zero()};
    e.get("timeout", ep.timeout);
    if (!core::PathTemplate::parse(ep.path).ok()) e["path"].fail("not a valid path template");
    s.endpoints.push_back(std::move(ep));
  }
  if (s.endpoints.empty()) n["endpoints"].fail("a service needs at least one endpoint");
  for (const Node& i : n["instances"].items()) {
    i.expect_map(
        {"region", "count", "names", "serviceTime", "concurrency", "queueLimit", "errorRate"});
    InstanceGroup g;
    g.region = i["region"].str();
    if (!t.region(g.region)) i["region"].fail("unknown region '" + g.region + "'");
    i.get("count", g.count);
    if (i.has("names")) {
      g.names = i["names"].strings();
      if (!i.has("count")) g.count = static_cast<std::uint32_t>(g.names.size());
      if (g.names.size() != g.count) i["names"].fail("names must list `count` names");
    }
    g.service_time = parse_distribution(i["serviceTime"]);
    i.get("concurrency", g.concurrency);
    i.get("queueLimit", g.queue_limit);
    i.get("errorRate", g.error_rate);
    if (g.concurrency == 0) i["concurrency"].fail("must be >= 1");
    if (g.error_rate < 0 || g.error_rate > 1) i["errorRate"].fail("must be in [0, 1]");
    s.instances.push_back(std::move(g));
  }
  return s;
}

Failure parse_failure(const Node& n, const Topology& t) {
  n.expect_map({"at", "kind", "instance", "region", "service", "silent", "for", "factor", "add",
                "down", "up", "until", "regions", "downtime"});
  Failure f;
  f.at = n["at"].duration();
  const std::string kind = n["kind"].str();
  static const std::pair<const char*, FailureKind> kinds[] = {
      {"crash", FailureKind::crash}, {"restart", FailureKind::restart},
      {"pause", FailureKind::pause}, {"slowdown", FailureKind::slowdown},
      {"flap", FailureKind::flap},   {"partition", FailureKind::partition},
      {"drain", FailureKind::drain}, {"gateway-restart", FailureKind::gateway_restart}};
  bool found = false;
  for (const auto& [name, k] : kinds)
    if (kind == name) f.kind = k, found = true;
  if (!found) {
    n["kind"].fail("unknown failure kind '" + kind +
                   "' (crash, restart, pause, slowdown, flap, partition, drain, gateway-restart)");
  }
  n.get("instance", f.instance);
  n.get("region", f.region);
  n.get("service", f.service);
  n.get("silent", f.silent);
  n.get("for", f.duration);
  n.get("downtime", f.duration);
  n.get("factor", f.factor);
  n.get("add", f.add);
  n.get("down", f.down);
  n.get("up", f.up);
  n.get("until", f.until);
  if (n.has("regions")) f.regions = n["regions"].strings();
  const bool targets_instances =
      f.kind != FailureKind::partition && f.kind != FailureKind::gateway_restart;
  if (targets_instances && f.instance.empty() && f.region.empty() && f.service.empty())
    n.fail(kind + " needs a target: instance, region or service");
  if (!f.region.empty() && !t.region(f.region)) n["region"].fail("unknown region");
  if ((f.kind == FailureKind::pause || f.kind == FailureKind::slowdown ||
       f.kind == FailureKind::partition) &&
      f.duration <= core::Duration::zero())
    n.fail(kind + " needs `for: <duration>`");
  if (f.kind == FailureKind::slowdown && (f.factor <= 0 || f.add < core::Duration::zero()))
    n.fail("slowdown needs factor > 0 and add >= 0");
  if (f.kind == FailureKind::flap &&
      (f.down <= core::Duration::zero() || f.up <= core::Duration::zero() || f.until <= f.at))
    n.fail("flap needs down > 0, up > 0 and until > at");
  if (f.kind == FailureKind::partition) {
    if (f.regions.size() != 2) n.fail("partition needs `regions: [a, b]`");
    for (const auto& r : f.regions)
      if (!t.region(r)) n["regions"].fail("unknown region '" + r + "'");
  }
  return f;
}

Topology parse_root(const Node& root, const std::string& source) {
  root.expect_map({"name", "description", "duration", "regions", "network", "gateway", "services",
                   "workload", "failures", "slo", "reconnect", "limits"});
  Topology t;
  t.source_file = source;
  root.get("name", t.name);
  root.get("description", t.description);
  root.get("duration", t.duration);
  if (t.duration <= core::Duration::zero()) root["duration"].fail("must be > 0");
  for (const Node& r : root["regions"].items()) {
    r.expect_map({"name", "neighbors"});
    Region reg{r["name"].str(), {}};
    if (r.has("neighbors")) reg.neighbors = r["neighbors"].strings();
    if (t.region(reg.name)) r["name"].fail("duplicate region '" + reg.name + "'");
    t.regions.push_back(std::move(reg));
  }
  for (const Region& r : t.regions)
    for (const auto& nb : r.neighbors)
      if (!t.region(nb))
        root["regions"].fail("region '" + r.name + "' lists unknown neighbor '" + nb + "'");
  if (root.has("network")) {
    const Node n = root["network"];
    n.expect_map({"sameRegion", "default", "jitter", "pairs"});
    n.get("sameRegion", t.network.same_region);
    n.get("default", t.network.default_latency);
    n.get("jitter", t.network.jitter);
    if (n.has("pairs")) {
      for (const Node& p : n["pairs"].items()) {
        p.expect_map({"regions", "latency"});
        const auto rs = p["regions"].strings();
        if (rs.size() != 2) p["regions"].fail("expected two regions");
        for (const auto& r : rs)
          if (!t.region(r)) p["regions"].fail("unknown region '" + r + "'");
        t.network.pairs.push_back({rs[0], rs[1], p["latency"].duration()});
      }
    }
  }
  parse_gateway(root["gateway"], t.gateway);
  if (!t.region(t.gateway.region)) root["gateway"]["region"].fail("unknown region");
  std::set<std::string> names;
  for (const Node& s : root["services"].items()) {
    t.services.push_back(parse_service(s, t));
    if (!names.insert(t.services.back().name).second) s["name"].fail("duplicate service name");
  }
  const Node w = root["workload"];
  w.expect_map({"rate", "mix"});
  for (const Node& p : w["rate"].items()) {
    p.expect_map({"from", "rps"});
    RatePhase ph{core::Duration::zero(), p["rps"].number()};
    p.get("from", ph.from);
    if (ph.rps < 0) p["rps"].fail("must be >= 0");
    t.workload.rate.push_back(ph);
  }
  std::stable_sort(t.workload.rate.begin(), t.workload.rate.end(),
                   [](const RatePhase& a, const RatePhase& b) { return a.from < b.from; });
  for (const Node& m : w["mix"].items()) {
    m.expect_map({"route", "weight"});
    const std::string route = m["route"].str();
    const auto sp = route.find(' ');
    if (sp == std::string::npos) m["route"].fail("expected \"METHOD /path/template\"");
    RouteMix rm{route.substr(0, sp), route.substr(sp + 1), 1};
    m.get("weight", rm.weight);
    if (rm.weight < 0) m["weight"].fail("must be >= 0");
    if (!core::PathTemplate::parse(rm.path).ok()) m["route"].fail("not a valid path template");
    t.workload.mix.push_back(std::move(rm));
  }
  if (t.workload.mix.empty()) w["mix"].fail("the mix needs at least one route");
  if (root.has("failures")) {
    for (const Node& f : root["failures"].items())
      t.failures.push_back(parse_failure(f, t));
    std::stable_sort(t.failures.begin(), t.failures.end(),
                     [](const Failure& a, const Failure& b) { return a.at < b.at; });
  }
  if (root.has("slo")) {
    const Node s = root["slo"];
    s.expect_map({"overheadP50", "overheadP99", "endToEndP99", "errorRate"});
    s.get("overheadP50", t.slo.overhead_p50);
    s.get("overheadP99", t.slo.overhead_p99);
    s.get("endToEndP99", t.slo.e2e_p99);
    s.get("errorRate", t.slo.error_rate);
  }
  if (root.has("reconnect")) {
    const Node r = root["reconnect"];
    r.expect_map({"initialBackoff", "maxBackoff"});
    r.get("initialBackoff", t.reconnect.initial_backoff);
    r.get("maxBackoff", t.reconnect.max_backoff);
    if (t.reconnect.initial_backoff <= core::Duration::zero() ||
        t.reconnect.max_backoff < t.reconnect.initial_backoff)
      r.fail("need 0 < initialBackoff <= maxBackoff");
  }
  if (root.has("limits")) {
    const Node l = root["limits"];
    l.expect_map({"maxEvents", "maxPending", "maxConnections", "maxHealthEvents"});
    l.get("maxEvents", t.limits.max_events);
    l.get("maxPending", t.limits.max_pending);
    l.get("maxConnections", t.limits.max_connections);
    l.get("maxHealthEvents", t.limits.max_health_events);
  }
  return t;
}

}  // namespace

Topology parse_topology(const std::string& yaml_text, const std::string& source) {
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw TopologyError(source + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                        std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return parse_root(Node(doc, "", &source), source);
}

Topology load_topology(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TopologyError(path + ": cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_topology(text.str(), path);
}

}  // namespace stella::sim
