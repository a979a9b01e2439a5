// A rate-limit rule ("at most max_requests per `per`") and how its window is cut into buckets
// (DESIGN.md §6; the seed's rate_limiting.for_instance.rules / for_environment.rules).
//
// A rule counts requests in a sliding window of B buckets of width w; the window at `now` is
// the last B buckets, the current one included. B is chosen from `per`:
//   - per ≤ 10 s: B = max(10, ceil(per / 100 ms)). Buckets are ≤ 100 ms, so a client refused at
//     the limit waits at most 100 ms longer than an exact sliding log would make it; short
//     windows still get ten steps (500 ms → 10 × 50 ms, 1 s → 10 × 100 ms, 10 s → 100 × 100 ms);
//   - per > 10 s: B = 60 (60 s → 60 × 1 s, 1 h → 60 × 1 min). Why 60: 100 ms buckets would
//     cost 600 counters per key for a minute window; at 1/60 of the window the error stays
//     under 2 %, and the seed's two rules (100/1 s, 1000/60 s) cost 70 counters (280 bytes).
//   - w = ceil(per / B), so B × w ≥ per (longer by less than B nanoseconds): a window never
//     comes out shorter than configured.
//
// Guarantee: no B consecutive buckets (a bucket-aligned span of `per`) ever hold more than
// max_requests admitted requests. An arbitrary span of length `per` can hold max_requests plus
// what one bucket held (the usual price of bucketing; bounded in time by w).
//
// The environment level (Redis) uses the same B with whole milliseconds: bucket_ms =
// ceil(w in ms), window_ms = B × bucket_ms (redis_script.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "stella/core/clock.hpp"

namespace stella::gw::ratelimit {

struct Rule {
  std::uint64_t max_requests = 0;  // 1 .. kMaxRequestsPerRule
  core::Duration per{};            // kMinWindow .. kMaxWindow
  friend bool operator==(const Rule&, const Rule&) = default;
};

/// Rules one limiter (one key's state) may have. Why 4: the seed uses two; each rule costs a
/// fixed slot in every key's state.
inline constexpr std::size_t kMaxRules = 4;
/// Bucket counts are 32-bit, so a rule admits at most this many per window.
inline constexpr std::uint64_t kMaxRequestsPerRule = 0xFFFF'FFFFULL;
/// Shortest window: ten buckets of 1 ms (the environment level counts whole milliseconds).
inline constexpr core::Duration kMinWindow = std::chrono::milliseconds(10);
/// Longest window: one day (60 buckets of 24 min). Longer quotas are not a rate limit.
inline constexpr core::Duration kMaxWindow = std::chrono::hours(24);
/// Windows up to this length get buckets of at most kMaxBucketWidth.
inline constexpr core::Duration kFineWindowLimit = std::chrono::seconds(10);
inline constexpr core::Duration kMaxBucketWidth = std::chrono::milliseconds(100);
/// Bucket count of a window longer than kFineWindowLimit.
inline constexpr std::uint32_t kCoarseBuckets = 60;

/// B for a window of `per` (see the header comment). `per` outside [kMinWindow, kMaxWindow] is
/// clamped into it first, so the result is always in [10, 100].
std::uint32_t bucket_count(core::Duration per) noexcept;
/// w = ceil(per / B), with `per` clamped as in bucket_count.
core::Duration bucket_width(core::Duration per) noexcept;

/// Checks a limiter's rules; returns a message naming the first bad rule ("rules[1].per: ..."),
/// or std::nullopt. Rules: 1 to kMaxRules rules; max_requests in [1, kMaxRequestsPerRule];
/// per in [kMinWindow, kMaxWindow].
std::optional<std::string> validate_rules(std::span<const Rule> rules);

}  // namespace stella::gw::ratelimit
