#include "stella/gateway/service_registry.hpp"

#include "stella/core/text.hpp"

namespace stella::gw {
namespace {

// What a service says about itself ends up in logs, JSON bodies and metric labels: it must be
// text that can be shown as it is (docs/protocol.md, HELLO).
std::optional<std::string> check_identity(const core::Hello& hello) {
  const std::pair<std::string_view, const std::string*> fields[] = {
      {"service", &hello.service},
      {"instance_id", &hello.instance_id},
      {"region", &hello.region},
      {"service_version", &hello.service_version}};
  if (hello.service.empty()) return "service name is empty";
  for (const auto& [name, value] : fields) {
    if (value->size() > kMaxIdentityLength)
      return std::string(name) + " is longer than " + std::to_string(kMaxIdentityLength) + " bytes";
    if (!core::is_printable_utf8(*value))
      return std::string(name) + " is not printable UTF-8 (control characters or invalid bytes)";
  }
  return std::nullopt;
}

}  // namespace

ServiceRegistry::ServiceRegistry(RegistrySettings settings)
    : settings_(std::move(settings)), routes_(settings_.routes, settings_.region_tiers) {}

HelloOutcome ServiceRegistry::on_hello(std::uint64_t connection, const core::Hello& hello,
                                       core::TimePoint now, const PeerIdentity& peer) {
  HelloOutcome out;
  if (auto why = check_identity(hello)) {
    out.reason = std::move(*why);
    return out;
  }
  if (auto why = settings_.identities.check_service(peer, hello.service)) {
    out.reason = std::move(*why);
    out.peer_reason = "this connection's certificate is not granted service \"" + hello.service +
                      "\" (transports.tls.serviceIdentities)";
    return out;
  }
  InstanceInfo info;
  info.connection_id = connection;
  info.service = hello.service;
  info.service_version = hello.service_version;
  info.instance_id = hello.instance_id;
  info.region = hello.region;
  info.registered_at = now;
  EndpointFilter filter;
  if (!settings_.identities.empty()) {
    filter = [this, &peer, &hello](const core::PathTemplate& t) {
      return settings_.identities.check_template(peer, hello.service, t);
    };
  }
  const RegisterResult result = routes_.register_instance(info, hello.endpoints, filter);
  switch (result.status) {
    case RegisterStatus::registered:
      break;
    case RegisterStatus::duplicate_connection:
      out.reason = "connection already registered";
      return out;
    case RegisterStatus::too_many_instances:
      out.reason = "too many instances registered (limit " +
                   std::to_string(settings_.routes.max_instances) + ")";
      return out;
  }
  out.registered = true;
  fill_hello_ack(hello.endpoints, result, out.ack);
  Entry e{HealthTracker(settings_.health, now), result.state};
  publish(e, std::nullopt);
  entries_.insert_or_assign(connection, std::move(e));
  return out;
}

std::optional<HealthTransition> ServiceRegistry::publish(Entry& e,
                                                         std::optional<HealthTransition> t) {
  if (e.state) gw::publish(e.tracker, *e.state);
  return t;
}

std::optional<HealthTransition> ServiceRegistry::on_heartbeat_sent(std::uint64_t connection,
                                                                   core::TimePoint now) {
  auto it = entries_.find(connection);
  if (it == entries_.end()) return std::nullopt;
  auto t = it->second.tracker.on_heartbeat_sent(now);
  if (!t) t = it->second.tracker.on_tick(now);
  return publish(it->second, t);
}

std::optional<HealthTransition> ServiceRegistry::on_heartbeat_ack(std::uint64_t connection,
                                                                  core::Duration rtt,
                                                                  core::HealthStatus reported,
                                                                  std::uint32_t in_flight,
                                                                  core::TimePoint now) {
  auto it = entries_.find(connection);
  if (it == entries_.end()) return std::nullopt;
  return publish(it->second, it->second.tracker.on_heartbeat_ack(rtt, reported, in_flight, now));
}

std::optional<HealthTransition> ServiceRegistry::on_drain(std::uint64_t connection) {
  auto it = entries_.find(connection);
  if (it == entries_.end()) return std::nullopt;
  return publish(it->second, it->second.tracker.on_drain());
}

void ServiceRegistry::on_closed(std::uint64_t connection, core::TimePoint now) {
  if (entries_.erase(connection) > 0) routes_.unregister_instance(connection, now);
}

const HealthTracker* ServiceRegistry::health(std::uint64_t connection) const {
  auto it = entries_.find(connection);
  return it == entries_.end() ? nullptr : &it->second.tracker;
}

}  // namespace stella::gw
