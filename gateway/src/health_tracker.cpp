#include "stella/gateway/health_tracker.hpp"

#include <algorithm>
#include <chrono>

namespace stella::gw {

namespace {

std::uint32_t at_least_one(std::uint32_t v) noexcept {
  return v == 0 ? 1 : v;
}

double sane_alpha(double a) noexcept {
  return (a > 0.0 && a <= 1.0) ? a : 1.0;
}

}  // namespace

std::optional<std::string> validate(const HealthSettings& s) {
  if (s.heartbeat_interval <= core::Duration::zero()) {
    return "health.heartbeatIntervalSeconds must be > 0";
  }
  if (s.heartbeat_timeout < s.heartbeat_interval) {
    return "health.heartbeatTimeoutSeconds must be >= health.heartbeatIntervalSeconds";
  }
  if (s.unhealthy_threshold == 0) return "health.unhealthyThreshold must be >= 1";
  if (s.healthy_threshold == 0) return "health.healthyThreshold must be >= 1";
  if (!(s.ping_ewma_alpha > 0.0 && s.ping_ewma_alpha <= 1.0)) {
    return "health.pingEwmaAlpha must be in (0, 1]";
  }
  switch (s.initial_status) {
    case core::HealthStatus::healthy:
    case core::HealthStatus::degraded:
    case core::HealthStatus::unhealthy:
      return std::nullopt;
    default:
      return "health.initialStatus must be healthy, degraded or unhealthy";
  }
}

std::string_view health_reason_name(HealthReason r) noexcept {
  switch (r) {
    case HealthReason::missed_heartbeats:
      return "missed_heartbeats";
    case HealthReason::heartbeat_timeout:
      return "heartbeat_timeout";
    case HealthReason::recovered:
      return "recovered";
    case HealthReason::reported:
      return "reported";
    case HealthReason::drain:
      return "drain";
  }
  return "unknown";
}

std::string_view health_status_name(core::HealthStatus s) noexcept {
  switch (s) {
    case core::HealthStatus::unknown:
      return "unknown";
    case core::HealthStatus::healthy:
      return "healthy";
    case core::HealthStatus::degraded:
      return "degraded";
    case core::HealthStatus::unhealthy:
      return "unhealthy";
    case core::HealthStatus::draining:
      return "draining";
  }
  return "unknown";
}

HealthTracker::HealthTracker(const HealthSettings& settings, core::TimePoint now) noexcept
    : s_(settings),
      reported_(settings.initial_status),
      draining_(settings.initial_status == core::HealthStatus::draining),
      last_sent_(now),
      last_ack_(now) {}

core::HealthStatus HealthTracker::status() const noexcept {
  if (draining_) return core::HealthStatus::draining;
  if (detected_unhealthy_) return core::HealthStatus::unhealthy;
  switch (reported_) {
    case core::HealthStatus::degraded:
    case core::HealthStatus::unhealthy:
      return reported_;
    default:
      // Healthy, or Unknown: an ack without a status still proves the instance is alive.
      return core::HealthStatus::healthy;
  }
}

core::Duration HealthTracker::average_ping() const noexcept {
  return std::chrono::duration_cast<core::Duration>(
      std::chrono::duration<double, std::nano>(ping_ewma_ns_));
}

core::TimePoint HealthTracker::next_deadline() const noexcept {
  return std::min(next_heartbeat_at(), silence_deadline());
}

std::optional<HealthTransition> HealthTracker::changed(core::HealthStatus before,
                                                       HealthReason why) const {
  const core::HealthStatus after = status();
  if (after == before) return std::nullopt;
  return HealthTransition{before, after, why};
}

std::optional<HealthTransition> HealthTracker::on_heartbeat_sent(core::TimePoint now) noexcept {
  const core::HealthStatus before = status();
  if (outstanding_) {
    ++missed_;
    ack_streak_ = 0;
    if (missed_ >= at_least_one(s_.unhealthy_threshold)) detected_unhealthy_ = true;
  }
  outstanding_ = true;
  last_sent_ = now;
  return changed(before, HealthReason::missed_heartbeats);
}

std::optional<HealthTransition> HealthTracker::on_heartbeat_ack(core::Duration rtt,
                                                                core::HealthStatus reported,
                                                                std::uint32_t in_flight,
                                                                core::TimePoint now) noexcept {
  const core::HealthStatus before = status();
  outstanding_ = false;
  missed_ = 0;
  last_ack_ = now;
  reported_in_flight_ = in_flight;

  const double sample = std::max(0.0, std::chrono::duration<double, std::nano>(rtt).count());
  if (!has_ping_) {
    ping_ewma_ns_ = sample;
    has_ping_ = true;
  } else {
    const double a = sane_alpha(s_.ping_ewma_alpha);
    ping_ewma_ns_ = a * sample + (1.0 - a) * ping_ewma_ns_;
  }

  HealthReason why = HealthReason::reported;
  if (detected_unhealthy_ && ++ack_streak_ >= at_least_one(s_.healthy_threshold)) {
    detected_unhealthy_ = false;
    ack_streak_ = 0;
    why = HealthReason::recovered;
  }
  reported_ = reported;
  if (reported == core::HealthStatus::draining) draining_ = true;
  return changed(before, why);
}

std::optional<HealthTransition> HealthTracker::on_tick(core::TimePoint now) noexcept {
  const core::HealthStatus before = status();
  if (now >= silence_deadline()) {
    detected_unhealthy_ = true;
    ack_streak_ = 0;
  }
  return changed(before, HealthReason::heartbeat_timeout);
}

std::optional<HealthTransition> HealthTracker::on_drain() noexcept {
  const core::HealthStatus before = status();
  draining_ = true;
  return changed(before, HealthReason::drain);
}

void publish(const HealthTracker& tracker, InstanceState& state) noexcept {
  state.set_health(tracker.status());
  state.set_average_ping(tracker.average_ping());
  state.set_last_heartbeat(tracker.last_heartbeat());
}

}  // namespace stella::gw
