#include "stella/gateway/ratelimit/rule.hpp"

#include <algorithm>

namespace stella::gw::ratelimit {

namespace {

core::Duration clamp_window(core::Duration per) noexcept {
  return std::clamp(per, kMinWindow, kMaxWindow);
}

// ceil(a / b) for positive durations.
std::int64_t ceil_div(core::Duration a, core::Duration b) noexcept {
  return (a + b - core::Duration(1)) / b;
}

}  // namespace

std::uint32_t bucket_count(core::Duration per) noexcept {
  per = clamp_window(per);
  if (per > kFineWindowLimit) return kCoarseBuckets;
  return static_cast<std::uint32_t>(std::max<std::int64_t>(10, ceil_div(per, kMaxBucketWidth)));
}

core::Duration bucket_width(core::Duration per) noexcept {
  per = clamp_window(per);
  return core::Duration(ceil_div(per, core::Duration(bucket_count(per))));
}

std::optional<std::string> validate_rules(std::span<const Rule> rules) {
  if (rules.empty()) return "rules: at least one rule is needed";
  if (rules.size() > kMaxRules)
    return "rules: at most " + std::to_string(kMaxRules) + " rules, got " +
           std::to_string(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string at = "rules[" + std::to_string(i) + "]";
    if (rules[i].max_requests < 1 || rules[i].max_requests > kMaxRequestsPerRule)
      return at + ".max_requests: must be in [1, " + std::to_string(kMaxRequestsPerRule) +
             "], got " + std::to_string(rules[i].max_requests);
    if (rules[i].per < kMinWindow || rules[i].per > kMaxWindow)
      return at + ".per: must be between 10 ms and 24 h, got " +
             std::to_string(
                 std::chrono::duration_cast<std::chrono::milliseconds>(rules[i].per).count()) +
             " ms";
  }
  return std::nullopt;
}

}  // namespace stella::gw::ratelimit
