// The gateway's configuration: the seed's YAML shape (docs/configuration.md), parsed and
// validated once at startup into immutable values that the rest of the gateway reads.
//
// Shape: one document; the sections `node`, `transports`, `routing`, `health`, `http`, `auth`,
// `rateLimiting` (alias `rate_limiting`), `openapi` sit under a root `gateway:` key (the seed's
// nesting) or at the top level; one section given both ways is an error. Keys are camelCase as
// in the seed. Every default below is what a key left out means.
//
// Thread-safety: plain values; share a loaded config as std::shared_ptr<const GatewayConfig>.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/routing_state.hpp"
#include "stella/gateway/selector.hpp"
#include "stella/gateway/service_identity.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::gw::config {

using namespace std::chrono_literals;

/// gateway.node
struct NodeConfig {
  std::string region = "local";        // region: instances in it form the local tier
  std::string node_id = "gw-local-1";  // nodeId: sent in HELLO_ACK, logged
  std::string environment = "dev";     // environment: "dev", "staging", "prod", ...
};

/// A listening address. `host` is an IP literal or "localhost"; port 0 picks a free port.
struct ListenAddress {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;
};

/// transports.tcp
struct TcpTransportConfig {
  bool enabled = true;                             // enabled
  ListenAddress listen{"0.0.0.0", 9100};           // host (default 0.0.0.0), port (9100)
  std::size_t max_connections = 1000;              // maxConnections
  int receive_buffer_size = 65536;                 // receiveBufferSize (0: OS default)
  int send_buffer_size = 65536;                    // sendBufferSize (0: OS default)
  std::size_t max_pending_hellos = 256;            // maxPendingHellos
  std::size_t max_pending_hellos_per_source = 32;  // maxPendingHellosPerSource (TLS too)
  core::Duration hello_timeout = 10s;              // helloTimeout
  core::Duration write_timeout = 30s;  // writeTimeout: a peer not reading that long is cut
};

/// transports.tls: the same listener settings plus the TLS material.
struct TlsTransportConfig {
  bool enabled = false;                                // enabled
  ListenAddress listen{"0.0.0.0", 9443};               // host, port (9443)
  std::size_t max_connections = 1000;                  // maxConnections
  int receive_buffer_size = 65536;                     // receiveBufferSize
  int send_buffer_size = 65536;                        // sendBufferSize
  std::chrono::milliseconds handshake_timeout{10000};  // handshakeTimeout
  core::Duration write_timeout = 30s;  // writeTimeout: a peer not reading that long is cut
  /// certificatePath, privateKeyPath, certificatePassword, clientCertificateMode, caPath,
  /// allowedClientCertificateThumbprints (validated: 64 hex digits each).
  transport::tls::TlsSettings tls;
  /// serviceIdentities: certificate identity → service names and path prefixes it may claim
  /// (docs/security.md). Applies to every service connection, TLS or not.
  std::vector<ServiceIdentityRule> service_identities;
};

/// Items transports.tls.serviceIdentities may have.
inline constexpr std::size_t kMaxServiceIdentities = 1024;

/// http.tls: HTTPS on the ingress listener (TLS 1.3 only).
struct HttpTlsConfig {
  bool enabled = false;              // enabled
  std::string certificate_path;      // certificatePath (PEM chain, or .pfx/.p12)
  std::string private_key_path;      // privateKeyPath (PEM; empty: in certificatePath)
  std::string certificate_password;  // certificatePassword (usually "${ENV_VAR}")
  /// clientCertificateMode: none | allow | require (also the seed's NoCertificate, ...):
  /// whether clients are asked for a certificate (RFC 8705 certificate-bound tokens).
  transport::tls::ClientCertificateMode client_certificate_mode =
      transport::tls::ClientCertificateMode::none;
  std::string ca_path;  // caPath: PEM CAs trusted for client certificates
  /// sessionTickets: TLS 1.3 session tickets, so that clients can resume (no certificate
  /// exchange or signature on their next connection). false: every connection is a full handshake.
  bool session_tickets = true;
};

/// http: the client-facing HTTP/1.1 listener and its limits.
struct HttpConfig {
  ListenAddress listen{"0.0.0.0", 8080};  // host, port
  HttpTlsConfig tls;                      // tls
  /// externalUrl: scheme://host[:port] clients use to reach the gateway (DPoP `htu`); empty:
  /// taken from each request (its Host and whether the connection is TLS).
  std::string external_url;
  std::size_t workers = 0;               // workers: event-loop threads (0: one per core)
  std::size_t max_connections = 10000;   // maxConnections (per gateway, all workers)
  std::size_t max_request_line = 8192;   // maxRequestLineSize → 414 beyond
  std::size_t max_header_field = 8192;   // maxHeaderFieldSize → 431 beyond
  std::size_t max_header_bytes = 65536;  // maxHeaderBytes (all fields) → 431 beyond
  std::size_t max_header_count = 100;    // maxHeaderCount → 431 beyond
  core::Duration header_timeout = 10s;   // headerTimeout: whole head must arrive → 408
  core::Duration idle_timeout = 60s;     // idleTimeout: keep-alive connection with no request
  core::Duration body_timeout = 30s;     // bodyTimeout: gap between two body reads → 408
  std::size_t max_pipelined = 16;        // maxPipelinedRequests: queued behind the active one
  core::Duration drain_timeout = 30s;    // drainTimeout: graceful shutdown budget
  /// identityHeaderPrefix: client headers starting with it are stripped (the gateway's own).
  std::string identity_header_prefix = "X-Stella-";
  /// identityHeadersStrip: more client headers to strip (a trailing '*' makes a prefix).
  std::vector<std::string> identity_headers_strip;
  /// identityHeadersAllow: names exempt from the built-in identity-shaped prefixes.
  std::vector<std::string> identity_headers_allow;
};

/// routing
struct RoutingConfig {
  core::Duration default_timeout = 30s;  // defaultTimeout: to the head, and between parts
  core::Duration max_stream_duration{};  // maxStreamDuration: whole stream (0: none)
  std::uint64_t max_request_body_size = 100'000'000;  // maxRequestBodySize ("100MB") → 413
  std::uint64_t max_response_body_size = 0;   // maxResponseBodySize → 502 / cut (0: no limit)
  bool streaming_enabled = true;              // streamingEnabled
  std::size_t streaming_buffer_size = 16384;  // streamingBufferSize (bytes per chunk)
  /// streamWindow: response-body bytes per stream a service may send before CREDIT (0: off).
  std::uint32_t stream_window = 256 * 1024;
  /// neighborRegions, loadBalancing.{policy, preferHealthy, overprovisioningFactor,
  /// maxCandidates, p2cMinPing}; local_region is copied from node.region.
  SelectorSettings selector;
  /// ownershipGracePeriod (30s), maxInstances, maxEndpointsPerInstance, maxRoutes,
  /// maxMethodLength, maxTemplateLength, maxTemplateSegments.
  RouteTableSettings table = [] {
    RouteTableSettings t;
    t.ownership_grace = 30s;
    return t;
  }();
};

/// auth.authority: where the signing keys come from (docs/security.md, "Keys").
struct AuthorityConfig {
  /// issuer: the `iss` tokens must carry; also where discovery starts
  /// ({issuer}/.well-known/openid-configuration) unless jwksUri or jwksFile is given.
  std::string issuer;
  std::string jwks_uri;                     // jwksUri: overrides discovery
  std::string jwks_file;                    // jwksFile: static keys, no network
  std::vector<std::string> audiences;       // audiences: one must be in `aud` (empty: unchecked)
  core::Duration refresh_interval = 10min;  // refreshInterval: background refresh
  /// unknownKidRefreshInterval: at most one refresh per this long for tokens naming an unknown
  /// kid (a flood of junk kids cannot hammer the Authority).
  core::Duration unknown_kid_refresh_interval = 30s;
  core::Duration fetch_timeout = 5s;   // fetchTimeout: discovery or JWKS request
  bool require_https_metadata = true;  // requireHttpsMetadata: false allows http://
  std::string ca_path;  // caPath: PEM CAs trusted for the Authority (empty: the system's)
};

/// What DPoP does with proof ids (auth.replayCache).
enum class ReplayCacheType : std::uint8_t { memory, redis };
/// When the shared replay cache cannot be reached (auth.replayCache.onUnavailable).
enum class ReplayFallback : std::uint8_t {
  local,   // "local": the in-process cache alone (counted and logged); replays to another
           // gateway are not caught meanwhile
  closed,  // "closed": DPoP requests get 503 until Redis answers again
};

struct ReplayCacheConfig {
  ReplayCacheType type = ReplayCacheType::memory;  // type: memory | redis
  std::string url;                   // url: redis://host:port/db or host:port (type redis)
  std::size_t capacity = 1'000'000;  // capacity: live proof ids kept in process
  /// maxPerKey: live proof ids one DPoP key may hold (0: capacity / 10), so one client
  /// flooding proofs gets 429 instead of filling the cache for everyone.
  std::size_t max_per_key = 0;
  ReplayFallback on_unavailable = ReplayFallback::local;  // onUnavailable: local | closed
  std::chrono::milliseconds command_timeout{250};         // commandTimeout (Redis)
};

/// auth: who may call (docs/security.md). Off in the dev default.
struct AuthConfig {
  bool enabled = false;                      // enabled
  bool dpop_enabled = true;                  // dpopEnabled: accept `Authorization: DPoP`
  core::Duration dpop_max_clock_skew = 60s;  // dpopMaxClockSkew: |now - proof iat| bound
  bool mtls_enabled = false;                 // mtlsEnabled: honour cnf.x5t#S256 (RFC 8705)
  AuthorityConfig authority;                 // authority
  /// algorithms: the JWS algorithms accepted for tokens and proofs (asymmetric only).
  std::vector<std::string> algorithms{"ES256", "ES384", "RS256", "PS256", "EdDSA"};
  core::Duration clock_skew = 30s;  // clockSkew: leeway for exp/nbf/iat of tokens
  ReplayCacheConfig replay_cache;   // replayCache
  /// anonymousServices: services whose endpoints may declare themselves anonymous in HELLO.
  std::vector<std::string> anonymous_services;
  /// requireSenderConstrained: refuse tokens bound to nothing (plain Bearer without cnf).
  bool require_sender_constrained = false;
  std::size_t token_cache_size = 100'000;  // tokenCacheSize: verified tokens kept (0: off)
  std::size_t max_token_size = 8192;       // maxTokenSize: bytes of a token or a proof
  /// forwardCredentials: pass the client's Authorization and DPoP headers on to services.
  /// Off: the gateway removes them once it has checked them (services get the verified
  /// identity in the REQUEST frame instead), so a service cannot collect reusable tokens.
  bool forward_credentials = false;
};

/// One window rule: at most `max_requests` per `per` (rate_limiting.*.rules[]).
struct RateLimitRule {
  std::uint64_t max_requests = 0;  // max_requests / maxRequests
  core::Duration per = 1s;         // per_seconds / perSeconds (number of seconds or duration)
};

/// rateLimiting / rate_limiting (shape only until the rate-limiting issue).
/// What a request is counted under (rate_limiting.key_by).
enum class RateLimitKey : std::uint8_t {
  identity,   // "identity": tenant and subject of the verified token; the client's address
              // for requests without one (auth off, anonymous endpoints)
  tenant,     // "tenant": the token's tid (the address without one)
  subject,    // "subject": the token's sub (the address without one)
  client_id,  // "client_id": the token's client_id (the address without one)
  ip,         // "ip": the client's address (IPv6 by /64)
  header,     // "header:NAME": the value of a request header (the address without it)
};

/// rate_limiting.overrides[]: other rules, or none, for some routes.
struct RateLimitOverride {
  std::string service;  // match.service: the route's service ("" any)
  std::string method;   // match.method ("" any)
  std::string path;     // match.path: the route's template, exactly as registered ("" any)
  bool exempt = false;  // exempt: not limited at all
  std::optional<std::vector<RateLimitRule>> instance_rules;     // for_instance.rules
  std::optional<std::vector<RateLimitRule>> environment_rules;  // for_environment.rules
};

/// Items rate_limiting.overrides may have.
inline constexpr std::size_t kMaxRateLimitOverrides = 256;

struct RateLimitConfig {
  bool enabled = false;                      // enabled
  std::uint64_t requests_per_minute = 1000;  // requestsPerMinute
  std::uint64_t burst_size = 100;            // burstSize
  std::string redis_connection_string;       // redisConnectionString
  std::uint64_t process_back_pressure_per_5min =
      5000;                                      // process_back_pressure_when_more_than_per_5min
  std::vector<RateLimitRule> instance_rules;     // for_instance.rules
  std::string valkey_connection;                 // for_environment.valkey_connection
  std::vector<RateLimitRule> environment_rules;  // for_environment.rules
  std::uint32_t circuit_failure_threshold = 3;  // for_environment.circuit_breaker.failure_threshold
  core::Duration circuit_timeout = 30s;         // .timeout_seconds
  core::Duration circuit_half_open_timeout = 10s;  // .half_open_timeout
  /// for_environment.check_timeout: a Redis check taking longer is abandoned and the instance
  /// level decides alone (counted as a breaker failure).
  std::chrono::milliseconds environment_check_timeout{5};
  RateLimitKey key_by = RateLimitKey::identity;  // key_by / keyBy
  std::string key_header;                        // NAME of key_by "header:NAME"
  std::vector<RateLimitOverride> overrides;      // overrides
  std::size_t max_keys = 100'000;                // max_keys / maxKeys: instance-level table cap

  /// The rules in force: the long form's own, or the short form mapped onto the two levels
  /// (docs/configuration.md): burstSize per second at the instance level, requestsPerMinute
  /// per minute at the environment level (Redis at redisConnectionString), or at the instance
  /// level too when no Redis is given.
  std::vector<RateLimitRule> effective_instance_rules() const;
  std::vector<RateLimitRule> effective_environment_rules() const;
  std::string effective_redis() const;  // valkey_connection, else redisConnectionString
  /// A rule is configured anywhere (the long form is active by itself; the short form needs
  /// enabled: true).
  bool active() const;
};

/// openapi: the aggregated document (/openapi.json, /openapi.yaml, /openapi/{service}.json)
/// and the browsable page (/docs). docs/openapi.md.
struct OpenApiConfig {
  bool enabled = true;  // enabled
  /// cacheTtlSeconds: Cache-Control max-age, and the shortest time between two rebuilds (a
  /// change of the routes is shown once the document is this old; 0: at once).
  core::Duration cache_ttl = 300s;
  std::string title = "Stella Ops API";  // title
  std::string version = "1.0.0";         // version
  std::string description;               // description (info.description)
  /// servers: URLs listed in the document; empty: http.externalUrl when set, else none (a
  /// client then uses the address it fetched the document from).
  std::vector<std::string> servers;
  struct Ui {
    bool enabled = true;  // ui.enabled: serve /docs (Swagger UI)
    /// ui.assetsDir: Swagger UI's distribution files (npm swagger-ui-dist), read from disk;
    /// relative to the working directory. scripts/setup.sh installs them here.
    std::string assets_dir = "tools/openapi/node_modules/swagger-ui-dist";
  } ui;
  struct FragmentLimits {
    std::size_t max_fragment_bytes = 256 * 1024;  // limits.maxFragmentBytes
    std::size_t max_depth = 64;                   // limits.maxDepth
    std::size_t max_components = 1000;            // limits.maxComponents (per service)
  } limits;
};

/// telemetry.metrics: the Prometheus endpoint.
struct MetricsConfig {
  bool enabled = true;                  // enabled
  std::string path = "/metrics";        // path (on the HTTP listener unless `listen` is set)
  std::optional<ListenAddress> listen;  // host + port: serve metrics (and /health/*) there only
  std::size_t top_tenants = 20;         // topTenants: tenant label values before "other"
  bool separate_listener() const noexcept { return listen.has_value(); }
};

enum class LogFormat : std::uint8_t { text, json };

/// telemetry.logging: lifecycle and request log lines.
struct LoggingConfig {
  LogFormat format = LogFormat::text;  // format: text | json (serve --log-format overrides)
  /// output: "stdout", "stderr" or a file path (appended). Empty: stderr for text, stdout for
  /// json.
  std::string output;
  /// requests: one line per request. Unset: on for json, off for text (a terminal).
  std::optional<bool> requests;
  bool request_lines() const noexcept { return requests.value_or(format == LogFormat::json); }
};

/// telemetry.tracing: spans exported as OTLP/HTTP JSON.
struct TracingConfig {
  bool enabled = false;                                      // enabled
  std::string endpoint = "http://127.0.0.1:4318/v1/traces";  // endpoint (http:// or https://)
  std::string service_name = "stella-gw";                    // serviceName
  std::size_t max_queue_spans = 2048;                        // maxQueueSpans: then dropped
  std::size_t max_batch_spans = 512;                         // maxBatchSpans per POST
  core::Duration export_interval = 1s;                       // exportInterval
  core::Duration export_timeout = 5s;                        // exportTimeout
  std::string ca_file;  // caFile: PEM CA bundle for an https:// endpoint (empty: system store)
};

struct TelemetryConfig {
  MetricsConfig metrics;
  LoggingConfig logging;
  TracingConfig tracing;
};

struct GatewayConfig {
  NodeConfig node;
  TcpTransportConfig tcp;
  TlsTransportConfig tls;
  HttpConfig http;
  RoutingConfig routing;
  /// health: heartbeatIntervalSeconds, heartbeatTimeoutSeconds, unhealthyThreshold,
  /// healthyThreshold, pingEwmaAlpha, initialStatus.
  HealthSettings health;
  AuthConfig auth;
  RateLimitConfig rate_limiting;
  OpenApiConfig openapi;
  TelemetryConfig telemetry;  // telemetry: metrics, logging, tracing
  /// The file it came from ("" for the embedded dev default), for messages.
  std::string source;
};

/// One problem found while loading: the key path ("routing.defaultTimeout",
/// "transports.tls.allowedClientCertificateThumbprints[2]"), the line (1-based, 0 if unknown)
/// and what is wrong.
struct ConfigError {
  std::string key;
  int line = 0;
  std::string message;
};

/// Everything found; `config` is meaningful only when `errors` is empty.
struct LoadResult {
  GatewayConfig config;
  std::vector<ConfigError> errors;
  bool ok() const noexcept { return errors.empty(); }
};

/// Looks up environment variables for ${NAME} substitution (injectable for tests).
using EnvLookup = std::optional<std::string> (*)(const char* name);
std::optional<std::string> process_env(const char* name);

/// Parses YAML text. `${NAME}` in any scalar is replaced by the variable's value
/// (`${NAME:-default}` when unset or empty); an unset variable without a default is an error at
/// that key. `source` names the file in messages. Collects every error rather than stopping at
/// the first. Never throws.
LoadResult load_config_text(const std::string& text, const std::string& source,
                            EnvLookup env = &process_env);
/// Reads and parses a file; an unreadable file is one error with key "".
LoadResult load_config_file(const std::string& path, EnvLookup env = &process_env);

/// The embedded dev default: HTTP on 127.0.0.1:8080, TCP transport on 127.0.0.1:9100, TLS off,
/// auth off, 2 s heartbeats (so a newcomer sees health changes quickly), the OpenAPI document
/// rebuilt at most once a second.
GatewayConfig dev_default();

/// "FILE:LINE: key: message" (or "FILE: key: message" without a line).
std::string format_error(const std::string& source, const ConfigError& e);

/// The configuration as YAML in the canonical shape (sections under `gateway:`, camelCase
/// keys, every key written, defaults included), as `stella-gw config print` shows it. Secrets
/// (certificatePassword, passwords inside connection strings) are written "***" unless
/// `show_secrets`. '$' is written "$$", so with show_secrets the text loads back to an equal
/// configuration.
std::string to_yaml(const GatewayConfig& config, bool show_secrets = false);

/// Every check load_config_text applies (types, ranges, cross-key rules), for a configuration
/// built or changed in code (dev_default(), tests). Errors carry key paths but no lines.
std::vector<ConfigError> validate_config(const GatewayConfig& config);

}  // namespace stella::gw::config
