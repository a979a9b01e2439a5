// The registry of connected service instances: what a connection shell calls when a HELLO
// arrives, a heartbeat goes out or comes back, a service drains or a connection ends. It keeps
// the route table and one health tracker per connection together, so the shell only moves
// events. Sans-I/O; not thread-safe (the shell serialises calls, e.g. on one strand).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "stella/core/frame.hpp"
#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/routing_state.hpp"
#include "stella/gateway/service_identity.hpp"

namespace stella::gw {

/// Bytes a HELLO's service, instance_id, region and service_version may have at most. Each must
/// also be printable UTF-8 (no control characters), and the service name non-empty: a HELLO
/// that breaks this is refused whole.
inline constexpr std::size_t kMaxIdentityLength = 128;

struct RegistrySettings {
  RouteTableSettings routes;
  HealthSettings health;
  /// Which connections may register which names and paths (transports.tls.serviceIdentities).
  ServiceIdentityPolicy identities;
  /// The selector's region tiers, for the route table to work out candidates' tiers with
  /// (RouteTable's constructor).
  std::shared_ptr<const RegionTiers> region_tiers;
};

/// What became of a HELLO.
struct HelloOutcome {
  bool registered = false;  // false: refuse the whole HELLO with `reason`
  std::string reason;       // for the log
  /// For the DRAIN to the peer when it differs from `reason`: an identity refusal does not
  /// tell an unauthenticated peer which certificate owns the name.
  std::string peer_reason;
  core::HelloAck ack;  // accepted and rejected endpoints (when registered)
};

class ServiceRegistry {
 public:
  explicit ServiceRegistry(RegistrySettings settings = {});

  /// `peer`: what the transport verified about the connection (no certificate on plain TCP).
  HelloOutcome on_hello(std::uint64_t connection, const core::Hello& hello, core::TimePoint now,
                        const PeerIdentity& peer = {});
  std::optional<HealthTransition> on_heartbeat_sent(std::uint64_t connection, core::TimePoint now);
  std::optional<HealthTransition> on_heartbeat_ack(std::uint64_t connection, core::Duration rtt,
                                                   core::HealthStatus reported,
                                                   std::uint32_t in_flight, core::TimePoint now);
  std::optional<HealthTransition> on_drain(std::uint64_t connection);
  /// Connection lost or closed: the instance leaves the route table at once (its routes are
  /// held for its service through routing.ownershipGracePeriod).
  void on_closed(std::uint64_t connection, core::TimePoint now = {});
  /// Periodic: drops held routes whose grace has passed.
  void on_tick(core::TimePoint now) { routes_.expire_held(now); }

  /// The tracker of a registered connection (nullptr otherwise).
  const HealthTracker* health(std::uint64_t connection) const;
  RouteTable& routes() noexcept { return routes_; }
  const RouteTable& routes() const noexcept { return routes_; }

 private:
  struct Entry {
    HealthTracker tracker;
    std::shared_ptr<InstanceState> state;
  };
  std::optional<HealthTransition> publish(Entry& e, std::optional<HealthTransition> t);

  RegistrySettings settings_;
  RouteTable routes_;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

}  // namespace stella::gw
