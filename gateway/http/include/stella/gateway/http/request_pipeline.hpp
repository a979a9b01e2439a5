// The request pipeline: the stages every proxied request passes, in this order
// (DESIGN.md §4; docs/architecture.md "Life of a request"):
//
//   1. correlation id          assign_correlation_id   — accept a well-formed X-Correlation-Id
//                                                        or make one; echoed on the response
//   2. identity header policy  apply_identity_policy   — strip gateway-owned headers sent by
//                                                        the client; set X-Forwarded-*
//   3. authentication          (inserted here by the authentication work; off until then)
//   4. tenant                  (inserted here by the authentication work)
//   5. rate limiting           (inserted here by the rate-limiting work)
//   6. routing                 route_request           — normalise the path, look up the
//                                                        route (404/405), pick an instance (503)
//   7. transport               HttpConnection          — REQUEST/STREAM_DATA to the instance,
//                                                        RESPONSE/STREAM_DATA back, deadline →
//                                                        504 + CANCEL (http_connection.cpp)
//
// Management endpoints (/health/*) are answered before stage 3 and never reach a service.
//
// Each stage is a function of immutable config (PipelineConfig, shared by all workers) and the
// per-request state (ProxyRequest); a stage that refuses a request returns the Problem to
// answer with. Sans-I/O: the stages do not touch sockets and are tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/core/frame.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/gateway/http/problem.hpp"
#include "stella/gateway/http/request_head.hpp"
#include "stella/gateway/instance_picker.hpp"
#include "stella/gateway/route_snapshot.hpp"
#include "stella/gateway/selector.hpp"

namespace stella::gw::http {

/// Immutable, shared by every worker.
struct PipelineConfig {
  /// Client headers starting with this prefix (case-insensitive) are the gateway's own and are
  /// stripped (http.identityHeaderPrefix).
  std::string identity_header_prefix = "X-Stella-";
  core::PathLimits path_limits;
  core::Duration default_timeout = std::chrono::seconds(30);  // routing.defaultTimeout
};

/// What the connection knows about its peer.
struct ConnectionFacts {
  std::string peer_ip;  // "127.0.0.1", "::1"
  bool tls = false;
};

/// Per-request state, reused by a connection for each of its requests (capacities kept).
struct ProxyRequest {
  std::string correlation_id;
  core::Request frame;               // what goes to the service (headers, path, query, ids)
  core::NormalizedPath path;         // stage 6
  std::size_t stripped_headers = 0;  // stage 2: how many client headers were dropped
  LookupResult lookup;               // stage 6
  std::optional<Pick> pick;          // stage 6
  core::Duration timeout{};          // stage 6: endpoint timeout, else default_timeout

  void clear();
};

/// Stage 1. A client's X-Correlation-Id is kept when it is 1–128 bytes of [A-Za-z0-9._:-];
/// otherwise (absent, too long, other bytes) a fresh 32-hex-digit id from `rng` replaces it.
void assign_correlation_id(const RequestHead& head, core::Random& rng, ProxyRequest& req);

/// True when the header is the gateway's to set, never the client's: hop-by-hop fields
/// (Connection and the fields it names, Keep-Alive, Proxy-Connection, TE, Trailer,
/// Transfer-Encoding, Upgrade), Content-Length (framing is the frame's), X-Forwarded-*,
/// Forwarded, X-Real-IP, X-Correlation-Id (carried in its own frame field), the identity
/// headers X-Tenant-Id, X-Tenant, X-Subject, X-User-Id, X-Scopes, X-Scope, X-Client-Id,
/// X-Claims, and anything under `prefix`.
bool is_gateway_owned(std::string_view name, std::string_view connection_value,
                      std::string_view prefix) noexcept;

/// Stage 2. Copies the client's headers into req.frame.headers except the gateway-owned ones
/// (counted in req.stripped_headers), then appends X-Forwarded-For (the peer address: the
/// gateway is the edge, so a client-sent chain is not trusted), X-Forwarded-Proto and
/// X-Forwarded-Host (the Host header).
void apply_identity_policy(const PipelineConfig& config, const RequestHead& head,
                           const ConnectionFacts& conn, ProxyRequest& req);

/// Stage 6. Splits the target into path and query, normalises the path (400 with the rule
/// that refused it), looks up the route (404, 405 with the allowed methods) and picks an
/// instance (503). On success req.lookup, req.pick, req.timeout, req.frame.{method, path,
/// query, route, timeout_ms, correlation_id} are set.
std::optional<Problem> route_request(const PipelineConfig& config, const RequestHead& head,
                                     const RouteSnapshot& snapshot, const Selector& selector,
                                     core::Random& rng, std::vector<Candidate>& scratch,
                                     ProxyRequest& req);

}  // namespace stella::gw::http
