// A deliberately broken selection (SimOptions::fault_ignore_health: round-robin over every
// candidate, ignoring health and regions) must be caught by the invariant checker, with the
// time and the invariant named; the real selection on the same topology and seed passes.
#include <gtest/gtest.h>

#include "sim_test_util.hpp"

namespace stella::sim {
namespace {

const char* kOneRegion = R"(
name: one-region
duration: 30s
regions: [{name: a}]
gateway: {region: a, heartbeatInterval: 1s, heartbeatTimeout: 3s, defaultTimeout: 2s}
services:
  - name: s
    endpoints: [{method: GET, path: "/x"}]
    instances: [{region: a, count: 3, serviceTime: {fixed: 1ms}}]
workload: {rate: [{rps: 40}], mix: [{route: "GET /x"}]}
failures: [{at: 5s, kind: crash, instance: s-a-2, silent: true}]
)";

TEST(SimBrokenSelection, IgnoringHealthIsCaught) {
  const Topology t = parse_topology(kOneRegion, "one-region.yaml");
  SimOptions o;
  o.seed = 3;
  const SimResult good = run_simulation(t, o);
  EXPECT_FALSE(good.violation) << good.violation->detail;

  o.fault_ignore_health = true;
  const SimResult bad = run_simulation(t, o);
  ASSERT_TRUE(bad.violation);
  // The dead instance turns Unhealthy within the detection bound; the broken selection keeps
  // sending it a third of the traffic, which the per-pick check sees at once.
  EXPECT_EQ(bad.violation->invariant, "routed-to-unroutable") << bad.violation->detail;
  const double at = std::chrono::duration<double>(bad.violation->at.time_since_epoch()).count();
  EXPECT_GT(at, 5.0);
  EXPECT_LE(at, 5.0 + bad.report.invariants.detection_bound_s + 0.1);
  EXPECT_TRUE(bad.report.invariants.violation);
}

TEST(SimBrokenSelection, LeavingTheLocalRegionIsCaught) {
  const Topology t = load_topology(test::topology_path("three-regions-steady.yaml"));
  SimOptions o;
  o.seed = 4;
  o.rate_scale = 0.01;
  o.fault_ignore_health = true;
  const SimResult r = run_simulation(t, o);
  ASSERT_TRUE(r.violation);
  EXPECT_EQ(r.violation->invariant, "left-local-region") << r.violation->detail;
}

}  // namespace
}  // namespace stella::sim
