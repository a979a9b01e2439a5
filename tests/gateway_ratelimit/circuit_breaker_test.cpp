// CircuitBreaker on a manual clock: every transition of the state machine, the single
// half-open probe (also under threads), the probe's timeout, and reports that must not count.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "stella/gateway/ratelimit/circuit_breaker.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;
using S = BreakerState;

const core::TimePoint kT0 = core::TimePoint(100s);

BreakerSettings seed_settings() {
  return {.failure_threshold = 3, .open_timeout = 30s, .half_open_timeout = 10s};
}

// Opens a closed breaker at `at` with threshold failures.
void open_it(CircuitBreaker& b, core::TimePoint at) {
  for (std::uint32_t i = 0; i < 3; ++i) {
    const auto p = b.try_acquire(at);
    ASSERT_TRUE(p.granted);
    b.record_failure(p, at);
  }
  ASSERT_EQ(b.state(), S::open);
}

TEST(CircuitBreaker, StateNames) {
  EXPECT_EQ(breaker_state_name(S::closed), "closed");
  EXPECT_EQ(breaker_state_name(S::open), "open");
  EXPECT_EQ(breaker_state_name(S::half_open), "half_open");
  EXPECT_EQ(breaker_state_name(static_cast<S>(7)), "unknown");
}

TEST(CircuitBreaker, ClosedGrantsAndOpensAtTheThresholdOfConsecutiveFailures) {
  CircuitBreaker b(seed_settings());
  auto p = b.try_acquire(kT0);
  EXPECT_TRUE(p.granted);
  EXPECT_EQ(p.probe, 0u);
  EXPECT_FALSE(p.transition);
  EXPECT_EQ(b.record_failure(p, kT0), std::nullopt);
  EXPECT_EQ(b.record_failure(b.try_acquire(kT0), kT0), std::nullopt);
  EXPECT_EQ(b.consecutive_failures(), 2u);
  EXPECT_EQ(b.record_success(b.try_acquire(kT0), kT0), std::nullopt);  // resets the count
  EXPECT_EQ(b.consecutive_failures(), 0u);
  EXPECT_EQ(b.record_failure(b.try_acquire(kT0), kT0), std::nullopt);
  EXPECT_EQ(b.record_failure(b.try_acquire(kT0), kT0), std::nullopt);
  EXPECT_EQ(b.state(), S::closed);
  const auto opened = b.record_failure(b.try_acquire(kT0 + 1s), kT0 + 1s);
  EXPECT_EQ(opened, (BreakerTransition{S::closed, S::open}));
  EXPECT_EQ(b.state(), S::open);
  EXPECT_EQ(b.transitions(), 1u);
}

TEST(CircuitBreaker, OpenDeniesUntilTheTimeoutThenGrantsOneProbe) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  auto denied = b.try_acquire(kT0 + 30s - 1ns);
  EXPECT_FALSE(denied.granted);
  EXPECT_FALSE(denied.transition);
  const auto probe = b.try_acquire(kT0 + 30s);
  EXPECT_TRUE(probe.granted);
  EXPECT_NE(probe.probe, 0u);
  EXPECT_EQ(probe.transition, (BreakerTransition{S::open, S::half_open}));
  EXPECT_EQ(b.state(), S::half_open);
  for (int i = 0; i < 5; ++i) {
    const auto other = b.try_acquire(kT0 + 31s);
    EXPECT_FALSE(other.granted);
    EXPECT_FALSE(other.transition);
  }
  EXPECT_EQ(b.transitions(), 2u);
}

TEST(CircuitBreaker, ProbeSuccessCloses) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  const auto probe = b.try_acquire(kT0 + 30s);
  EXPECT_EQ(b.record_success(probe, kT0 + 31s), (BreakerTransition{S::half_open, S::closed}));
  EXPECT_EQ(b.state(), S::closed);
  EXPECT_EQ(b.consecutive_failures(), 0u);
  EXPECT_TRUE(b.try_acquire(kT0 + 31s).granted);
  EXPECT_EQ(b.transitions(), 3u);
  // The probe's report again changes nothing.
  EXPECT_EQ(b.record_failure(probe, kT0 + 32s), std::nullopt);
  EXPECT_EQ(b.consecutive_failures(), 0u);
}

TEST(CircuitBreaker, ProbeFailureReopensFromTheReport) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  const auto probe = b.try_acquire(kT0 + 30s);
  EXPECT_EQ(b.record_failure(probe, kT0 + 32s), (BreakerTransition{S::half_open, S::open}));
  EXPECT_FALSE(b.try_acquire(kT0 + 62s - 1ns).granted);
  const auto next = b.try_acquire(kT0 + 62s);
  EXPECT_TRUE(next.granted);
  EXPECT_NE(next.probe, probe.probe);
  EXPECT_EQ(next.transition, (BreakerTransition{S::open, S::half_open}));
}

TEST(CircuitBreaker, SilentProbeReopensAtItsDeadline) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  const auto probe = b.try_acquire(kT0 + 30s);
  EXPECT_FALSE(b.try_acquire(kT0 + 40s - 1ns).transition);  // still waiting for the probe
  const auto late = b.try_acquire(kT0 + 40s);               // half_open_timeout after the grant
  EXPECT_FALSE(late.granted);
  EXPECT_EQ(late.transition, (BreakerTransition{S::half_open, S::open}));
  EXPECT_EQ(b.state(), S::open);
  // Open again from the deadline (t0 + 40 s), for open_timeout.
  EXPECT_FALSE(b.try_acquire(kT0 + 70s - 1ns).granted);
  // The timed-out probe's report no longer counts, success or failure.
  EXPECT_EQ(b.record_success(probe, kT0 + 50s), std::nullopt);
  EXPECT_EQ(b.state(), S::open);
  const auto next = b.try_acquire(kT0 + 70s);
  EXPECT_TRUE(next.granted);
  EXPECT_EQ(b.record_failure(probe, kT0 + 71s), std::nullopt);  // not the current probe
  EXPECT_EQ(b.state(), S::half_open);
  EXPECT_EQ(b.record_success(next, kT0 + 71s), (BreakerTransition{S::half_open, S::closed}));
}

TEST(CircuitBreaker, ALateProbeSuccessCountsAsATimeout) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  const auto probe = b.try_acquire(kT0 + 30s);
  EXPECT_EQ(b.record_success(probe, kT0 + 40s), (BreakerTransition{S::half_open, S::open}));
  EXPECT_FALSE(b.try_acquire(kT0 + 70s - 1ns).granted);  // open from the deadline
  EXPECT_TRUE(b.try_acquire(kT0 + 70s).granted);
}

TEST(CircuitBreaker, AnOverdueProbeAndANewOneAreTwoCalls) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  b.try_acquire(kT0 + 30s);
  // Long after both timeouts: this call reopens (one transition) ...
  const auto first = b.try_acquire(kT0 + 1h);
  EXPECT_FALSE(first.granted);
  EXPECT_EQ(first.transition, (BreakerTransition{S::half_open, S::open}));
  // ... and the next one probes.
  const auto second = b.try_acquire(kT0 + 1h);
  EXPECT_TRUE(second.granted);
  EXPECT_EQ(second.transition, (BreakerTransition{S::open, S::half_open}));
}

TEST(CircuitBreaker, ReportsOfRequestsGrantedWhileClosedDoNotCountLater) {
  CircuitBreaker b(seed_settings());
  const auto early = b.try_acquire(kT0);  // in flight while the breaker opens
  open_it(b, kT0);
  EXPECT_EQ(b.record_failure(early, kT0 + 1s), std::nullopt);
  EXPECT_EQ(b.record_success(early, kT0 + 1s), std::nullopt);
  EXPECT_EQ(b.state(), S::open);
  const auto probe = b.try_acquire(kT0 + 30s);
  EXPECT_EQ(b.record_success(early, kT0 + 31s), std::nullopt);  // not the probe
  EXPECT_EQ(b.record_failure(early, kT0 + 31s), std::nullopt);
  EXPECT_EQ(b.state(), S::half_open);
  EXPECT_TRUE(b.record_success(probe, kT0 + 31s));
}

TEST(CircuitBreaker, DeniedPermitsReportNothing) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  const auto denied = b.try_acquire(kT0 + 1s);
  EXPECT_EQ(b.record_success(denied, kT0 + 1s), std::nullopt);
  EXPECT_EQ(b.state(), S::open);
}

TEST(CircuitBreaker, ThresholdOfOneOpensAtTheFirstFailure) {
  CircuitBreaker b({.failure_threshold = 1, .open_timeout = 1s, .half_open_timeout = 1s});
  EXPECT_EQ(b.record_failure(b.try_acquire(kT0), kT0), (BreakerTransition{S::closed, S::open}));
}

TEST(CircuitBreaker, OnlyOneThreadGetsTheProbe) {
  CircuitBreaker b(seed_settings());
  open_it(b, kT0);
  std::atomic<int> granted{0};
  std::atomic<int> transitions{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        const auto p = b.try_acquire(kT0 + 35s);
        if (p.granted) ++granted;
        if (p.transition) ++transitions;
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(granted.load(), 1);
  EXPECT_EQ(transitions.load(), 1);
}

TEST(CircuitBreaker, SettingsAreValidated) {
  EXPECT_EQ(validate(seed_settings()), std::nullopt);
  auto s = seed_settings();
  s.failure_threshold = 0;
  EXPECT_EQ(validate(s), "failure_threshold: must be at least 1");
  EXPECT_THROW(CircuitBreaker{s}, std::invalid_argument);
  s = seed_settings();
  s.open_timeout = 0s;
  EXPECT_EQ(validate(s), "open_timeout: must be positive");
  s = seed_settings();
  s.half_open_timeout = -1s;
  EXPECT_EQ(validate(s), "half_open_timeout: must be positive");
}

}  // namespace
}  // namespace stella::gw::ratelimit
