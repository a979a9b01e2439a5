// GatewayHooks backed by the upstream router (gw::UpstreamRouter: the service registry and the
// call table): registration with conflict checks, health tracking from heartbeats, and one log
// line per lifecycle event (HELLO, refused endpoint, health change, drain, loss). Used by
// `stella-gw listen` and, inside UpstreamHub (whose workers keep their calls in call tables of
// their own), by `serve`.
//
// Thread-safe: the listeners of several workers call it, each for its own connections; one lock
// serialises what they change (registrations, health, names, counters). Taken per HELLO,
// heartbeat, drain and close, never per request: the route table it feeds publishes snapshots
// that requests read without it. Log lines are written after it is released.
#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "stella/gateway/upstream_router.hpp"
#include "stella/transport/gateway_listener.hpp"

namespace stella::gw::http {

class RegistryHooks final : public transport::GatewayHooks {
 public:
  RegistryHooks(gw::RegistrySettings settings, const core::Clock& clock,
                std::function<void(const std::string&)> log, bool log_heartbeats);

  bool on_hello(const transport::ConnectionInfo& conn, const core::Hello& hello,
                core::HelloAck& ack, std::string& reason) override;
  void on_event(const transport::ConnectionInfo& conn, core::GatewayEvent& e) override;

  /// The route table (thread-safe on its own: it has a lock of its own).
  gw::RouteTable& routes() noexcept { return router_.registry().routes(); }

  /// HELLO endpoints refused in HELLO_ACK, by core::RejectReason code (0: any other code), and
  /// whole HELLOs refused.
  std::array<std::uint64_t, 7> refused_endpoints() const {
    const std::lock_guard lock(mu_);
    return refused_endpoints_;
  }
  std::uint64_t refused_hellos() const {
    const std::lock_guard lock(mu_);
    return refused_hellos_;
  }
  /// Service connections closed because a write made no progress (transports.*.writeTimeout).
  std::uint64_t write_timeouts() const {
    const std::lock_guard lock(mu_);
    return write_timeouts_;
  }

 private:
  static void transition(std::vector<std::string>& lines, const std::string& who,
                         const std::optional<gw::HealthTransition>& t);
  void write(const std::vector<std::string>& lines) const;

  mutable std::mutex mu_;  // everything below it and the router's registry
  gw::UpstreamRouter router_;
  const core::Clock& clock_;
  std::function<void(const std::string&)> log_;
  bool log_heartbeats_;
  std::unordered_map<std::uint64_t, std::string> names_;
  std::array<std::uint64_t, 7> refused_endpoints_{};
  std::uint64_t refused_hellos_ = 0;
  std::uint64_t write_timeouts_ = 0;
};

}  // namespace stella::gw::http
