#include "stella/gateway/routing_state.hpp"

#include "route_test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace stella::gw {
namespace {

using namespace stella::gw::testing;
using core::EndpointDescriptor;
using core::RejectReason;

TEST(RouteTable, StartsEmpty) {
  RouteTable t;
  const auto snap = t.snapshot();
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->version(), 0u);
  EXPECT_EQ(snap->route_count(), 0u);
  EXPECT_EQ(find(t, "GET", "/").status, LookupStatus::not_found);
}

// A worker keeps its snapshot while nothing is published, and takes the new one after.
TEST(RouteTable, RefreshKeepsTheSnapshotUntilANewerIsPublished) {
  RouteTable t;
  std::shared_ptr<const RouteSnapshot> kept;
  t.refresh(kept);
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->version(), t.published_version());
  const auto* first = kept.get();
  t.refresh(kept);
  EXPECT_EQ(kept.get(), first);
  ASSERT_TRUE(
      t.register_instance(inst(1, "scanner", "scan-a"), {ep("GET", "/x", 0, {})}).registered());
  EXPECT_EQ(kept.get(), first);  // kept until refreshed
  t.refresh(kept);
  EXPECT_NE(kept.get(), first);
  EXPECT_EQ(kept, t.snapshot());
  EXPECT_EQ(kept->instance_count(), 1u);
}

TEST(RouteTable, RegisterThenLookup) {
  RouteTable t;
  const auto r = t.register_instance(inst(1, "scanner", "scan-a"),
                                     {ep("GET", "/api/v1/scans/{id}", 5000, {{"scope", "scan"}})});
  ASSERT_TRUE(r.registered());
  EXPECT_EQ(verdicts(r), "ok");
  EXPECT_NE(r.state, nullptr);
  EXPECT_EQ(r.snapshot_version, 1u);

  const auto snap = t.snapshot();
  const auto p = path("/api/v1/scans/42");
  const auto l = snap->lookup("GET", p);
  ASSERT_EQ(l.status, LookupStatus::found);
  EXPECT_EQ(l.route->service, "scanner");
  EXPECT_EQ(l.route->template_text, "/api/v1/scans/{id}");
  EXPECT_EQ(l.route->endpoint->timeout_ms, 5000u);
  EXPECT_EQ(l.route->required_claims, (std::vector<core::Claim>{{"scope", "scan"}}));
  EXPECT_EQ(l.match.param("id"), "42");
  ASSERT_EQ(l.route->candidates.size(), 1u);
  EXPECT_EQ(l.route->candidates[0].info->instance_id, "scan-a");
  EXPECT_EQ(l.route->candidates[0].state, r.state);
  EXPECT_EQ(snap->instance_count(), 1u);
}

TEST(RouteTable, NotFoundVersusMethodNotAllowed) {
  RouteTable t;
  ASSERT_EQ(verdicts(t.register_instance(
                inst(1, "s"), {ep("GET", "/a/{id}"), ep("PUT", "/a/{id}"), ep("POST", "/b")})),
            "ok ok ok");
  EXPECT_EQ(find(t, "GET", "/nope").status, LookupStatus::not_found);
  const auto l = find(t, "DELETE", "/a/1");
  EXPECT_EQ(l.status, LookupStatus::method_not_allowed);
  EXPECT_EQ(l.allowed_methods, (std::vector<std::string_view>{"GET", "PUT"}));
  EXPECT_EQ(l.route, nullptr);
  EXPECT_TRUE(l.match.params.empty());
  EXPECT_EQ(find(t, "GET", "/b").allowed_methods, (std::vector<std::string_view>{"POST"}));
  // A method nobody registered at all is still a 405 when the path exists.
  EXPECT_EQ(find(t, "PROPFIND", "/b").status, LookupStatus::method_not_allowed);
}

TEST(RouteTable, MethodFiltersBeforeSpecificity) {
  // The seed's candidates are the endpoints serving (method, path).
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "one"), {ep("GET", "/a/b")}).registered());
  ASSERT_EQ(verdicts(t.register_instance(inst(2, "two"), {ep("POST", "/a/{x}")})), "ok");
  const auto l = find(t, "POST", "/a/b");
  ASSERT_EQ(l.status, LookupStatus::found);
  EXPECT_EQ(l.route->service, "two");
  EXPECT_EQ(find(t, "GET", "/a/c").allowed_methods, (std::vector<std::string_view>{"POST"}));
}

TEST(RouteTable, ReusedLookupResultIsReset) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "s"), {ep("GET", "/a/{id}")}).registered());
  const auto snap = t.snapshot();
  LookupResult out;
  const auto a1 = path("/a/1");
  const auto zzz = path("/zzz");
  snap->lookup("POST", a1, out);
  EXPECT_EQ(out.status, LookupStatus::method_not_allowed);
  snap->lookup("GET", a1, out);
  EXPECT_EQ(out.status, LookupStatus::found);
  EXPECT_EQ(out.match.param("id"), "1");
  EXPECT_TRUE(out.allowed_methods.empty());
  snap->lookup("GET", zzz, out);
  EXPECT_EQ(out.status, LookupStatus::not_found);
  EXPECT_EQ(out.route, nullptr);
}

TEST(RouteTable, InvalidMethods) {
  RouteTable t;
  const auto r = t.register_instance(inst(1, "s"), {ep("get", "/a"), ep("", "/b"), ep("G ET", "/c"),
                                                    ep("PROPFIND", "/d"), ep("M-SEARCH", "/e")});
  EXPECT_EQ(verdicts(r), "4 4 4 ok ok");
  EXPECT_NE(r.endpoints[0].message.find("did you mean \"GET\""), std::string::npos);
  EXPECT_NE(r.endpoints[2].message.find("not an HTTP token"), std::string::npos);
  EXPECT_EQ(t.counters().invalid_methods_total, 3u);
}

TEST(RouteTable, MalformedTemplateCarriesThePosition) {
  RouteTable t;
  const auto r = t.register_instance(inst(1, "s"), {ep("GET", "/items/{id:int}"), ep("GET", "x")});
  EXPECT_EQ(verdicts(r), "1 1");
  EXPECT_NE(r.endpoints[0].message.find("at byte 10"), std::string::npos) << r.endpoints[0].message;
  EXPECT_NE(r.endpoints[1].message.find("at byte 0"), std::string::npos);
  EXPECT_EQ(t.counters().malformed_templates_total, 2u);
}

TEST(RouteTable, DuplicateWithinOneHello) {
  RouteTable t;
  const auto r =
      t.register_instance(inst(1, "s"), {ep("GET", "/a/{id}"), ep("POST", "/a/{id}"),
                                         ep("GET", "/a/{key}"), ep("GET", "/b/"), ep("GET", "/b")});
  EXPECT_EQ(verdicts(r), "ok ok 5 ok 5");
  EXPECT_NE(r.endpoints[2].message.find("#0 (GET /a/{id})"), std::string::npos)
      << r.endpoints[2].message;
  EXPECT_EQ(t.counters().duplicates_total, 2u);
}

TEST(RouteTable, ConflictAcrossServicesNamesTheOtherService) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "scanner"), {ep("GET", "/x/{id}")}).registered());
  const auto r =
      t.register_instance(inst(2, "policy"), {ep("GET", "/x/{key}"), ep("POST", "/x/{key}")});
  ASSERT_TRUE(r.registered());
  EXPECT_EQ(verdicts(r), "2 ok");
  const std::string& m = r.endpoints[0].message;
  EXPECT_NE(m.find("GET /x/{key} conflicts with GET /x/{id} of service \"scanner\""),
            std::string::npos)
      << m;
  EXPECT_EQ(t.counters().conflicts_total, 1u);
  // The first service keeps the route.
  EXPECT_EQ(find(t, "GET", "/x/1").route->service, "scanner");
}

TEST(RouteTable, InstancesOfOneServiceShareRoutes) {
  RouteTable t;
  ASSERT_EQ(verdicts(t.register_instance(inst(7, "s", "b"), {ep("GET", "/x/{id}", 100)})), "ok");
  ASSERT_EQ(verdicts(t.register_instance(inst(3, "s", "a"), {ep("GET", "/x/{key}", 200)})), "ok");
  const auto l = find(t, "GET", "/x/1");
  ASSERT_EQ(l.status, LookupStatus::found);
  EXPECT_EQ(t.snapshot()->route_count(), 1u);
  // The route's template and defaults are the earliest registered instance's.
  EXPECT_EQ(l.route->template_text, "/x/{id}");
  EXPECT_EQ(l.route->endpoint->timeout_ms, 100u);
  ASSERT_EQ(l.route->candidates.size(), 2u);
  // Candidates sorted by instance id; each carries its own descriptor.
  EXPECT_EQ(l.route->candidates[0].info->instance_id, "a");
  EXPECT_EQ(l.route->candidates[0].endpoint->timeout_ms, 200u);
  EXPECT_EQ(l.route->candidates[1].info->instance_id, "b");
  // When the primary leaves, the next one defines the route.
  ASSERT_TRUE(t.unregister_instance(7));
  const auto l2 = find(t, "GET", "/x/1");
  EXPECT_EQ(l2.route->template_text, "/x/{key}");
  EXPECT_EQ(l2.match.param("key"), "1");
}

TEST(RouteTable, RequiredClaimsAreTheUnionOverInstances) {
  RouteTable t;
  ASSERT_TRUE(
      t.register_instance(inst(1, "s"), {ep("GET", "/x", 0, {{"scope", "read"}})}).registered());
  ASSERT_TRUE(t.register_instance(inst(2, "s"),
                                  {ep("GET", "/x", 0, {{"scope", "read"}, {"role", "admin"}})})
                  .registered());
  EXPECT_EQ(find(t, "GET", "/x").route->required_claims,
            (std::vector<core::Claim>{{"role", "admin"}, {"scope", "read"}}));
  ASSERT_TRUE(t.unregister_instance(2));
  EXPECT_EQ(find(t, "GET", "/x").route->required_claims,
            (std::vector<core::Claim>{{"scope", "read"}}));
}

TEST(RouteTable, UnregisterRemovesTheInstanceAndFreesTheShape) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "a"), {ep("GET", "/x")}).registered());
  ASSERT_TRUE(t.register_instance(inst(2, "a"), {ep("GET", "/x")}).registered());
  ASSERT_TRUE(t.unregister_instance(1));
  ASSERT_EQ(find(t, "GET", "/x").route->candidates.size(), 1u);
  EXPECT_EQ(find(t, "GET", "/x").route->candidates[0].info->connection_id, 2u);
  EXPECT_EQ(verdicts(t.register_instance(inst(3, "b"), {ep("GET", "/x")})), "2");
  ASSERT_TRUE(t.unregister_instance(2));
  EXPECT_EQ(find(t, "GET", "/x").status, LookupStatus::not_found);
  EXPECT_EQ(t.snapshot()->route_count(), 0u);
  // Connection 3 was registered (with its endpoint refused); a new instance of b takes /x.
  EXPECT_EQ(verdicts(t.register_instance(inst(4, "b"), {ep("GET", "/x")})), "ok");
  EXPECT_EQ(find(t, "GET", "/x").route->service, "b");
  EXPECT_FALSE(t.unregister_instance(1));
  EXPECT_FALSE(t.unregister_instance(999));
  EXPECT_EQ(t.instance_state(1), nullptr);
  EXPECT_NE(t.instance_state(4), nullptr);
}

TEST(RouteTable, OldSnapshotsStayValid) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "a"), {ep("GET", "/x/{id}")}).registered());
  const auto old = t.snapshot();
  ASSERT_TRUE(t.unregister_instance(1));
  const auto x9 = path("/x/9");
  const auto l = old->lookup("GET", x9);
  ASSERT_EQ(l.status, LookupStatus::found);
  EXPECT_EQ(l.route->candidates[0].info->connection_id, 1u);
  EXPECT_EQ(find(t, "GET", "/x/9").status, LookupStatus::not_found);
  EXPECT_GT(t.snapshot()->version(), old->version());
}

TEST(RouteTable, UntouchedMethodsAreSharedBetweenSnapshots) {
  RouteTable t;
  ASSERT_TRUE(t.register_instance(inst(1, "a"), {ep("GET", "/x")}).registered());
  const auto before = t.snapshot();
  ASSERT_TRUE(t.register_instance(inst(2, "b"), {ep("POST", "/y")}).registered());
  const auto after = t.snapshot();
  EXPECT_EQ(before->routes_of("GET"), after->routes_of("GET"));
  EXPECT_NE(after->routes_of("POST"), nullptr);
  // The round-robin counter of a route survives rebuilds of its method.
  const auto rt = find(t, "GET", "/x").route->runtime;
  ASSERT_TRUE(t.register_instance(inst(3, "a"), {ep("GET", "/x")}).registered());
  EXPECT_NE(t.snapshot()->routes_of("GET"), before->routes_of("GET"));
  EXPECT_EQ(find(t, "GET", "/x").route->runtime, rt);
}

TEST(RouteTable, HealthChangesNeedNoNewSnapshot) {
  RouteTable t;
  const auto r = t.register_instance(inst(1, "a"), {ep("GET", "/x")});
  const auto snap = t.snapshot();
  const auto x = path("/x");
  EXPECT_EQ(snap->lookup("GET", x).route->candidates[0].state->health(),
            core::HealthStatus::healthy);
  t.instance_state(1)->set_health(core::HealthStatus::unhealthy);
  EXPECT_EQ(t.snapshot(), snap);
  EXPECT_EQ(snap->lookup("GET", x).route->candidates[0].state->health(),
            core::HealthStatus::unhealthy);
}

TEST(RouteTable, InitialHealthIsASetting) {
  RouteTableSettings s;
  s.initial_health = core::HealthStatus::unknown;
  RouteTable t(s);
  InstanceInfo i = inst(1, "a");
  i.registered_at = core::TimePoint(std::chrono::seconds(5));
  const auto r = t.register_instance(i, {});
  EXPECT_EQ(r.state->health(), core::HealthStatus::unknown);
  EXPECT_EQ(r.state->last_heartbeat(), i.registered_at);
}

TEST(RouteTable, FillHelloAck) {
  RouteTable t;
  const std::vector<EndpointDescriptor> eps{ep("GET", "/a"), ep("get", "/b"), ep("POST", "/c")};
  const auto r = t.register_instance(inst(1, "a"), eps);
  core::HelloAck ack;
  fill_hello_ack(eps, r, ack);
  EXPECT_EQ(ack.accepted, (std::vector<core::EndpointRef>{{"GET", "/a"}, {"POST", "/c"}}));
  ASSERT_EQ(ack.rejected.size(), 1u);
  EXPECT_EQ(ack.rejected[0].path, "/b");
  EXPECT_EQ(ack.rejected[0].reason, static_cast<std::uint16_t>(RejectReason::invalid_method));
  EXPECT_EQ(ack.rejected[0].message, r.endpoints[1].message);
}

TEST(RouteTable, CountersByName) {
  RouteTable t;
  (void)t.register_instance(inst(1, "a"), {ep("GET", "/a"), ep("GET", "/a"), ep("x y", "/b")});
  (void)t.register_instance(inst(2, "b"), {ep("GET", "/a"), ep("GET", "/{")});
  ASSERT_TRUE(t.unregister_instance(2));
  RouteTableCounters want;
  want.instances_registered_total = 2;
  want.instances_unregistered_total = 1;
  want.endpoints_accepted_total = 1;
  want.endpoints_rejected_total = 4;
  want.invalid_methods_total = 1;
  want.malformed_templates_total = 1;
  want.duplicates_total = 1;
  want.conflicts_total = 1;
  want.snapshots_published_total = 3;
  EXPECT_EQ(t.counters(), want);
}

TEST(RouteTable, ConcurrentReadersSeeConsistentSnapshots) {
  RouteTable t;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> found{0};
  auto reader = [&] {
    const auto p = path("/svc/x/1");
    LookupResult out;
    while (!stop.load()) {
      const auto snap = t.snapshot();
      snap->lookup("GET", p, out);
      if (out.status == LookupStatus::found) {
        // A published route always has at least one live instance.
        EXPECT_FALSE(out.route->candidates.empty());
        EXPECT_EQ(out.match.param("id"), "1");
        found.fetch_add(1);
      }
    }
  };
  std::thread r1(reader);
  std::thread r2(reader);
  for (std::uint64_t i = 1; i <= 300; ++i) {
    ASSERT_TRUE(t.register_instance(inst(i, "svc"), {ep("GET", "/svc/x/{id}")}).registered());
    if (i > 1) {
      ASSERT_TRUE(t.unregister_instance(i - 1));
    }
  }
  stop.store(true);
  r1.join();
  r2.join();
  EXPECT_EQ(find(t, "GET", "/svc/x/1").route->candidates.size(), 1u);
}

}  // namespace
}  // namespace stella::gw
