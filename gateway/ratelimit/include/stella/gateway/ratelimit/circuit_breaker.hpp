// The circuit breaker in front of the environment level (Redis), sans-I/O: the caller asks
// before each Redis check, reports how it went, and logs the transitions it gets back. While
// the breaker denies, the caller fails open to the instance level (DESIGN.md §6; the seed's
// rate_limiting.for_environment.circuit_breaker).
//
// State machine (every input carries `now`; nothing runs by itself):
//   closed    --failure_threshold consecutive failures-->            open
//   open      --try_acquire at or after opened + open_timeout-->     half_open (grants the probe)
//   half_open --the probe reports success-->                         closed
//   half_open --the probe reports failure-->                         open (from the report)
//   half_open --no report within half_open_timeout of the grant-->   open (from that deadline)
// A success in closed resets the failure count. Closed grants every request; open grants none;
// half_open has exactly one request out (the probe) and grants nothing else.
//
// Reports are matched to permits: a report whose permit was not granted is ignored; one from a
// probe that is no longer the current probe (it timed out) is ignored; reports from requests
// granted while closed count only while the breaker is closed (a late failure must not reopen
// a breaker that is already open or probing).
//
// Timeouts are applied lazily, by the next call that carries a `now` past them; each call
// makes at most one transition (an overdue probe reopens the breaker; the next call may then
// start a new probe), so a caller logs at most one line per call.
//
// Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "stella/core/clock.hpp"

namespace stella::gw::ratelimit {

enum class BreakerState : std::uint8_t { closed, open, half_open };

/// "closed", "open", "half_open" (metrics labels, log lines); "unknown" for other values.
std::string_view breaker_state_name(BreakerState s) noexcept;

struct BreakerSettings {
  /// Consecutive failures that open the breaker (circuit_breaker.failure_threshold: 3); ≥ 1.
  std::uint32_t failure_threshold = 3;
  /// How long it stays open before a probe (circuit_breaker.timeout_seconds: 30); > 0.
  core::Duration open_timeout = std::chrono::seconds(30);
  /// How long the probe may take to report (circuit_breaker.half_open_timeout: 10); > 0.
  core::Duration half_open_timeout = std::chrono::seconds(10);
};

/// Returns a message naming the first bad field, or std::nullopt.
std::optional<std::string> validate(const BreakerSettings& s);

struct BreakerTransition {
  BreakerState from = BreakerState::closed;
  BreakerState to = BreakerState::closed;
  friend bool operator==(const BreakerTransition&, const BreakerTransition&) = default;
};

/// What try_acquire answers. Keep it to report the outcome with.
struct BreakerPermit {
  bool granted = false;
  /// Non-zero for the half-open probe: its reports decide the state.
  std::uint64_t probe = 0;
  /// The state change this call made, if any (log it).
  std::optional<BreakerTransition> transition;
  explicit operator bool() const noexcept { return granted; }
};

class CircuitBreaker {
 public:
  /// Throws std::invalid_argument with validate's message for invalid settings (startup).
  explicit CircuitBreaker(BreakerSettings settings);

  /// May the caller send one request to Redis at `now`? See the state machine above.
  BreakerPermit try_acquire(core::TimePoint now);
  /// The request `permit` allowed succeeded / failed (a failure includes the caller's own
  /// timeout). Returns the transition this report caused, if any.
  std::optional<BreakerTransition> record_success(const BreakerPermit& permit, core::TimePoint now);
  std::optional<BreakerTransition> record_failure(const BreakerPermit& permit, core::TimePoint now);

  /// The state as of the last call (timeouts not yet applied; see above).
  BreakerState state() const;
  /// Transitions so far (counter).
  std::uint64_t transitions() const;
  /// Consecutive failures counted while closed.
  std::uint32_t consecutive_failures() const;

 private:
  BreakerTransition move_to(BreakerState to, core::TimePoint at);
  // Reopens an overdue probe; the transition, if it did.
  std::optional<BreakerTransition> expire_probe(core::TimePoint now);

  const BreakerSettings s_;
  mutable std::mutex mu_;
  BreakerState state_ = BreakerState::closed;
  std::uint32_t failures_ = 0;
  core::TimePoint opened_at_{};      // open: since when
  core::TimePoint probe_started_{};  // half_open: when the probe was granted
  std::uint64_t probe_ = 0;          // the current probe's id (ids start at 1)
  std::uint64_t transitions_ = 0;
};

}  // namespace stella::gw::ratelimit
