#include "stella/gateway/service_registry.hpp"

#include <gtest/gtest.h>

#include "stella/core/path_normalize.hpp"

namespace stella::gw {
namespace {

using namespace std::chrono_literals;

core::Hello hello(std::string service, std::string instance, std::vector<std::string> paths) {
  core::Hello h;
  h.service = std::move(service);
  h.instance_id = std::move(instance);
  h.region = "eu1";
  for (auto& p : paths)
    h.endpoints.push_back({"GET", std::move(p), 0, false, {}, ""});
  return h;
}

LookupStatus lookup(const ServiceRegistry& r, std::string_view path) {
  auto normalized = core::normalize_path(path);
  EXPECT_TRUE(normalized.ok());
  LookupResult result;
  r.routes().snapshot()->lookup("GET", normalized.value(), result);
  return result.status;
}

TEST(ServiceRegistry, ConflictsAcrossServicesAreRefusedWithTheReason) {
  ServiceRegistry r;
  const core::TimePoint t0{};
  auto a = r.on_hello(1, hello("scanner", "s-1", {"/api/v1/scans/{id}"}), t0);
  ASSERT_TRUE(a.registered);
  EXPECT_EQ(a.ack.accepted.size(), 1u);
  // Another instance of the same service shares the route.
  auto b = r.on_hello(2, hello("scanner", "s-2", {"/api/v1/scans/{id}"}), t0);
  EXPECT_EQ(b.ack.accepted.size(), 1u);
  // Another service at the same shape is refused, naming the owner.
  auto c = r.on_hello(3, hello("policy", "p-1", {"/api/v1/scans/{scan}", "/api/v1/policies"}), t0);
  ASSERT_TRUE(c.registered);
  ASSERT_EQ(c.ack.rejected.size(), 1u);
  EXPECT_EQ(c.ack.rejected[0].reason, static_cast<std::uint16_t>(core::RejectReason::conflict));
  EXPECT_NE(c.ack.rejected[0].message.find("scanner"), std::string::npos)
      << c.ack.rejected[0].message;
  EXPECT_EQ(c.ack.accepted.size(), 1u);
  EXPECT_EQ(lookup(r, "/api/v1/policies"), LookupStatus::found);
  r.on_closed(3);
  EXPECT_EQ(lookup(r, "/api/v1/policies"), LookupStatus::not_found);
  EXPECT_EQ(lookup(r, "/api/v1/scans/9"), LookupStatus::found);
}

TEST(ServiceRegistry, IdentityStringsMustBePrintableText) {
  ServiceRegistry r;
  const core::TimePoint t0{};
  const auto refused = [&](core::Hello h, std::string_view why) {
    const auto out = r.on_hello(9, h, t0);
    EXPECT_FALSE(out.registered) << why;
    EXPECT_NE(out.reason.find(why), std::string::npos) << out.reason;
  };
  refused(hello("\xff", "i-1", {"/a"}), "service is not printable UTF-8");
  refused(hello("demo", "i-1\n2026 FAKE: registered", {"/a"}), "instance_id is not printable");
  refused(hello("demo", std::string("i\0", 2), {"/a"}), "instance_id is not printable");
  refused(hello("demo", "i\xc2\x85", {"/a"}), "instance_id is not printable");  // C1 (NEL)
  refused(hello("", "i-1", {"/a"}), "service name is empty");
  refused(hello(std::string(kMaxIdentityLength + 1, 's'), "i-1", {"/a"}),
          "service is longer than 128 bytes");
  auto h = hello("demo", "i-1", {"/a"});
  h.region = "eu\x1b[31m";
  refused(h, "region is not printable");
  // At the limit, and non-ASCII text, are fine.
  EXPECT_TRUE(
      r.on_hello(10, hello(std::string(kMaxIdentityLength, 's'), "inst\xc3\xa9", {"/a"}), t0)
          .registered);
}

TEST(ServiceRegistry, MissedBeatsMakeUnhealthyAndAcksRecover) {
  ServiceRegistry r;
  core::TimePoint now{};
  ASSERT_TRUE(r.on_hello(1, hello("svc", "i-1", {"/a"}), now).registered);
  std::optional<HealthTransition> t;
  for (int i = 0; i < 4 && !t; ++i) {  // the 4th send finds 3 beats unanswered
    now += 10s;
    t = r.on_heartbeat_sent(1, now);
  }
  ASSERT_TRUE(t);
  EXPECT_EQ(t->to, core::HealthStatus::unhealthy);
  // At 30 s the silence timeout and the third missed beat coincide; either names the cause.
  EXPECT_TRUE(t->reason == HealthReason::missed_heartbeats ||
              t->reason == HealthReason::heartbeat_timeout);
  EXPECT_EQ(r.routes().instance_state(1)->health(), core::HealthStatus::unhealthy);
  // healthy_threshold (2) acks bring it back.
  EXPECT_FALSE(r.on_heartbeat_ack(1, 3ms, core::HealthStatus::healthy, 0, now + 3ms));
  now += 10s;
  r.on_heartbeat_sent(1, now);
  auto back = r.on_heartbeat_ack(1, 2ms, core::HealthStatus::healthy, 0, now + 2ms);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to, core::HealthStatus::healthy);
  EXPECT_EQ(r.routes().instance_state(1)->health(), core::HealthStatus::healthy);
  auto drained = r.on_drain(1);
  ASSERT_TRUE(drained);
  EXPECT_EQ(drained->to, core::HealthStatus::draining);
}

}  // namespace
}  // namespace stella::gw
