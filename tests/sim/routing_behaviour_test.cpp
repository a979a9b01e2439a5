// Region preference, failover and recovery, and what the policies do, on small topologies.
#include <gtest/gtest.h>

#include <algorithm>

#include "sim_test_util.hpp"

namespace stella::sim {
namespace {

using namespace std::chrono_literals;

std::string small_topology(const std::string& failures, const std::string& policy = "p2c") {
  return R"(
name: small
duration: 40s
regions: [{name: a, neighbors: [b]}, {name: b, neighbors: [a]}, {name: c}]
network: {sameRegion: 200us, default: 30ms, pairs: [{regions: [a, b], latency: 5ms}]}
gateway: {region: a, heartbeatInterval: 1s, heartbeatTimeout: 3s, defaultTimeout: 2s, policy: )" +
         policy + R"(}
services:
  - name: s
    endpoints: [{method: GET, path: "/x/{id}"}]
    instances:
      - {region: a, count: 2, serviceTime: {fixed: 2ms}}
      - {region: b, count: 2, serviceTime: {fixed: 2ms}}
      - {region: c, count: 2, serviceTime: {fixed: 2ms}}
workload: {rate: [{rps: 50}], mix: [{route: "GET /x/{id}"}]}
)" + failures;
}

const RegionReport& region(const Report& r, const std::string& name) {
  return *std::find_if(r.regions.begin(), r.regions.end(),
                       [&](const RegionReport& g) { return g.name == name; });
}

// Picks per region over the buckets starting in [from, to).
std::vector<std::uint64_t> picks_between(const Report& r, double from, double to) {
  std::vector<std::uint64_t> out(r.regions.size(), 0);
  for (const auto& b : r.timeline)
    if (b.t >= from && b.t < to)
      for (std::size_t i = 0; i < out.size(); ++i)
        out[i] += b.by_region[i];
  return out;
}

TEST(SimRouting, AllTrafficStaysLocalWhileTheLocalRegionIsHealthy) {
  const Topology t = parse_topology(small_topology(""), "small.yaml");
  const SimResult r = test::run(t, 11);
  ASSERT_FALSE(r.violation) << r.violation->detail;
  EXPECT_EQ(region(r.report, "a").share, 1.0);
  EXPECT_EQ(region(r.report, "b").requests, 0u);
  EXPECT_EQ(region(r.report, "c").requests, 0u);
  EXPECT_EQ(r.report.errors, 0u);
}

TEST(SimRouting, LosingTheLocalRegionFailsOverToTheNeighborNotBeyond) {
  const Topology t =
      parse_topology(small_topology("failures: [{at: 10s, kind: crash, region: a}]"), "small.yaml");
  const SimResult r = test::run(t, 12);
  ASSERT_FALSE(r.violation) << r.violation->detail;
  const auto after = picks_between(r.report, 11, 40);  // a reset reaches the gateway in 0.2 ms
  EXPECT_EQ(after[0], 0u);
  EXPECT_GT(after[1], 1000u);
  EXPECT_EQ(after[2], 0u) << "the neighbor tier is healthy: nothing may go to the other tier";
}

TEST(SimRouting, TrafficReturnsToTheLocalRegionAfterARestart) {
  const Topology t = parse_topology(small_topology("failures: [{at: 10s, kind: crash, region: a}, "
                                                   "{at: 20s, kind: restart, region: a}]"),
                                    "small.yaml");
  const SimResult r = test::run(t, 13);
  ASSERT_FALSE(r.violation) << r.violation->detail;
  EXPECT_TRUE(r.report.invariants.liveness_reached);
  const auto during = picks_between(r.report, 11, 20);
  EXPECT_EQ(during[0], 0u);
  EXPECT_GT(during[1], 0u);
  // Back within one second of the restart: a restarted process registers as Healthy.
  const auto after = picks_between(r.report, 21, 40);
  EXPECT_GT(after[0], 700u);
  EXPECT_EQ(after[1], 0u);
  EXPECT_EQ(after[2], 0u);
}

TEST(SimRouting, ASilentCrashIsRoutedAroundWithinTheDetectionBound) {
  const Topology t = parse_topology(
      small_topology("failures: [{at: 10s, kind: crash, instance: s-a-1, silent: true}]"),
      "small.yaml");
  const SimResult r = test::run(t, 14);
  ASSERT_FALSE(r.violation) << r.violation->detail;
  // Requests sent to the dead host until detection time out; afterwards none go there.
  EXPECT_GT(r.report.errors_by_kind.at("timeout"), 0u);
  const double bound = r.report.invariants.detection_bound_s;
  const auto& names = r.report.timeline_instances;
  const auto idx =
      static_cast<std::size_t>(std::find(names.begin(), names.end(), "s-a-1") - names.begin());
  for (const auto& b : r.report.timeline)
    if (b.t >= 10 + bound) {
      EXPECT_EQ(b.by_instance[idx], 0u) << "t=" << b.t;
    }
  const auto& health = r.report.instances[idx].health;
  ASSERT_FALSE(health.empty());
  EXPECT_EQ(health.back().state, "unhealthy");
  EXPECT_LE(health.back().t, 10 + bound);
}

TEST(SimRouting, PowerOfTwoChoicesGivesASlowInstanceLessThanRoundRobin) {
  const Topology t = load_topology(test::topology_path("slow-instance.yaml"));
  SimOptions o;
  o.seed = 5;
  o.rate_scale = 0.03;
  o.duration = 30s;
  const auto share = [&](gw::Policy p) {
    o.policy = p;
    const SimResult r = run_simulation(t, o);
    EXPECT_FALSE(r.violation);
    for (const auto& in : r.report.instances)
      if (in.name == "orders-eu-west-11") return in.share;
    return -1.0;
  };
  const double p2c = share(gw::Policy::p2c);
  const double rr = share(gw::Policy::round_robin);
  EXPECT_NEAR(rr, 1.0 / 11, 0.01);
  EXPECT_LT(p2c, rr / 2) << "p2c " << p2c << " round-robin " << rr;
}

TEST(SimRouting, LowestPingSendsATiersTrafficToOneInstance) {
  const Topology t = load_topology(test::topology_path("three-regions-steady.yaml"));
  SimOptions o;
  o.seed = 6;
  o.rate_scale = 0.02;
  o.duration = 20s;
  o.policy = gw::Policy::lowest_ping;
  const SimResult r = run_simulation(t, o);
  ASSERT_FALSE(r.violation);
  std::uint64_t total = 0, top = 0;
  for (const auto& in : r.report.instances) {
    if (in.service != "orders") continue;
    total += in.requests;
    top = std::max(top, in.requests);
  }
  ASSERT_GT(total, 0u);
  EXPECT_GT(static_cast<double>(top) / static_cast<double>(total), 0.95);
}

TEST(SimRouting, OverprovisioningSpillsAShareWhenSomeLocalInstancesAreDown) {
  // 1 of 2 local instances Unhealthy (a lost host, still registered): local health
  // 1.4 x 1/2 = 0.7, so ~30 % spills, explicitly marked as spills, which the region invariant
  // allows. (A crash that resets the connection removes the instance: no spill, see above.)
  const Topology t = parse_topology(
      small_topology("failures: [{at: 5s, kind: crash, instance: s-a-1, silent: true}]"),
      "small.yaml");
  const SimResult r = test::run(t, 15);
  ASSERT_FALSE(r.violation) << r.violation->detail;
  const auto after = picks_between(r.report, 5 + r.report.invariants.detection_bound_s, 40);
  const double spill = static_cast<double>(after[1]) / static_cast<double>(after[0] + after[1]);
  EXPECT_NEAR(spill, 0.3, 0.05);
  EXPECT_EQ(after[2], 0u);
  EXPECT_GT(r.report.spill_share, 0.1);
}

}  // namespace
}  // namespace stella::sim
