// JSON and terminal renderings of a Report.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "stella/sim/report.hpp"

namespace stella::sim {
namespace {

using Json = nlohmann::ordered_json;  // keys in insertion order: a fixed, readable layout

// Rounded to 6 significant decimals so the file reads well; the rounding is deterministic.
double r6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

Json latency(const LatencySummary& l) {
  return Json{{"count", l.count},       {"p50_ms", r6(l.p50_ms)},   {"p90_ms", r6(l.p90_ms)},
              {"p99_ms", r6(l.p99_ms)}, {"p999_ms", r6(l.p999_ms)}, {"max_ms", r6(l.max_ms)}};
}

}  // namespace

std::string to_json(const Report& r) {
  Json j;
  j["topology"] = r.topology;
  j["description"] = r.description;
  j["seed"] = r.seed;
  j["policy"] = r.policy;
  j["duration_s"] = r6(r.duration_s);
  if (r.fault_ignore_health) j["fault_ignore_health"] = true;
  j["requests"] = r.requests;
  j["ok"] = r.ok;
  j["errors"] = r.errors;
  j["errors_by_kind"] = Json::object();
  for (const auto& [k, v] : r.errors_by_kind)
    j["errors_by_kind"][k] = v;
  j["error_rate"] = r6(r.error_rate);
  j["availability"] = r6(r.availability);
  j["spill_share"] = r6(r.spill_share);
  j["outside_local_share"] = r6(r.outside_local_share);
  j["latency"] = Json{{"overhead", latency(r.overhead)}, {"end_to_end", latency(r.e2e)}};
  Json slo = Json::array();
  for (const SloRow& s : r.slo)
    slo.push_back(Json{{"name", s.name},
                       {"unit", s.unit},
                       {"target", r6(s.target)},
                       {"actual", r6(s.actual)},
                       {"pass", s.pass}});
  j["slo"] = Json{{"pass", r.slo_pass}, {"targets", slo}};
  Json regions = Json::array();
  for (const RegionReport& g : r.regions)
    regions.push_back(Json{{"name", g.name},
                           {"tier", g.tier},
                           {"requests", g.requests},
                           {"ok", g.ok},
                           {"errors", g.errors},
                           {"share", r6(g.share)}});
  j["regions"] = regions;
  Json instances = Json::array();
  for (const InstanceReport& in : r.instances) {
    Json health = Json::array();
    for (const HealthChange& h : in.health)
      health.push_back(Json{{"t", r6(h.t)}, {"state", h.state}, {"reason", h.reason}});
    instances.push_back(Json{{"name", in.name},
                             {"service", in.service},
                             {"region", in.region},
                             {"requests", in.requests},
                             {"ok", in.ok},
                             {"errors", in.errors},
                             {"spilled", in.spilled},
                             {"share", r6(in.share)},
                             {"health", health}});
  }
  j["instances"] = instances;
  Json failures = Json::array();
  for (const FailureMark& f : r.failures)
    failures.push_back(Json{{"t", r6(f.t)}, {"kind", f.kind}, {"target", f.target}});
  j["failures"] = failures;
  const InvariantReport& iv = r.invariants;
  Json inv{{"picks_checked", iv.picks_checked},
           {"region_checks", iv.region_checks},
           {"region_checks_skipped", iv.region_checks_skipped},
           {"liveness_checks", iv.liveness_checks},
           {"liveness_reached", iv.liveness_reached},
           {"detection_bound_s", r6(iv.detection_bound_s)},
           {"drain_bound_s", r6(iv.drain_bound_s)},
           {"recovery_bound_s", r6(iv.recovery_bound_s)}};
  if (iv.heal_time_s) inv["heal_time_s"] = r6(*iv.heal_time_s);
  inv["violation"] = iv.violation ? Json(*iv.violation) : Json(nullptr);
  j["invariants"] = inv;
  j["timeline_instances"] = r.timeline_instances;
  Json tl = Json::array();
  for (const TimelineBucket& b : r.timeline)
    tl.push_back(Json{{"t", r6(b.t)},
                      {"requests", b.requests},
                      {"errors", b.errors},
                      {"e2e_p50_ms", r6(b.e2e_p50_ms)},
                      {"e2e_p99_ms", r6(b.e2e_p99_ms)},
                      {"overhead_p99_ms", r6(b.overhead_p99_ms)},
                      {"by_region", b.by_region},
                      {"by_instance", b.by_instance},
                      {"all_routable", b.all_routable}});
  j["timeline"] = tl;
  j["event_hash"] = r.event_hash;
  j["event_lines"] = r.event_lines;
  j["events_processed"] = r.events_processed;
  j["connections_opened"] = r.connections_opened;
  j["health_events_dropped"] = r.health_events_dropped;
  return j.dump(2) + "\n";
}

std::string summary_table(const Report& r) {
  std::ostringstream o;
  char line[256];
  std::snprintf(line, sizeof line, "topology %s, policy %s, %.0f s virtual, seed %llu\n",
                r.topology.c_str(), r.policy.c_str(), r.duration_s,
                static_cast<unsigned long long>(r.seed));
  o << line;
  std::snprintf(line, sizeof line, "requests %llu  ok %llu  errors %llu (%.4f %%)\n",
                static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.ok),
                static_cast<unsigned long long>(r.errors), 100 * r.error_rate);
  o << line;
  std::snprintf(line, sizeof line,
                "route availability %.2f %% (seconds in which every route had a routable "
                "instance; not the request success rate)\n",
                100 * r.availability);
  o << line;
  std::snprintf(line, sizeof line,
                "served outside the local region %.2f %%: spill %.2f %% (overprovisioning while "
                "local instances were routable) + failover %.2f %% (no local instance routable)\n",
                100 * r.outside_local_share, 100 * r.spill_share,
                100 * std::max(0.0, r.outside_local_share - r.spill_share));
  o << line;
  for (const auto& [k, v] : r.errors_by_kind)
    o << "  " << k << ": " << v << "\n";
  o << "\nlatency (ms)         p50       p90       p99      p999       max\n";
  for (const auto& [name, l] :
       {std::pair{"gateway overhead", &r.overhead}, std::pair{"end to end", &r.e2e}}) {
    std::snprintf(line, sizeof line, "%-16s %9.3f %9.3f %9.3f %9.3f %9.3f\n", name, l->p50_ms,
                  l->p90_ms, l->p99_ms, l->p999_ms, l->max_ms);
    o << line;
  }
  o << "\nSLO                         target     actual  result\n";
  for (const SloRow& s : r.slo) {
    if (s.unit == "ms") {
      std::snprintf(line, sizeof line, "%-24s < %7.3f ms %7.3f ms  %s\n", s.name.c_str(), s.target,
                    s.actual, s.pass ? "PASS" : "FAIL");
    } else {
      std::snprintf(line, sizeof line, "%-24s < %7.3f %%  %7.3f %%   %s\n", s.name.c_str(),
                    100 * s.target, 100 * s.actual, s.pass ? "PASS" : "FAIL");
    }
    o << line;
  }
  o << "\nregion          tier        requests   share    errors\n";
  for (const RegionReport& g : r.regions) {
    std::snprintf(line, sizeof line, "%-15s %-9s %10llu %6.2f %% %9llu\n", g.name.c_str(),
                  g.tier.c_str(), static_cast<unsigned long long>(g.requests), 100 * g.share,
                  static_cast<unsigned long long>(g.errors));
    o << line;
  }
  o << "\ninstance                     region        requests   share    errors\n";
  std::size_t shown = 0;
  for (const InstanceReport& in : r.instances) {
    if (++shown > 24) {
      o << "  ... " << (r.instances.size() - 24) << " more in the JSON/HTML report\n";
      break;
    }
    std::snprintf(line, sizeof line, "%-28s %-12s %9llu %6.2f %% %9llu\n", in.name.c_str(),
                  in.region.c_str(), static_cast<unsigned long long>(in.requests), 100 * in.share,
                  static_cast<unsigned long long>(in.errors));
    o << line;
  }
  std::snprintf(line, sizeof line, "\ninvariants: %llu picks checked, %s; event hash %s\n",
                static_cast<unsigned long long>(r.invariants.picks_checked),
                r.invariants.violation ? "VIOLATED" : "all held", r.event_hash.c_str());
  o << line;
  return o.str();
}

}  // namespace stella::sim
