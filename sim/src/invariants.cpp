#include "stella/sim/invariants.hpp"

#include <algorithm>

namespace stella::sim {

Bounds compute_bounds(const Topology& t) {
  core::Duration max_lat = t.network.same_region;
  max_lat = std::max(max_lat, t.network.default_latency);
  for (const auto& p : t.network.pairs)
    max_lat = std::max(max_lat, p.latency);
  max_lat += t.network.jitter;
  const auto& g = t.gateway;
  Bounds b;
  b.detection = std::min(g.heartbeat_interval * g.unhealthy_threshold, g.heartbeat_timeout) +
                g.heartbeat_interval + 2 * max_lat + std::chrono::milliseconds(1);
  b.drain = max_lat + std::chrono::milliseconds(1);
  b.recovery =
      2 * t.reconnect.max_backoff + g.heartbeat_interval * (g.healthy_threshold + 2) + 4 * max_lat;
  return b;
}

}  // namespace stella::sim
