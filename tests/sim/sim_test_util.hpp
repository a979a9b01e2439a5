// Helpers for the simulator tests: load a sample topology or an inline YAML one.
#pragma once

#include <string>

#include "stella/sim/simulator.hpp"
#include "stella/sim/topology.hpp"

namespace stella::sim::test {

inline std::string topology_path(const std::string& name) {
  return std::string(STELLA_SOURCE_DIR) + "/sim/topologies/" + name;
}

inline SimResult run(const Topology& t, std::uint64_t seed,
                     std::optional<core::Duration> duration = std::nullopt,
                     std::optional<gw::Policy> policy = std::nullopt) {
  SimOptions o;
  o.seed = seed;
  o.duration = duration;
  o.policy = policy;
  return run_simulation(t, o);
}

}  // namespace stella::sim::test
