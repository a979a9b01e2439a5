// Response header fields, as exact strings (rate_limit_headers.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "stella/gateway/ratelimit/rate_limit_headers.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

const std::vector<Rule> kSeedRules{{100, 1s}, {1000, 60s}};

TEST(RateLimitHeaders, SecondsAreRoundedUp) {
  EXPECT_EQ(seconds_rounded_up(-1s), 0u);
  EXPECT_EQ(seconds_rounded_up(0s), 0u);
  EXPECT_EQ(seconds_rounded_up(1ns), 1u);
  EXPECT_EQ(seconds_rounded_up(1s), 1u);
  EXPECT_EQ(seconds_rounded_up(1s + 1ns), 2u);
  EXPECT_EQ(seconds_rounded_up(59s + 999ms), 60u);
}

TEST(RateLimitHeaders, RetryAfterIsWholeSecondsAndAtLeastOne) {
  EXPECT_EQ(retry_after_value(1ns), "1");
  EXPECT_EQ(retry_after_value(0s), "1");
  EXPECT_EQ(retry_after_value(-5s), "1");
  EXPECT_EQ(retry_after_value(1s), "1");
  EXPECT_EQ(retry_after_value(1001ms), "2");
  EXPECT_EQ(retry_after_value(30s), "30");
}

TEST(RateLimitHeaders, PolicyListsEveryRule) {
  EXPECT_EQ(ratelimit_policy_value(kSeedRules), R"("r0";q=100;w=1, "r1";q=1000;w=60)");
  const std::vector<Rule> odd{{5, 500ms}, {7, 90500ms}};
  EXPECT_EQ(ratelimit_policy_value(odd), R"("r0";q=5;w=1, "r1";q=7;w=91)");
}

TEST(RateLimitHeaders, NamesAreUsedWhenGivenAndEscaped) {
  const std::vector<std::string> names{"burst", ""};
  EXPECT_EQ(ratelimit_policy_value(kSeedRules, names), R"("burst";q=100;w=1, "r1";q=1000;w=60)");
  const std::vector<std::string> odd{"a\"b\\c\x01\xC3\xA9"};
  EXPECT_EQ(policy_name(0, odd), "a\"b\\c\x01\xC3\xA9");
  const std::vector<Rule> one{{1, 1s}};
  EXPECT_EQ(ratelimit_policy_value(one, odd), R"("a\"b\\c???";q=1;w=1)");
  EXPECT_EQ(policy_name(3, names), "r3");
}

TEST(RateLimitHeaders, RateLimitDescribesTheDecidingRule) {
  Decision d{.allowed = true,
             .rule = 1,
             .limit = 1000,
             .remaining = 997,
             .reset = 59'400ms,
             .retry_after = 0s};
  EXPECT_EQ(ratelimit_value(d), R"("r1";r=997;t=60)");
  EXPECT_EQ(x_ratelimit_reset_value(d), "60");
}

TEST(RateLimitHeaders, AdmittedResponseFields) {
  const Decision d{
      .allowed = true, .rule = 0, .limit = 100, .remaining = 99, .reset = 1s, .retry_after = 0s};
  const std::string policy = ratelimit_policy_value(kSeedRules);
  const std::vector<HeaderField> want{
      {"X-RateLimit-Limit", "100"},
      {"X-RateLimit-Remaining", "99"},
      {"X-RateLimit-Reset", "1"},
      {"RateLimit-Policy", R"("r0";q=100;w=1, "r1";q=1000;w=60)"},
      {"RateLimit", R"("r0";r=99;t=1)"},
  };
  EXPECT_EQ(rate_limit_fields(d, policy), want);
}

TEST(RateLimitHeaders, RefusedResponseFieldsAddRetryAfter) {
  const Decision d{.allowed = false,
                   .rule = 0,
                   .limit = 100,
                   .remaining = 0,
                   .reset = 250ms,
                   .retry_after = 250ms};
  const std::vector<std::string> names{"per-second", "per-minute"};
  const std::vector<HeaderField> want{
      {"X-RateLimit-Limit", "100"}, {"X-RateLimit-Remaining", "0"},
      {"X-RateLimit-Reset", "1"},   {"RateLimit", R"("per-second";r=0;t=1)"},
      {"Retry-After", "1"},
  };
  EXPECT_EQ(rate_limit_fields(d, "", names), want);  // no policy given: left out
}

}  // namespace
}  // namespace stella::gw::ratelimit
