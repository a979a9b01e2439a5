#include "stella/gateway/selector.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace stella::gw {

namespace {

/// The seed's order: lowest ping, then most recent heartbeat; then id for determinism.
bool ping_order_less(const Candidate& a, const Candidate& b) noexcept {
  if (a.average_ping != b.average_ping) return a.average_ping < b.average_ping;
  if (a.last_heartbeat != b.last_heartbeat) return a.last_heartbeat > b.last_heartbeat;
  if (a.instance_id != b.instance_id) return a.instance_id < b.instance_id;
  return a.connection_id < b.connection_id;
}

double p2c_score(const Candidate& c, core::Duration min_ping) noexcept {
  const auto ping = std::max(c.average_ping, min_ping);
  return static_cast<double>(ping.count()) * (static_cast<double>(c.in_flight) + 1.0);
}

struct TierCount {
  std::size_t members = 0;   // every candidate except Draining ones
  std::size_t routable = 0;  // Healthy + Degraded
  std::size_t healthy = 0;
};

}  // namespace

std::string_view policy_name(Policy p) noexcept {
  switch (p) {
    case Policy::lowest_ping:
      return "lowest-ping";
    case Policy::p2c:
      return "p2c";
    case Policy::round_robin:
      return "round-robin";
  }
  return "unknown";
}

std::optional<Policy> parse_policy(std::string_view name) noexcept {
  for (Policy p : {Policy::lowest_ping, Policy::p2c, Policy::round_robin}) {
    if (name == policy_name(p)) return p;
  }
  return std::nullopt;
}

std::string_view tier_name(Tier t) noexcept {
  switch (t) {
    case Tier::local:
      return "local";
    case Tier::neighbor:
      return "neighbor";
    case Tier::other:
      return "other";
  }
  return "unknown";
}

std::optional<std::string> validate(const SelectorSettings& s) {
  if (!(s.overprovisioning_factor == 0.0 || s.overprovisioning_factor >= 1.0)) {
    return "routing.loadBalancing.overprovisioningFactor must be 0 (off) or >= 1";
  }
  if (s.max_candidates == 0) return "routing.loadBalancing.maxCandidates must be >= 1";
  if (s.p2c_min_ping <= core::Duration::zero()) {
    return "routing.loadBalancing.p2cMinPing must be > 0";
  }
  return std::nullopt;
}

Tier RegionTiers::of(std::string_view region) const noexcept {
  if (region == local) return Tier::local;
  for (const std::string& n : neighbors) {
    if (region == n) return Tier::neighbor;
  }
  return Tier::other;
}

Selector::Selector(SelectorSettings settings)
    : s_(std::move(settings)),
      regions_(
          std::make_shared<const RegionTiers>(RegionTiers{s_.local_region, s_.neighbor_regions})) {}

std::optional<Selection> Selector::select(std::span<const Candidate> candidates, core::Random& rng,
                                          std::uint64_t round_robin_ticket) const {
  const std::size_t n = candidates.size();
  if (n == 0) return std::nullopt;
  const std::size_t m = std::min(n, std::max<std::size_t>(1, s_.max_candidates));
  const std::size_t offset = n > m ? static_cast<std::size_t>(rng.below(n)) : 0;
  // The j-th examined candidate's index in `candidates`.
  auto index_of = [&](std::size_t j) {
    const std::size_t k = offset + j;
    return k >= n ? k - n : k;
  };

  std::array<TierCount, kTierCount> count{};
  for (std::size_t j = 0; j < m; ++j) {
    const Candidate& c = candidates[index_of(j)];
    TierCount& tc = count[static_cast<std::size_t>(c.tier)];
    if (c.health != core::HealthStatus::draining) ++tc.members;
    if (is_routable(c.health)) ++tc.routable;
    if (c.health == core::HealthStatus::healthy) ++tc.healthy;
  }

  std::size_t preferred = kTierCount;
  for (std::size_t t = 0; t < kTierCount; ++t) {
    if (count[t].routable > 0) {
      preferred = t;
      break;
    }
  }
  if (preferred == kTierCount) return std::nullopt;

  // Overprovisioning: spread load over the tiers by their health (see the header).
  std::size_t chosen = preferred;
  if (s_.overprovisioning_factor > 0.0) {
    std::array<double, kTierCount> load{};
    double remaining = 1.0;
    for (std::size_t t = 0; t < kTierCount; ++t) {
      if (count[t].routable == 0) continue;  // members > 0 here
      const double health =
          std::min(1.0, s_.overprovisioning_factor * static_cast<double>(count[t].routable) /
                            static_cast<double>(count[t].members));
      load[t] = std::min(health, remaining);
      remaining -= load[t];
    }
    if (load[preferred] < 1.0) {
      const double total = 1.0 - remaining;  // > 0: the preferred tier has load > 0
      const double u = rng.uniform() * total;
      double cumulative = 0.0;
      for (std::size_t t = preferred; t < kTierCount; ++t) {
        if (load[t] <= 0.0) continue;
        chosen = t;  // the last tier with load, should rounding leave u past the sum
        cumulative += load[t];
        if (u < cumulative) break;
      }
    }
  }

  const TierCount& tc = count[chosen];
  const bool healthy_only = s_.prefer_healthy && tc.healthy > 0;
  const std::size_t group_size = healthy_only ? tc.healthy : tc.routable;
  auto in_group = [&](const Candidate& c) {
    if (static_cast<std::size_t>(c.tier) != chosen) return false;
    return healthy_only ? c.health == core::HealthStatus::healthy : is_routable(c.health);
  };

  // Positions (0-based, in examination order) within the group of the members the policy
  // needs; then one pass finds them.
  std::size_t want_a = 0;
  std::size_t want_b = 0;
  switch (s_.policy) {
    case Policy::lowest_ping:
      break;
    case Policy::round_robin:
      want_a = static_cast<std::size_t>(round_robin_ticket % group_size);
      break;
    case Policy::p2c:
      if (group_size > 1) {
        want_a = static_cast<std::size_t>(rng.below(group_size));
        want_b = static_cast<std::size_t>(rng.below(group_size - 1));
        if (want_b >= want_a) ++want_b;
      }
      break;
  }

  std::size_t best = n;
  std::size_t other = n;
  std::size_t pos = 0;
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t i = index_of(j);
    const Candidate& c = candidates[i];
    if (!in_group(c)) continue;
    if (s_.policy == Policy::lowest_ping) {
      if (best == n || ping_order_less(c, candidates[best])) best = i;
    } else {
      if (pos == want_a) best = i;
      if (s_.policy == Policy::p2c && group_size > 1 && pos == want_b) other = i;
    }
    ++pos;
  }
  if (best == n) return std::nullopt;  // unreachable: the group is non-empty
  if (other != n && p2c_score(candidates[other], s_.p2c_min_ping) <
                        p2c_score(candidates[best], s_.p2c_min_ping)) {
    best = other;
  }

  return Selection{best, static_cast<Tier>(chosen), chosen != preferred, m};
}

}  // namespace stella::gw
