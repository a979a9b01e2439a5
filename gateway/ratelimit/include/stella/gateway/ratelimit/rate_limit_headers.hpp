// Response header fields of rate limiting, as pure functions of a Decision (DESIGN.md §6):
//
//   - the seed's X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds until
//     the deciding rule frees capacity, rounded up: a delta, not a Unix time);
//   - Retry-After on a refusal: whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3 has
//     no fractions, and rounding down would send the client back too early);
//   - the IETF fields of draft-ietf-httpapi-ratelimit-headers-09 (March 2025), Structured
//     Field Lists (RFC 8941):
//       RateLimit-Policy: "r0";q=100;w=1, "r1";q=1000;w=60   (one item per rule: quota q over
//                                                            a window of w seconds)
//       RateLimit: "r0";r=99;t=1                            (the deciding rule: r remaining,
//                                                            t seconds until reset)
//     The draft has no fractional windows: w is the window rounded up to whole seconds, at
//     least 1. Policy names are "r<index>" unless the caller names the rules; a name is
//     written as an sf-string (`"` and `\` escaped, bytes outside printable ASCII as '?').
//     The draft is not final: when it changes, only this file follows.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/ratelimit/decision.hpp"
#include "stella/gateway/ratelimit/rule.hpp"

namespace stella::gw::ratelimit {

inline constexpr std::string_view kXRateLimitLimit = "X-RateLimit-Limit";
inline constexpr std::string_view kXRateLimitRemaining = "X-RateLimit-Remaining";
inline constexpr std::string_view kXRateLimitReset = "X-RateLimit-Reset";
inline constexpr std::string_view kRateLimitPolicy = "RateLimit-Policy";
inline constexpr std::string_view kRateLimit = "RateLimit";
inline constexpr std::string_view kRetryAfter = "Retry-After";

/// ceil(d / 1 s); 0 for d ≤ 0.
std::uint64_t seconds_rounded_up(core::Duration d) noexcept;

/// The Retry-After value: seconds_rounded_up, at least 1 ("1" for zero or negative).
std::string retry_after_value(core::Duration retry_after);

/// X-RateLimit-Reset's value: seconds_rounded_up(d.reset).
std::string x_ratelimit_reset_value(const Decision& d);

/// The name of rule `rule`, as written in the fields (without quotes or escapes): names[rule]
/// when present and non-empty, else "r<rule>".
std::string policy_name(std::size_t rule, std::span<const std::string> names = {});

/// RateLimit-Policy's value for a rule set. It does not change per request: compute it once
/// per configuration and pass it to rate_limit_fields.
std::string ratelimit_policy_value(std::span<const Rule> rules,
                                   std::span<const std::string> names = {});

/// RateLimit's value for the deciding rule of `d`.
std::string ratelimit_value(const Decision& d, std::span<const std::string> names = {});

struct HeaderField {
  std::string_view name;  // one of the constants above (static storage)
  std::string value;
  friend bool operator==(const HeaderField&, const HeaderField&) = default;
};

/// Every field for a response after `d`, in this order: X-RateLimit-Limit,
/// X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit-Policy (`policy`, from
/// ratelimit_policy_value; left out when empty), RateLimit, and Retry-After when refused.
std::vector<HeaderField> rate_limit_fields(const Decision& d, std::string_view policy,
                                           std::span<const std::string> names = {});

}  // namespace stella::gw::ratelimit
