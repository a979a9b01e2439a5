// The upstream router (registry events + call table) between a real gateway session and a real
// service session, wired back to back on a manual clock: what the production hub and the
// simulator both run.
#include "stella/gateway/upstream_router.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "stella/core/service_session.hpp"

namespace stella::gw {
namespace {

using namespace std::chrono_literals;

class RouterPair : public ::testing::Test {
 protected:
  RouterPair() : gateway(core::GatewaySessionConfig{}, now), service(service_config(), now) {
    pump();
    for (auto& e : gw_events) {
      if (auto* h = std::get_if<core::gw_event::HelloReceived>(&e)) {
        const HelloOutcome out = router.on_hello(kConn, h->hello, now);
        EXPECT_TRUE(out.registered) << out.reason;
        gateway.accept_hello(out.ack, now);
      }
    }
    gw_events.clear();
    pump();
  }

  static core::ServiceSessionConfig service_config() {
    core::ServiceSessionConfig c;
    c.hello.service = "demo";
    c.hello.instance_id = "demo-1";
    c.hello.endpoints.push_back({"GET", "/echo", 0, false, {}, ""});
    return c;
  }

  void pump() {
    for (int round = 0; round < 50; ++round) {
      std::string g, s;
      gateway.take_output(g);
      service.take_output(s);
      if (g.empty() && s.empty()) break;
      if (!g.empty()) service.on_bytes(g, now);
      if (!s.empty()) gateway.on_bytes(s, now);
    }
    core::GatewayEvent ge;
    while (gateway.poll_event(ge))
      gw_events.push_back(std::move(ge));
    core::ServiceEvent se;
    while (service.poll_event(se))
      svc_events.push_back(std::move(se));
  }

  std::uint32_t in_flight() const {
    return router.registry().routes().instance_state(kConn)->in_flight();
  }

  std::uint32_t start(std::uint32_t call) {
    core::Request r;
    r.method = "GET";
    r.path = "/echo";
    std::uint32_t stream = 0;
    EXPECT_EQ(router.start(kConn, gateway, r, true, now, call, stream), core::Errc::ok);
    return stream;
  }

  static constexpr std::uint64_t kConn = 7;
  core::TimePoint now{std::chrono::seconds(100)};
  UpstreamRouter router;
  core::GatewaySession gateway;
  core::ServiceSession service;
  std::vector<core::GatewayEvent> gw_events;
  std::vector<core::ServiceEvent> svc_events;
};

TEST_F(RouterPair, AResponseNamesItsCallAndEndsIt) {
  ASSERT_EQ(router.registry().routes().snapshot()->instance_count(), 1u);
  const std::uint32_t a = start(40), b = start(41);
  EXPECT_EQ(router.open_calls(), 2u);
  EXPECT_EQ(in_flight(), 2u);
  pump();
  ASSERT_EQ(service.send_response(b, core::Response{200, {}, "b"}, true), core::Errc::ok);
  pump();
  ASSERT_EQ(gw_events.size(), 1u);
  EXPECT_EQ(router.on_stream_event(kConn, gw_events[0]), 41u);
  EXPECT_EQ(router.open_calls(), 1u);
  EXPECT_EQ(in_flight(), 1u);
  // The same event again names no call: the stream is forgotten.
  EXPECT_EQ(router.on_stream_event(kConn, gw_events[0]), UpstreamRouter::kNoCall);
  // A streamed response: the head names the call without ending it; the last part ends it.
  gw_events.clear();
  ASSERT_EQ(service.send_response(a, core::Response{200, {}, {}}, false), core::Errc::ok);
  ASSERT_EQ(service.send_response_data(a, "x", true), core::Errc::ok);
  pump();
  ASSERT_EQ(gw_events.size(), 2u);
  EXPECT_EQ(router.on_stream_event(kConn, gw_events[0]), 40u);
  EXPECT_EQ(router.open_calls(), 1u);
  EXPECT_EQ(router.on_stream_event(kConn, gw_events[1]), 40u);
  EXPECT_EQ(router.open_calls(), 0u);
  EXPECT_EQ(in_flight(), 0u);
}

TEST_F(RouterPair, FinishedAndTakenCallsLeaveNothingBehind) {
  const std::uint32_t a = start(1);
  start(2);
  start(3);
  EXPECT_TRUE(router.finish(kConn, a));                                     // cancelled: forgotten
  EXPECT_FALSE(router.finish(kConn, a));                                    // only once
  EXPECT_EQ(router.take_calls(kConn), (std::vector<std::uint32_t>{2, 3}));  // by handle
  EXPECT_EQ(router.open_calls(), 0u);
  EXPECT_EQ(in_flight(), 0u);
  EXPECT_TRUE(router.take_calls(kConn).empty());
  // Events that are not about streams name no call; lifecycle events reach the registry.
  EXPECT_EQ(router.on_stream_event(kConn, core::gw_event::HeartbeatSent{now}),
            UpstreamRouter::kNoCall);
  router.on_lifecycle(kConn, core::gw_event::Closed{}, now);
  EXPECT_EQ(router.registry().routes().snapshot()->instance_count(), 0u);
  EXPECT_EQ(router.registry().health(kConn), nullptr);
}

TEST_F(RouterPair, AConnectionsLossFailsItsStreamsThroughTheRouter) {
  start(5);
  start(6);
  gateway.on_closed(now, "reset");
  pump();
  std::vector<std::uint32_t> failed;
  for (auto& e : gw_events) {
    const std::uint32_t call = router.on_stream_event(kConn, e);
    if (call != UpstreamRouter::kNoCall) failed.push_back(call);
    router.on_lifecycle(kConn, e, now);
  }
  std::sort(failed.begin(), failed.end());
  EXPECT_EQ(failed, (std::vector<std::uint32_t>{5, 6}));
  EXPECT_EQ(router.open_calls(), 0u);
  EXPECT_EQ(router.registry().routes().snapshot()->instance_count(), 0u);
}

// A gone connection's entry in the call table serves the next connection: the calls, streams
// and instance state there are the new connection's alone.
TEST_F(RouterPair, AGoneConnectionsEntryServesTheNextWithoutItsCalls) {
  CallTable t;
  const auto old_state = std::make_shared<InstanceState>();
  const auto new_state = std::make_shared<InstanceState>();
  core::Request r;
  r.method = "GET";
  r.path = "/echo";
  std::uint32_t s1 = 0, s2 = 0, s3 = 0;
  ASSERT_EQ(t.start(1, gateway, r, true, now, 10, s1, [&] { return old_state; }), core::Errc::ok);
  ASSERT_EQ(t.start(1, gateway, r, true, now, 11, s2, [&] { return old_state; }), core::Errc::ok);
  EXPECT_EQ(old_state->in_flight(), 2u);
  t.forget_connection(1);
  EXPECT_EQ(old_state->in_flight(), 0u);
  EXPECT_EQ(t.open_calls(), 0u);
  ASSERT_EQ(t.start(2, gateway, r, true, now, 12, s3, [&] { return new_state; }), core::Errc::ok);
  EXPECT_EQ(new_state->in_flight(), 1u);
  EXPECT_EQ(old_state->in_flight(), 0u);
  EXPECT_FALSE(t.finish(1, s1));  // the gone connection's streams are gone
  EXPECT_FALSE(t.finish(2, s2));  // and not inherited
  EXPECT_TRUE(t.take_calls(1).empty());
  EXPECT_TRUE(t.finish(2, s3));
  EXPECT_EQ(new_state->in_flight(), 0u);
  EXPECT_EQ(t.open_calls(), 0u);
}

}  // namespace
}  // namespace stella::gw
