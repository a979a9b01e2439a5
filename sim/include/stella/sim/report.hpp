// What a simulation run produced, and its three renderings: JSON (byte-identical for the same
// seed), a self-contained HTML page with inline SVG charts, and the terminal summary table.
//
// Times are virtual seconds since the start of the run; latencies are milliseconds. Nothing in
// a Report depends on the wall clock, so the same seed gives the same report.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stella::sim {

struct LatencySummary {
  std::uint64_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

struct HealthChange {
  double t = 0;
  std::string state;   // healthy, degraded, unhealthy, draining, disconnected
  std::string reason;  // registered, missed_heartbeats, recovered, closed, ...
};

struct InstanceReport {
  std::string name, service, region;
  std::uint64_t requests = 0;  // picks by the selector
  std::uint64_t ok = 0, errors = 0;
  std::uint64_t spilled = 0;  // picks that were overprovisioning spills
  double share = 0;           // requests / all picks
  std::vector<HealthChange> health;
};

struct RegionReport {
  std::string name;
  std::string tier;  // local, neighbor, other (from the gateway's region)
  std::uint64_t requests = 0, ok = 0, errors = 0;
  double share = 0;
};

struct SloRow {
  std::string name;
  std::string unit;  // "ms" or "ratio"
  double target = 0;
  double actual = 0;
  bool pass = false;
};

struct TimelineBucket {
  double t = 0;  // bucket start, seconds
  std::uint64_t requests = 0, errors = 0;
  double e2e_p50_ms = 0, e2e_p99_ms = 0, overhead_p99_ms = 0;
  std::vector<std::uint64_t> by_region;    // picks, in Report::regions order
  std::vector<std::uint64_t> by_instance;  // picks, in Report::timeline_instances order
  bool all_routable = true;                // every workload route routable at the bucket end
};

struct FailureMark {
  double t = 0;
  std::string kind;
  std::string target;
};

struct InvariantReport {
  std::uint64_t picks_checked = 0;
  std::uint64_t region_checks = 0;
  std::uint64_t region_checks_skipped = 0;  // routes wider than maxCandidates
  std::uint64_t liveness_checks = 0;
  double detection_bound_s = 0, drain_bound_s = 0, recovery_bound_s = 0;
  std::optional<double> heal_time_s;  // when the last failure healed
  bool liveness_reached = false;      // the liveness check time was inside the run
  std::optional<std::string> violation;
};

struct Report {
  std::string topology, description;
  std::uint64_t seed = 0;
  std::string policy;
  double duration_s = 0;
  bool fault_ignore_health = false;

  std::uint64_t requests = 0, ok = 0, errors = 0;
  std::map<std::string, std::uint64_t> errors_by_kind;
  double error_rate = 0;
  /// Route availability: the share of one-second buckets at whose end every workload route had
  /// a routable instance. Not the share of requests that succeeded (`1 - error_rate`): a slow
  /// instance that stays routable fails requests (timeouts) at 100 % route availability.
  double availability = 0;
  /// Picks the overprovisioning rule sent to a further tier while the local tier still had
  /// routable instances (Envoy's "spill") / all picks. Picks outside the local tier because it
  /// had no routable instance at all are failover, not spill: see outside_local_share.
  double spill_share = 0;
  /// Picks outside the local tier, for any reason (spill or failover) / all picks.
  double outside_local_share = 0;

  LatencySummary overhead, e2e;
  std::vector<RegionReport> regions;
  std::vector<InstanceReport> instances;
  std::vector<SloRow> slo;
  bool slo_pass = false;

  std::vector<std::string> timeline_instances;  // the instances with a per-second series
  std::vector<TimelineBucket> timeline;
  std::vector<FailureMark> failures;
  InvariantReport invariants;

  std::string event_hash;  // 16 hex digits
  std::uint64_t event_lines = 0;
  std::uint64_t events_processed = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t health_events_dropped = 0;  // past limits.maxHealthEvents
};

/// Pretty JSON (2-space indent), keys in a fixed order; the same Report gives the same bytes.
std::string to_json(const Report& r);
/// One self-contained HTML page (inline CSS and SVG, no script, no network access).
std::string to_html(const Report& r);
/// The terminal summary: totals, latency, SLO table, per-region and top instances.
std::string summary_table(const Report& r);

}  // namespace stella::sim
