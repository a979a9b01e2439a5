#include "stella/gateway/instance_picker.hpp"

namespace stella::gw {

std::optional<Pick> pick_instance(const Route& route, const Selector& selector, core::Random& rng,
                                  std::vector<Candidate>& scratch) {
  scratch.clear();
  // The tiers worked out with the snapshot, when they are this selector's.
  const bool tiers_known = route.region_tiers && route.region_tiers == selector.region_tiers();
  for (const RouteCandidate& rc : route.candidates) {
    const InstanceState& st = *rc.state;
    scratch.push_back(Candidate{
        rc.instance_id, rc.connection_id, tiers_known ? rc.tier : selector.tier_of(rc.info->region),
        st.health(), st.average_ping(), st.last_heartbeat(), st.in_flight()});
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

void prefer_local(const Route& route, Pick& pick, LocalWorker worker) {
  const RouteCandidate& chosen = *pick.instance;
  if (worker.runs(chosen.connection_id)) return;
  const auto& all = route.candidates;
  const auto same_instance = [&](std::size_t i) {
    return all[i].instance_id == chosen.instance_id;
  };
  const auto take = [&](std::size_t i) {
    const RouteCandidate& c = all[i];
    if (c.info->region != chosen.info->region || c.state->health() != chosen.state->health() ||
        c.state->in_flight() > 2 * chosen.state->in_flight() + kTwinInFlightSlack ||
        !worker.runs(c.connection_id))
      return false;
    pick.instance = &c;
    pick.selection.index = i;
    return true;
  };
  const std::size_t at = pick.selection.index;
  for (std::size_t i = at; i-- > 0 && same_instance(i);)
    if (take(i)) return;
  for (std::size_t i = at + 1; i < all.size() && same_instance(i); ++i)
    if (take(i)) return;
}

}  // namespace stella::gw
