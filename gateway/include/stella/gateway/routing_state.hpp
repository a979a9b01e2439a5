// The route table: which instances serve which (method, path template), built from HELLOs.
//
// Writers register an instance with the endpoints of its HELLO and unregister it when its
// connection goes away; every change publishes a new immutable RouteSnapshot
// (route_snapshot.hpp) that requests read without a lock. Health, ping, last heartbeat and
// in-flight counts are not part of a change: they live in the instance's InstanceState, which
// the snapshots point to (instance_state.hpp explains why).
//
// Registration rules, checked per endpoint in this order (docs/routing.md §2):
//   1. invalid_method      the method is not an upper-case HTTP token (http_method.hpp);
//   2. malformed_template  PathTemplate::parse failed; the message has the byte position;
//   3. duplicate           an earlier endpoint of the same HELLO has the same method and shape;
//   4. conflict            the (method, shape) is served by another service; the message names
//                          that service and its template. Instances of the same service share
//                          routes: the same service at the same shape is accepted, parameter
//                          names may differ;
//   3b. forbidden          the caller's EndpointFilter refused the template (service identity:
//                          a path outside the connection's grant, docs/security.md);
//   5. limit_exceeded      max_endpoints_per_instance accepted already, or the route would be a
//                          new one and the table holds max_routes.
// An instance is refused as a whole (every endpoint limit_exceeded) when the table already
// holds max_instances instances. When its last instance leaves, a route is held for its service
// for `ownership_grace` (routing.ownershipGracePeriod): it stays in the snapshots with no
// candidates (requests get 503 with Retry-After, not 404), only the same service may register
// its shape, and expire_held() drops it once the grace has passed. With a zero grace it
// disappears at once; another service may then claim its shape.
//
// Snapshots share structure: each method's routes (MethodRoutes) are rebuilt only when a change
// touches that method; the others are carried over by pointer. Round-robin counters
// (RouteRuntime) survive rebuilds.
//
// Thread-safety: every member function is thread-safe. register_instance, unregister_instance,
// instance_state and counters serialise on an internal mutex (writers are rare: HELLOs and
// disconnects). snapshot() copies the current pointer under a second mutex held only for the
// copy, so it never waits for a writer that is building a snapshot; published_version() is one
// atomic load, so a reader that keeps a snapshot (one per gateway worker) takes no lock at all
// until a new one is published.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "stella/core/frame.hpp"
#include "stella/core/path_template.hpp"
#include "stella/gateway/instance_state.hpp"
#include "stella/gateway/route_snapshot.hpp"

namespace stella::gw {

struct RouteTableSettings {
  /// Live instances (connections that sent HELLO) the table accepts (routing.maxInstances: 4096).
  std::size_t max_instances = 4096;
  /// Endpoints accepted from one HELLO (routing.maxEndpointsPerInstance: 512). The decoder
  /// already caps a HELLO at FrameLimits::max_endpoints (1024).
  std::size_t max_endpoints_per_instance = 512;
  /// Distinct (method, template shape) routes over all services (routing.maxRoutes: 16384).
  std::size_t max_routes = 16384;
  /// Longest accepted method name in bytes (routing.maxMethodLength: 32).
  std::size_t max_method_length = 32;
  /// Limits for parsing templates from HELLO (routing.maxTemplateLength / maxTemplateSegments).
  core::TemplateLimits template_limits{};
  /// Health of a newly registered instance until its connection publishes its tracker; keep it
  /// equal to HealthSettings::initial_status (healthy).
  core::HealthStatus initial_health = core::HealthStatus::healthy;
  /// How long a route outlives its last instance, held for its service (0: not at all).
  core::Duration ownership_grace = core::Duration::zero();
};

/// Decides whether a registering instance may claim a parsed template: nullopt yes, otherwise
/// the reason (the endpoint is refused as `forbidden`).
using EndpointFilter = std::function<std::optional<std::string>(const core::PathTemplate&)>;

enum class RegisterStatus : std::uint8_t {
  registered,            // the instance is in the table (possibly with zero accepted endpoints)
  duplicate_connection,  // this connection id is registered already: nothing changed
  too_many_instances,    // max_instances reached: nothing changed
};

/// The verdict on one endpoint of a HELLO.
struct EndpointVerdict {
  bool accepted = false;
  core::RejectReason reason = core::RejectReason::malformed_template;  // when !accepted
  std::string message;  // when !accepted: for HELLO_ACK and the log line
};

struct RegisterResult {
  RegisterStatus status = RegisterStatus::registered;
  /// One verdict per endpoint of the HELLO, in the same order.
  std::vector<EndpointVerdict> endpoints;
  /// The instance's dynamic state, shared with the snapshots; null unless registered.
  std::shared_ptr<InstanceState> state;
  /// The snapshot version that first contains the instance (when registered).
  std::uint64_t snapshot_version = 0;

  bool registered() const noexcept { return status == RegisterStatus::registered; }
  std::size_t accepted_count() const noexcept;
};

/// Appends to `ack.accepted` / `ack.rejected` one entry per endpoint of `hello_endpoints`
/// according to `result` (which must come from registering those endpoints).
void fill_hello_ack(const std::vector<core::EndpointDescriptor>& hello_endpoints,
                    const RegisterResult& result, core::HelloAck& ack);

/// Counters of the table, named as exported (gateway_routing_<name>). Monotonic.
struct RouteTableCounters {
  std::uint64_t instances_registered_total = 0;
  std::uint64_t instances_unregistered_total = 0;
  std::uint64_t instances_refused_total = 0;  // duplicate_connection + too_many_instances
  std::uint64_t endpoints_accepted_total = 0;
  std::uint64_t endpoints_rejected_total = 0;  // the sum of the five below
  std::uint64_t invalid_methods_total = 0;
  std::uint64_t malformed_templates_total = 0;
  std::uint64_t duplicates_total = 0;
  std::uint64_t conflicts_total = 0;
  std::uint64_t limits_exceeded_total = 0;
  std::uint64_t forbidden_total = 0;
  std::uint64_t routes_held_total = 0;     // routes kept for their service after its last instance
  std::uint64_t routes_expired_total = 0;  // held routes dropped when the grace ran out
  std::uint64_t snapshots_published_total = 0;
  friend bool operator==(const RouteTableCounters&, const RouteTableCounters&) = default;
};

class RouteTable {
 public:
  /// With `region_tiers` (the gateway's Selector::region_tiers()), each candidate's tier is
  /// worked out when a snapshot is built, and the picker reads it instead of comparing region
  /// names per request; a picker whose Selector holds other tiers ignores it
  /// (instance_picker.hpp).
  explicit RouteTable(RouteTableSettings settings = {},
                      std::shared_ptr<const RegionTiers> region_tiers = {});
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  /// Registers the instance of connection `info.connection_id` with the endpoints of its HELLO
  /// and publishes a new snapshot. Never throws on bad input: every refusal is a verdict.
  RegisterResult register_instance(InstanceInfo info,
                                   const std::vector<core::EndpointDescriptor>& endpoints,
                                   const EndpointFilter& filter = {});

  /// Removes the instance (connection lost or closed after a drain) and its routes' memberships;
  /// routes left without instances are held until now + ownership_grace (or disappear at once
  /// with no grace). Publishes a new snapshot. Returns false, changing nothing, when the
  /// connection is not registered.
  bool unregister_instance(std::uint64_t connection_id, core::TimePoint now = {});
  /// Drops held routes whose grace ended at or before `now`; publishes when any went. Returns
  /// how many went.
  std::size_t expire_held(core::TimePoint now);
  /// Routes held right now (no instance, within their grace).
  std::size_t held_routes() const;

  /// The current snapshot; never null (an empty one before the first registration).
  std::shared_ptr<const RouteSnapshot> snapshot() const noexcept {
    const std::lock_guard lock(current_mu_);
    return current_;
  }
  /// The version of the newest published snapshot (0: none yet, the empty one). Set after the
  /// snapshot is: a reader that sees it can get that snapshot (or a newer one) from snapshot().
  std::uint64_t published_version() const noexcept {
    return published_version_.load(std::memory_order_acquire);
  }
  /// `kept` when it is the newest published snapshot, else the newest (snapshot()): one atomic
  /// load while nothing changes.
  void refresh(std::shared_ptr<const RouteSnapshot>& kept) const {
    if (!kept || kept->version() != published_version()) kept = snapshot();
  }

  /// The dynamic state of a registered instance, or null.
  std::shared_ptr<InstanceState> instance_state(std::uint64_t connection_id) const;

  RouteTableCounters counters() const;
  const RouteTableSettings& settings() const noexcept { return s_; }

 private:
  struct Member {
    std::uint64_t connection_id = 0;
    core::PathTemplate tmpl;
    std::shared_ptr<const core::EndpointDescriptor> endpoint;
  };
  struct Entry {
    std::string service;
    std::vector<Member> members;  // registration order: members.front() is the route's primary
    std::shared_ptr<RouteRuntime> runtime;
    /// Set while held (members empty): the last member, whose template the snapshot keeps,
    /// and when the hold ends.
    std::optional<Member> held;
    core::TimePoint held_until{};
  };
  using ShapeMap = std::map<std::string, Entry, std::less<>>;  // template shape -> entry
  struct Instance {
    std::shared_ptr<const InstanceInfo> info;
    std::shared_ptr<InstanceState> state;
    std::vector<std::pair<std::string, std::string>> routes;  // (method, shape) it serves
  };

  // All private members below need mu_ held.
  void publish(const std::vector<std::string>& dirty_methods);
  std::shared_ptr<const MethodRoutes> build_method(const std::string& method,
                                                   const ShapeMap& shapes) const;

  const RouteTableSettings s_;
  const std::shared_ptr<const RegionTiers> region_tiers_;
  mutable std::mutex mu_;
  std::map<std::string, ShapeMap, std::less<>> routes_;  // method -> shape -> entry
  std::unordered_map<std::uint64_t, Instance> instances_;
  std::size_t route_count_ = 0;
  std::size_t held_count_ = 0;
  std::uint64_t version_ = 0;
  RouteTableCounters counters_;
  // The published snapshot, behind its own mutex, held only to copy the pointer. Not
  // std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its internal lock with relaxed
  // ordering, a race ThreadSanitizer reports between a request and a publication.
  mutable std::mutex current_mu_;
  std::shared_ptr<const RouteSnapshot> current_;
  std::atomic<std::uint64_t> published_version_{0};
};

}  // namespace stella::gw
