// The route table's limits, each at limit and limit + 1, and whole-instance refusals.
#include "stella/gateway/routing_state.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace stella::gw {
namespace {

using core::EndpointDescriptor;
using core::RejectReason;

EndpointDescriptor ep(std::string method, std::string path, std::uint32_t timeout_ms = 0,
                      std::vector<core::Claim> claims = {}) {
  EndpointDescriptor d;
  d.method = std::move(method);
  d.path = std::move(path);
  d.timeout_ms = timeout_ms;
  d.required_claims = std::move(claims);
  return d;
}

InstanceInfo inst(std::uint64_t conn, std::string service, std::string id = "",
                  std::string region = "eu1") {
  return InstanceInfo{conn,
                      std::move(service),
                      "1.0.0",
                      id.empty() ? "i" + std::to_string(conn) : std::move(id),
                      std::move(region),
                      core::TimePoint{}};
}

core::NormalizedPath path(std::string_view raw) {
  auto r = core::normalize_path(raw);
  EXPECT_TRUE(r.ok()) << raw;
  return std::move(r).value();
}

// Looks up in the current snapshot. Lookup results view into the snapshot and the path, so
// both are kept alive until the end of the test program (deques do not move their elements).
LookupResult find(const RouteTable& t, std::string_view method, std::string_view raw) {
  static std::deque<std::shared_ptr<const RouteSnapshot>> snapshots;
  static std::deque<core::NormalizedPath> paths;
  snapshots.push_back(t.snapshot());
  paths.push_back(path(raw));
  return snapshots.back()->lookup(method, paths.back());
}

// "accepted" or the reject reason's number, per endpoint, e.g. "ok ok 5".
std::string verdicts(const RegisterResult& r) {
  std::string s;
  for (const auto& v : r.endpoints) {
    if (!s.empty()) s += ' ';
    s += v.accepted ? "ok" : std::to_string(static_cast<int>(v.reason));
  }
  return s;
}

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
