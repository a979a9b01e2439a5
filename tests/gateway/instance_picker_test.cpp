#include "stella/gateway/instance_picker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/routing_state.hpp"

namespace stella::gw {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;

core::EndpointDescriptor ep(std::string method, std::string path) {
  core::EndpointDescriptor d;
  d.method = std::move(method);
  d.path = std::move(path);
  return d;
}

InstanceInfo inst(std::uint64_t conn, std::string id, std::string region = "eu1") {
  return InstanceInfo{conn, "svc", "1.0.0", std::move(id), std::move(region), core::TimePoint{}};
}

const Route& route_of(const RouteSnapshot& snap, std::string_view raw) {
  static LookupResult out;
  const auto p = core::normalize_path(raw).value();
  snap.lookup("GET", p, out);  // only the route is used: it outlives `p`
  EXPECT_EQ(out.status, LookupStatus::found);
  return *out.route;
}

SelectorSettings local_eu1(Policy p) {
  SelectorSettings s;
  s.policy = p;
  s.local_region = "eu1";
  return s;
}

TEST(InstancePicker, RoundRobinUsesThePerRouteCounterAcrossSnapshots) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "a"), {ep("GET", "/x")}).registered());
  ASSERT_TRUE(t.register_instance(inst(2, "b"), {ep("GET", "/x")}).registered());
  const Selector sel(local_eu1(Policy::round_robin));
  core::Random rng(1);
  std::vector<Candidate> scratch;
  std::string order;
  for (int i = 0; i < 3; ++i) {
    order += pick_instance(route_of(*t.snapshot(), "/x"), sel, rng, scratch)
                 ->instance->info->instance_id;
  }
  // An unrelated change rebuilds the snapshot; the route's counter carries on.
  ASSERT_TRUE(t.register_instance(inst(3, "z"), {ep("GET", "/other")}).registered());
  for (int i = 0; i < 3; ++i) {
    order += pick_instance(route_of(*t.snapshot(), "/x"), sel, rng, scratch)
                 ->instance->info->instance_id;
  }
  EXPECT_EQ(order, "ababab");
}

TEST(InstancePicker, HealthFromTheTrackerSteersSelection) {
  RouteTable t;
  const auto a = t.register_instance(inst(1, "a"), {ep("GET", "/x")});
  const auto b = t.register_instance(inst(2, "b"), {ep("GET", "/x")});
  const Selector sel(local_eu1(Policy::p2c));
  core::Random rng(2);
  std::vector<Candidate> scratch;

  HealthTracker ha({}, core::TimePoint{});
  ha.on_tick(core::TimePoint{} + 30s);  // silence: Unhealthy
  publish(ha, *a.state);
  const auto snap = t.snapshot();
  for (int i = 0; i < 100; ++i) {
    const auto p = pick_instance(route_of(*snap, "/x"), sel, rng, scratch);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->instance->info->instance_id, "b");
  }
  HealthTracker hb({}, core::TimePoint{});
  hb.on_drain();
  publish(hb, *b.state);
  EXPECT_FALSE(pick_instance(route_of(*snap, "/x"), sel, rng, scratch).has_value());
}

TEST(InstancePicker, InFlightSteersP2c) {
  RouteTable t;
  const auto a = t.register_instance(inst(1, "a"), {ep("GET", "/x")});
  ASSERT_TRUE(t.register_instance(inst(2, "b"), {ep("GET", "/x")}).registered());
  const Selector sel(local_eu1(Policy::p2c));
  core::Random rng(3);
  std::vector<Candidate> scratch;
  std::vector<InFlightGuard> busy;
  for (int i = 0; i < 5; ++i)
    busy.emplace_back(*a.state);
  EXPECT_EQ(a.state->in_flight(), 5u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(pick_instance(route_of(*t.snapshot(), "/x"), sel, rng, scratch)
                  ->instance->info->instance_id,
              "b");
  }
  busy.clear();
  EXPECT_EQ(a.state->in_flight(), 0u);
  a.state->end_request();  // unpaired: ignored, no wrap-around
  EXPECT_EQ(a.state->in_flight(), 0u);
}

TEST(InstancePicker, RegionTiersThroughTheTable) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "far", "us1"), {ep("GET", "/x")}).registered());
  const auto near = t.register_instance(inst(2, "near", "eu1"), {ep("GET", "/x")});
  SelectorSettings s = local_eu1(Policy::lowest_ping);
  s.neighbor_regions = {"us1"};
  const Selector sel(s);
  core::Random rng(4);
  std::vector<Candidate> scratch;
  auto pick = [&] {
    const auto p = pick_instance(route_of(*t.snapshot(), "/x"), sel, rng, scratch);
    return p ? std::string(p->instance->info->instance_id) + "/" +
                   std::string(tier_name(p->selection.tier))
             : std::string();
  };
  EXPECT_EQ(pick(), "near/local");
  near.state->set_health(HealthStatus::unhealthy);
  EXPECT_EQ(pick(), "far/neighbor");
}

// The tiers worked out with the snapshot are used only when they are the selector's own: a
// table given other tiers (here: us1 local) must not steer a selector whose local region is eu1.
TEST(InstancePicker, TiersWorkedOutWithTheSnapshotAreUsedOnlyForTheirSelector) {
  SelectorSettings s = local_eu1(Policy::lowest_ping);
  s.neighbor_regions = {"us1"};
  const Selector sel(s);
  const Selector other_sel([] {
    SelectorSettings o;
    o.local_region = "us1";
    return o;
  }());
  for (const auto& tiers : {sel.region_tiers(), other_sel.region_tiers()}) {
    RouteTable t({}, tiers);
    ASSERT_TRUE(t.register_instance(inst(1, "far", "us1"), {ep("GET", "/x")}).registered());
    const auto near = t.register_instance(inst(2, "near", "eu1"), {ep("GET", "/x")});
    ASSERT_TRUE(near.registered());
    const auto snap = t.snapshot();
    const Route& r = route_of(*snap, "/x");
    ASSERT_EQ(r.region_tiers, tiers);
    EXPECT_EQ(r.candidates[0].instance_id, "far");
    EXPECT_EQ(r.candidates[0].tier, tiers->local == "us1" ? Tier::local : Tier::neighbor);
    core::Random rng(4);
    std::vector<Candidate> scratch;
    const auto p = pick_instance(r, sel, rng, scratch);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->instance->info->instance_id, "near");
    EXPECT_EQ(p->selection.tier, Tier::local);
    EXPECT_EQ(scratch[0].tier, Tier::neighbor);  // far, us1
    EXPECT_EQ(scratch[1].tier, Tier::local);     // near, eu1
  }
}

// Instance "b" connected twice (connections 4 and 5: workers 0 and 1 of two), "a" and "c" once.
TEST(InstancePicker, PreferLocalTakesTheTwinOnTheRequestsWorker) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(2, "a"), {ep("GET", "/x")}).registered());
  const auto b0 = t.register_instance(inst(4, "b"), {ep("GET", "/x")});
  ASSERT_TRUE(t.register_instance(inst(5, "b"), {ep("GET", "/x")}).registered());
  ASSERT_TRUE(t.register_instance(inst(7, "c"), {ep("GET", "/x")}).registered());
  const Selector sel(local_eu1(Policy::round_robin));
  core::Random rng(4);
  std::vector<Candidate> scratch;
  const auto snap = t.snapshot();
  const Route& route = route_of(*snap, "/x");
  ASSERT_EQ(route.candidates.size(), 4u);
  const auto pick_at = [&](std::size_t index) {
    Pick p;
    p.instance = &route.candidates[index];
    p.selection.index = index;
    return p;
  };
  const auto conn = [](const Pick& p) { return p.instance->info->connection_id; };
  const LocalWorker w0{0, 2}, w1{1, 2};

  // Either twin, from either worker: the one on the request's worker.
  for (std::size_t at : {1u, 2u}) {
    Pick p = pick_at(at);
    prefer_local(route, p, w0);
    EXPECT_EQ(conn(p), 4u);
    EXPECT_EQ(p.selection.index, 1u);
    p = pick_at(at);
    prefer_local(route, p, w1);
    EXPECT_EQ(conn(p), 5u);
    EXPECT_EQ(p.selection.index, 2u);
  }
  // No twin: the pick stands ("c" on worker 1 stays, however far it is).
  Pick c = pick_at(3);
  prefer_local(route, c, w0);
  EXPECT_EQ(conn(c), 7u);
  // Another instance is not a twin: "a" (worker 0) stays, though "b" has a connection on 1.
  Pick a = pick_at(0);
  prefer_local(route, a, w1);
  EXPECT_EQ(conn(a), 2u);
  // One worker: everything is local.
  Pick one = pick_at(2);
  prefer_local(route, one, LocalWorker{});
  EXPECT_EQ(conn(one), 5u);
  // The picker and the twin preference together: every request from worker 1 that picks "b"
  // goes to connection 5.
  int to_b = 0;
  for (int i = 0; i < 8; ++i) {
    auto p = pick_instance(route, sel, rng, scratch);
    ASSERT_TRUE(p.has_value());
    prefer_local(route, *p, w1);
    if (p->instance->info->instance_id != "b") continue;
    ++to_b;
    EXPECT_EQ(conn(*p), 5u);
  }
  EXPECT_EQ(to_b, 4);  // round-robin over four candidates, two of them "b"
  // A twin with requests piling up (beyond twice the pick's, 0 here, plus the slack) is not
  // taken.
  {
    std::vector<InFlightGuard> stuck;
    for (std::uint32_t i = 0; i <= kTwinInFlightSlack; ++i)
      stuck.emplace_back(*b0.state);
    Pick far = pick_at(2);
    prefer_local(route, far, w0);
    EXPECT_EQ(conn(far), 5u);
    stuck.pop_back();  // at the slack: still the twin
    far = pick_at(2);
    prefer_local(route, far, w0);
    EXPECT_EQ(conn(far), 4u);
  }
  // A twin in another health is not taken: the selector chose this health.
  HealthTracker draining({}, core::TimePoint{});
  draining.on_drain();
  publish(draining, *b0.state);
  Pick healthy = pick_at(2);
  prefer_local(route, healthy, w0);
  EXPECT_EQ(conn(healthy), 5u);
}

TEST(InstancePicker, PreferLocalKeepsTheRegionOfThePick) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(4, "b", "eu1"), {ep("GET", "/x")}).registered());
  ASSERT_TRUE(t.register_instance(inst(5, "b", "us1"), {ep("GET", "/x")}).registered());
  const auto snap = t.snapshot();
  const Route& route = route_of(*snap, "/x");
  Pick p;
  p.instance = &route.candidates[0];
  p.selection.index = 0;
  prefer_local(route, p, LocalWorker{1, 2});
  EXPECT_EQ(p.instance->info->connection_id, 4u);  // the other region's "b" is not its twin
}

}  // namespace
}  // namespace stella::gw
