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

/// The worker a request runs on, among `count`. A gateway with several workers numbers service
/// connections so that id % count is the worker that runs the connection
/// (transport::ListenerSettings::id_stride).
struct LocalWorker {
  std::size_t index = 0;
  std::size_t count = 1;
  bool runs(std::uint64_t connection_id) const noexcept {
    return count <= 1 || connection_id % count == index;
  }
};

/// A service instance connected more than once (once per gateway worker, say) is a candidate per
/// connection, its twins adjacent in route.candidates (sorted by instance id). When the picked
/// connection is not run by `worker` and a twin's is, with the same region and health and at
/// most twice the pick's requests in flight plus kTwinInFlightSlack, the pick becomes that
/// twin: the same instance, reached without a hop to another worker. (Workers' loads differ, so
/// their twins' counts do; a twin whose requests pile up — a connection that stopped answering
/// before its heartbeats say so — loses its worker's traffic to the others.)
inline constexpr std::uint32_t kTwinInFlightSlack = 64;
void prefer_local(const Route& route, Pick& pick, LocalWorker worker);

}  // namespace stella::gw
