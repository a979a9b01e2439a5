#include "stella/gateway/health_tracker.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <optional>

namespace stella::gw {
namespace {

using namespace std::chrono_literals;
using core::HealthStatus;
using core::TimePoint;

const TimePoint t0{};
TimePoint at(core::Duration d) {
  return t0 + d;
}

HealthTransition tr(HealthStatus from, HealthStatus to, HealthReason why) {
  return HealthTransition{from, to, why};
}

// Settings that isolate the missed-beat rule from the silence timeout.
HealthSettings no_timeout() {
  HealthSettings s;
  s.heartbeat_timeout = 24h;
  return s;
}

TEST(HealthTracker, StartsHealthyWithRegistrationAsLastHeartbeat) {
  HealthTracker h({}, at(5s));
  EXPECT_EQ(h.status(), HealthStatus::healthy);
  EXPECT_EQ(h.last_heartbeat(), at(5s));
  EXPECT_EQ(h.average_ping(), core::Duration::zero());
  EXPECT_EQ(h.next_heartbeat_at(), at(15s));
  EXPECT_EQ(h.silence_deadline(), at(35s));
  EXPECT_EQ(h.next_deadline(), at(15s));
  EXPECT_FALSE(h.draining());
}

TEST(HealthTracker, InitialStatusIsASetting) {
  HealthSettings s;
  s.initial_status = HealthStatus::unhealthy;
  HealthTracker h(s, t0);
  EXPECT_EQ(h.status(), HealthStatus::unhealthy);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(1s)),
            tr(HealthStatus::unhealthy, HealthStatus::healthy, HealthReason::reported));
}

TEST(HealthTracker, UnhealthyAfterThresholdMissedBeatsNotBefore) {
  HealthTracker h(no_timeout(), t0);
  EXPECT_EQ(h.on_heartbeat_sent(at(10s)), std::nullopt);  // first beat: nothing outstanding
  EXPECT_EQ(h.on_heartbeat_sent(at(20s)), std::nullopt);  // miss 1
  EXPECT_EQ(h.on_heartbeat_sent(at(30s)), std::nullopt);  // miss 2 = threshold - 1
  EXPECT_EQ(h.consecutive_missed(), 2u);
  EXPECT_EQ(h.status(), HealthStatus::healthy);
  EXPECT_EQ(h.on_heartbeat_sent(at(40s)),  // miss 3 = threshold
            tr(HealthStatus::healthy, HealthStatus::unhealthy, HealthReason::missed_heartbeats));
  EXPECT_EQ(h.on_heartbeat_sent(at(50s)), std::nullopt);  // already Unhealthy: no new transition
}

TEST(HealthTracker, AnAckResetsTheMissCount) {
  HealthTracker h(no_timeout(), t0);
  h.on_heartbeat_sent(at(10s));
  h.on_heartbeat_sent(at(20s));
  h.on_heartbeat_sent(at(30s));
  EXPECT_EQ(h.consecutive_missed(), 2u);
  h.on_heartbeat_ack(5ms, HealthStatus::healthy, 0, at(31s));
  EXPECT_EQ(h.consecutive_missed(), 0u);
  h.on_heartbeat_sent(at(40s));
  h.on_heartbeat_sent(at(50s));
  h.on_heartbeat_sent(at(60s));
  EXPECT_EQ(h.status(), HealthStatus::healthy);
}

TEST(HealthTracker, AckedBeatsAreNeverMissed) {
  HealthTracker h(no_timeout(), t0);
  for (int i = 1; i <= 20; ++i) {
    EXPECT_EQ(h.on_heartbeat_sent(at(i * 10s)), std::nullopt);
    EXPECT_EQ(h.on_heartbeat_ack(2ms, HealthStatus::healthy, 0, at(i * 10s + 2ms)), std::nullopt);
  }
  EXPECT_EQ(h.consecutive_missed(), 0u);
}

TEST(HealthTracker, SilenceTimeoutAtTheDeadlineNotBefore) {
  HealthTracker h({}, t0);
  EXPECT_EQ(h.on_tick(at(30s) - 1ns), std::nullopt);
  EXPECT_EQ(h.on_tick(at(30s)),
            tr(HealthStatus::healthy, HealthStatus::unhealthy, HealthReason::heartbeat_timeout));
  EXPECT_EQ(h.on_tick(at(40s)), std::nullopt);
}

TEST(HealthTracker, SilenceCountsFromTheLastAck) {
  HealthTracker h({}, t0);
  h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(25s));
  EXPECT_EQ(h.silence_deadline(), at(55s));
  EXPECT_EQ(h.on_tick(at(54s)), std::nullopt);
  EXPECT_EQ(h.on_tick(at(55s))->reason, HealthReason::heartbeat_timeout);
}

TEST(HealthTracker, RecoveryNeedsHealthyThresholdConsecutiveAcks) {
  HealthTracker h({}, t0);
  h.on_tick(at(30s));
  ASSERT_EQ(h.status(), HealthStatus::unhealthy);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(31s)), std::nullopt);  // 1 of 2
  EXPECT_EQ(h.status(), HealthStatus::unhealthy);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(41s)),
            tr(HealthStatus::unhealthy, HealthStatus::healthy, HealthReason::recovered));
}

TEST(HealthTracker, AMissedBeatRestartsTheRecoveryCount) {
  HealthTracker h(no_timeout(), t0);
  for (int i = 1; i <= 4; ++i)
    h.on_heartbeat_sent(at(i * 10s));
  ASSERT_EQ(h.status(), HealthStatus::unhealthy);
  h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(41s));  // streak 1
  h.on_heartbeat_sent(at(50s));                                // answered: no miss
  h.on_heartbeat_sent(at(60s));                                // miss: streak back to 0
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(61s)), std::nullopt);
  EXPECT_EQ(h.status(), HealthStatus::unhealthy);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(62s))->to, HealthStatus::healthy);
}

TEST(HealthTracker, HealthyThresholdOneRecoversOnTheFirstAck) {
  HealthSettings s;
  s.healthy_threshold = 1;
  HealthTracker h(s, t0);
  h.on_tick(at(30s));
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(31s))->reason,
            HealthReason::recovered);
}

TEST(HealthTracker, RecoveryLandsOnTheReportedStatus) {
  HealthTracker h({}, t0);
  h.on_tick(at(30s));
  h.on_heartbeat_ack(1ms, HealthStatus::degraded, 0, at(31s));
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::degraded, 0, at(32s)),
            tr(HealthStatus::unhealthy, HealthStatus::degraded, HealthReason::recovered));
}

TEST(HealthTracker, ReportedStatusIsHonouredAtOnce) {
  HealthTracker h({}, t0);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::degraded, 0, at(1s)),
            tr(HealthStatus::healthy, HealthStatus::degraded, HealthReason::reported));
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::unhealthy, 0, at(2s)),
            tr(HealthStatus::degraded, HealthStatus::unhealthy, HealthReason::reported));
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(3s)),
            tr(HealthStatus::unhealthy, HealthStatus::healthy, HealthReason::reported));
  EXPECT_EQ(h.reported_status(), HealthStatus::healthy);
}

TEST(HealthTracker, UnknownReportedStatusCountsAsHealthy) {
  HealthTracker h({}, t0);
  h.on_heartbeat_ack(1ms, HealthStatus::degraded, 0, at(1s));
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::unknown, 0, at(2s))->to, HealthStatus::healthy);
}

TEST(HealthTracker, DrainIsSticky) {
  HealthTracker h({}, t0);
  EXPECT_EQ(h.on_drain(), tr(HealthStatus::healthy, HealthStatus::draining, HealthReason::drain));
  EXPECT_EQ(h.on_drain(), std::nullopt);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(1s)), std::nullopt);
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(h.on_heartbeat_sent(at(i * 10s)), std::nullopt);
  EXPECT_EQ(h.on_tick(at(1h)), std::nullopt);
  EXPECT_EQ(h.status(), HealthStatus::draining);
}

TEST(HealthTracker, ReportedDrainingIsSticky) {
  HealthTracker h({}, t0);
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::draining, 0, at(1s)),
            tr(HealthStatus::healthy, HealthStatus::draining, HealthReason::reported));
  EXPECT_EQ(h.on_heartbeat_ack(1ms, HealthStatus::healthy, 0, at(2s)), std::nullopt);
  EXPECT_TRUE(h.draining());
}

TEST(HealthTracker, PingIsAnEwmaSeededByTheFirstSample) {
  HealthTracker h({}, t0);
  h.on_heartbeat_ack(10ms, HealthStatus::healthy, 0, at(1s));
  EXPECT_EQ(h.average_ping(), 10ms);
  h.on_heartbeat_ack(20ms, HealthStatus::healthy, 0, at(2s));
  EXPECT_NEAR(h.average_ping_ms(), 13.0, 1e-9);                // 0.3 * 20 + 0.7 * 10
  h.on_heartbeat_ack(-5ms, HealthStatus::healthy, 0, at(3s));  // clamped to 0
  EXPECT_NEAR(h.average_ping_ms(), 9.1, 1e-9);                 // 0.7 * 13
}

TEST(HealthTracker, AlphaIsASetting) {
  HealthSettings s;
  s.ping_ewma_alpha = 1.0;  // last sample only
  HealthTracker h(s, t0);
  h.on_heartbeat_ack(10ms, HealthStatus::healthy, 0, at(1s));
  h.on_heartbeat_ack(30ms, HealthStatus::healthy, 0, at(2s));
  EXPECT_EQ(h.average_ping(), 30ms);
}

TEST(HealthTracker, AckRecordsLastHeartbeatAndInFlight) {
  HealthTracker h({}, t0);
  h.on_heartbeat_sent(at(10s));
  h.on_heartbeat_ack(3ms, HealthStatus::healthy, 42, at(10s + 3ms));
  EXPECT_EQ(h.last_heartbeat(), at(10s + 3ms));
  EXPECT_EQ(h.reported_in_flight(), 42u);
  EXPECT_EQ(h.next_heartbeat_at(), at(20s));
  EXPECT_EQ(h.silence_deadline(), at(40s + 3ms));
}

TEST(HealthTracker, PublishCopiesIntoInstanceState) {
  HealthTracker h({}, t0);
  InstanceState st;
  h.on_heartbeat_ack(7ms, HealthStatus::degraded, 0, at(4s));
  publish(h, st);
  EXPECT_EQ(st.health(), HealthStatus::degraded);
  EXPECT_EQ(st.average_ping(), 7ms);
  EXPECT_EQ(st.last_heartbeat(), at(4s));
}

TEST(HealthTracker, ValidateNamesTheBadKey) {
  EXPECT_EQ(validate(HealthSettings{}), std::nullopt);
  HealthSettings s;
  s.heartbeat_timeout = 5s;  // < interval
  EXPECT_NE(validate(s)->find("heartbeatTimeoutSeconds"), std::string::npos);
  s = {};
  s.unhealthy_threshold = 0;
  EXPECT_NE(validate(s)->find("unhealthyThreshold"), std::string::npos);
  s = {};
  s.ping_ewma_alpha = 0;
  EXPECT_NE(validate(s)->find("pingEwmaAlpha"), std::string::npos);
  s = {};
  s.initial_status = HealthStatus::draining;
  EXPECT_NE(validate(s)->find("initialStatus"), std::string::npos);
}

TEST(HealthTracker, Names) {
  EXPECT_EQ(health_reason_name(HealthReason::missed_heartbeats), "missed_heartbeats");
  EXPECT_EQ(health_reason_name(HealthReason::heartbeat_timeout), "heartbeat_timeout");
  EXPECT_EQ(health_status_name(HealthStatus::draining), "draining");
}

// Random event sequences: transitions are reported exactly when the status changes, Draining
// never ends, the status is never Unknown, and threshold misses always mean not routable.
RC_GTEST_PROP(HealthTrackerProp, TransitionsAreExactAndDrainingIsSticky, ()) {
  HealthSettings s;
  s.unhealthy_threshold = *rc::gen::inRange<std::uint32_t>(1, 5);
  s.healthy_threshold = *rc::gen::inRange<std::uint32_t>(1, 4);
  HealthTracker h(s, t0);
  TimePoint now = t0;
  bool drained = false;
  const auto steps = *rc::gen::inRange(1, 80);
  for (int i = 0; i < steps; ++i) {
    now += std::chrono::milliseconds(*rc::gen::inRange(0, 20'000));
    const HealthStatus before = h.status();
    std::optional<HealthTransition> t;
    switch (*rc::gen::inRange(0, 10)) {
      case 0:
      case 1:
      case 2:
        t = h.on_heartbeat_sent(now);
        break;
      case 3:
      case 4:
      case 5: {
        const auto st =
            *rc::gen::element(HealthStatus::unknown, HealthStatus::healthy, HealthStatus::degraded,
                              HealthStatus::unhealthy, HealthStatus::draining);
        drained = drained || st == HealthStatus::draining;
        t = h.on_heartbeat_ack(std::chrono::milliseconds(*rc::gen::inRange(0, 500)), st, 0, now);
        break;
      }
      case 6:
      case 7:
      case 8:
        t = h.on_tick(now);
        break;
      default:
        if (*rc::gen::inRange(0, 8) == 0) {
          drained = true;
          t = h.on_drain();
        }
        break;
    }
    const HealthStatus after = h.status();
    RC_ASSERT(after != HealthStatus::unknown);
    if (before == after) {
      RC_ASSERT(!t.has_value());
    } else {
      RC_ASSERT(t.has_value());
      RC_ASSERT(t->from == before);
      RC_ASSERT(t->to == after);
    }
    if (drained) RC_ASSERT(after == HealthStatus::draining);
    if (h.consecutive_missed() >= s.unhealthy_threshold) {
      RC_ASSERT(after == HealthStatus::unhealthy || after == HealthStatus::draining);
    }
  }
}

}  // namespace
}  // namespace stella::gw
