#include "stella/gateway/routing_state.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include "stella/gateway/http_method.hpp"

namespace stella::gw {

namespace {

std::string endpoint_text(std::string_view method, std::string_view path) {
  std::string s(method);
  s += ' ';
  s += path;
  return s;
}

EndpointVerdict reject(core::RejectReason reason, std::string message) {
  return EndpointVerdict{false, reason, std::move(message)};
}

// Sorts by (type, value) and drops duplicates.
void normalize_claims(std::vector<core::Claim>& claims) {
  auto key = [](const core::Claim& c) { return std::tie(c.type, c.value); };
  std::sort(claims.begin(), claims.end(),
            [&](const core::Claim& a, const core::Claim& b) { return key(a) < key(b); });
  claims.erase(std::unique(claims.begin(), claims.end()), claims.end());
}

}  // namespace

std::size_t RegisterResult::accepted_count() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(endpoints.begin(), endpoints.end(), [](const auto& v) { return v.accepted; }));
}

void fill_hello_ack(const std::vector<core::EndpointDescriptor>& hello_endpoints,
                    const RegisterResult& result, core::HelloAck& ack) {
  const std::size_t n = std::min(hello_endpoints.size(), result.endpoints.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto& ep = hello_endpoints[i];
    const auto& v = result.endpoints[i];
    if (v.accepted) {
      ack.accepted.push_back(core::EndpointRef{ep.method, ep.path});
    } else {
      ack.rejected.push_back(core::RejectedEndpoint{
          ep.method, ep.path, static_cast<std::uint16_t>(v.reason), v.message});
    }
  }
}

RouteTable::RouteTable(RouteTableSettings settings, std::shared_ptr<const RegionTiers> region_tiers)
    : s_(std::move(settings)),
      region_tiers_(std::move(region_tiers)),
      current_(std::make_shared<const RouteSnapshot>()) {}

std::shared_ptr<InstanceState> RouteTable::instance_state(std::uint64_t connection_id) const {
  std::lock_guard lock(mu_);
  const auto it = instances_.find(connection_id);
  return it == instances_.end() ? nullptr : it->second.state;
}

RouteTableCounters RouteTable::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

RegisterResult RouteTable::register_instance(InstanceInfo info,
                                             const std::vector<core::EndpointDescriptor>& endpoints,
                                             const EndpointFilter& filter) {
  std::lock_guard lock(mu_);
  RegisterResult result;
  result.endpoints.reserve(endpoints.size());

  auto count_rejection = [&](core::RejectReason r) {
    ++counters_.endpoints_rejected_total;
    switch (r) {
      case core::RejectReason::invalid_method:
        ++counters_.invalid_methods_total;
        break;
      case core::RejectReason::malformed_template:
        ++counters_.malformed_templates_total;
        break;
      case core::RejectReason::duplicate:
        ++counters_.duplicates_total;
        break;
      case core::RejectReason::conflict:
        ++counters_.conflicts_total;
        break;
      case core::RejectReason::limit_exceeded:
        ++counters_.limits_exceeded_total;
        break;
      case core::RejectReason::forbidden:
        ++counters_.forbidden_total;
        break;
    }
  };

  // Whole-instance refusals: every endpoint gets the same verdict.
  auto refuse_all = [&](RegisterStatus status, core::RejectReason reason, const std::string& why) {
    result.status = status;
    ++counters_.instances_refused_total;
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      result.endpoints.push_back(reject(reason, why));
      count_rejection(reason);
    }
    return result;
  };
  if (instances_.contains(info.connection_id)) {
    return refuse_all(
        RegisterStatus::duplicate_connection, core::RejectReason::duplicate,
        "connection " + std::to_string(info.connection_id) + " has already registered an instance");
  }
  if (instances_.size() >= s_.max_instances) {
    return refuse_all(RegisterStatus::too_many_instances, core::RejectReason::limit_exceeded,
                      "the gateway holds the maximum of " + std::to_string(s_.max_instances) +
                          " instances (routing.maxInstances)");
  }

  struct Accepted {
    std::size_t index;
    core::PathTemplate tmpl;
    std::string shape;
  };
  std::vector<Accepted> accepted;
  std::map<std::pair<std::string_view, std::string>, std::size_t> seen;  // (method, shape) -> #
  std::size_t new_routes = 0;

  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const core::EndpointDescriptor& ep = endpoints[i];
    if (auto why = check_method(ep.method, s_.max_method_length)) {
      result.endpoints.push_back(reject(core::RejectReason::invalid_method, std::move(*why)));
      continue;
    }
    auto parsed = core::PathTemplate::parse(ep.path, s_.template_limits);
    if (!parsed.ok()) {
      const core::TemplateError& e = parsed.error();
      result.endpoints.push_back(reject(
          core::RejectReason::malformed_template,
          "malformed path template at byte " + std::to_string(e.position) + ": " + e.message));
      continue;
    }
    core::PathTemplate tmpl = std::move(parsed).value();
    std::string shape = tmpl.shape();

    const auto [seen_it, first] = seen.try_emplace({ep.method, shape}, i);
    if (!first) {
      const auto& orig = endpoints[seen_it->second];
      result.endpoints.push_back(
          reject(core::RejectReason::duplicate,
                 "duplicate of endpoint #" + std::to_string(seen_it->second) + " (" +
                     endpoint_text(orig.method, orig.path) + "): same method and shape " + shape));
      continue;
    }

    if (filter) {
      if (auto why = filter(tmpl)) {
        result.endpoints.push_back(reject(core::RejectReason::forbidden, std::move(*why)));
        continue;
      }
    }

    const Entry* existing = nullptr;
    if (const auto m = routes_.find(ep.method); m != routes_.end()) {
      if (const auto e = m->second.find(shape); e != m->second.end()) existing = &e->second;
    }
    if (existing != nullptr && existing->service != info.service) {
      const Member& owner = existing->members.empty() ? *existing->held : existing->members.front();
      result.endpoints.push_back(
          reject(core::RejectReason::conflict,
                 endpoint_text(ep.method, tmpl.to_string()) + " conflicts with " +
                     endpoint_text(ep.method, owner.tmpl.to_string()) + " of service \"" +
                     existing->service + "\" (same method and shape " + shape + ")" +
                     (existing->members.empty()
                          ? "; the route is held for that service until its grace period ends "
                            "(routing.ownershipGracePeriod)"
                          : "")));
      continue;
    }
    if (accepted.size() >= s_.max_endpoints_per_instance) {
      result.endpoints.push_back(
          reject(core::RejectReason::limit_exceeded,
                 "more than " + std::to_string(s_.max_endpoints_per_instance) +
                     " endpoints in one instance (routing.maxEndpointsPerInstance)"));
      continue;
    }
    if (existing == nullptr && route_count_ + new_routes >= s_.max_routes) {
      result.endpoints.push_back(
          reject(core::RejectReason::limit_exceeded, "the route table holds the maximum of " +
                                                         std::to_string(s_.max_routes) +
                                                         " routes (routing.maxRoutes)"));
      continue;
    }
    if (existing == nullptr) ++new_routes;
    accepted.push_back(Accepted{i, std::move(tmpl), std::move(shape)});
    result.endpoints.push_back(EndpointVerdict{true, {}, {}});
  }
  for (const auto& v : result.endpoints) {
    if (!v.accepted) count_rejection(v.reason);
  }
  counters_.endpoints_accepted_total += accepted.size();

  // Apply: the instance first, so build_method finds it.
  const std::uint64_t conn = info.connection_id;
  Instance inst;
  inst.state = std::make_shared<InstanceState>(s_.initial_health, info.registered_at);
  inst.info = std::make_shared<const InstanceInfo>(std::move(info));
  std::vector<std::string> dirty;
  for (Accepted& a : accepted) {
    const core::EndpointDescriptor& ep = endpoints[a.index];
    Entry& entry = routes_[ep.method][a.shape];
    if (entry.held) {  // the owner is back within its grace
      entry.held.reset();
      --held_count_;
    } else if (entry.members.empty()) {
      entry.service = inst.info->service;
      entry.runtime = std::make_shared<RouteRuntime>();
      ++route_count_;
    }
    entry.members.push_back(
        Member{conn, std::move(a.tmpl), std::make_shared<const core::EndpointDescriptor>(ep)});
    inst.routes.emplace_back(ep.method, std::move(a.shape));
    dirty.push_back(ep.method);
  }
  result.state = inst.state;
  instances_.emplace(conn, std::move(inst));
  ++counters_.instances_registered_total;
  publish(dirty);
  result.snapshot_version = version_;
  return result;
}

bool RouteTable::unregister_instance(std::uint64_t connection_id, core::TimePoint now) {
  std::lock_guard lock(mu_);
  const auto it = instances_.find(connection_id);
  if (it == instances_.end()) return false;
  std::vector<std::string> dirty;
  for (const auto& [method, shape] : it->second.routes) {
    const auto m = routes_.find(method);
    if (m == routes_.end()) continue;
    const auto e = m->second.find(shape);
    if (e == m->second.end()) continue;
    auto& members = e->second.members;
    const auto gone = std::find_if(members.begin(), members.end(), [&](const Member& x) {
      return x.connection_id == connection_id;
    });
    if (gone == members.end()) continue;
    if (members.size() == 1 && s_.ownership_grace > core::Duration::zero()) {
      e->second.held = std::move(*gone);
      e->second.held_until = now + s_.ownership_grace;
      ++held_count_;
      ++counters_.routes_held_total;
    }
    members.erase(gone);
    if (members.empty() && !e->second.held) {
      m->second.erase(e);
      --route_count_;
      if (m->second.empty()) routes_.erase(m);
    }
    dirty.push_back(method);
  }
  instances_.erase(it);
  ++counters_.instances_unregistered_total;
  publish(dirty);
  return true;
}

std::size_t RouteTable::expire_held(core::TimePoint now) {
  std::lock_guard lock(mu_);
  if (held_count_ == 0) return 0;
  std::vector<std::string> dirty;
  std::size_t expired = 0;
  for (auto m = routes_.begin(); m != routes_.end();) {
    bool touched = false;
    for (auto e = m->second.begin(); e != m->second.end();) {
      if (e->second.held && e->second.held_until <= now) {
        e = m->second.erase(e);
        --route_count_;
        --held_count_;
        ++expired;
        touched = true;
      } else {
        ++e;
      }
    }
    if (touched) dirty.push_back(m->first);
    m = m->second.empty() ? routes_.erase(m) : std::next(m);
  }
  if (expired == 0) return 0;
  counters_.routes_expired_total += expired;
  publish(dirty);
  return expired;
}

std::size_t RouteTable::held_routes() const {
  std::lock_guard lock(mu_);
  return held_count_;
}

std::shared_ptr<const MethodRoutes> RouteTable::build_method(const std::string& method,
                                                             const ShapeMap& shapes) const {
  auto out = std::make_shared<MethodRoutes>();
  out->method = method;
  out->routes.reserve(shapes.size());
  for (const auto& [shape, entry] : shapes) {
    const Member& primary = entry.members.empty() ? *entry.held : entry.members.front();
    std::vector<core::Claim> claims;
    bool anonymous = !entry.members.empty();
    std::vector<RouteCandidate> candidates;
    candidates.reserve(entry.members.size());
    for (const Member& m : entry.members) {
      const auto inst = instances_.find(m.connection_id);
      if (inst == instances_.end()) continue;  // cannot happen: members are live instances
      claims.insert(claims.end(), m.endpoint->required_claims.begin(),
                    m.endpoint->required_claims.end());
      anonymous = anonymous && m.endpoint->anonymous;
      const InstanceInfo& info = *inst->second.info;
      candidates.push_back(RouteCandidate{
          inst->second.info, inst->second.state, m.endpoint, info.instance_id, info.connection_id,
          region_tiers_ ? region_tiers_->of(info.region) : Tier::other});
    }
    // A held route keeps the claims of its last instance: no instance, no weaker route.
    if (entry.members.empty()) {
      claims = primary.endpoint->required_claims;
      anonymous = primary.endpoint->anonymous;
    }
    normalize_claims(claims);
    std::sort(candidates.begin(), candidates.end(),
              [](const RouteCandidate& a, const RouteCandidate& b) {
                return std::tie(a.info->instance_id, a.info->connection_id) <
                       std::tie(b.info->instance_id, b.info->connection_id);
              });
    const auto index = static_cast<std::uint32_t>(out->routes.size());
    // Shapes are unique keys of `shapes`, so add() cannot report a conflict; should it ever,
    // the route is left out rather than shadowing another.
    if (out->matcher.add(primary.tmpl, index)) continue;
    out->routes.push_back(Route{method, primary.tmpl, primary.tmpl.to_string(), entry.service,
                                primary.endpoint, std::move(claims), anonymous,
                                std::move(candidates), entry.runtime, region_tiers_});
  }
  return out;
}

void RouteTable::publish(const std::vector<std::string>& dirty_methods) {
  const std::set<std::string_view> dirty(dirty_methods.begin(), dirty_methods.end());
  const auto old = snapshot();
  const auto& prev = old->methods();  // sorted by method, like routes_
  std::vector<std::shared_ptr<const MethodRoutes>> methods;
  methods.reserve(routes_.size());
  std::size_t j = 0;
  for (const auto& [method, shapes] : routes_) {
    while (j < prev.size() && prev[j]->method < method)
      ++j;
    if (!dirty.contains(method) && j < prev.size() && prev[j]->method == method) {
      methods.push_back(prev[j]);  // unchanged since the last publication: share it
      continue;
    }
    methods.push_back(build_method(method, shapes));
  }
  ++version_;
  ++counters_.snapshots_published_total;
  auto next =
      std::make_shared<const RouteSnapshot>(version_, std::move(methods), instances_.size());
  const std::lock_guard lock(current_mu_);
  current_.swap(next);  // (the old one is released after the lock, by `next`)
  published_version_.store(version_, std::memory_order_release);
}

}  // namespace stella::gw
