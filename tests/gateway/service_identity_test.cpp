// Service identity (docs/security.md) and route ownership across reconnects.
#include "stella/gateway/service_identity.hpp"

#include <gtest/gtest.h>

#include "stella/core/path_normalize.hpp"
#include "stella/gateway/service_registry.hpp"

namespace stella::gw {
namespace {

using namespace std::chrono_literals;

core::PathTemplate tmpl(std::string_view text) {
  auto p = core::PathTemplate::parse(text);
  EXPECT_TRUE(p.ok()) << text;
  return std::move(p).value();
}

PeerIdentity cert(std::string san, std::string thumb = std::string(64, 'a')) {
  PeerIdentity p;
  p.verified = true;
  p.subject_alt_names = {std::move(san)};
  p.common_name = "cn-of-" + p.subject_alt_names.front();
  p.thumbprint_sha256 = std::move(thumb);
  return p;
}

ServiceIdentityRule rule(ServiceIdentityRule::Match m, std::string value,
                         std::vector<std::string> services,
                         std::vector<std::string> prefixes = {}) {
  return ServiceIdentityRule{m, std::move(value), std::move(services), std::move(prefixes)};
}

ServiceIdentityPolicy payments_policy() {
  using M = ServiceIdentityRule::Match;
  return ServiceIdentityPolicy({rule(M::san, "payments.internal", {"payments"}, {"/api/payments"}),
                                rule(M::san, "users.internal", {"users"}, {"/api/users"}),
                                rule(M::cn, "cn-of-catalog.internal", {"catalog"}),
                                rule(M::thumbprint, std::string(64, 'b'), {"*"})});
}

TEST(TemplatePrefix, WithinAndReachAreWholeSegments) {
  const auto prefix = tmpl("/api/payments");
  EXPECT_TRUE(template_within(tmpl("/api/payments"), prefix));
  EXPECT_TRUE(template_within(tmpl("/api/payments/{id}"), prefix));
  EXPECT_TRUE(template_within(tmpl("/api/payments/{*rest}"), prefix));
  EXPECT_FALSE(template_within(tmpl("/api/paymentsx"), prefix));
  EXPECT_FALSE(template_within(tmpl("/api/{x}/1"), prefix));  // {x} may be anything
  EXPECT_FALSE(template_within(tmpl("/api"), prefix));

  EXPECT_TRUE(template_reaches(tmpl("/api/{x}/1"), prefix));
  EXPECT_TRUE(template_reaches(tmpl("/{*all}"), prefix));
  EXPECT_TRUE(template_reaches(tmpl("/api/{*rest}"), prefix));
  EXPECT_TRUE(template_reaches(tmpl("/api/payments/refund"), prefix));
  EXPECT_TRUE(template_reaches(tmpl("/api/{x}"), prefix));  // matches /api/payments itself
  EXPECT_FALSE(template_reaches(tmpl("/{x}"), prefix));     // one segment: never under it
  EXPECT_FALSE(template_reaches(tmpl("/api/paymentsx/{*r}"), prefix));
  EXPECT_FALSE(template_reaches(tmpl("/other/{*r}"), prefix));
}

TEST(ServiceIdentity, NoRulesAcceptsAnyNameAndPath) {
  const ServiceIdentityPolicy none;
  EXPECT_FALSE(none.check_service(PeerIdentity{}, "payments"));
  EXPECT_FALSE(none.check_template(PeerIdentity{}, "payments", tmpl("/{*all}")));
}

TEST(ServiceIdentity, ReservedNamesNeedTheirCertificate) {
  const auto p = payments_policy();
  EXPECT_FALSE(p.check_service(cert("payments.internal"), "payments"));
  // Plain TCP (no certificate) and another certificate cannot take a reserved name.
  const auto plain = p.check_service(PeerIdentity{}, "payments");
  ASSERT_TRUE(plain);
  EXPECT_NE(plain->find("reserved"), std::string::npos) << *plain;
  EXPECT_NE(plain->find("no verified client certificate"), std::string::npos) << *plain;
  EXPECT_TRUE(p.check_service(cert("users.internal"), "payments"));
  // A matched certificate is limited to what it is granted, even for unreserved names.
  const auto other = p.check_service(cert("users.internal"), "newcomer");
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("may not register"), std::string::npos) << *other;
  // Unreserved names stay open to connections that match no rule.
  EXPECT_FALSE(p.check_service(PeerIdentity{}, "newcomer"));
  EXPECT_FALSE(p.check_service(cert("unknown.internal"), "newcomer"));
  // CN and thumbprint rules.
  EXPECT_FALSE(p.check_service(cert("catalog.internal"), "catalog"));
  EXPECT_FALSE(p.check_service(cert("x", std::string(64, 'b')), "anything"));
  EXPECT_TRUE(p.check_service(cert("x", std::string(64, 'b')), "payments"));  // "*" ≠ reserved
}

TEST(ServiceIdentity, PrefixesBoundTheOwnerAndFenceOthersOut) {
  const auto p = payments_policy();
  const auto pay = cert("payments.internal");
  EXPECT_FALSE(p.check_template(pay, "payments", tmpl("/api/payments/{id}")));
  const auto outside = p.check_template(pay, "payments", tmpl("/api/users/{id}"));
  ASSERT_TRUE(outside);
  EXPECT_NE(outside->find("outside the path prefixes"), std::string::npos) << *outside;

  // Another service may not reach under /api/payments, whatever its identity: a more specific
  // template would win by specificity, a catch-all would shadow the owner's absent paths.
  for (const auto* t : {"/api/payments/login", "/api/{any}/login", "/{*all}", "/api/{*rest}"}) {
    const auto why = p.check_template(PeerIdentity{}, "newcomer", tmpl(t));
    ASSERT_TRUE(why) << t;
    EXPECT_NE(why->find("granted to service \"payments\""), std::string::npos) << *why;
  }
  EXPECT_FALSE(p.check_template(PeerIdentity{}, "newcomer", tmpl("/api/other/{id}")));
  // The catalog rule has no prefixes: any path except under others' prefixes.
  EXPECT_FALSE(p.check_template(cert("catalog.internal"), "catalog", tmpl("/catalog/{id}")));
  EXPECT_TRUE(p.check_template(cert("catalog.internal"), "catalog", tmpl("/api/users/{id}")));
}

TEST(ServiceIdentity, ANarrowerOwnGrantInsideAnotherPrefixIsAllowed) {
  using M = ServiceIdentityRule::Match;
  const ServiceIdentityPolicy p({rule(M::san, "api.internal", {"api"}, {"/api"}),
                                 rule(M::san, "search.internal", {"search"}, {"/api/search"})});
  EXPECT_FALSE(p.check_template(cert("search.internal"), "search", tmpl("/api/search/{*q}")));
  EXPECT_TRUE(p.check_template(cert("search.internal"), "search", tmpl("/api/{x}")));
  // The broad owner may not reach into the narrower grant.
  EXPECT_TRUE(p.check_template(cert("api.internal"), "api", tmpl("/api/search/x")));
  EXPECT_FALSE(p.check_template(cert("api.internal"), "api", tmpl("/api/orders/{id}")));
}

TEST(ServiceIdentity, AWildcardRuleNeverWidensAReservedName) {
  using M = ServiceIdentityRule::Match;
  const ServiceIdentityPolicy p({rule(M::san, "payments.internal", {"payments"}, {"/api/payments"}),
                                 rule(M::cn, "cn-of-payments.internal", {"*"})});
  const auto pay = cert("payments.internal");  // matches both rules
  EXPECT_TRUE(p.check_template(pay, "payments", tmpl("/{*all}")));
  EXPECT_FALSE(p.check_template(pay, "payments", tmpl("/api/payments/{id}")));
  EXPECT_FALSE(p.check_template(pay, "other", tmpl("/other/{*all}")));  // "*" for other names
}

core::Hello hello(std::string service, std::vector<std::string> paths) {
  core::Hello h;
  h.service = std::move(service);
  h.instance_id = h.service + "-1";
  h.region = "eu1";
  for (auto& path : paths)
    h.endpoints.push_back({"GET", std::move(path), 0, false, {}, ""});
  return h;
}

TEST(ServiceIdentity, RegistryRefusesUngrantedNamesAndPathsInTheAck) {
  RegistrySettings settings;
  settings.identities = payments_policy();
  ServiceRegistry r(settings);
  const core::TimePoint t0{};
  const auto squat = r.on_hello(1, hello("payments", {"/api/payments/{id}"}), t0, PeerIdentity{});
  EXPECT_FALSE(squat.registered);
  EXPECT_NE(squat.reason.find("reserved"), std::string::npos) << squat.reason;

  const auto owner = r.on_hello(2, hello("payments", {"/api/payments/{id}", "/api/users/me"}), t0,
                                cert("payments.internal"));
  ASSERT_TRUE(owner.registered);
  ASSERT_EQ(owner.ack.accepted.size(), 1u);
  ASSERT_EQ(owner.ack.rejected.size(), 1u);
  EXPECT_EQ(owner.ack.rejected[0].reason,
            static_cast<std::uint16_t>(core::RejectReason::forbidden));
  EXPECT_EQ(r.routes().counters().forbidden_total, 1u);

  const auto shadow = r.on_hello(3, hello("newcomer", {"/api/payments/login"}), t0, PeerIdentity{});
  ASSERT_TRUE(shadow.registered);
  EXPECT_TRUE(shadow.ack.accepted.empty());
  ASSERT_EQ(shadow.ack.rejected.size(), 1u);
  EXPECT_NE(shadow.ack.rejected[0].message.find("granted to service \"payments\""),
            std::string::npos);
}

LookupResult lookup(const ServiceRegistry& r, std::string_view path) {
  static std::vector<core::NormalizedPath> keep;  // lookups return views into the path
  keep.push_back(core::normalize_path(path).value());
  LookupResult result;
  r.routes().snapshot()->lookup("GET", keep.back(), result);
  return result;
}

TEST(RouteOwnership, ARouteIsHeldForItsServiceThroughTheGracePeriod) {
  RegistrySettings settings;
  settings.routes.ownership_grace = 30s;
  ServiceRegistry r(settings);
  const core::TimePoint t0{};
  ASSERT_TRUE(r.on_hello(1, hello("users", {"/api/users/{id}"}), t0).registered);
  r.on_closed(1, t0 + 1s);

  // Held: found, but with no instance to pick (the gateway answers 503, not 404).
  auto held = lookup(r, "/api/users/7");
  ASSERT_EQ(held.status, LookupStatus::found);
  EXPECT_TRUE(held.route->candidates.empty());
  EXPECT_EQ(held.route->service, "users");
  EXPECT_EQ(r.routes().held_routes(), 1u);

  // A squatter cannot take the shape while it is held.
  const auto squat = r.on_hello(2, hello("squatter", {"/api/users/{uid}"}), t0 + 2s);
  ASSERT_EQ(squat.ack.rejected.size(), 1u);
  EXPECT_NE(squat.ack.rejected[0].message.find("held for that service"), std::string::npos)
      << squat.ack.rejected[0].message;

  // The owner comes back within the grace: the same route, one candidate again.
  ASSERT_EQ(r.on_hello(3, hello("users", {"/api/users/{id}"}), t0 + 10s).ack.accepted.size(), 1u);
  EXPECT_EQ(lookup(r, "/api/users/7").route->candidates.size(), 1u);
  EXPECT_EQ(r.routes().held_routes(), 0u);

  // Gone again, and this time the grace runs out: the route disappears, the shape is free.
  r.on_closed(3, t0 + 20s);
  r.on_tick(t0 + 49s);
  EXPECT_EQ(lookup(r, "/api/users/7").status, LookupStatus::found);
  r.on_tick(t0 + 50s);
  EXPECT_EQ(lookup(r, "/api/users/7").status, LookupStatus::not_found);
  EXPECT_EQ(r.routes().counters().routes_expired_total, 1u);
  EXPECT_EQ(r.on_hello(4, hello("squatter", {"/api/users/{uid}"}), t0 + 51s).ack.accepted.size(),
            1u);
}

TEST(RouteOwnership, WithoutGraceARouteLeavesWithItsLastInstance) {
  ServiceRegistry r;
  const core::TimePoint t0{};
  ASSERT_TRUE(r.on_hello(1, hello("users", {"/api/users/{id}"}), t0).registered);
  r.on_closed(1, t0);
  EXPECT_EQ(lookup(r, "/api/users/7").status, LookupStatus::not_found);
}

}  // namespace
}  // namespace stella::gw
