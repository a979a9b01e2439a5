// `stella-gw sim`: the deterministic discrete-event simulator (docs/simulation.md).
//
// One run = one topology + one seed. Single-threaded, virtual time; every random choice comes
// from core::Random sub-generators forked from the seed in a fixed order. The run drives the
// real gateway logic — ServiceRegistry (route table + health trackers), Selector through
// pick_instance — and the real protocol ends (core::GatewaySession, core::ServiceSession), whose
// encoded frames travel over the simulator's own virtual-time links (link.hpp). Nothing here
// reads the wall clock or an entropy source.
//
// Thread-safety: run_simulation may run concurrently on different threads (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>

#include "stella/core/clock.hpp"
#include "stella/gateway/selector.hpp"
#include "stella/sim/invariants.hpp"
#include "stella/sim/report.hpp"
#include "stella/sim/topology.hpp"

namespace stella::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  /// Overrides the topology's `duration`.
  std::optional<core::Duration> duration;
  /// Overrides gateway.policy.
  std::optional<gw::Policy> policy;
  /// Multiplies every workload rate (tests run the sample topologies at a fraction of their
  /// traffic; the failure schedule and health timing are unchanged). Must be > 0.
  double rate_scale = 1.0;
  /// TEST HOOK, never for real use: route round-robin over every candidate ignoring health
  /// and regions, to prove the invariant checker catches a broken selection.
  bool fault_ignore_health = false;
  /// Receives the event log lines (optional, not owned).
  std::ostream* event_log = nullptr;
  /// Called with the fraction of virtual time done (0..1), once per virtual second.
  std::function<void(double)> progress;
};

struct SimResult {
  Report report;
  std::optional<Violation> violation;  // the run stopped at the first one
  std::uint64_t event_hash = 0;
  std::uint64_t events_processed = 0;
  std::uint64_t requests = 0;  // requests simulated (arrivals)
};

/// Runs one simulation. Throws TopologyError when the topology refers to something that does
/// not exist (e.g. a failure naming an unknown instance) or the selector settings are invalid;
/// std::runtime_error when a limit (limits.maxEvents, maxConnections) stops the run.
SimResult run_simulation(const Topology& topology, const SimOptions& options);

}  // namespace stella::sim
