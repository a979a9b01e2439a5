// The route table's limits, each at limit and limit + 1, and whole-instance refusals.
#include "stella/gateway/routing_state.hpp"

#include "route_test_util.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace stella::gw {
namespace {

using namespace stella::gw::testing;
using core::EndpointDescriptor;
using core::RejectReason;

TEST(RouteTable, DuplicateConnectionChangesNothing) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "a"), {ep("GET", "/x")}).registered());
  const auto version = t.snapshot()->version();
  const auto r = t.register_instance(inst(1, "a"), {ep("GET", "/y")});
  EXPECT_EQ(r.status, RegisterStatus::duplicate_connection);
  EXPECT_EQ(verdicts(r), "5");
  EXPECT_EQ(r.state, nullptr);
  EXPECT_EQ(t.snapshot()->version(), version);
  EXPECT_EQ(find(t, "GET", "/y").status, LookupStatus::not_found);
  EXPECT_EQ(t.counters().instances_refused_total, 1u);
}

TEST(RouteTable, MaxInstancesAtLimitAndLimitPlusOne) {
  RouteTableSettings s;
  s.max_instances = 2;
  RouteTable t(s);
  EXPECT_TRUE(t.register_instance(inst(1, "a"), {ep("GET", "/x")}).registered());
  EXPECT_TRUE(t.register_instance(inst(2, "a"), {ep("GET", "/x")}).registered());
  const auto r = t.register_instance(inst(3, "a"), {ep("GET", "/x"), ep("GET", "/y")});
  EXPECT_EQ(r.status, RegisterStatus::too_many_instances);
  EXPECT_EQ(verdicts(r), "3 3");
  EXPECT_NE(r.endpoints[0].message.find("maximum of 2 instances"), std::string::npos);
  EXPECT_EQ(t.snapshot()->instance_count(), 2u);
  ASSERT_TRUE(t.unregister_instance(1));
  EXPECT_TRUE(t.register_instance(inst(3, "a"), {ep("GET", "/x")}).registered());
}

TEST(RouteTable, MaxEndpointsPerInstanceAtLimitAndLimitPlusOne) {
  RouteTableSettings s;
  s.max_endpoints_per_instance = 2;
  RouteTable t(s);
  // Rejected endpoints do not count towards the limit.
  const auto r = t.register_instance(
      inst(1, "a"), {ep("GET", "/1"), ep("get", "/bad"), ep("GET", "/2"), ep("GET", "/3")});
  EXPECT_EQ(verdicts(r), "ok 4 ok 3");
  EXPECT_NE(r.endpoints[3].message.find("more than 2 endpoints"), std::string::npos);
  EXPECT_EQ(t.counters().limits_exceeded_total, 1u);
}

TEST(RouteTable, MaxRoutesAtLimitAndLimitPlusOne) {
  RouteTableSettings s;
  s.max_routes = 2;
  RouteTable t(s);
  EXPECT_EQ(verdicts(t.register_instance(inst(1, "a"), {ep("GET", "/1"), ep("GET", "/2")})),
            "ok ok");
  // Joining existing routes is always possible; a third route is not.
  EXPECT_EQ(verdicts(t.register_instance(inst(2, "a"), {ep("GET", "/1"), ep("GET", "/3")})),
            "ok 3");
  EXPECT_EQ(t.snapshot()->route_count(), 2u);
  ASSERT_TRUE(t.unregister_instance(1));  // /2 disappears
  EXPECT_EQ(verdicts(t.register_instance(inst(3, "b"), {ep("GET", "/3")})), "ok");
}

TEST(RouteTable, MethodLengthAtLimitAndLimitPlusOne) {
  RouteTableSettings s;
  s.max_method_length = 8;
  RouteTable t(s);
  const auto r = t.register_instance(inst(1, "s"), {ep("ABCDEFGH", "/a"), ep("ABCDEFGHI", "/b")});
  EXPECT_EQ(verdicts(r), "ok 4");
  EXPECT_NE(r.endpoints[1].message.find("longer than 8"), std::string::npos);
}

}  // namespace
}  // namespace stella::gw
