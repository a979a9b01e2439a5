#include "stella/gateway/selector.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace stella::gw {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;

constexpr HealthStatus kHealthy = HealthStatus::healthy;
constexpr HealthStatus kDegraded = HealthStatus::degraded;
constexpr HealthStatus kUnhealthy = HealthStatus::unhealthy;
constexpr HealthStatus kDraining = HealthStatus::draining;

Candidate cand(std::string_view id, std::string_view region, HealthStatus h,
               core::Duration ping = 1ms, std::uint32_t in_flight = 0,
               core::TimePoint hb = core::TimePoint{}) {
  static std::uint64_t next_conn = 1;
  // The regions of settings() below.
  static const RegionTiers tiers{"eu1", {"eu2", "us1"}};
  return Candidate{id, next_conn++, tiers.of(region), h, ping, hb, in_flight};
}

SelectorSettings settings(Policy p, double factor = 0.0) {
  SelectorSettings s;
  s.policy = p;
  s.local_region = "eu1";
  s.neighbor_regions = {"eu2", "us1"};
  s.overprovisioning_factor = factor;
  return s;
}

// The chosen instance id, or "" for none.
std::string pick(const Selector& sel, const std::vector<Candidate>& c, std::uint64_t seed = 1,
                 std::uint64_t ticket = 0) {
  core::Random rng(seed);
  const auto r = sel.select(c, rng, ticket);
  return r ? std::string(c[r->index].instance_id) : std::string();
}

TEST(Selector, NoCandidatesNoSelection) {
  const Selector sel(settings(Policy::p2c));
  EXPECT_EQ(pick(sel, {}), "");
}

TEST(Selector, NeverReturnsUnroutable) {
  for (Policy p : {Policy::lowest_ping, Policy::p2c, Policy::round_robin}) {
    const Selector sel(settings(p, 1.4));
    const std::vector<Candidate> c{cand("a", "eu1", kUnhealthy, 0ms),
                                   cand("b", "eu1", kDraining, 0ms),
                                   cand("c", "eu2", HealthStatus::unknown, 0ms)};
    EXPECT_EQ(pick(sel, c), "") << policy_name(p);
  }
}

TEST(Selector, LocalTierFirstEvenWhenSlower) {
  const Selector sel(settings(Policy::lowest_ping));
  EXPECT_EQ(pick(sel, {cand("far", "eu2", kHealthy, 1ms), cand("near", "eu1", kHealthy, 90ms)}),
            "near");
}

TEST(Selector, NeighborTierWhenNoRoutableLocal) {
  const Selector sel(settings(Policy::lowest_ping));
  EXPECT_EQ(pick(sel, {cand("l", "eu1", kUnhealthy, 1ms), cand("o", "ap1", kHealthy, 1ms),
                       cand("n", "us1", kHealthy, 50ms)}),
            "n");
}

TEST(Selector, OtherTierLast) {
  const Selector sel(settings(Policy::lowest_ping));
  EXPECT_EQ(pick(sel, {cand("l", "eu1", kDraining), cand("n", "eu2", kUnhealthy),
                       cand("o", "ap1", kDegraded)}),
            "o");
}

TEST(Selector, NeighborListIsOneTier) {
  // "us1" is listed after "eu2", but the seed treats neighbors as one tier: ping decides.
  const Selector sel(settings(Policy::lowest_ping));
  EXPECT_EQ(pick(sel, {cand("a", "eu2", kHealthy, 9ms), cand("b", "us1", kHealthy, 3ms)}), "b");
}

TEST(Selector, LocalRegionListedAsNeighborStaysLocal) {
  SelectorSettings s = settings(Policy::lowest_ping);
  s.neighbor_regions.push_back("eu1");
  const Selector sel(s);
  EXPECT_EQ(sel.tier_of("eu1"), Tier::local);
  EXPECT_EQ(sel.tier_of("us1"), Tier::neighbor);
  EXPECT_EQ(sel.tier_of("xx"), Tier::other);
}

TEST(Selector, PrefersHealthyOverDegradedWithinATier) {
  const std::vector<Candidate> c{cand("deg", "eu1", kDegraded, 1ms),
                                 cand("ok", "eu1", kHealthy, 50ms)};
  EXPECT_EQ(pick(Selector(settings(Policy::lowest_ping)), c), "ok");
  SelectorSettings seed_exact = settings(Policy::lowest_ping);
  seed_exact.prefer_healthy = false;
  EXPECT_EQ(pick(Selector(seed_exact), c), "deg");
}

TEST(Selector, DegradedLocalBeatsHealthyNeighbor) {
  // Tier first, health second: the seed keeps Degraded routable.
  const Selector sel(settings(Policy::lowest_ping));
  EXPECT_EQ(pick(sel, {cand("n", "eu2", kHealthy), cand("l", "eu1", kDegraded)}), "l");
}

TEST(Selector, LowestPingOrderPingThenHeartbeatThenIdThenConnection) {
  const Selector sel(settings(Policy::lowest_ping));
  const core::TimePoint old{1s};
  const core::TimePoint recent{2s};
  EXPECT_EQ(pick(sel, {cand("a", "eu1", kHealthy, 2ms, 0, recent),
                       cand("b", "eu1", kHealthy, 1ms, 0, old)}),
            "b");
  EXPECT_EQ(pick(sel, {cand("a", "eu1", kHealthy, 1ms, 0, old),
                       cand("b", "eu1", kHealthy, 1ms, 0, recent)}),
            "b");
  EXPECT_EQ(
      pick(sel, {cand("b", "eu1", kHealthy, 1ms, 0, old), cand("a", "eu1", kHealthy, 1ms, 0, old)}),
      "a");
  std::vector<Candidate> same{cand("x", "eu1", kHealthy), cand("x", "eu1", kHealthy)};
  same[0].connection_id = 9;
  same[1].connection_id = 4;
  core::Random rng(1);
  EXPECT_EQ(sel.select(same, rng)->index, 1u);
}

TEST(Selector, LowestPingDoesNotAdvanceTheGenerator) {
  const Selector sel(settings(Policy::lowest_ping, 1.4));
  core::Random rng(7);
  core::Random copy(7);
  ASSERT_TRUE(sel.select(std::vector{cand("a", "eu1", kHealthy), cand("b", "eu1", kHealthy)}, rng));
  EXPECT_EQ(rng.next(), copy.next());
}

TEST(Selector, RoundRobinCyclesInInputOrderSkippingUnroutable) {
  const Selector sel(settings(Policy::round_robin));
  const std::vector<Candidate> c{cand("a", "eu1", kHealthy), cand("x", "eu1", kUnhealthy),
                                 cand("b", "eu1", kHealthy), cand("c", "eu1", kHealthy)};
  std::string order;
  for (std::uint64_t t = 0; t < 6; ++t)
    order += pick(sel, c, 1, t);
  EXPECT_EQ(order, "abcabc");
}

TEST(Selector, P2cPicksTheLowerScore) {
  const Selector sel(settings(Policy::p2c));
  // Same ping: in-flight decides. Two candidates: both are always drawn.
  EXPECT_EQ(pick(sel, {cand("busy", "eu1", kHealthy, 1ms, 5), cand("idle", "eu1", kHealthy, 1ms)}),
            "idle");
  // Same load: ping decides.
  EXPECT_EQ(pick(sel, {cand("slow", "eu1", kHealthy, 9ms), cand("fast", "eu1", kHealthy, 2ms)}),
            "fast");
  // Score = ping x (in_flight + 1): 1 ms x 10 > 4 ms x 1.
  EXPECT_EQ(pick(sel, {cand("a", "eu1", kHealthy, 1ms, 9), cand("b", "eu1", kHealthy, 4ms)}), "b");
}

TEST(Selector, P2cFloorsPingSoAnUnmeasuredInstanceStillCountsLoad) {
  const Selector sel(settings(Policy::p2c));
  // 100 us x 11 = 1.1 ms > 200 us x 1: without the floor, ping 0 would always win.
  EXPECT_EQ(
      pick(sel, {cand("new", "eu1", kHealthy, 0ms, 10), cand("old", "eu1", kHealthy, 200us, 0)}),
      "old");
}

TEST(Selector, P2cPrefersTheBetterOfTwoOverSeededDraws) {
  const Selector sel(settings(Policy::p2c));
  const std::vector<Candidate> c{cand("good", "eu1", kHealthy, 1ms, 0),
                                 cand("bad", "eu1", kHealthy, 30ms, 4)};
  core::Random rng(20240601);
  int good = 0;
  for (int i = 0; i < 1000; ++i)
    good += c[sel.select(c, rng)->index].instance_id == "good";
  EXPECT_GT(good, 700);
}

TEST(Selector, P2cTieGoesToTheFirstDrawnSoBothGetTraffic) {
  const Selector sel(settings(Policy::p2c));
  const std::vector<Candidate> c{cand("a", "eu1", kHealthy), cand("b", "eu1", kHealthy)};
  core::Random rng(3);
  int a = 0;
  for (int i = 0; i < 1000; ++i)
    a += c[sel.select(c, rng)->index].instance_id == "a";
  EXPECT_GT(a, 400);
  EXPECT_LT(a, 600);
}

// The share of 20000 seeded draws that land outside the local tier.
double spill_share(const Selector& sel, const std::vector<Candidate>& c) {
  core::Random rng(99);
  int spilled = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto r = sel.select(c, rng);
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(r->spilled, r->tier != Tier::local);
    spilled += r->tier != Tier::local;
  }
  return spilled / 20000.0;
}

TEST(Selector, OverprovisioningSpillsTheMissingShare) {
  const Selector sel(settings(Policy::p2c, 1.4));
  // 1 of 2 local routable: health 0.7, so 30 % goes to the neighbor tier.
  EXPECT_NEAR(spill_share(sel, {cand("l1", "eu1", kHealthy), cand("l2", "eu1", kUnhealthy),
                                cand("n1", "eu2", kHealthy)}),
              0.30, 0.02);
  // 2 of 3: health 0.933, 6.7 % spills.
  EXPECT_NEAR(spill_share(sel, {cand("l1", "eu1", kHealthy), cand("l2", "eu1", kDegraded),
                                cand("l3", "eu1", kUnhealthy), cand("n1", "eu2", kHealthy)}),
              1 - 1.4 * 2 / 3, 0.01);
}

TEST(Selector, OverprovisioningKeepsSeedSemanticsWhenLocalIsFullyRoutable) {
  const Selector sel(settings(Policy::round_robin, 1.4));
  // Draining instances are not members of the tier: 2 of 2 members routable.
  EXPECT_EQ(spill_share(sel, {cand("l1", "eu1", kHealthy), cand("l2", "eu1", kDegraded),
                              cand("l3", "eu1", kDraining), cand("n1", "eu2", kHealthy)}),
            0.0);
}

TEST(Selector, OverprovisioningOffIsStrictTiers) {
  const Selector sel(settings(Policy::p2c, 0.0));
  EXPECT_EQ(spill_share(sel, {cand("l1", "eu1", kHealthy), cand("l2", "eu1", kUnhealthy),
                              cand("l3", "eu1", kUnhealthy), cand("n1", "eu2", kHealthy)}),
            0.0);
}

TEST(Selector, OverprovisioningNeverSpillsWhereNothingIsRoutable) {
  const Selector sel(settings(Policy::p2c, 1.4));
  EXPECT_EQ(spill_share(sel, {cand("l1", "eu1", kHealthy), cand("l2", "eu1", kUnhealthy),
                              cand("n1", "eu2", kUnhealthy)}),
            0.0);
}

TEST(Selector, OverprovisioningSpillSkipsAnEmptyNeighborTier) {
  const Selector sel(settings(Policy::p2c, 1.4));
  const std::vector<Candidate> c{cand("l1", "eu1", kHealthy), cand("l2", "eu1", kUnhealthy),
                                 cand("o1", "ap1", kHealthy)};
  core::Random rng(5);
  std::map<Tier, int> by_tier;
  for (int i = 0; i < 5000; ++i)
    ++by_tier[sel.select(c, rng)->tier];
  EXPECT_EQ(by_tier[Tier::neighbor], 0);
  EXPECT_GT(by_tier[Tier::other], 1200);  // 30 % of 5000 = 1500
}

TEST(Selector, OverprovisioningCascadesPastAPartlyHealthyNeighborTier) {
  const Selector sel(settings(Policy::p2c, 1.0));
  // local 1/4 -> 0.25; neighbor 1/2 -> 0.5; other takes the remaining 0.25.
  const std::vector<Candidate> c{cand("l1", "eu1", kHealthy),   cand("l2", "eu1", kUnhealthy),
                                 cand("l3", "eu1", kUnhealthy), cand("l4", "eu1", kUnhealthy),
                                 cand("n1", "eu2", kHealthy),   cand("n2", "us1", kUnhealthy),
                                 cand("o1", "ap1", kHealthy)};
  core::Random rng(11);
  std::map<Tier, int> by_tier;
  for (int i = 0; i < 20000; ++i)
    ++by_tier[sel.select(c, rng)->tier];
  EXPECT_NEAR(by_tier[Tier::local] / 20000.0, 0.25, 0.02);
  EXPECT_NEAR(by_tier[Tier::neighbor] / 20000.0, 0.50, 0.02);
  EXPECT_NEAR(by_tier[Tier::other] / 20000.0, 0.25, 0.02);
}

TEST(Selector, MaxCandidatesAtLimitExaminesAll) {
  SelectorSettings s = settings(Policy::lowest_ping);
  s.max_candidates = 4;
  const Selector sel(s);
  std::vector<Candidate> c{cand("a", "eu1", kHealthy, 5ms), cand("b", "eu1", kHealthy, 6ms),
                           cand("best", "eu1", kHealthy, 1ms), cand("d", "eu1", kHealthy, 7ms)};
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    core::Random rng(seed);
    const auto r = sel.select(c, rng);
    EXPECT_EQ(r->examined, 4u);
    EXPECT_EQ(c[r->index].instance_id, "best");
  }
}

TEST(Selector, MaxCandidatesPlusOneExaminesAWindow) {
  SelectorSettings s = settings(Policy::lowest_ping);
  s.max_candidates = 4;
  const Selector sel(s);
  std::vector<Candidate> c{cand("a", "eu1", kHealthy, 5ms), cand("b", "eu1", kHealthy, 6ms),
                           cand("best", "eu1", kHealthy, 1ms), cand("d", "eu1", kHealthy, 7ms),
                           cand("e", "eu1", kHealthy, 8ms)};
  int best = 0;
  for (std::uint64_t seed = 0; seed < 500; ++seed) {
    core::Random rng(seed);
    const auto r = sel.select(c, rng);
    EXPECT_EQ(r->examined, 4u);
    best += c[r->index].instance_id == "best";
  }
  // The window leaves "best" out with probability 1/5.
  EXPECT_GT(best, 350);
  EXPECT_LT(best, 450);
}

TEST(Selector, PolicyNamesRoundTrip) {
  for (Policy p : {Policy::lowest_ping, Policy::p2c, Policy::round_robin}) {
    EXPECT_EQ(parse_policy(policy_name(p)), p);
  }
  EXPECT_EQ(parse_policy("lowest_ping"), std::nullopt);
  EXPECT_EQ(parse_policy("P2C"), std::nullopt);
  EXPECT_EQ(tier_name(Tier::neighbor), "neighbor");
}

TEST(Selector, ValidateSettings) {
  EXPECT_EQ(validate(SelectorSettings{}), std::nullopt);
  SelectorSettings s;
  s.overprovisioning_factor = 0.9;
  EXPECT_NE(validate(s)->find("overprovisioningFactor"), std::string::npos);
  s = {};
  s.overprovisioning_factor = 0.0;
  EXPECT_EQ(validate(s), std::nullopt);
  s.max_candidates = 0;
  EXPECT_NE(validate(s)->find("maxCandidates"), std::string::npos);
  s = {};
  s.p2c_min_ping = core::Duration::zero();
  EXPECT_NE(validate(s)->find("p2cMinPing"), std::string::npos);
}

}  // namespace
}  // namespace stella::gw
