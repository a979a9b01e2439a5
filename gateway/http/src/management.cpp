#include "stella/gateway/http/management.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "stella/core/text.hpp"
#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/http/authenticator.hpp"
#include "stella/gateway/http/openapi_publisher.hpp"
#include "stella/gateway/http/worker_context.hpp"

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
  if (shared.auth) j["authority"] = shared.auth->has_keys() ? "available" : "unavailable";
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
  // Service names come from peers: invalid UTF-8 is replaced, never an exception.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ManagementEndpoint management_endpoint(const ServerShared& shared, std::string_view path,
                                       bool management_only) noexcept {
  if (path == "/health/live") return ManagementEndpoint::live;
  if (path == "/health/ready") return ManagementEndpoint::ready;
  if (path == "/health/startup") return ManagementEndpoint::startup;
  const auto& m = shared.config->telemetry.metrics;
  if (m.enabled && path == m.path && m.separate_listener() == management_only)
    return ManagementEndpoint::metrics;
  if (management_only) return ManagementEndpoint::not_found;
  if (shared.openapi) {
    if (path == "/openapi.json") return ManagementEndpoint::openapi_json;
    if (path == "/openapi.yaml") return ManagementEndpoint::openapi_yaml;
    if (path.starts_with("/openapi/") && path.ends_with(".json") &&
        path.size() > std::string_view("/openapi/.json").size())
      return ManagementEndpoint::openapi_service;
    if (shared.config->openapi.ui.enabled) {
      if (path == "/docs") return ManagementEndpoint::docs_page;
      // Only the page's own files: any other /docs/... path stays a service's.
      if (path.starts_with("/docs/") && shared.openapi->asset(path.substr(6)))
        return ManagementEndpoint::docs_asset;
    }
  }
  return ManagementEndpoint::none;
}

namespace {

DirectReply cached_reply(std::string_view body, std::string_view etag,
                         std::string_view content_type, std::string cache_control,
                         std::string_view if_none_match) {
  DirectReply r;
  r.content_type = content_type;
  r.headers.emplace_back("ETag", std::string(etag));
  r.headers.emplace_back("Cache-Control", std::move(cache_control));
  if (!if_none_match.empty() && if_none_match_matches(if_none_match, etag)) {
    r.status = 304;
    r.content_type = {};  // RFC 9110 §15.4.5: only the fields a 200 would need for caching
    return r;
  }
  r.body.assign(body);
  return r;
}

DirectReply problem_reply(unsigned status, std::string_view type, std::string_view title,
                          const std::string& detail) {
  DirectReply r;
  r.status = status;
  r.content_type = "application/problem+json";
  nlohmann::ordered_json j = {{"type", "https://stella-gw.dev/problems/" + std::string(type)},
                              {"title", title},
                              {"status", status},
                              {"detail", detail}};
  r.body = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return r;
}

}  // namespace

// The /docs page and its files change only with the gateway's installation.
constexpr const char* kDocsFilesMaxAge = "max-age=300";

DirectReply openapi_reply(ServerShared& shared, ManagementEndpoint which, std::string_view path,
                          std::string_view if_none_match) {
  OpenApiPublisher& p = *shared.openapi;
  const std::string max_age =
      "max-age=" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      shared.config->openapi.cache_ttl)
                                      .count());
  switch (which) {
    case ManagementEndpoint::openapi_json: {
      const auto b = p.current();
      return cached_reply(b->json.body, b->json.etag, "application/json", max_age, if_none_match);
    }
    case ManagementEndpoint::openapi_yaml: {
      const auto b = p.current();
      return cached_reply(b->yaml.body, b->yaml.etag, "application/yaml", max_age, if_none_match);
    }
    case ManagementEndpoint::openapi_service: {
      const auto b = p.current();
      constexpr std::string_view kPrefix = "/openapi/";
      const auto name = path.substr(kPrefix.size(), path.size() - kPrefix.size() - 5);
      const auto it = b->services.find(name);
      if (it == b->services.end())
        return problem_reply(
            404, "not-found", "Not found",
            "no service named '" + core::printable(name, 128) + "' has a live instance");
      return cached_reply(it->second.body, it->second.etag, "application/json", max_age,
                          if_none_match);
    }
    case ManagementEndpoint::docs_slash: {
      DirectReply r;
      r.status = 308;
      r.content_type = "text/plain; charset=utf-8";
      r.headers.emplace_back("Location", "../docs");
      r.body = "moved to /docs\n";
      return r;
    }
    case ManagementEndpoint::docs_page:
    case ManagementEndpoint::docs_asset: {
      if (!p.ui_problem().empty())
        return problem_reply(503, "docs-unavailable", "API documentation page unavailable",
                             p.ui_problem());
      const StaticAsset* a = which == ManagementEndpoint::docs_page
                                 ? &p.docs_page()
                                 : p.asset(path.substr(std::string_view("/docs/").size()));
      if (!a)
        return problem_reply(
            404, "not-found", "Not found",
            "/docs has no file named '" + core::printable(path.substr(6), 128) + "'");
      return cached_reply(a->body, a->etag, a->content_type, kDocsFilesMaxAge, if_none_match);
    }
    default:
      return problem_reply(404, "not-found", "Not found", "not an OpenAPI endpoint");
  }
}

DirectReply method_not_allowed_reply() {
  DirectReply r;
  r.status = 405;
  r.content_type = "application/problem+json";
  r.headers.emplace_back("Allow", "GET, HEAD");
  r.body =
      R"({"type":"https://stella-gw.dev/problems/method-not-allowed","title":"Method not allowed","status":405,"detail":"management endpoints answer GET and HEAD"})";
  return r;
}

DirectReply health_reply(const ServerShared& shared, ManagementEndpoint which) {
  DirectReply r;
  const bool started = shared.started.load(std::memory_order_relaxed);
  const bool draining = shared.draining.load(std::memory_order_relaxed);
  if (which == ManagementEndpoint::live) {
    r.body = R"({"status":"live"})";
  } else if (which == ManagementEndpoint::startup) {
    r.status = started ? 200 : 503;
    r.body = started ? R"({"status":"started"})" : R"({"status":"starting"})";
  } else {
    // Without the Authority's keys every authenticated route answers 503: not ready for
    // traffic (an orchestrator keeps it out of rotation until the keys load).
    const bool ready = started && !draining && (!shared.auth || shared.auth->has_keys());
    r.status = ready ? 200 : 503;
    r.body = readiness_json(shared, ready);
  }
  return r;
}

boost::asio::awaitable<DirectReply> async_metrics_reply(ServerShared& shared) {
  namespace asio = boost::asio;
  // Any client may ask (on the main listener): a render per scrape would let a flood of
  // scrapes cost every worker a copy of its metrics each time.
  constexpr auto kMetricsCacheFor = std::chrono::milliseconds(250);
  DirectReply r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  {
    std::lock_guard lock(shared.metrics_cache_mutex);
    if (!shared.metrics_cache.empty() &&
        shared.clock->now() - shared.metrics_cache_at < kMetricsCacheFor) {
      r.body = shared.metrics_cache;
      co_return r;
    }
  }
  // Each worker's metrics are copied on that worker's own loop: the request path never shares
  // them with another thread.
  WorkerMetrics merged;
  std::uint64_t buffers_in_use = 0, buffers_pooled = 0;
  for (WorkerContext* w : shared.workers) {
    auto copy = co_await asio::co_spawn(
        w->io,
        [w, &buffers_in_use, &buffers_pooled]() -> asio::awaitable<WorkerMetrics> {
          buffers_in_use += w->read_buffers.in_use();
          buffers_pooled += w->read_buffers.pooled();
          co_return w->metrics;
        },
        asio::use_awaitable);
    merged.merge(copy);
  }
  ProcessGauges gauges;
  if (shared.process_gauges && !shared.workers.empty())
    gauges = co_await asio::co_spawn(
        shared.workers.front()->io,
        [&shared]() -> asio::awaitable<ProcessGauges> { co_return shared.process_gauges(); },
        asio::use_awaitable);
  gauges.http_connections = shared.connections.load(std::memory_order_relaxed);
  gauges.http_read_buffers_in_use = buffers_in_use;
  gauges.http_read_buffers_pooled = buffers_pooled;
  gauges.http_connections_accepted =
      shared.stats.connections_accepted.load(std::memory_order_relaxed);
  gauges.http_connections_refused =
      shared.stats.connections_refused.load(std::memory_order_relaxed);
  if (shared.log_sink) gauges.log_lines_dropped = shared.log_sink->dropped();
  if (shared.openapi) {
    gauges.openapi_rebuilds = shared.openapi->rebuilds();
    if (const auto b = shared.openapi->latest()) {
      gauges.openapi_document_bytes = b->json.body.size();
      gauges.openapi_rejected = b->rejected;
    }
  }
  r.body = render_metrics(merged, gauges, shared.config->telemetry.metrics.top_tenants);
  {
    std::lock_guard lock(shared.metrics_cache_mutex);
    shared.metrics_cache = r.body;
    shared.metrics_cache_at = shared.clock->now();
  }
  co_return r;
}

}  // namespace stella::gw::http
