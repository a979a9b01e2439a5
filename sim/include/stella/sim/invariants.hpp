// The invariants the simulator checks while it runs, and the time bounds they allow
// (docs/simulation.md, "Invariants and bounds").
//
//  routed-to-unroutable   selection returned an instance whose health tracker says Unhealthy,
//                         Draining or Unknown (checked on every pick);
//  routed-to-down         the gateway routed to an instance that has truly been down (crashed,
//                         paused, partitioned away) for longer than the detection bound, or
//                         draining for longer than the drain bound (ground truth: the
//                         simulator knows when it broke the instance);
//  left-local-region      a pick outside the local tier that the selector did not mark as an
//                         overprovisioning spill, while a routable local instance existed;
//  request-lost           a request neither answered, timed out nor failed by the end;
//  not-recovered          after the last failure healed, a route with live instances, or a
//                         live instance, was still not routable after the recovery bound.
#pragma once

#include <string>

#include "stella/core/clock.hpp"
#include "stella/sim/topology.hpp"

namespace stella::sim {

struct Bounds {
  /// min(unhealthyThreshold × interval, heartbeatTimeout) + interval + 2 × (max one-way
  /// latency + jitter) + 1 ms. Why the extra interval: beats are sent on the interval grid, so
  /// the first unanswered beat may leave up to one interval after the failure, and the silence
  /// timeout is only applied when a beat is sent.
  core::Duration detection{};
  /// Max one-way latency + jitter + 1 ms: the DRAIN frame's trip to the gateway.
  core::Duration drain{};
  /// 2 × maxBackoff + (healthyThreshold + 2) × interval + 4 × (max one-way latency + jitter):
  /// a service may wait out a full backoff (with up to 100 % jitter) before reconnecting, and a
  /// detected-Unhealthy instance needs healthyThreshold acks to come back.
  core::Duration recovery{};
};

Bounds compute_bounds(const Topology& t);

struct Violation {
  std::string invariant;  // one of the names above
  std::string detail;
  core::TimePoint at{};
};

}  // namespace stella::sim
