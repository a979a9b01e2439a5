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

}  // namespace
}  // namespace stella::gw
