// Management endpoints, answered by the gateway itself without authentication and never
// routed to a service (DESIGN.md §4), matched on the normalised path:
//   /health/live     200 while the process runs
//   /health/startup  200 once every listener is up, else 503
//   /health/ready    200 when started and not draining, else 503; JSON body with the node,
//                    and per service the instance count by health
//   /metrics         Prometheus text (telemetry.metrics.path; off with telemetry.metrics.enabled
//                    false; on its own listener with telemetry.metrics.host/port)
//   /openapi.json, /openapi.yaml, /openapi/{service}.json, /docs, /docs/{file}
//                    the aggregated OpenAPI document and Swagger UI (openapi_publisher.hpp;
//                    on the main listener while openapi.enabled; otherwise routed)
// Only GET and HEAD; another method gets 405 with Allow. Readiness does not depend on services
// being connected: a gateway without instances is still able to answer (with 503 per request),
// and pulling it from a load balancer would not bring services back.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "stella/gateway/http/exchange.hpp"

namespace stella::gw::http {

struct ServerShared;

enum class ManagementEndpoint : std::uint8_t {
  none,
  live,
  ready,
  startup,
  metrics,
  openapi_json,
  openapi_yaml,
  openapi_service,  // /openapi/{service}.json
  docs_page,        // /docs
  docs_slash,       // /docs/ → 308 to /docs (the stage tells it from the raw target)
  docs_asset,       // /docs/{file}
  not_found,
};

/// Which management endpoint `path` names. On the dedicated metrics listener
/// (`management_only`) every other path is not_found; elsewhere it is none (routed).
ManagementEndpoint management_endpoint(const ServerShared& shared, std::string_view path,
                                       bool management_only) noexcept;

/// 405 problem body with Allow: GET, HEAD.
DirectReply method_not_allowed_reply();
/// The answer of a /health/* endpoint.
DirectReply health_reply(const ServerShared& shared, ManagementEndpoint which);
/// Scrapes every worker (each on its own event loop) and the transport state, and renders the
/// Prometheus text.
boost::asio::awaitable<DirectReply> async_metrics_reply(ServerShared& shared);

/// The answer of an OpenAPI or /docs endpoint: 200 with ETag and Cache-Control, 304 when
/// `if_none_match` matches, 404 for an unknown service or file, 503 for /docs without its files.
DirectReply openapi_reply(ServerShared& shared, ManagementEndpoint which, std::string_view path,
                          std::string_view if_none_match);

/// The /health/ready body (also used by tests and `serve`'s startup log).
std::string readiness_json(const ServerShared& shared, bool ready);

}  // namespace stella::gw::http
