// The pipeline's request-level steps as plain functions of immutable config (PipelineConfig,
// shared by all workers) and per-request state (ProxyRequest). The stages in pipeline.cpp call
// them in order; they are sans-I/O and tested alone. A step that refuses a request returns the
// Problem to answer with.
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
  /// http.identityHeadersStrip: more names to strip; a trailing '*' makes a prefix
  /// ("X-Internal-*"). Compared like the built-in list ('_' equals '-', any case).
  std::vector<std::string> identity_headers_strip;
  /// http.identityHeadersAllow: names let through although an identity-shaped prefix of the
  /// built-in list (X-User-, X-Tenant-, ...) matches them. Cannot allow the exact names, the
  /// hop-by-hop fields or X-Forwarded-*.
  std::vector<std::string> identity_headers_allow;
  core::PathLimits path_limits;
  core::Duration default_timeout = std::chrono::seconds(30);  // routing.defaultTimeout
};

/// What the connection knows about its peer.
struct ConnectionFacts {
  std::string peer_ip;  // "127.0.0.1", "::1"
  bool tls = false;
  /// HTTPS with a verified client certificate: base64url(SHA-256(DER of the leaf)), the
  /// x5t#S256 a certificate-bound token must carry (RFC 8705). Empty otherwise.
  std::string client_cert_x5t{};
  /// Accepted on the dedicated metrics listener: only management endpoints are answered.
  bool management_only = false;
};

/// Per-request state, reused by a connection for each of its requests (capacities kept).
struct ProxyRequest {
  std::string correlation_id;
  core::Request frame;  // what goes to the service (headers, path, query, ids)
  /// Header entries of earlier requests, with their strings' capacity, for the next request's
  /// (clear() keeps them, up to kKeptHeaderBytes counting the entries and their strings;
  /// apply_identity_policy takes them).
  std::vector<core::Header> spare_headers;
  std::size_t spare_header_bytes = 0;
  static constexpr std::size_t kKeptHeaderBytes = 4 * 1024;
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

/// True when the header is the gateway's to set, never the client's. Names compare
/// case-insensitively with '_' equal to '-' (X_User_Id is X-User-Id to a CGI-style service).
/// Owned: hop-by-hop fields (Connection and the fields it names, Keep-Alive, Proxy-Connection,
/// TE, Trailer, Transfer-Encoding, Upgrade), Content-Length, Forwarded, X-Real-IP,
/// X-Correlation-Id (carried in its own frame field), Proxy-Authorization, X-Original-URL,
/// traceparent and tracestate (the trace-context stage sets the frame's own), the identity
/// headers X-Tenant-Id, X-Tenant, X-Subject, X-User, X-User-Id, X-Remote-User, X-Auth-User,
/// X-Authenticated-User, X-Scopes, X-Scope, X-Client-Id, X-Claims, X-Client-Cert, X-Roles,
/// X-Role, X-Groups, Remote-User, X-Authenticated-Userid, X-Username, X-Email, X-Principal,
/// Ssl-Client-Cert, X-Client-Certificate, X-Original-URI, X-Rewrite-URL, X-HTTP-Method-Override,
/// X-Method-Override, X-HTTP-Method; every name
/// under X-Forwarded-, X-User-, X-StellaOps-, X-Auth-Request-, X-Tenant-, X-Subject-, X-Scope-,
/// X-Claim-, X-Client-Cert-, X-SSL-Client-, X-DPoP-; and anything under `prefix`.
/// `config` adds its identity_headers_strip and identity_headers_allow to that.
bool is_gateway_owned(std::string_view name, std::string_view connection_value,
                      std::string_view prefix) noexcept;
bool is_gateway_owned(std::string_view name, std::string_view connection_value,
                      const PipelineConfig& config) noexcept;

/// Stage 2. Copies the client's headers into req.frame.headers except the gateway-owned ones
/// (counted in req.stripped_headers), then appends X-Forwarded-For (the peer address: the
/// gateway is the edge, so a client-sent chain is not trusted), X-Forwarded-Proto and
/// X-Forwarded-Host (the Host header).
void apply_identity_policy(const PipelineConfig& config, const RequestHead& head,
                           const ConnectionFacts& conn, ProxyRequest& req);

/// Splits the target into path and query and normalises the path into req.path (400 with the
/// rule that refused it, 414 when too long). Views of the query stay in the head.
std::optional<Problem> normalize_request_path(const PipelineConfig& config, const RequestHead& head,
                                              ProxyRequest& req);

/// Looks up req.path (already normalised) in `snapshot`: 404, or 405 with the allowed methods.
/// On success req.lookup is set (the route, its parameters). The snapshot must outlive req.
std::optional<Problem> match_route(const RequestHead& head, const RouteSnapshot& snapshot,
                                   ProxyRequest& req);

/// After match_route: picks an instance of req.lookup.route (503 when none is routable), through
/// a connection `worker` runs when the instance has one (gw::prefer_local). On success req.pick,
/// req.timeout and req.frame.{method, path, query, route, timeout_ms, correlation_id} are set.
std::optional<Problem> pick_route_instance(const PipelineConfig& config, const RequestHead& head,
                                           const Selector& selector, core::Random& rng,
                                           std::vector<Candidate>& scratch, ProxyRequest& req,
                                           LocalWorker worker = {});

/// Both steps above. Splits the target into path and query, normalises the path (400 with the rule
/// that refused it), looks up the route (404, 405 with the allowed methods) and picks an
/// instance (503). On success req.lookup, req.pick, req.timeout, req.frame.{method, path,
/// query, route, timeout_ms, correlation_id} are set.
std::optional<Problem> route_request(const PipelineConfig& config, const RequestHead& head,
                                     const RouteSnapshot& snapshot, const Selector& selector,
                                     core::Random& rng, std::vector<Candidate>& scratch,
                                     ProxyRequest& req);

}  // namespace stella::gw::http
