// ActivationGate: the threshold at and past its value, the 5-minute window sliding second by
// second, times out of order, and counting from several threads.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "stella/gateway/ratelimit/activation_gate.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

const core::TimePoint kT0 = core::TimePoint(10'000s);

TEST(ActivationGate, ZeroThresholdIsAlwaysActive) {
  ActivationGate g(0);
  EXPECT_TRUE(g.active(kT0));
  EXPECT_TRUE(g.record(kT0));
  EXPECT_EQ(g.count(kT0), 1u);
}

TEST(ActivationGate, ActiveOnlyAboveTheThreshold) {
  ActivationGate g(3);
  EXPECT_FALSE(g.active(kT0));
  EXPECT_FALSE(g.record(kT0));
  EXPECT_FALSE(g.record(kT0 + 1s));
  EXPECT_FALSE(g.record(kT0 + 2s));  // 3: at the threshold, not above
  EXPECT_FALSE(g.active(kT0 + 2s));
  EXPECT_TRUE(g.record(kT0 + 3s));  // 4
  EXPECT_TRUE(g.active(kT0 + 3s));
  EXPECT_EQ(g.count(kT0 + 3s), 4u);
  EXPECT_EQ(g.threshold(), 3u);
}

TEST(ActivationGate, RequestsLeaveAfterFiveMinutesSecondBySecond) {
  ActivationGate g(2);
  g.record(kT0);                              // second 0
  g.record(kT0 + 500ms);                      // second 0
  EXPECT_TRUE(g.record(kT0 + 10s));           // second 10: three in the window
  EXPECT_TRUE(g.active(kT0 + 299s + 999ms));  // seconds 0..299: all three
  EXPECT_EQ(g.count(kT0 + 300s), 1u);         // second 0 left
  EXPECT_FALSE(g.active(kT0 + 300s));
  EXPECT_EQ(g.count(kT0 + 310s), 0u);
  EXPECT_FALSE(g.record(kT0 + 310s));
}

TEST(ActivationGate, EarlierNowCountsInTheNewestSecond) {
  ActivationGate g(1);
  g.record(kT0 + 5s);
  EXPECT_TRUE(g.record(kT0 + 4s));  // counted in second 5
  EXPECT_EQ(g.count(kT0 + 304s), 2u);
  EXPECT_EQ(g.count(kT0 + 305s), 0u);
}

TEST(ActivationGate, ALongSilenceEmptiesTheWindow) {
  ActivationGate g(1);
  for (int i = 0; i < 10; ++i)
    g.record(kT0);
  EXPECT_TRUE(g.active(kT0));
  EXPECT_FALSE(g.record(kT0 + 24h));
  EXPECT_EQ(g.count(kT0 + 24h), 1u);
}

TEST(ActivationGate, CountsEveryRequestFromEveryThread) {
  ActivationGate g(1'000'000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&g] {
      for (int i = 0; i < 10'000; ++i)
        g.record(kT0 + std::chrono::milliseconds(i % 1000));
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(g.count(kT0 + 1s), 40'000u);
  EXPECT_FALSE(g.active(kT0 + 1s));
}

}  // namespace
}  // namespace stella::gw::ratelimit
