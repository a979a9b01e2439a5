// SlidingWindow on a manual clock: admission up to the limit, the decision's fields, window
// edges to the nanosecond, rules composing, and times out of order or before the epoch.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "stella/gateway/ratelimit/sliding_window.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

const core::TimePoint kT0 = core::TimePoint(1000s);  // bucket-aligned for every width below

TEST(SlidingWindow, AdmitsTheLimitThenRefusesUntilTheBucketLeaves) {
  const SlidingWindow w({{3, 1s}});  // 10 buckets of 100 ms
  auto s = w.make_state(kT0);
  for (std::uint64_t i = 0; i < 3; ++i) {
    const Decision d = w.check(s, kT0 + 10ms);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.rule, 0u);
    EXPECT_EQ(d.limit, 3u);
    EXPECT_EQ(d.remaining, 2 - i);
    EXPECT_EQ(d.reset, 990ms);  // the bucket [t0, t0 + 100 ms) leaves at t0 + 1 s
    EXPECT_EQ(d.retry_after, 0ns);
  }
  const Decision refused = w.check(s, kT0 + 250ms);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.retry_after, 750ms);
  EXPECT_EQ(refused.reset, 750ms);
  EXPECT_EQ(w.count(s, 0, kT0 + 250ms), 3u);  // a refusal counts nowhere

  EXPECT_FALSE(w.check(s, kT0 + 1s - 1ns).allowed);
  const Decision again = w.check(s, kT0 + 1s);
  EXPECT_TRUE(again.allowed);
  EXPECT_EQ(again.remaining, 2u);
}

TEST(SlidingWindow, RequestsLeaveTheWindowBucketByBucket) {
  const SlidingWindow w({{4, 1s}});
  auto s = w.make_state(kT0);
  EXPECT_TRUE(w.check(s, kT0).allowed);          // bucket 0
  EXPECT_TRUE(w.check(s, kT0 + 300ms).allowed);  // bucket 3
  EXPECT_TRUE(w.check(s, kT0 + 300ms).allowed);  // bucket 3
  EXPECT_TRUE(w.check(s, kT0 + 950ms).allowed);  // bucket 9
  const Decision d = w.check(s, kT0 + 950ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 50ms);  // bucket 0 leaves at t0 + 1 s
  EXPECT_EQ(w.count(s, 0, kT0 + 1s), 3u);
  EXPECT_EQ(w.count(s, 0, kT0 + 1300ms), 1u);
  EXPECT_EQ(w.count(s, 0, kT0 + 1950ms), 0u);
  EXPECT_TRUE(w.check(s, kT0 + 1s).allowed);
  const Decision full = w.check(s, kT0 + 1s);
  EXPECT_FALSE(full.allowed);
  EXPECT_EQ(full.retry_after, 300ms);  // the two of bucket 3 leave at t0 + 1.3 s
}

TEST(SlidingWindow, RetryAfterLooksPastEmptyBuckets) {
  const SlidingWindow w({{2, 1s}});
  auto s = w.make_state(kT0);
  EXPECT_TRUE(w.check(s, kT0 + 200ms).allowed);
  EXPECT_TRUE(w.check(s, kT0 + 700ms).allowed);
  const Decision d = w.check(s, kT0 + 800ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 400ms);  // bucket 2 leaves at t0 + 1.2 s
  EXPECT_FALSE(w.check(s, kT0 + 1200ms - 1ns).allowed);
  EXPECT_TRUE(w.check(s, kT0 + 1200ms).allowed);
}

TEST(SlidingWindow, StrictestRuleDecidesAndAllMustAdmit) {
  const SlidingWindow w({{2, 1s}, {3, 10s}});
  auto s = w.make_state(kT0);
  Decision d = w.check(s, kT0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, 0u);  // 1 left of 2, against 2 left of 3
  EXPECT_EQ(d.remaining, 1u);
  d = w.check(s, kT0);
  EXPECT_EQ(d.rule, 0u);
  EXPECT_EQ(d.remaining, 0u);
  d = w.check(s, kT0 + 500ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, 0u);
  EXPECT_EQ(d.retry_after, 500ms);
  d = w.check(s, kT0 + 1s);  // rule 0 has room again; rule 1 takes its third
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, 1u);
  EXPECT_EQ(d.limit, 3u);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.reset, 9s);  // the first two leave rule 1's window at t0 + 10 s
  d = w.check(s, kT0 + 2s);
  EXPECT_FALSE(d.allowed);  // rule 0 would admit; rule 1 refuses
  EXPECT_EQ(d.rule, 1u);
  EXPECT_EQ(d.retry_after, 8s);
  EXPECT_EQ(w.count(s, 0, kT0 + 2s), 0u);
  EXPECT_TRUE(w.check(s, kT0 + 10s).allowed);
}

TEST(SlidingWindow, RefusalReportsTheRuleWithTheLongestWait) {
  const SlidingWindow w({{1, 1s}, {1, 10s}});
  auto s = w.make_state(kT0);
  EXPECT_TRUE(w.check(s, kT0).allowed);
  const Decision d = w.check(s, kT0 + 1ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, 1u);
  EXPECT_EQ(d.retry_after, 10s - 1ms);
}

TEST(SlidingWindow, EarlierNowCountsInTheNewestBucket) {
  const SlidingWindow w({{2, 1s}});
  auto s = w.make_state(kT0);
  EXPECT_TRUE(w.check(s, kT0 + 500ms).allowed);
  // Another worker read the clock a moment earlier: counted in bucket 5, not 4.
  EXPECT_TRUE(w.check(s, kT0 + 450ms).allowed);
  EXPECT_EQ(w.count(s, 0, kT0 + 1400ms), 2u);
  EXPECT_EQ(w.count(s, 0, kT0 + 1500ms), 0u);
  const Decision d = w.check(s, kT0 + 420ms);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 1080ms);  // still positive, measured from the caller's now
}

TEST(SlidingWindow, WorksBeforeTheClockEpoch) {
  const SlidingWindow w({{1, 1s}});
  auto s = w.make_state(core::TimePoint(-1s));
  EXPECT_TRUE(w.check(s, core::TimePoint(-50ms)).allowed);  // bucket -1
  const Decision d = w.check(s, core::TimePoint(-10ms));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 910ms);  // bucket -1 leaves when bucket 9 begins
  EXPECT_TRUE(w.check(s, core::TimePoint(900ms)).allowed);
}

TEST(SlidingWindow, ALongSilenceClearsEverything) {
  const SlidingWindow w({{2, 1s}, {5, 60s}});
  auto s = w.make_state(kT0);
  EXPECT_TRUE(w.check(s, kT0).allowed);
  EXPECT_TRUE(w.check(s, kT0).allowed);
  const Decision d = w.check(s, kT0 + 1h);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(w.count(s, 1, kT0 + 1h), 1u);
}

TEST(SlidingWindow, GeometryAndStateSize) {
  const SlidingWindow w({{100, 1s}, {1000, 60s}});
  EXPECT_EQ(w.buckets(0), 10u);
  EXPECT_EQ(w.width(0), 100ms);
  EXPECT_EQ(w.buckets(1), 60u);
  EXPECT_EQ(w.window(1), 60s);
  EXPECT_EQ(w.longest_window(), 60s);
  EXPECT_EQ(w.state_counters(), 70u);
  auto s = w.make_state(kT0);
  EXPECT_EQ(w.count(s, 2, kT0), 0u);  // out of range
}

TEST(SlidingWindow, InvalidRulesThrowAtConstruction) {
  EXPECT_THROW(SlidingWindow({}), std::invalid_argument);
  EXPECT_THROW(SlidingWindow({{0, 1s}}), std::invalid_argument);
}

TEST(SlidingWindow, LargestLimitCountsWithoutOverflow) {
  const SlidingWindow w({{kMaxRequestsPerRule, 10ms}});
  auto s = w.make_state(kT0);
  const Decision d = w.check(s, kT0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, kMaxRequestsPerRule - 1);
}

}  // namespace
}  // namespace stella::gw::ratelimit
