// Health of one connected instance, from the heartbeats the gateway sends and the acks it gets.
//
// Sans-I/O: every input carries `now`; the tracker never reads a clock, never sends anything.
// The connection's shell sends a HEARTBEAT when next_heartbeat_at() comes, reports sends,
// acks and timer ticks, logs the transitions it gets back, and copies the result into the
// instance's InstanceState with publish(). Connection loss is not a health state: the shell
// unregisters the instance from the route table at once.
//
// State machine (docs/routing.md §4):
//   - a beat is *missed* when the next one is sent before its ack came back; after
//     `unhealthy_threshold` consecutive missed beats the instance is Unhealthy (missed_heartbeats);
//   - `heartbeat_timeout` without any ack (counted from registration until the first ack) makes
//     it Unhealthy too (heartbeat_timeout), checked by on_tick();
//   - leaving that detected Unhealthy needs `healthy_threshold` consecutive acks (hysteresis;
//     a missed beat or a timeout restarts the count) (recovered);
//   - otherwise the status is what the service reports in its acks: Healthy, Degraded or
//     Unhealthy, taken at once (the service knows best) (reported); an ack with status Unknown
//     proves liveness only and counts as Healthy;
//   - Draining (on_drain(), or reported by the service) is sticky: nothing leaves it.
//
// Thread-safety: none. One tracker per connection, used from that connection's strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stella/core/clock.hpp"
#include "stella/core/frame.hpp"
#include "stella/gateway/instance_state.hpp"

namespace stella::gw {

struct HealthSettings {
  /// Time between two heartbeats the gateway sends (health.heartbeatIntervalSeconds: 10).
  core::Duration heartbeat_interval = std::chrono::seconds(10);
  /// Silence (no ack) after which the instance is Unhealthy (health.heartbeatTimeoutSeconds: 30).
  core::Duration heartbeat_timeout = std::chrono::seconds(30);
  /// Consecutive missed beats that make the instance Unhealthy (health.unhealthyThreshold: 3).
  /// 0 acts as 1.
  std::uint32_t unhealthy_threshold = 3;
  /// Consecutive acks needed to leave a *detected* Unhealthy (health.healthyThreshold: 2).
  /// Why 2: one ack after three lost beats is weak evidence on a flapping link, and two acks
  /// cost only one more interval (10 s). 0 acts as 1.
  std::uint32_t healthy_threshold = 2;
  /// Weight of the newest RTT sample in the ping EWMA (health.pingEwmaAlpha: 0.3), in (0, 1].
  /// The first sample initialises the average.
  double ping_ewma_alpha = 0.3;
  /// Status of a freshly registered instance. Healthy, as in the seed: the HELLO itself is
  /// proof of life, and routing to a new instance must not wait a heartbeat interval.
  core::HealthStatus initial_status = core::HealthStatus::healthy;
};

/// Checks the settings a config file supplies; returns a message naming the first bad field,
/// or std::nullopt. Rules: interval > 0; timeout >= interval (a shorter timeout would mark every
/// instance Unhealthy between two beats); thresholds >= 1; alpha in (0, 1]; initial status
/// Healthy, Degraded or Unhealthy.
std::optional<std::string> validate(const HealthSettings& s);

/// Why the status changed.
enum class HealthReason : std::uint8_t {
  missed_heartbeats,  // unhealthy_threshold consecutive beats without ack
  heartbeat_timeout,  // heartbeat_timeout without any ack
  recovered,          // healthy_threshold consecutive acks after a detected Unhealthy
  reported,           // the service's own status in an ack
  drain,              // on_drain() (DRAIN frame)
};

/// Stable snake_case name ("missed_heartbeats").
std::string_view health_reason_name(HealthReason r) noexcept;
/// Lower-case name of a status ("healthy", "degraded", ...); "unknown" for values not listed.
std::string_view health_status_name(core::HealthStatus s) noexcept;

struct HealthTransition {
  core::HealthStatus from = core::HealthStatus::unknown;
  core::HealthStatus to = core::HealthStatus::unknown;
  HealthReason reason = HealthReason::reported;
  friend bool operator==(const HealthTransition&, const HealthTransition&) = default;
};

class HealthTracker {
 public:
  /// `now` is the registration (HELLO) time: the first beat is due one interval later and the
  /// silence timeout counts from it.
  HealthTracker(const HealthSettings& settings, core::TimePoint now) noexcept;

  /// A HEARTBEAT was sent at `now`. If the previous beat is still unanswered it counts as
  /// missed. Returns the transition if the status changed.
  std::optional<HealthTransition> on_heartbeat_sent(core::TimePoint now) noexcept;

  /// An ack arrived at `now`, `rtt` after its beat was sent (negative values count as 0), with
  /// the service's own status and in-flight count. Any ack answers the outstanding beat (the
  /// tracker does not match sequence numbers: a late ack is still proof of life).
  std::optional<HealthTransition> on_heartbeat_ack(core::Duration rtt, core::HealthStatus reported,
                                                   std::uint32_t in_flight,
                                                   core::TimePoint now) noexcept;

  /// Timer tick: applies the silence timeout. Call it at least at next_deadline().
  std::optional<HealthTransition> on_tick(core::TimePoint now) noexcept;

  /// The instance sent DRAIN (or the gateway drains it): no new requests, sticky.
  std::optional<HealthTransition> on_drain() noexcept;

  /// The effective status selection uses.
  core::HealthStatus status() const noexcept;
  /// The last status the service reported (initial_status until the first ack).
  core::HealthStatus reported_status() const noexcept { return reported_; }
  /// Ping EWMA; zero until the first ack.
  core::Duration average_ping() const noexcept;
  double average_ping_ms() const noexcept { return ping_ewma_ns_ / 1e6; }
  /// Time of the last ack; the registration time until the first one.
  core::TimePoint last_heartbeat() const noexcept { return last_ack_; }
  /// The in-flight count the service reported in its last ack (observability only; selection
  /// uses the gateway's own count in InstanceState).
  std::uint32_t reported_in_flight() const noexcept { return reported_in_flight_; }
  std::uint32_t consecutive_missed() const noexcept { return missed_; }
  bool draining() const noexcept { return draining_; }

  /// When the next HEARTBEAT should be sent: last send (or registration) + interval.
  core::TimePoint next_heartbeat_at() const noexcept { return last_sent_ + s_.heartbeat_interval; }
  /// When silence turns the instance Unhealthy: last ack (or registration) + timeout.
  core::TimePoint silence_deadline() const noexcept { return last_ack_ + s_.heartbeat_timeout; }
  /// The earlier of the two: when the shell's timer should fire next.
  core::TimePoint next_deadline() const noexcept;

 private:
  std::optional<HealthTransition> changed(core::HealthStatus before, HealthReason why) const;

  HealthSettings s_;
  core::HealthStatus reported_;
  bool detected_unhealthy_ = false;  // missed beats or silence, until healthy_threshold acks
  bool draining_ = false;
  bool outstanding_ = false;  // a beat was sent and no ack has come since
  std::uint32_t missed_ = 0;
  std::uint32_t ack_streak_ = 0;  // acks since the detected Unhealthy began (or last miss)
  std::uint32_t reported_in_flight_ = 0;
  double ping_ewma_ns_ = 0;
  bool has_ping_ = false;
  core::TimePoint last_sent_;
  core::TimePoint last_ack_;
};

/// Copies the tracker's status, ping EWMA and last heartbeat into `state` (three relaxed stores).
void publish(const HealthTracker& tracker, InstanceState& state) noexcept;

}  // namespace stella::gw
