// What a rate-limit check answers, at either level (the in-process SlidingWindow and
// InstanceLimiter, or the Redis script through parse_redis_decision), and what the response
// header fields are made from (rate_limit_headers.hpp).
#pragma once

#include <cstdint>

#include "stella/core/clock.hpp"

namespace stella::gw::ratelimit {

/// The request was admitted (and counted in every rule) only if every rule admitted it. The
/// other fields describe one rule, the *deciding* rule:
///   - admitted: the most restrictive rule, the one with the fewest requests remaining (the
///     lowest index on a tie);
///   - refused: among the rules that refused, the one with the longest wait.
struct Decision {
  bool allowed = false;
  std::uint32_t rule = 0;       // index of the deciding rule in the limiter's rules
  std::uint64_t limit = 0;      // its max_requests
  std::uint64_t remaining = 0;  // what it still admits in its current window, after this request
  /// Until the oldest request the deciding rule counts leaves its window (capacity frees up).
  /// Positive whenever the rule counts anything, so always after an admission.
  core::Duration reset{};
  /// Refused: until a request would be admitted again (by every rule), assuming none is admitted
  /// meanwhile; never zero. Admitted: zero.
  core::Duration retry_after{};
  friend bool operator==(const Decision&, const Decision&) = default;
};

}  // namespace stella::gw::ratelimit
