// An immutable view of the route table: what the request path reads.
//
// A RouteSnapshot is built by RouteTable (routing_state.hpp) whenever routes or instances change
// and published as std::shared_ptr<const RouteSnapshot>. A request loads the current pointer
// once, then matches and selects with no lock: nothing in a snapshot changes after publication
// except the atomics it points to (InstanceState, the round-robin counter).
//
// Lookup follows the seed: candidates are the endpoints serving (method, path), so the method
// filters first and specificity ranks the templates of that method. Each method has its own
// PathMatcher. When no template of the request's method matches but a template of another
// method does, the answer is 405 with the list of those methods (for the Allow header);
// when none matches at all, 404. There is no implicit HEAD-for-GET: a service that serves HEAD
// declares it.
//
// Thread-safety: every member is const after construction; any number of threads may call
// lookup() concurrently. Pointers and views a lookup returns live as long as the snapshot.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/frame.hpp"
#include "stella/core/path_matcher.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/core/path_template.hpp"
#include "stella/gateway/instance_state.hpp"
#include "stella/gateway/selector.hpp"

namespace stella::gw {

/// Mutable per-route state that survives snapshot rebuilds (one object per route, shared by
/// every snapshot that has the route). Thread-safe.
struct RouteRuntime {
  /// Round-robin tickets: selection takes fetch_add(1) per request.
  std::atomic<std::uint64_t> round_robin_next{0};
};

/// One instance serving a route.
struct RouteCandidate {
  std::shared_ptr<const InstanceInfo> info;
  std::shared_ptr<InstanceState> state;  // dynamic, shared with the connection
  /// This instance's own descriptor of the endpoint: use its timeout and streaming flag for a
  /// request sent to this instance (instances of one service may run different versions).
  std::shared_ptr<const core::EndpointDescriptor> endpoint;
  /// Copies of what selection and forwarding read of `info` (the id a view into it), beside the
  /// state pointer: a pick reads the candidates and their states, not their InstanceInfo too.
  std::string_view instance_id;
  std::uint64_t connection_id = 0;
  /// The tier of info->region under the route's region_tiers (when it has them).
  Tier tier = Tier::other;
};

/// A (method, template shape) owned by one service, with the instances serving it.
struct Route {
  std::string method;
  /// The template of the earliest registered live instance (instances may name parameters
  /// differently; the shape is the same). Parameters extracted by lookup use its names.
  core::PathTemplate path_template;
  std::string template_text;  // path_template.to_string(): the metrics label, REQUEST.route
  std::string service;
  /// The descriptor of that earliest registered live instance: the route's defaults.
  std::shared_ptr<const core::EndpointDescriptor> endpoint;
  /// Union of every candidate's required claims, sorted and without duplicates: during a
  /// rolling upgrade that adds a requirement, the stricter set applies to all requests.
  std::vector<core::Claim> required_claims;
  /// Every candidate declared the endpoint anonymous (one that did not makes the route need a
  /// token, like required_claims above). Whether the gateway honours it is its auth policy's
  /// call (auth.anonymousServices).
  bool anonymous = false;
  /// Sorted by (instance_id, connection_id): stable order for round-robin and tie-breaks.
  std::vector<RouteCandidate> candidates;
  std::shared_ptr<RouteRuntime> runtime;
  /// The tiers the candidates' `tier` were worked out with (RouteTable's constructor);
  /// null: not worked out.
  std::shared_ptr<const RegionTiers> region_tiers;
};

/// All routes of one method. Shared between snapshots while the method's routes do not change.
struct MethodRoutes {
  std::string method;
  core::PathMatcher matcher;  // value = index into routes
  std::vector<Route> routes;
};

enum class LookupStatus : std::uint8_t {
  found,               // route and params are set
  not_found,           // 404: no template of any method matches the path
  method_not_allowed,  // 405: templates of other methods match; see allowed_methods
};

/// The result of a lookup. Reuse one per worker: lookup() clears it but keeps capacities, so a
/// warm lookup does not allocate.
struct LookupResult {
  LookupStatus status = LookupStatus::not_found;
  const Route* route = nullptr;  // when found; owned by the snapshot
  core::MatchResult match;       // when found: match.params are the path parameters
  /// When method_not_allowed: the methods whose templates match the path, sorted (byte order),
  /// each once. Views into the snapshot.
  std::vector<std::string_view> allowed_methods;
};

class RouteSnapshot {
 public:
  RouteSnapshot() = default;
  RouteSnapshot(std::uint64_t version, std::vector<std::shared_ptr<const MethodRoutes>> methods,
                std::size_t instance_count);

  /// Looks up (method, path); the result is in `out`. Nothing to fail: a path that matches
  /// nothing is LookupStatus::not_found. `out.route` lives as long as this snapshot, `out.match`
  /// parameter values as long as `path`.
  void lookup(std::string_view method, const core::NormalizedPath& path, LookupResult& out) const;
  /// Convenience form (allocates a fresh result).
  LookupResult lookup(std::string_view method, const core::NormalizedPath& path) const;
  // The parameters are views into `path`: a temporary path would leave them dangling.
  void lookup(std::string_view, core::NormalizedPath&&, LookupResult&) const = delete;
  LookupResult lookup(std::string_view, core::NormalizedPath&&) const = delete;

  /// The routes of `method`, or nullptr.
  const MethodRoutes* routes_of(std::string_view method) const noexcept;
  /// Every method with at least one route, sorted by method.
  const std::vector<std::shared_ptr<const MethodRoutes>>& methods() const noexcept {
    return methods_;
  }

  /// Increases by one with every publication (0 for the empty initial snapshot).
  std::uint64_t version() const noexcept { return version_; }
  std::size_t route_count() const noexcept { return route_count_; }
  std::size_t instance_count() const noexcept { return instance_count_; }

 private:
  std::uint64_t version_ = 0;
  std::vector<std::shared_ptr<const MethodRoutes>> methods_;  // sorted by method
  std::size_t route_count_ = 0;
  std::size_t instance_count_ = 0;
};

}  // namespace stella::gw
