#include "stella/gateway/instance_picker.hpp"

namespace stella::gw {

std::optional<Pick> pick_instance(const Route& route, const Selector& selector, core::Random& rng,
                                  std::vector<Candidate>& scratch) {
  scratch.clear();
  for (const RouteCandidate& rc : route.candidates) {
    const InstanceState& st = *rc.state;
    scratch.push_back(Candidate{rc.info->instance_id, rc.info->connection_id, rc.info->region,
                                st.health(), st.average_ping(), st.last_heartbeat(),
                                st.in_flight()});
  }
  // Only round-robin touches the shared counter: the other policies never contend on it.
  std::uint64_t ticket = 0;
  if (selector.settings().policy == Policy::round_robin && route.runtime) {
    ticket = route.runtime->round_robin_next.fetch_add(1, std::memory_order_relaxed);
  }
  const auto sel = selector.select(scratch, rng, ticket);
  if (!sel) return std::nullopt;
  return Pick{&route.candidates[sel->index], *sel};
}

}  // namespace stella::gw
