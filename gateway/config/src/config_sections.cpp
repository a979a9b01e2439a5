// The sections' keys, types and per-key limits. Cross-key rules are in config_validate.cpp.
#include "config_sections.hpp"

#include <algorithm>
#include <string_view>

#include "stella/core/frame.hpp"
#include "stella/core/text.hpp"
#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/selector.hpp"
#include "stella/gateway/service_registry.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::gw::config::detail {
namespace {

using namespace std::chrono_literals;
constexpr core::Duration kPositive{1};  // durations that must be > 0

std::optional<core::HealthStatus> parse_health_status(std::string_view text) {
  for (const auto s :
       {core::HealthStatus::healthy, core::HealthStatus::degraded, core::HealthStatus::unhealthy,
        core::HealthStatus::draining, core::HealthStatus::unknown}) {
    if (text == health_status_name(s)) return s;
  }
  return std::nullopt;
}

void read_listen(MapReader& m, ListenAddress& a) {
  m.get("host", a.host);
  m.get_int("port", a.port, 0, 65535);
}

void read_tcp(MapReader& m, TcpTransportConfig& c) {
  m.get("enabled", c.enabled);
  read_listen(m, c.listen);
  m.get_int("maxConnections", c.max_connections, 1);
  m.get_size("receiveBufferSize", c.receive_buffer_size);
  m.get_size("sendBufferSize", c.send_buffer_size);
  m.get_int("maxPendingHellos", c.max_pending_hellos, 1);
  m.get_int("maxPendingHellosPerSource", c.max_pending_hellos_per_source, 1);
  m.get("helloTimeout", c.hello_timeout, kPositive);
  m.get("writeTimeout", c.write_timeout, kPositive);
  m.finish();
}

// transports.tls.serviceIdentities[]: { match: { san | cn | thumbprint: value }, services: [..],
// pathPrefixes: [..] } (docs/security.md).
void read_service_identities(MapReader& m, std::vector<ServiceIdentityRule>& out) {
  if (!m.has("serviceIdentities")) {
    m.allow("serviceIdentities");
    return;
  }
  auto& diag = m.context().diag;
  for (MapReader& item : m.list_of_maps("serviceIdentities", kMaxServiceIdentities)) {
    ServiceIdentityRule rule;
    item.require("match");
    item.require("services");
    if (auto match = item.map("match")) {
      int given = 0;
      const std::pair<const char*, ServiceIdentityRule::Match> kinds[] = {
          {"san", ServiceIdentityRule::Match::san},
          {"cn", ServiceIdentityRule::Match::cn},
          {"thumbprint", ServiceIdentityRule::Match::thumbprint}};
      for (const auto& [name, kind] : kinds) {
        if (!match->has(name)) continue;
        ++given;
        rule.match = kind;
        match->get(name, rule.value);
        if (rule.value.empty())
          diag.error(match->path(name), match->line(name), "must not be empty");
      }
      if (given != 1) {
        diag.error(
            item.path("match"), item.line("match"),
            "needs exactly one of san, cn or thumbprint (got " + std::to_string(given) + ")");
      }
      if (rule.match == ServiceIdentityRule::Match::thumbprint && given == 1) {
        std::string why;
        if (auto t = transport::tls::parse_thumbprint(rule.value, why)) {
          rule.value = transport::tls::to_hex(*t);
        } else {
          diag.error(match->path("thumbprint"), match->line("thumbprint"), why);
        }
      }
      match->finish();
    }
    item.get("services", rule.services);
    if (item.has("services") && rule.services.empty())
      diag.error(item.path("services"), item.line("services"), "must name at least one service");
    for (std::size_t i = 0; i < rule.services.size(); ++i) {
      const auto& name = rule.services[i];
      if (name.empty() || name.size() > kMaxIdentityLength || !core::is_printable_utf8(name))
        diag.error(item.path("services") + "[" + std::to_string(i) + "]", item.line("services"),
                   "'" + name + "' is not a service name (1 to " +
                       std::to_string(kMaxIdentityLength) + " bytes of printable UTF-8, or *)");
    }
    item.get("pathPrefixes", rule.path_prefixes);
    for (std::size_t i = 0; i < rule.path_prefixes.size(); ++i) {
      auto parsed = core::PathTemplate::parse(rule.path_prefixes[i]);
      const bool literal =
          parsed.ok() &&
          std::all_of(parsed.value().segments().begin(), parsed.value().segments().end(),
                      [](const auto& seg) { return seg.kind == core::SegmentKind::kLiteral; });
      if (!literal)
        diag.error(item.path("pathPrefixes") + "[" + std::to_string(i) + "]",
                   item.line("pathPrefixes"),
                   "'" + rule.path_prefixes[i] +
                       "' is not a path prefix (an absolute path of literal segments, e.g. "
                       "/api/payments)");
    }
    item.finish();
    out.push_back(std::move(rule));
  }
}

void read_tls(MapReader& m, TlsTransportConfig& c) {
  m.get("enabled", c.enabled);
  read_listen(m, c.listen);
  m.get_int("maxConnections", c.max_connections, 1);
  m.get_size("receiveBufferSize", c.receive_buffer_size);
  m.get_size("sendBufferSize", c.send_buffer_size);
  m.get("handshakeTimeout", c.handshake_timeout, 1ms);
  m.get("writeTimeout", c.write_timeout, kPositive);
  m.get("certificatePath", c.tls.certificate_path);
  m.get("privateKeyPath", c.tls.private_key_path);
  m.get("certificatePassword", c.tls.certificate_password);
  m.get_enum("clientCertificateMode", c.tls.client_certificate_mode,
             transport::tls::parse_client_certificate_mode,
             "NoCertificate, AllowCertificate or RequireCertificate");
  m.get("caPath", c.tls.ca_path);
  m.get("allowedClientCertificateThumbprints", c.tls.allowed_client_certificate_thumbprints);
  read_service_identities(m, c.service_identities);
  m.finish();
}

void read_rule_list(MapReader& m, const Key& key, std::vector<RateLimitRule>& out) {
  if (!m.has(key)) {
    m.allow(key);
    return;
  }
  std::vector<RateLimitRule> rules;
  for (MapReader& r : m.list_of_maps(key, kMaxRateLimitRules)) {
    RateLimitRule rule;
    const Key max_requests{"max_requests", "maxRequests"};
    const Key per{"per_seconds", "perSeconds"};
    r.require(max_requests);
    r.require(per);
    r.get_int(max_requests, rule.max_requests, 1);
    r.get(per, rule.per, kPositive);
    r.finish();
    rules.push_back(rule);
  }
  out = std::move(rules);
}

}  // namespace

void read_node(MapReader& m, NodeConfig& c) {
  m.get("region", c.region);
  m.get("nodeId", c.node_id);
  m.get("environment", c.environment);
  m.finish();
}

void read_transports(MapReader& m, TcpTransportConfig& tcp, TlsTransportConfig& tls) {
  if (auto t = m.map("tcp")) read_tcp(*t, tcp);
  if (auto t = m.map("tls")) read_tls(*t, tls);
  m.finish();
}

void read_http(MapReader& m, HttpConfig& c) {
  read_listen(m, c.listen);
  if (auto t = m.map("tls")) {
    t->get("enabled", c.tls.enabled);
    t->get("certificatePath", c.tls.certificate_path);
    t->get("privateKeyPath", c.tls.private_key_path);
    t->get("certificatePassword", c.tls.certificate_password);
    t->get_enum("clientCertificateMode", c.tls.client_certificate_mode,
                transport::tls::parse_client_certificate_mode,
                "none, allow or require (or NoCertificate, AllowCertificate, RequireCertificate)");
    t->get("caPath", c.tls.ca_path);
    t->get("sessionTickets", c.tls.session_tickets);
    t->finish();
  }
  m.get("externalUrl", c.external_url);
  m.get_int("workers", c.workers, 0, 1024);
  m.get_int("maxConnections", c.max_connections, 1);
  m.get_size("maxRequestLineSize", c.max_request_line, 1);
  m.get_size("maxHeaderFieldSize", c.max_header_field, 1);
  m.get_size("maxHeaderBytes", c.max_header_bytes, 1);
  m.get_int("maxHeaderCount", c.max_header_count, 1);
  m.get("headerTimeout", c.header_timeout, kPositive);
  m.get("idleTimeout", c.idle_timeout, kPositive);
  m.get("bodyTimeout", c.body_timeout, kPositive);
  m.get_int("maxPipelinedRequests", c.max_pipelined, 0, 1024);
  m.get("drainTimeout", c.drain_timeout);
  m.get("identityHeaderPrefix", c.identity_header_prefix);
  m.get("identityHeadersStrip", c.identity_headers_strip);
  m.get("identityHeadersAllow", c.identity_headers_allow);
  m.finish();
}

void read_routing(MapReader& m, RoutingConfig& c) {
  m.get("defaultTimeout", c.default_timeout, kPositive);
  m.get("maxStreamDuration", c.max_stream_duration);
  m.get_size("maxRequestBodySize", c.max_request_body_size, 1);
  m.get_size("maxResponseBodySize", c.max_response_body_size);
  m.get("streamingEnabled", c.streaming_enabled);
  // A chunk travels in one STREAM_DATA frame, so it cannot exceed the frame payload limit.
  m.get_size("streamingBufferSize", c.streaming_buffer_size, 1, core::FrameLimits{}.max_payload);
  // Below the 2 MiB a call may buffer for a slow client, so a service that honours credit is
  // never cut for it.
  m.get_size("streamWindow", c.stream_window, 0, 1024 * 1024);
  m.get("neighborRegions", c.selector.neighbor_regions);
  if (auto lb = m.map("loadBalancing")) {
    lb->get_enum("policy", c.selector.policy, parse_policy, "p2c, lowest-ping or round-robin");
    lb->get("preferHealthy", c.selector.prefer_healthy);
    lb->get("overprovisioningFactor", c.selector.overprovisioning_factor, 0.0, 1000.0);
    lb->get_int("maxCandidates", c.selector.max_candidates, 0, 65536);
    lb->get("p2cMinPing", c.selector.p2c_min_ping);
    lb->finish();
  }
  m.get("ownershipGracePeriod", c.table.ownership_grace);
  m.get_int("maxInstances", c.table.max_instances, 1);
  // A HELLO carries at most FrameLimits::max_endpoints endpoints; a larger limit would never act.
  m.get_int("maxEndpointsPerInstance", c.table.max_endpoints_per_instance, 1,
            core::FrameLimits{}.max_endpoints);
  m.get_int("maxRoutes", c.table.max_routes, 1);
  m.get_int("maxMethodLength", c.table.max_method_length, 1, 1024);
  m.get_int("maxTemplateLength", c.table.template_limits.max_length, 1, 65536);
  m.get_int("maxTemplateSegments", c.table.template_limits.max_segments, 1, 4096);
  m.finish();
}

void read_health(MapReader& m, HealthSettings& c) {
  // Ranges are checked by gw::validate(HealthSettings) afterwards, with its own messages.
  m.get("heartbeatIntervalSeconds", c.heartbeat_interval);
  m.get("heartbeatTimeoutSeconds", c.heartbeat_timeout);
  m.get_int("unhealthyThreshold", c.unhealthy_threshold);
  m.get_int("healthyThreshold", c.healthy_threshold);
  m.get("pingEwmaAlpha", c.ping_ewma_alpha, -1e9, 1e9);
  m.get_enum("initialStatus", c.initial_status, parse_health_status,
             "healthy, degraded or unhealthy");
  m.finish();
}

std::optional<ReplayCacheType> parse_replay_cache_type(std::string_view text) {
  if (text == "memory") return ReplayCacheType::memory;
  if (text == "redis" || text == "valkey") return ReplayCacheType::redis;
  return std::nullopt;
}
std::optional<ReplayFallback> parse_replay_fallback(std::string_view text) {
  if (text == "local") return ReplayFallback::local;
  if (text == "closed") return ReplayFallback::closed;
  return std::nullopt;
}

void read_auth(MapReader& m, AuthConfig& c) {
  m.get("enabled", c.enabled);
  m.get("dpopEnabled", c.dpop_enabled);
  m.get("dpopMaxClockSkew", c.dpop_max_clock_skew, kPositive);
  m.get("mtlsEnabled", c.mtls_enabled);
  // The first shape's flat keys moved under auth.authority (issue: one place for the Authority).
  for (const auto& [old_key, new_key] :
       {std::pair{"issuer", "authority.issuer"}, std::pair{"audience", "authority.audiences"},
        std::pair{"jwksPath", "authority.jwksFile"}}) {
    if (!m.has(old_key)) continue;
    m.context().diag.error(m.path(old_key), m.line(old_key),
                           std::string("moved: did you mean 'auth.") + new_key + "'?");
    m.allow(old_key);
  }
  if (auto a = m.map("authority")) {
    a->get("issuer", c.authority.issuer);
    a->get("jwksUri", c.authority.jwks_uri);
    a->get("jwksFile", c.authority.jwks_file);
    a->get("audiences", c.authority.audiences);
    a->get("refreshInterval", c.authority.refresh_interval, 1s);
    a->get("unknownKidRefreshInterval", c.authority.unknown_kid_refresh_interval, 1s);
    a->get("fetchTimeout", c.authority.fetch_timeout, 100ms);
    a->get("requireHttpsMetadata", c.authority.require_https_metadata);
    a->get("caPath", c.authority.ca_path);
    a->finish();
  }
  m.get("algorithms", c.algorithms);
  m.get("clockSkew", c.clock_skew);
  if (auto r = m.map("replayCache")) {
    r->get_enum("type", c.replay_cache.type, parse_replay_cache_type, "memory or redis");
    r->get("url", c.replay_cache.url);
    r->get_int("capacity", c.replay_cache.capacity, 1024, 100'000'000);
    r->get_int("maxPerKey", c.replay_cache.max_per_key, 0, 100'000'000);
    r->get_enum("onUnavailable", c.replay_cache.on_unavailable, parse_replay_fallback,
                "local or closed");
    r->get("commandTimeout", c.replay_cache.command_timeout, 1ms);
    r->finish();
  }
  m.get("anonymousServices", c.anonymous_services);
  m.get("requireSenderConstrained", c.require_sender_constrained);
  m.get_int("tokenCacheSize", c.token_cache_size, 0, 100'000'000);
  m.get_size("maxTokenSize", c.max_token_size, 512, 65536);
  m.get("forwardCredentials", c.forward_credentials);
  m.finish();
}

void read_rate_limiting(MapReader& m, RateLimitConfig& c) {
  // The seed gives two shapes: camelCase single-level keys (section 7) and the Router's
  // snake_case dual-window block (section 9). Both are accepted, each snake_case key also in
  // camelCase (the spelling `config print` writes).
  m.get("enabled", c.enabled);
  m.get_int("requestsPerMinute", c.requests_per_minute, 1);
  m.get_int("burstSize", c.burst_size);
  m.get("redisConnectionString", c.redis_connection_string);
  m.get_int(Key{"process_back_pressure_when_more_than_per_5min",
                "processBackPressureWhenMoreThanPer5min"},
            c.process_back_pressure_per_5min);
  if (auto inst = m.map(Key{"for_instance", "forInstance"})) {
    read_rule_list(*inst, "rules", c.instance_rules);
    inst->finish();
  }
  if (auto env = m.map(Key{"for_environment", "forEnvironment"})) {
    env->get(Key{"valkey_connection", "valkeyConnection"}, c.valkey_connection);
    read_rule_list(*env, "rules", c.environment_rules);
    env->get(Key{"check_timeout", "checkTimeout"}, c.environment_check_timeout, 1ms);
    if (auto cb = env->map(Key{"circuit_breaker", "circuitBreaker"})) {
      cb->get_int(Key{"failure_threshold", "failureThreshold"}, c.circuit_failure_threshold, 1);
      cb->get(Key{"timeout_seconds", "timeoutSeconds"}, c.circuit_timeout, kPositive);
      // The seed writes `half_open_timeout: 10`: seconds, although the name has no unit.
      cb->get(Key{"half_open_timeout", "halfOpenTimeout"}, c.circuit_half_open_timeout, kPositive,
              Bare::seconds);
      cb->finish();
    }
    env->finish();
  }
  const Key key_by{"key_by", "keyBy"};
  if (m.has(key_by)) {
    std::string text;
    m.get(key_by, text);
    if (auto k = parse_rate_limit_key(text, c.key_header)) {
      c.key_by = *k;
    } else {
      m.context().diag.error(m.path(key_by), m.line(key_by),
                             "'" + text +
                                 "' is not valid (expected identity, tenant, subject, client_id, "
                                 "ip or header:NAME)");
    }
  } else {
    m.allow(key_by);
  }
  m.get_int(Key{"max_keys", "maxKeys"}, c.max_keys, 64, 100'000'000);
  const Key overrides{"overrides"};
  for (MapReader& o : m.list_of_maps(overrides, kMaxRateLimitOverrides)) {
    RateLimitOverride ov;
    if (auto match = o.map("match")) {
      match->get("service", ov.service);
      match->get("method", ov.method);
      match->get("path", ov.path);
      match->finish();
    } else {
      o.require("match");
    }
    o.get("exempt", ov.exempt);
    if (auto inst = o.map(Key{"for_instance", "forInstance"})) {
      std::vector<RateLimitRule> rules;
      read_rule_list(*inst, "rules", rules);
      ov.instance_rules = std::move(rules);
      inst->finish();
    }
    if (auto env = o.map(Key{"for_environment", "forEnvironment"})) {
      std::vector<RateLimitRule> rules;
      read_rule_list(*env, "rules", rules);
      ov.environment_rules = std::move(rules);
      env->finish();
    }
    o.finish();
    c.overrides.push_back(std::move(ov));
  }
  m.finish();
}

std::optional<RateLimitKey> parse_rate_limit_key(std::string_view text, std::string& header) {
  if (text == "identity") return RateLimitKey::identity;
  if (text == "tenant") return RateLimitKey::tenant;
  if (text == "subject") return RateLimitKey::subject;
  if (text == "client_id" || text == "clientId") return RateLimitKey::client_id;
  if (text == "ip") return RateLimitKey::ip;
  if (text.rfind("header:", 0) == 0 && text.size() > 7) {
    header = std::string(text.substr(7));
    return RateLimitKey::header;
  }
  return std::nullopt;
}

void read_openapi(MapReader& m, OpenApiConfig& c) {
  m.get("enabled", c.enabled);
  m.get("cacheTtlSeconds", c.cache_ttl);
  m.get("title", c.title);
  m.get("version", c.version);
  m.get("description", c.description);
  m.get("servers", c.servers);
  if (auto u = m.map("ui")) {
    u->get("enabled", c.ui.enabled);
    u->get("assetsDir", c.ui.assets_dir);
    u->finish();
  }
  if (auto l = m.map("limits")) {
    l->get_size("maxFragmentBytes", c.limits.max_fragment_bytes, 1024, 16 * 1024 * 1024);
    l->get_int("maxDepth", c.limits.max_depth, 8, 256);
    l->get_int("maxComponents", c.limits.max_components, 0, 100000);
    l->finish();
  }
  m.finish();
}

void read_telemetry(MapReader& m, TelemetryConfig& c) {
  if (auto t = m.map("metrics")) {
    t->get("enabled", c.metrics.enabled);
    t->get("path", c.metrics.path);
    if (t->has("host") || t->has("port")) {
      ListenAddress a{"127.0.0.1", 9090};
      read_listen(*t, a);
      c.metrics.listen = a;
    } else {
      t->allow("host");
      t->allow("port");
    }
    t->get_int("topTenants", c.metrics.top_tenants, 0, 1000);
    t->finish();
  }
  if (auto t = m.map("logging")) {
    t->get_enum("format", c.logging.format, parse_log_format, "text or json");
    t->get("output", c.logging.output);
    if (t->has("requests")) {
      bool v = false;
      t->get("requests", v);
      c.logging.requests = v;
    }
    t->finish();
  }
  if (auto t = m.map("tracing")) {
    t->get("enabled", c.tracing.enabled);
    t->get("endpoint", c.tracing.endpoint);
    t->get("serviceName", c.tracing.service_name);
    t->get_int("maxQueueSpans", c.tracing.max_queue_spans, 1, 100'000);
    t->get_int("maxBatchSpans", c.tracing.max_batch_spans, 1, 100'000);
    t->get("exportInterval", c.tracing.export_interval, kPositive);
    t->get("exportTimeout", c.tracing.export_timeout, kPositive);
    t->get("caFile", c.tracing.ca_file);
    t->finish();
  }
  m.finish();
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

void link_sections(GatewayConfig& c) {
  c.routing.selector.local_region = c.node.region;
  c.routing.table.initial_health = c.health.initial_status;
}

}  // namespace stella::gw::config::detail

namespace stella::gw::config {

// The short form (seed §7): burstSize per second and requestsPerMinute per minute at the
// instance level, and requestsPerMinute per minute at the environment level too when a Redis
// is named. The instance copy holds the limit per gateway while the activation gate keeps the
// environment level out (a quiet gateway), or while Redis is away.
std::vector<RateLimitRule> RateLimitConfig::effective_instance_rules() const {
  if (!instance_rules.empty() || !environment_rules.empty() || !enabled) return instance_rules;
  std::vector<RateLimitRule> r;
  if (burst_size > 0) r.push_back({burst_size, std::chrono::seconds(1)});
  r.push_back({requests_per_minute, std::chrono::minutes(1)});
  return r;
}

std::vector<RateLimitRule> RateLimitConfig::effective_environment_rules() const {
  if (!instance_rules.empty() || !environment_rules.empty() || !enabled) return environment_rules;
  if (redis_connection_string.empty()) return {};
  return {{requests_per_minute, std::chrono::minutes(1)}};
}

std::string RateLimitConfig::effective_redis() const {
  return valkey_connection.empty() ? redis_connection_string : valkey_connection;
}

bool RateLimitConfig::active() const {
  if (!instance_rules.empty() || !environment_rules.empty()) return true;
  for (const auto& o : overrides)
    if ((o.instance_rules && !o.instance_rules->empty()) ||
        (o.environment_rules && !o.environment_rules->empty()))
      return true;
  return enabled;
}

}  // namespace stella::gw::config
