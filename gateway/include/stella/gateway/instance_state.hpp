// One connected service instance: its identity (fixed at HELLO) and its dynamic state (health,
// ping, last heartbeat, in-flight requests), which changes every few seconds.
//
// Design (docs/routing.md §5): route snapshots are immutable and rebuilt only when the set of
// routes or instances changes (register / unregister). The dynamic state lives apart, in one
// InstanceState per instance made of relaxed atomics; every snapshot that lists the instance
// points to the same InstanceState. A heartbeat or a health change is then a few atomic stores:
// no snapshot rebuild, no template re-matching, no lock on the request path. The price is that
// the selector reads the fields one by one, not as a consistent tuple; each is a hint that is
// at most one store stale, which load balancing tolerates.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "stella/core/clock.hpp"
#include "stella/core/frame.hpp"

namespace stella::gw {

/// What a HELLO says about the instance, plus the connection it arrived on. Immutable once
/// registered (shared as std::shared_ptr<const InstanceInfo>).
struct InstanceInfo {
  std::uint64_t connection_id = 0;  // unique per live connection; the registration key
  std::string service;              // service name; instances of one service share routes
  std::string service_version;
  std::string instance_id;  // need not be unique (a reconnecting instance may overlap itself)
  std::string region;
  core::TimePoint registered_at{};  // HELLO time; the initial "last heartbeat"
};

/// The per-instance dynamic state read by selection. Thread-safe: every member function may be
/// called from any thread at any time (relaxed atomics; no ordering with other memory).
/// Writers: the instance's connection (health, ping, last heartbeat, via publish() in
/// health_tracker.hpp) and the request path (in-flight).
class InstanceState {
 public:
  explicit InstanceState(core::HealthStatus initial = core::HealthStatus::healthy,
                         core::TimePoint last_heartbeat = {}) noexcept
      : health_(static_cast<std::uint8_t>(initial)),
        last_heartbeat_(last_heartbeat.time_since_epoch().count()) {}

  InstanceState(const InstanceState&) = delete;
  InstanceState& operator=(const InstanceState&) = delete;

  core::HealthStatus health() const noexcept {
    return static_cast<core::HealthStatus>(health_.load(std::memory_order_relaxed));
  }
  void set_health(core::HealthStatus s) noexcept {
    health_.store(static_cast<std::uint8_t>(s), std::memory_order_relaxed);
  }

  /// Round-trip time EWMA; zero until the first heartbeat ack (as in the seed, where a fresh
  /// instance has AveragePingMs 0).
  core::Duration average_ping() const noexcept {
    return core::Duration(ping_.load(std::memory_order_relaxed));
  }
  void set_average_ping(core::Duration d) noexcept {
    ping_.store(d.count(), std::memory_order_relaxed);
  }

  /// Time of the last heartbeat ack (the registration time until the first one).
  core::TimePoint last_heartbeat() const noexcept {
    return core::TimePoint(core::Duration(last_heartbeat_.load(std::memory_order_relaxed)));
  }
  void set_last_heartbeat(core::TimePoint t) noexcept {
    last_heartbeat_.store(t.time_since_epoch().count(), std::memory_order_relaxed);
  }

  /// Requests the gateway has sent to this instance and not yet finished. The gateway's own
  /// count (exact and immediate), not the one the service reports in heartbeats.
  std::uint32_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
  void begin_request() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  /// Must pair with begin_request(); an unpaired call is ignored rather than wrapping to 2^32-1.
  void end_request() noexcept {
    std::uint32_t v = in_flight_.load(std::memory_order_relaxed);
    while (v != 0 && !in_flight_.compare_exchange_weak(v, v - 1, std::memory_order_relaxed)) {
    }
  }

 private:
  std::atomic<std::uint8_t> health_;
  std::atomic<core::Duration::rep> ping_{0};
  std::atomic<core::Duration::rep> last_heartbeat_;
  std::atomic<std::uint32_t> in_flight_{0};
};

/// RAII pairing of begin_request() / end_request(). Movable, not copyable.
class InFlightGuard {
 public:
  InFlightGuard() = default;
  explicit InFlightGuard(InstanceState& s) noexcept : state_(&s) { s.begin_request(); }
  InFlightGuard(InFlightGuard&& o) noexcept : state_(o.state_) { o.state_ = nullptr; }
  InFlightGuard& operator=(InFlightGuard&& o) noexcept {
    if (this != &o) {
      release();
      state_ = o.state_;
      o.state_ = nullptr;
    }
    return *this;
  }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;
  ~InFlightGuard() { release(); }

  void release() noexcept {
    if (state_ != nullptr) state_->end_request();
    state_ = nullptr;
  }

 private:
  InstanceState* state_ = nullptr;
};

}  // namespace stella::gw
