// Properties of the selector against brute-force oracles written from the seed's algorithm.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "stella/gateway/selector.hpp"

namespace stella::gw {
namespace {

using core::HealthStatus;

constexpr std::array<std::string_view, 6> kIds{"i0", "i1", "i2", "i3", "i4", "i5"};
constexpr std::array<std::string_view, 4> kRegions{"eu1", "eu2", "us1", "ap1"};  // eu1 local
constexpr std::array<HealthStatus, 5> kAllHealth{HealthStatus::unknown, HealthStatus::healthy,
                                                 HealthStatus::degraded, HealthStatus::unhealthy,
                                                 HealthStatus::draining};

// The tier of a region under gen_settings()' regions.
int tier_rank(std::string_view region) {
  if (region == "eu1") return 0;
  if (region == "eu2" || region == "us1") return 1;
  return 2;
}

int tier_rank(const Candidate& c) {
  return static_cast<int>(c.tier);
}

// Small value ranges on purpose: ties in ping, heartbeat and id must happen.
rc::Gen<Candidate> gen_candidate(std::vector<HealthStatus> healths,
                                 std::vector<std::string_view> regions) {
  return rc::gen::apply(
      [](std::string_view id, std::string_view region, HealthStatus h, int ping_half_ms, int hb_s,
         std::uint32_t in_flight) {
        return Candidate{id,
                         0,
                         static_cast<Tier>(tier_rank(region)),
                         h,
                         std::chrono::microseconds(ping_half_ms * 500),
                         core::TimePoint(std::chrono::seconds(hb_s)),
                         in_flight};
      },
      rc::gen::elementOf(std::vector<std::string_view>(kIds.begin(), kIds.end())),
      rc::gen::elementOf(regions), rc::gen::elementOf(healths), rc::gen::inRange(0, 8),
      rc::gen::inRange(0, 4), rc::gen::inRange<std::uint32_t>(0, 6));
}

std::vector<Candidate> gen_candidates(std::size_t max_n = 12) {
  auto c = *rc::gen::resize(static_cast<int>(max_n),
                            rc::gen::container<std::vector<Candidate>>(gen_candidate(
                                std::vector<HealthStatus>(kAllHealth.begin(), kAllHealth.end()),
                                std::vector<std::string_view>(kRegions.begin(), kRegions.end()))));
  for (std::size_t i = 0; i < c.size(); ++i)
    c[i].connection_id = 100 + i;  // unique
  return c;
}

SelectorSettings gen_settings() {
  SelectorSettings s;
  s.policy = *rc::gen::element(Policy::lowest_ping, Policy::p2c, Policy::round_robin);
  s.local_region = "eu1";
  s.neighbor_regions = {"eu2", "us1"};
  s.prefer_healthy = *rc::gen::arbitrary<bool>();
  s.overprovisioning_factor = *rc::gen::element(0.0, 1.0, 1.4, 3.0);
  return s;
}

// The seed's algorithm (plus prefer-healthy when asked), by filtering and sorting.
std::optional<std::size_t> oracle_lowest_ping(const std::vector<Candidate>& c,
                                              bool prefer_healthy) {
  std::vector<std::size_t> routable;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (c[i].health == HealthStatus::healthy || c[i].health == HealthStatus::degraded) {
      routable.push_back(i);
    }
  }
  if (routable.empty()) return std::nullopt;
  int best_tier = 3;
  for (auto i : routable)
    best_tier = std::min(best_tier, tier_rank(c[i]));
  std::erase_if(routable, [&](std::size_t i) { return tier_rank(c[i]) != best_tier; });
  if (prefer_healthy && std::any_of(routable.begin(), routable.end(), [&](std::size_t i) {
        return c[i].health == HealthStatus::healthy;
      })) {
    std::erase_if(routable, [&](std::size_t i) { return c[i].health != HealthStatus::healthy; });
  }
  std::sort(routable.begin(), routable.end(), [&](std::size_t a, std::size_t b) {
    if (c[a].average_ping != c[b].average_ping) return c[a].average_ping < c[b].average_ping;
    if (c[a].last_heartbeat != c[b].last_heartbeat)
      return c[a].last_heartbeat > c[b].last_heartbeat;
    if (c[a].instance_id != c[b].instance_id) return c[a].instance_id < c[b].instance_id;
    return c[a].connection_id < c[b].connection_id;
  });
  return routable.front();
}

RC_GTEST_PROP(SelectorProp, NeverPicksUnroutable, ()) {
  const auto c = gen_candidates();
  const Selector sel(gen_settings());
  core::Random rng(*rc::gen::arbitrary<std::uint64_t>());
  const auto ticket = *rc::gen::arbitrary<std::uint64_t>();
  const auto r = sel.select(c, rng, ticket);
  const bool any_routable = std::any_of(c.begin(), c.end(), [](const Candidate& x) {
    return x.health == HealthStatus::healthy || x.health == HealthStatus::degraded;
  });
  RC_ASSERT(r.has_value() == any_routable);
  if (r) {
    RC_ASSERT(r->index < c.size());
    RC_ASSERT(is_routable(c[r->index].health));
    RC_ASSERT(static_cast<int>(r->tier) == tier_rank(c[r->index]));
  }
}

RC_GTEST_PROP(SelectorProp, NeverLeavesLocalWhileLocalIsRoutableWithoutOverprovisioning, ()) {
  auto c = gen_candidates();
  c.push_back(Candidate{"local", 1, Tier::local,
                        *rc::gen::element(HealthStatus::healthy, HealthStatus::degraded)});
  SelectorSettings s = gen_settings();
  s.overprovisioning_factor = 0.0;
  const Selector sel(s);
  core::Random rng(*rc::gen::arbitrary<std::uint64_t>());
  for (std::uint64_t t = 0; t < 20; ++t) {
    const auto r = sel.select(c, rng, t);
    RC_ASSERT(r.has_value());
    RC_ASSERT(c[r->index].tier == Tier::local);
    RC_ASSERT(!r->spilled);
  }
}

RC_GTEST_PROP(SelectorProp, NeverLeavesAFullyRoutableLocalTierWithOverprovisioning, ()) {
  // Local candidates are Healthy, Degraded or Draining only; at least one is routable.
  auto local = *rc::gen::container<std::vector<Candidate>>(gen_candidate(
      {HealthStatus::healthy, HealthStatus::degraded, HealthStatus::draining}, {"eu1"}));
  local.push_back(Candidate{"local", 0, Tier::local, HealthStatus::healthy});
  auto c = *rc::gen::container<std::vector<Candidate>>(gen_candidate(
      std::vector<HealthStatus>(kAllHealth.begin(), kAllHealth.end()), {"eu2", "us1", "ap1"}));
  c.insert(c.end(), local.begin(), local.end());
  core::Random shuffler(*rc::gen::arbitrary<std::uint64_t>());
  for (std::size_t i = c.size(); i > 1; --i)
    std::swap(c[i - 1], c[shuffler.below(i)]);
  for (std::size_t i = 0; i < c.size(); ++i)
    c[i].connection_id = i;
  SelectorSettings s = gen_settings();
  s.overprovisioning_factor = *rc::gen::element(1.0, 1.4, 3.0);
  s.max_candidates = std::max<std::size_t>(1, c.size());
  const Selector sel(s);
  core::Random rng(*rc::gen::arbitrary<std::uint64_t>());
  for (std::uint64_t t = 0; t < 20; ++t) {
    const auto r = sel.select(c, rng, t);
    RC_ASSERT(r.has_value());
    RC_ASSERT(c[r->index].tier == Tier::local);
  }
}

RC_GTEST_PROP(SelectorProp, LowestPingEqualsBruteForceSort, ()) {
  const auto c = gen_candidates();
  SelectorSettings s = gen_settings();
  s.policy = Policy::lowest_ping;
  s.overprovisioning_factor = 0.0;
  const Selector sel(s);
  core::Random rng(*rc::gen::arbitrary<std::uint64_t>());
  const auto r = sel.select(c, rng);
  const auto expected = oracle_lowest_ping(c, s.prefer_healthy);
  RC_ASSERT(r.has_value() == expected.has_value());
  if (r) RC_ASSERT(r->index == *expected);
}

RC_GTEST_PROP(SelectorProp, P2cNeverPicksTheStrictlyWorstOfItsGroup, ()) {
  // All local and Healthy, so the group is every candidate; with two or more, the strictly
  // worst score loses whichever pair is drawn.
  auto c =
      *rc::gen::container<std::vector<Candidate>>(gen_candidate({HealthStatus::healthy}, {"eu1"}));
  RC_PRE(c.size() >= 2);
  for (std::size_t i = 0; i < c.size(); ++i)
    c[i].connection_id = i;
  SelectorSettings s;
  s.local_region = "eu1";
  const Selector sel(s);
  auto score = [&](const Candidate& x) {
    return static_cast<double>(std::max(x.average_ping, s.p2c_min_ping).count()) *
           (x.in_flight + 1.0);
  };
  std::vector<double> scores;
  for (const auto& x : c)
    scores.push_back(score(x));
  const double worst = *std::max_element(scores.begin(), scores.end());
  const auto n_worst = std::count(scores.begin(), scores.end(), worst);
  RC_PRE(n_worst == 1);
  core::Random rng(*rc::gen::arbitrary<std::uint64_t>());
  for (int i = 0; i < 50; ++i) {
    const auto r = sel.select(c, rng);
    RC_ASSERT(r.has_value());
    RC_ASSERT(scores[r->index] < worst);
  }
}

RC_GTEST_PROP(SelectorProp, RoundRobinSpreadsEvenly, ()) {
  const auto c = gen_candidates();
  SelectorSettings s = gen_settings();
  s.policy = Policy::round_robin;
  s.overprovisioning_factor = 0.0;
  const Selector sel(s);
  // The group the oracle would pick from: first routable tier, Healthy if preferred and any.
  const auto first = oracle_lowest_ping(c, s.prefer_healthy);
  RC_PRE(first.has_value());
  std::vector<std::size_t> group;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (tier_rank(c[i]) != tier_rank(c[*first])) continue;
    if (!is_routable(c[i].health)) continue;
    if (s.prefer_healthy && c[*first].health == HealthStatus::healthy &&
        c[i].health != HealthStatus::healthy) {
      continue;
    }
    group.push_back(i);
  }
  const std::uint64_t rounds = *rc::gen::inRange<std::uint64_t>(1, 5);
  const std::uint64_t start = *rc::gen::arbitrary<std::uint64_t>() / 2;
  std::vector<std::uint64_t> hits(c.size(), 0);
  core::Random rng(1);
  for (std::uint64_t t = 0; t < rounds * group.size(); ++t)
    ++hits[sel.select(c, rng, start + t)->index];
  for (std::size_t i = 0; i < c.size(); ++i) {
    const bool member = std::find(group.begin(), group.end(), i) != group.end();
    RC_ASSERT(hits[i] == (member ? rounds : 0));
  }
}

RC_GTEST_PROP(SelectorProp, SameSeedSameChoice, ()) {
  const auto c = gen_candidates();
  const Selector sel(gen_settings());
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  core::Random a(seed);
  core::Random b(seed);
  for (std::uint64_t t = 0; t < 10; ++t) {
    const auto x = sel.select(c, a, t);
    const auto y = sel.select(c, b, t);
    RC_ASSERT(x.has_value() == y.has_value());
    if (x) RC_ASSERT(x->index == y->index);
  }
}

}  // namespace
}  // namespace stella::gw
