// Glue between a route of a snapshot and the pure Selector: reads each candidate's dynamic
// state (relaxed atomic loads, see instance_state.hpp) into Candidate values, takes the route's
// round-robin ticket when the policy needs one, and maps the selector's answer back to the
// route's candidate.
//
// Thread-safety: safe to call concurrently for the same route from any number of threads, each
// with its own core::Random and scratch vector.
#pragma once

#include <optional>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/route_snapshot.hpp"
#include "stella/gateway/selector.hpp"

namespace stella::gw {

struct Pick {
  const RouteCandidate* instance = nullptr;  // owned by the route's snapshot
  Selection selection;
};

/// Selects an instance of `route`; std::nullopt when none is routable (the caller answers 503).
/// `scratch` is reused between calls: no allocation once it has grown to the largest route.
std::optional<Pick> pick_instance(const Route& route, const Selector& selector, core::Random& rng,
                                  std::vector<Candidate>& scratch);

}  // namespace stella::gw
