// Instance selection: which of a route's instances gets the next request. Pure: the inputs are
// the candidates (values), the settings, a round-robin ticket and a core::Random; the output is
// an index. No clock, no I/O, no shared state.
//
// The algorithm (docs/routing.md §6), the seed's "Instance Selection Algorithm" with three
// documented refinements:
//  1. Only Healthy and Degraded candidates are routable. Unhealthy, Draining and Unknown never
//     are, whatever the policy, tier or overprovisioning.
//  2. Tiers, in order: local (region == local_region), neighbor (region in neighbor_regions;
//     one tier, list order ignored, as in the seed), other. The first tier with a routable
//     candidate is the *preferred* tier — the seed uses it alone.
//  3. Overprovisioning (Envoy's priority load, refinement 1): a tier's health is
//     min(1, factor × routable / members), members = its candidates except Draining ones (a
//     draining instance leaves on purpose; its capacity is being replaced). Walking the tiers in
//     order, tier t takes load L_t = min(health_t, 1 − L_0 − … − L_{t−1}); loads are normalised
//     to sum to 1 when they sum to less. The request goes to tier t with probability L_t. So a
//     fully routable local tier keeps all traffic (health = 1 for any factor >= 1): the seed's
//     behaviour. With factor 1.4 and 2 of 3 local instances routable, health = 0.93 and 7 % of
//     requests spill to the next tier that has routable instances; 1 of 2 routable spills 30 %.
//     Factor 0 disables it: strict seed tiers. Envoy's panic threshold is deliberately not
//     adopted: it would route to unhealthy hosts, which rule 1 forbids.
//  4. Within the chosen tier, Healthy candidates are preferred over Degraded ones
//     (prefer_healthy; refinement 2). Degraded ones are used only when the tier has no Healthy.
//  5. The policy picks one of that group:
//     - lowest_ping: the seed's order exactly: lowest average ping, then most recent last
//       heartbeat, then (refinement 3, for determinism) lowest instance_id, then lowest
//       connection_id;
//     - p2c: two distinct members drawn at random; the lower score wins, score =
//       max(average_ping, p2c_min_ping) × (in_flight + 1); a tie goes to the first drawn;
//     - round_robin: member number (round_robin_ticket mod group size), in input order. The
//       caller keeps one counter per route and passes its next value (instance_picker.hpp does);
//       the input order must be stable (the route table sorts candidates by instance id).
//  Bounded work: at most max_candidates candidates are examined. With more, a window of
//  max_candidates consecutive candidates starting at a random offset is examined (every
//  candidate has the same chance to be in it), and the rules above apply to the window.
//
// Thread-safety: a Selector is immutable; select() is const and may run concurrently on any
// number of threads, each with its own core::Random.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/core/frame.hpp"

namespace stella::gw {

enum class Policy : std::uint8_t {
  lowest_ping,  // "lowest-ping"
  p2c,          // "p2c"
  round_robin,  // "round-robin"
};

/// "lowest-ping", "p2c", "round-robin".
std::string_view policy_name(Policy p) noexcept;
/// The inverse of policy_name; std::nullopt for anything else (case-sensitive).
std::optional<Policy> parse_policy(std::string_view name) noexcept;

enum class Tier : std::uint8_t { local = 0, neighbor = 1, other = 2 };
inline constexpr std::size_t kTierCount = 3;
std::string_view tier_name(Tier t) noexcept;  // "local", "neighbor", "other"

/// True for Healthy and Degraded: the only states selection may return.
constexpr bool is_routable(core::HealthStatus s) noexcept {
  return s == core::HealthStatus::healthy || s == core::HealthStatus::degraded;
}

struct SelectorSettings {
  /// The tier policy (routing.loadBalancing.policy: "p2c"). p2c because the seed's strict order
  /// (lowest-ping) sends every request of a tier to one instance.
  Policy policy = Policy::p2c;
  /// This gateway's region (gateway.node.region).
  std::string local_region;
  /// Regions of the neighbor tier (routing.neighborRegions). Order does not matter.
  std::vector<std::string> neighbor_regions;
  /// Prefer Healthy over Degraded within a tier (routing.loadBalancing.preferHealthy: true).
  /// false with lowest-ping and factor 0 is the seed's algorithm exactly.
  bool prefer_healthy = true;
  /// Envoy's overprovisioning factor (routing.loadBalancing.overprovisioningFactor: 1.4).
  /// 0 disables spilling; otherwise it must be >= 1 (below 1 a fully healthy local tier would
  /// spill).
  double overprovisioning_factor = 1.4;
  /// Most candidates examined per selection (routing.loadBalancing.maxCandidates: 64).
  std::size_t max_candidates = 64;
  /// p2c floor for the ping in the score (routing.loadBalancing.p2cMinPing: 100 µs). Without it
  /// an instance without an RTT sample yet (ping 0) would score 0 whatever its load.
  core::Duration p2c_min_ping = std::chrono::microseconds(100);
};

/// Which tier a region is in, seen from this gateway: its own region and its neighbors (the
/// settings' local_region and neighbor_regions). A Selector holds one; a RouteTable given the
/// same object works out each candidate's tier once per snapshot instead of per request
/// (RouteTable's constructor, instance_picker.hpp).
struct RegionTiers {
  std::string local;
  std::vector<std::string> neighbors;
  Tier of(std::string_view region) const noexcept;
};

/// Checks the settings; returns a message naming the first bad field, or std::nullopt.
std::optional<std::string> validate(const SelectorSettings& s);

/// One instance as selection sees it. Views must outlive the select() call.
struct Candidate {
  std::string_view instance_id;
  std::uint64_t connection_id = 0;  // last tie-break key
  Tier tier = Tier::local;          // of its region: Selector::tier_of
  core::HealthStatus health = core::HealthStatus::unknown;
  core::Duration average_ping{};
  core::TimePoint last_heartbeat{};
  std::uint32_t in_flight = 0;
};

struct Selection {
  std::size_t index = 0;    // into the candidate span
  Tier tier = Tier::local;  // tier of the chosen candidate
  /// Overprovisioning sent this request past the preferred tier (for metrics and the sim).
  bool spilled = false;
  std::size_t examined = 0;  // candidates examined (<= max_candidates)
};

class Selector {
 public:
  explicit Selector(SelectorSettings settings);

  const SelectorSettings& settings() const noexcept { return s_; }

  /// The tier of a region.
  Tier tier_of(std::string_view region) const noexcept { return regions_->of(region); }
  /// The tiers of the settings' regions, shared (never null).
  const std::shared_ptr<const RegionTiers>& region_tiers() const noexcept { return regions_; }

  /// Chooses a candidate; std::nullopt when no examined candidate is routable. Draws from `rng`
  /// only when it needs randomness (a window offset, a spill draw, p2c), so with lowest-ping or
  /// round-robin on a healthy local tier the generator is not advanced.
  std::optional<Selection> select(std::span<const Candidate> candidates, core::Random& rng,
                                  std::uint64_t round_robin_ticket = 0) const;

 private:
  SelectorSettings s_;
  std::shared_ptr<const RegionTiers> regions_;
};

}  // namespace stella::gw
