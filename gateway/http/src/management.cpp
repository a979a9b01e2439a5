#include "stella/gateway/http/management.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "stella/gateway/health_tracker.hpp"

namespace stella::gw::http {

std::string readiness_json(const ServerShared& shared, bool ready) {
  struct Counts {
    std::set<std::uint64_t> connections;
    std::map<std::string, int> by_health;
  };
  std::map<std::string, Counts> services;  // ordered: stable output
  const auto snapshot = shared.routes->snapshot();
  for (const auto& method : snapshot->methods()) {
    for (const auto& route : method->routes) {
      for (const auto& c : route.candidates) {
        auto& counts = services[c.info->service];
        if (counts.connections.insert(c.info->connection_id).second)
          ++counts.by_health[std::string(health_status_name(c.state->health()))];
      }
    }
  }
  nlohmann::ordered_json j;
  j["status"] = ready ? "ready" : (shared.draining.load() ? "draining" : "starting");
  j["node"] = shared.config->node.node_id;
  j["region"] = shared.config->node.region;
  j["routes"] = snapshot->route_count();
  j["instances"] = snapshot->instance_count();
  nlohmann::ordered_json svc = nlohmann::ordered_json::object();
  for (const auto& [name, counts] : services) {
    nlohmann::ordered_json s;
    s["instances"] = counts.connections.size();
    for (const auto& [health, n] : counts.by_health)
      s[health] = n;
    svc[name] = std::move(s);
  }
  j["services"] = std::move(svc);
  return j.dump();
}

std::optional<ManagementResponse> management_response(const ServerShared& shared,
                                                      std::string_view method,
                                                      std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != "/health/live" && path != "/health/ready" && path != "/health/startup")
    return std::nullopt;
  ManagementResponse r;
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    r.content_type = "application/problem+json";
    r.headers.emplace_back("Allow", "GET, HEAD");
    r.body =
        R"({"type":"https://stella-gw.dev/problems/method-not-allowed","title":"Method not allowed","status":405,"detail":"management endpoints answer GET and HEAD"})";
    return r;
  }
  const bool started = shared.started.load(std::memory_order_relaxed);
  const bool draining = shared.draining.load(std::memory_order_relaxed);
  if (path == "/health/live") {
    r.body = R"({"status":"live"})";
  } else if (path == "/health/startup") {
    r.status = started ? 200 : 503;
    r.body = started ? R"({"status":"started"})" : R"({"status":"starting"})";
  } else {
    const bool ready = started && !draining;
    r.status = ready ? 200 : 503;
    r.body = readiness_json(shared, ready);
  }
  return r;
}

}  // namespace stella::gw::http
