#include "stella/gateway/ratelimit/circuit_breaker.hpp"

#include <stdexcept>

namespace stella::gw::ratelimit {

std::string_view breaker_state_name(BreakerState s) noexcept {
  switch (s) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "unknown";
}

std::optional<std::string> validate(const BreakerSettings& s) {
  if (s.failure_threshold < 1) return "failure_threshold: must be at least 1";
  if (s.open_timeout <= core::Duration::zero()) return "open_timeout: must be positive";
  if (s.half_open_timeout <= core::Duration::zero()) return "half_open_timeout: must be positive";
  return std::nullopt;
}

namespace {
BreakerSettings validated(const BreakerSettings& s) {
  if (auto error = validate(s)) throw std::invalid_argument(*error);
  return s;
}
}  // namespace

CircuitBreaker::CircuitBreaker(BreakerSettings settings) : s_(validated(settings)) {}

BreakerTransition CircuitBreaker::move_to(BreakerState to, core::TimePoint at) {
  const BreakerTransition t{state_, to};
  state_ = to;
  ++transitions_;
  failures_ = 0;
  if (to == BreakerState::open) opened_at_ = at;
  if (to == BreakerState::half_open) probe_started_ = at;
  return t;
}

std::optional<BreakerTransition> CircuitBreaker::expire_probe(core::TimePoint now) {
  const core::TimePoint deadline = probe_started_ + s_.half_open_timeout;
  if (state_ != BreakerState::half_open || now < deadline) return std::nullopt;
  return move_to(BreakerState::open, deadline);
}

BreakerPermit CircuitBreaker::try_acquire(core::TimePoint now) {
  std::lock_guard lock(mu_);
  BreakerPermit p;
  switch (state_) {
    case BreakerState::closed:
      p.granted = true;
      break;
    case BreakerState::open:
      if (now - opened_at_ >= s_.open_timeout) {
        p.transition = move_to(BreakerState::half_open, now);
        p.granted = true;
        p.probe = ++probe_;
      }
      break;
    case BreakerState::half_open:
      p.transition = expire_probe(now);
      break;
  }
  return p;
}

std::optional<BreakerTransition> CircuitBreaker::record_success(const BreakerPermit& permit,
                                                                core::TimePoint now) {
  std::lock_guard lock(mu_);
  if (!permit.granted) return std::nullopt;
  if (state_ == BreakerState::closed) {
    if (permit.probe == 0) failures_ = 0;
    return std::nullopt;
  }
  if (state_ != BreakerState::half_open || permit.probe != probe_) return std::nullopt;
  if (auto overdue = expire_probe(now)) return overdue;  // too late: counts as a failure
  return move_to(BreakerState::closed, now);
}

std::optional<BreakerTransition> CircuitBreaker::record_failure(const BreakerPermit& permit,
                                                                core::TimePoint now) {
  std::lock_guard lock(mu_);
  if (!permit.granted) return std::nullopt;
  if (state_ == BreakerState::closed) {
    if (permit.probe != 0) return std::nullopt;  // a stale probe's report
    if (++failures_ >= s_.failure_threshold) return move_to(BreakerState::open, now);
    return std::nullopt;
  }
  if (state_ != BreakerState::half_open || permit.probe != probe_) return std::nullopt;
  if (auto overdue = expire_probe(now)) return overdue;
  return move_to(BreakerState::open, now);
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::uint64_t CircuitBreaker::transitions() const {
  std::lock_guard lock(mu_);
  return transitions_;
}

std::uint32_t CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

}  // namespace stella::gw::ratelimit
