// to_yaml: the effective configuration in the canonical shape, for `stella-gw config print`
// and validate_config(). The output loads back to the same values (tests check the round trip).
#include <yaml-cpp/yaml.h>

#include <array>
#include <cctype>
#include <charconv>
#include <string_view>

#include "stella/core/units.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config {
namespace {

constexpr std::string_view kRedacted = "***";

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Hides the password of a connection string: "redis://user:pw@host" → "redis://user:***@host",
// "host:6379,password=pw" → "host:6379,password=***".
std::string redact_connection(std::string_view s) {
  std::string out;
  if (const auto scheme = s.find("://"); scheme != std::string_view::npos) {
    const auto start = scheme + 3;
    const auto at = s.find('@', start);
    const auto slash = s.find('/', start);
    if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash)) {
      const std::string_view userinfo = s.substr(start, at - start);
      const auto colon = userinfo.find(':');
      out = std::string(s.substr(0, start));
      out += colon == std::string_view::npos
                 ? std::string(kRedacted)
                 : std::string(userinfo.substr(0, colon + 1)) + std::string(kRedacted);
      out += s.substr(at);
      return out;
    }
  }
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto comma = s.find(',', pos);
    if (comma == std::string_view::npos) comma = s.size();
    const std::string_view part = s.substr(pos, comma - pos);
    if (pos) out += ',';
    out +=
        istarts_with(part, "password=") ? "password=" + std::string(kRedacted) : std::string(part);
    pos = comma + 1;
  }
  return out;
}

// '$' doubled, so the text loads back unchanged (the loader substitutes ${NAME}).
std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

class Writer {
 public:
  explicit Writer(bool show_secrets) : show_secrets_(show_secrets) { out_.SetIndent(2); }

  void begin(std::string_view key) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  }
  void end() { out_ << YAML::EndMap; }

  void str(std::string_view key, std::string_view v) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::DoubleQuoted << escape(v);
  }
  void secret(std::string_view key, std::string_view v) {
    str(key, v.empty() || show_secrets_ ? v : kRedacted);
  }
  void connection(std::string_view key, std::string_view v) {
    str(key, show_secrets_ ? std::string(v) : redact_connection(v));
  }
  void boolean(std::string_view key, bool v) {
    out_ << YAML::Key << std::string(key) << YAML::Value << v;
  }
  void number(std::string_view key, std::uint64_t v) {
    out_ << YAML::Key << std::string(key) << YAML::Value << v;
  }
  void real(std::string_view key, double v) {
    std::array<char, 64> buf{};
    const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out_ << YAML::Key << std::string(key) << YAML::Value
         << std::string(buf.data(), static_cast<std::size_t>(r.ptr - buf.data()));
  }
  void duration(std::string_view key, core::Duration d) { str(key, core::format_duration(d)); }
  /// A key named ...Seconds: a bare number when whole seconds, as the seed writes them.
  void seconds(std::string_view key, core::Duration d) {
    if (d % std::chrono::seconds(1) == core::Duration::zero()) {
      number(key, static_cast<std::uint64_t>(
                      std::chrono::duration_cast<std::chrono::seconds>(d).count()));
    } else {
      duration(key, d);
    }
  }
  void size(std::string_view key, std::uint64_t v) {
    static constexpr std::pair<std::uint64_t, std::string_view> kUnits[] = {
        {1'000'000'000'000, "TB"}, {1'000'000'000, "GB"}, {1'000'000, "MB"},   {1'000, "KB"},
        {1ULL << 40, "TiB"},       {1ULL << 30, "GiB"},   {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}};
    for (const auto& [factor, unit] : kUnits) {
      if (v >= factor && v % factor == 0) {
        str(key, std::to_string(v / factor) + std::string(unit));
        return;
      }
    }
    number(key, v);
  }
  void strings(std::string_view key, const std::vector<std::string>& v) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& s : v)
      out_ << YAML::DoubleQuoted << escape(s);
    out_ << YAML::EndSeq;
  }
  void rules(std::string_view key, const std::vector<RateLimitRule>& rules) {
    out_ << YAML::Key << std::string(key) << YAML::Value;
    if (rules.empty()) {
      out_ << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out_ << YAML::BeginSeq;
    for (const RateLimitRule& r : rules) {
      out_ << YAML::Flow << YAML::BeginMap;
      number("maxRequests", r.max_requests);
      seconds("perSeconds", r.per);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }
  void overrides(std::string_view key, const std::vector<RateLimitOverride>& list) {
    out_ << YAML::Key << std::string(key) << YAML::Value;
    if (list.empty()) {
      out_ << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out_ << YAML::BeginSeq;
    for (const RateLimitOverride& o : list) {
      out_ << YAML::BeginMap;
      begin("match");
      str("service", o.service);
      str("method", o.method);
      str("path", o.path);
      end();
      boolean("exempt", o.exempt);
      if (o.instance_rules) {
        begin("forInstance");
        rules("rules", *o.instance_rules);
        end();
      }
      if (o.environment_rules) {
        begin("forEnvironment");
        rules("rules", *o.environment_rules);
        end();
      }
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }
  void identities(std::string_view key, const std::vector<ServiceIdentityRule>& rules) {
    out_ << YAML::Key << std::string(key) << YAML::Value;
    if (rules.empty()) {
      out_ << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out_ << YAML::BeginSeq;
    for (const ServiceIdentityRule& r : rules) {
      out_ << YAML::BeginMap;
      begin("match");
      static constexpr std::string_view kMatch[] = {"san", "cn", "thumbprint"};
      str(kMatch[static_cast<std::size_t>(r.match)], r.value);
      end();
      strings("services", r.services);
      strings("pathPrefixes", r.path_prefixes);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }
  void listen(const ListenAddress& a) {
    str("host", a.host);
    number("port", a.port);
  }

  YAML::Emitter& emitter() { return out_; }

 private:
  YAML::Emitter out_;
  bool show_secrets_;
};

}  // namespace

std::string to_yaml(const GatewayConfig& c, bool show_secrets) {
  Writer w(show_secrets);
  w.emitter() << YAML::BeginMap;
  w.begin("gateway");

  w.begin("node");
  w.str("region", c.node.region);
  w.str("nodeId", c.node.node_id);
  w.str("environment", c.node.environment);
  w.end();

  w.begin("transports");
  w.begin("tcp");
  w.boolean("enabled", c.tcp.enabled);
  w.listen(c.tcp.listen);
  w.number("maxConnections", c.tcp.max_connections);
  w.size("receiveBufferSize", static_cast<std::uint64_t>(c.tcp.receive_buffer_size));
  w.size("sendBufferSize", static_cast<std::uint64_t>(c.tcp.send_buffer_size));
  w.number("maxPendingHellos", c.tcp.max_pending_hellos);
  w.number("maxPendingHellosPerSource", c.tcp.max_pending_hellos_per_source);
  w.duration("helloTimeout", c.tcp.hello_timeout);
  w.duration("writeTimeout", c.tcp.write_timeout);
  w.end();
  w.begin("tls");
  w.boolean("enabled", c.tls.enabled);
  w.listen(c.tls.listen);
  w.number("maxConnections", c.tls.max_connections);
  w.size("receiveBufferSize", static_cast<std::uint64_t>(c.tls.receive_buffer_size));
  w.size("sendBufferSize", static_cast<std::uint64_t>(c.tls.send_buffer_size));
  w.duration("handshakeTimeout", c.tls.handshake_timeout);
  w.duration("writeTimeout", c.tls.write_timeout);
  w.str("certificatePath", c.tls.tls.certificate_path);
  w.str("privateKeyPath", c.tls.tls.private_key_path);
  w.secret("certificatePassword", c.tls.tls.certificate_password);
  w.str("clientCertificateMode", transport::tls::to_string(c.tls.tls.client_certificate_mode));
  w.str("caPath", c.tls.tls.ca_path);
  w.strings("allowedClientCertificateThumbprints",
            c.tls.tls.allowed_client_certificate_thumbprints);
  w.identities("serviceIdentities", c.tls.service_identities);
  w.end();
  w.end();

  w.begin("routing");
  w.duration("defaultTimeout", c.routing.default_timeout);
  w.duration("maxStreamDuration", c.routing.max_stream_duration);
  w.size("maxRequestBodySize", c.routing.max_request_body_size);
  w.size("maxResponseBodySize", c.routing.max_response_body_size);
  w.boolean("streamingEnabled", c.routing.streaming_enabled);
  w.size("streamingBufferSize", c.routing.streaming_buffer_size);
  w.size("streamWindow", c.routing.stream_window);
  w.strings("neighborRegions", c.routing.selector.neighbor_regions);
  w.begin("loadBalancing");
  w.str("policy", policy_name(c.routing.selector.policy));
  w.boolean("preferHealthy", c.routing.selector.prefer_healthy);
  w.real("overprovisioningFactor", c.routing.selector.overprovisioning_factor);
  w.number("maxCandidates", c.routing.selector.max_candidates);
  w.duration("p2cMinPing", c.routing.selector.p2c_min_ping);
  w.end();
  w.duration("ownershipGracePeriod", c.routing.table.ownership_grace);
  w.number("maxInstances", c.routing.table.max_instances);
  w.number("maxEndpointsPerInstance", c.routing.table.max_endpoints_per_instance);
  w.number("maxRoutes", c.routing.table.max_routes);
  w.number("maxMethodLength", c.routing.table.max_method_length);
  w.number("maxTemplateLength", c.routing.table.template_limits.max_length);
  w.number("maxTemplateSegments", c.routing.table.template_limits.max_segments);
  w.end();

  w.begin("health");
  w.seconds("heartbeatIntervalSeconds", c.health.heartbeat_interval);
  w.seconds("heartbeatTimeoutSeconds", c.health.heartbeat_timeout);
  w.number("unhealthyThreshold", c.health.unhealthy_threshold);
  w.number("healthyThreshold", c.health.healthy_threshold);
  w.real("pingEwmaAlpha", c.health.ping_ewma_alpha);
  w.str("initialStatus", health_status_name(c.health.initial_status));
  w.end();

  w.begin("http");
  w.listen(c.http.listen);
  w.begin("tls");
  w.boolean("enabled", c.http.tls.enabled);
  w.str("certificatePath", c.http.tls.certificate_path);
  w.str("privateKeyPath", c.http.tls.private_key_path);
  w.secret("certificatePassword", c.http.tls.certificate_password);
  w.str("clientCertificateMode", transport::tls::to_string(c.http.tls.client_certificate_mode));
  w.str("caPath", c.http.tls.ca_path);
  w.boolean("sessionTickets", c.http.tls.session_tickets);
  w.end();
  w.str("externalUrl", c.http.external_url);
  w.number("workers", c.http.workers);
  w.number("maxConnections", c.http.max_connections);
  w.size("maxRequestLineSize", c.http.max_request_line);
  w.size("maxHeaderFieldSize", c.http.max_header_field);
  w.size("maxHeaderBytes", c.http.max_header_bytes);
  w.number("maxHeaderCount", c.http.max_header_count);
  w.duration("headerTimeout", c.http.header_timeout);
  w.duration("idleTimeout", c.http.idle_timeout);
  w.duration("bodyTimeout", c.http.body_timeout);
  w.number("maxPipelinedRequests", c.http.max_pipelined);
  w.duration("drainTimeout", c.http.drain_timeout);
  w.str("identityHeaderPrefix", c.http.identity_header_prefix);
  w.strings("identityHeadersStrip", c.http.identity_headers_strip);
  w.strings("identityHeadersAllow", c.http.identity_headers_allow);
  w.end();

  w.begin("auth");
  w.boolean("enabled", c.auth.enabled);
  w.boolean("dpopEnabled", c.auth.dpop_enabled);
  w.duration("dpopMaxClockSkew", c.auth.dpop_max_clock_skew);
  w.boolean("mtlsEnabled", c.auth.mtls_enabled);
  w.begin("authority");
  w.str("issuer", c.auth.authority.issuer);
  w.str("jwksUri", c.auth.authority.jwks_uri);
  w.str("jwksFile", c.auth.authority.jwks_file);
  w.strings("audiences", c.auth.authority.audiences);
  w.duration("refreshInterval", c.auth.authority.refresh_interval);
  w.duration("unknownKidRefreshInterval", c.auth.authority.unknown_kid_refresh_interval);
  w.duration("fetchTimeout", c.auth.authority.fetch_timeout);
  w.boolean("requireHttpsMetadata", c.auth.authority.require_https_metadata);
  w.str("caPath", c.auth.authority.ca_path);
  w.end();
  w.strings("algorithms", c.auth.algorithms);
  w.duration("clockSkew", c.auth.clock_skew);
  w.begin("replayCache");
  w.str("type", c.auth.replay_cache.type == ReplayCacheType::redis ? "redis" : "memory");
  w.connection("url", c.auth.replay_cache.url);
  w.number("capacity", c.auth.replay_cache.capacity);
  w.number("maxPerKey", c.auth.replay_cache.max_per_key);
  w.str("onUnavailable",
        c.auth.replay_cache.on_unavailable == ReplayFallback::closed ? "closed" : "local");
  w.duration("commandTimeout", c.auth.replay_cache.command_timeout);
  w.end();
  w.strings("anonymousServices", c.auth.anonymous_services);
  w.boolean("requireSenderConstrained", c.auth.require_sender_constrained);
  w.number("tokenCacheSize", c.auth.token_cache_size);
  w.number("maxTokenSize", c.auth.max_token_size);
  w.boolean("forwardCredentials", c.auth.forward_credentials);
  w.end();

  const RateLimitConfig& rl = c.rate_limiting;
  w.begin("rateLimiting");
  w.boolean("enabled", rl.enabled);
  w.number("requestsPerMinute", rl.requests_per_minute);
  w.number("burstSize", rl.burst_size);
  w.connection("redisConnectionString", rl.redis_connection_string);
  w.number("processBackPressureWhenMoreThanPer5min", rl.process_back_pressure_per_5min);
  w.begin("forInstance");
  w.rules("rules", rl.instance_rules);
  w.end();
  w.begin("forEnvironment");
  w.connection("valkeyConnection", rl.valkey_connection);
  w.rules("rules", rl.environment_rules);
  w.begin("circuitBreaker");
  w.number("failureThreshold", rl.circuit_failure_threshold);
  w.seconds("timeoutSeconds", rl.circuit_timeout);
  w.seconds("halfOpenTimeout", rl.circuit_half_open_timeout);
  w.end();
  w.duration("checkTimeout", rl.environment_check_timeout);
  w.end();
  static constexpr const char* kKeyNames[] = {"identity",  "tenant", "subject",
                                              "client_id", "ip",     "header:"};
  w.str("keyBy", std::string(kKeyNames[static_cast<std::size_t>(rl.key_by)]) +
                     (rl.key_by == RateLimitKey::header ? rl.key_header : ""));
  w.number("maxKeys", rl.max_keys);
  w.overrides("overrides", rl.overrides);
  w.end();

  w.begin("openapi");
  w.boolean("enabled", c.openapi.enabled);
  w.seconds("cacheTtlSeconds", c.openapi.cache_ttl);
  w.str("title", c.openapi.title);
  w.str("version", c.openapi.version);
  w.str("description", c.openapi.description);
  w.strings("servers", c.openapi.servers);
  w.begin("ui");
  w.boolean("enabled", c.openapi.ui.enabled);
  w.str("assetsDir", c.openapi.ui.assets_dir);
  w.end();
  w.begin("limits");
  w.size("maxFragmentBytes", c.openapi.limits.max_fragment_bytes);
  w.number("maxDepth", c.openapi.limits.max_depth);
  w.number("maxComponents", c.openapi.limits.max_components);
  w.end();
  w.end();

  const TelemetryConfig& t = c.telemetry;
  w.begin("telemetry");
  w.begin("metrics");
  w.boolean("enabled", t.metrics.enabled);
  w.str("path", t.metrics.path);
  if (t.metrics.listen) {
    w.str("host", t.metrics.listen->host);
    w.number("port", t.metrics.listen->port);
  }
  w.number("topTenants", t.metrics.top_tenants);
  w.end();
  w.begin("logging");
  w.str("format", t.logging.format == LogFormat::json ? "json" : "text");
  w.str("output", t.logging.output);
  if (t.logging.requests) w.boolean("requests", *t.logging.requests);
  w.end();
  w.begin("tracing");
  w.boolean("enabled", t.tracing.enabled);
  w.str("endpoint", t.tracing.endpoint);
  w.str("serviceName", t.tracing.service_name);
  w.number("maxQueueSpans", t.tracing.max_queue_spans);
  w.number("maxBatchSpans", t.tracing.max_batch_spans);
  w.duration("exportInterval", t.tracing.export_interval);
  w.duration("exportTimeout", t.tracing.export_timeout);
  w.str("caFile", t.tracing.ca_file);
  w.end();
  w.end();

  w.end();  // gateway
  w.emitter() << YAML::EndMap;
  return std::string(w.emitter().c_str()) + "\n";
}

}  // namespace stella::gw::config
