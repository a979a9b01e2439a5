// Management endpoints, answered by the gateway itself without authentication and never
// routed to a service (DESIGN.md §4):
//   /health/live     200 while the process runs
//   /health/startup  200 once every listener is up, else 503
//   /health/ready    200 when started and not draining, else 503; JSON body with the node,
//                    and per service the instance count by health
// Only GET and HEAD; another method gets 405 with Allow. Readiness does not depend on services
// being connected: a gateway without instances is still able to answer (with 503 per request),
// and pulling it from a load balancer would not bring services back.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stella/gateway/http/worker_context.hpp"

namespace stella::gw::http {

struct ManagementResponse {
  unsigned status = 200;
  std::string_view content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Allow on 405
};

/// The answer when `target` is a management endpoint, else std::nullopt.
std::optional<ManagementResponse> management_response(const ServerShared& shared,
                                                      std::string_view method,
                                                      std::string_view target);

/// The /health/ready body (also used by tests and `serve`'s startup log).
std::string readiness_json(const ServerShared& shared, bool ready);

}  // namespace stella::gw::http
