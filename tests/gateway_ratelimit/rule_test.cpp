// Bucket geometry (rule.hpp) and rule validation, at and beyond every limit.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <vector>

#include "stella/gateway/ratelimit/rule.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

TEST(RuleGeometry, ShortWindowsGetTenBucketsOrHundredMillisecondOnes) {
  EXPECT_EQ(bucket_count(10ms), 10u);
  EXPECT_EQ(bucket_width(10ms), 1ms);
  EXPECT_EQ(bucket_count(500ms), 10u);
  EXPECT_EQ(bucket_width(500ms), 50ms);
  EXPECT_EQ(bucket_count(1s), 10u);
  EXPECT_EQ(bucket_width(1s), 100ms);
  EXPECT_EQ(bucket_count(1500ms), 15u);
  EXPECT_EQ(bucket_width(1500ms), 100ms);
  EXPECT_EQ(bucket_count(10s), 100u);
  EXPECT_EQ(bucket_width(10s), 100ms);
}

TEST(RuleGeometry, LongWindowsGetSixtyBuckets) {
  EXPECT_EQ(bucket_count(10s + 1ns), 60u);
  EXPECT_EQ(bucket_count(60s), 60u);
  EXPECT_EQ(bucket_width(60s), 1s);
  EXPECT_EQ(bucket_count(24h), 60u);
  EXPECT_EQ(bucket_width(24h), 24min);
}

TEST(RuleGeometry, WidthIsRoundedUpSoTheWindowNeverShrinks) {
  // 1.05 s = 11 buckets of 95,454,545.45 ns: rounded up to ...46 ns.
  EXPECT_EQ(bucket_count(1050ms), 11u);
  EXPECT_EQ(bucket_width(1050ms), 95'454'546ns);
  EXPECT_GE(bucket_width(1050ms) * 11, 1050ms);
}

TEST(RuleGeometry, OutOfRangeWindowsAreClamped) {
  EXPECT_EQ(bucket_count(0ns), 10u);
  EXPECT_EQ(bucket_width(0ns), 1ms);
  EXPECT_EQ(bucket_width(48h), 24min);
}

RC_GTEST_PROP(RuleGeometry, EveryValidWindowKeepsTheDocumentedShape, ()) {
  const auto per = core::Duration(*rc::gen::inRange<std::int64_t>(
      core::Duration(kMinWindow).count(), core::Duration(kMaxWindow).count() + 1));
  const std::uint32_t b = bucket_count(per);
  const core::Duration w = bucket_width(per);
  RC_ASSERT(b >= 10u);
  RC_ASSERT(b <= 100u);
  RC_ASSERT(w * b >= per);
  RC_ASSERT(w * b - per < core::Duration(b));
  if (per <= kFineWindowLimit) {
    RC_ASSERT(w <= kMaxBucketWidth);
  } else {
    RC_ASSERT(b == kCoarseBuckets);
  }
}

TEST(RuleValidation, AcceptsTheSeedRulesAndEveryLimit) {
  const std::vector<Rule> seed{{100, 1s}, {1000, 60s}};
  EXPECT_EQ(validate_rules(seed), std::nullopt);
  const std::vector<Rule> limits{
      {1, kMinWindow}, {kMaxRequestsPerRule, kMaxWindow}, {1, 1s}, {1, 1s}};
  EXPECT_EQ(validate_rules(limits), std::nullopt);
}

TEST(RuleValidation, RefusesEachBadFieldByName) {
  EXPECT_EQ(validate_rules({}), "rules: at least one rule is needed");
  const std::vector<Rule> five(kMaxRules + 1, Rule{1, 1s});
  EXPECT_EQ(validate_rules(five), "rules: at most 4 rules, got 5");
  const std::vector<Rule> zero{{100, 1s}, {0, 1s}};
  EXPECT_EQ(validate_rules(zero), "rules[1].max_requests: must be in [1, 4294967295], got 0");
  const std::vector<Rule> huge{{kMaxRequestsPerRule + 1, 1s}};
  EXPECT_EQ(validate_rules(huge),
            "rules[0].max_requests: must be in [1, 4294967295], got 4294967296");
  const std::vector<Rule> too_short{{1, kMinWindow - 1ns}};
  EXPECT_EQ(validate_rules(too_short), "rules[0].per: must be between 10 ms and 24 h, got 9 ms");
  const std::vector<Rule> too_long{{1, kMaxWindow + 1ms}};
  EXPECT_EQ(validate_rules(too_long),
            "rules[0].per: must be between 10 ms and 24 h, got 86400001 ms");
}

}  // namespace
}  // namespace stella::gw::ratelimit
