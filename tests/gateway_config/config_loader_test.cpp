// The YAML loader: the seed's shape, values reaching the structs, defaults, nestings, files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config_test_util.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config {
namespace {

using namespace std::chrono_literals;
using testing::ConfigTest;
using testing::dump;
using testing::fake_env;
using testing::has_error;
using testing::load;
using testing::only_error;

// The seed's section 7, verbatim apart from indentation.
constexpr const char* kSeedConfig = R"(gateway:
  node:
    region: "eu1"
    nodeId: "gw-eu1-01"
    environment: "prod"
  transports:
    tcp:
      enabled: true
      port: 9100
      maxConnections: 1000
      receiveBufferSize: 65536
      sendBufferSize: 65536
    tls:
      enabled: true
      port: 9443
      certificatePath: "/certs/gateway.pfx"
      certificatePassword: "${GATEWAY_CERT_PASSWORD}"
      clientCertificateMode: "RequireCertificate"
      allowedClientCertificateThumbprints: []
  routing:
    defaultTimeout: "30s"
    maxRequestBodySize: "100MB"
    streamingEnabled: true
    streamingBufferSize: 16384
    neighborRegions: ["eu2", "us1"]
  auth:
    dpopEnabled: true
    dpopMaxClockSkew: "60s"
    mtlsEnabled: true
  rateLimiting:
    enabled: true
    requestsPerMinute: 1000
    burstSize: 100
    redisConnectionString: "${REDIS_URL}" # Valkey (Redis-compatible)
  openapi:
    enabled: true
    cacheTtlSeconds: 300
    title: "Stella Ops API"
    version: "1.0.0"
  health:
    heartbeatIntervalSeconds: 10
    heartbeatTimeoutSeconds: 30
    unhealthyThreshold: 3
)";

// The seed's section 9 rate-limiting block.
constexpr const char* kSeedRateLimiting = R"(rate_limiting:
  process_back_pressure_when_more_than_per_5min: 5000
  for_instance:
    rules:
      - max_requests: 100
        per_seconds: 1
      - max_requests: 1000
        per_seconds: 60
  for_environment:
    valkey_connection: "localhost:6379"
    rules:
      - max_requests: 10000
        per_seconds: 60
    circuit_breaker:
      failure_threshold: 3
      timeout_seconds: 30
      half_open_timeout: 10
)";

TEST_F(ConfigTest, SeedConfigurationLoads) {
  fake_env()["GATEWAY_CERT_PASSWORD"] = "s3cret";
  fake_env()["REDIS_URL"] = "valkey:6379";
  const LoadResult r = load(kSeedConfig);
  ASSERT_TRUE(r.ok()) << dump(r);
  const GatewayConfig& c = r.config;
  EXPECT_EQ(c.source, "test.yaml");
  EXPECT_EQ(c.node.region, "eu1");
  EXPECT_EQ(c.node.node_id, "gw-eu1-01");
  EXPECT_EQ(c.node.environment, "prod");
  EXPECT_TRUE(c.tcp.enabled);
  EXPECT_EQ(c.tcp.listen.port, 9100);
  EXPECT_EQ(c.tcp.max_connections, 1000u);
  EXPECT_EQ(c.tcp.receive_buffer_size, 65536);
  EXPECT_EQ(c.tcp.send_buffer_size, 65536);
  EXPECT_TRUE(c.tls.enabled);
  EXPECT_EQ(c.tls.listen.port, 9443);
  EXPECT_EQ(c.tls.tls.certificate_path, "/certs/gateway.pfx");
  EXPECT_EQ(c.tls.tls.certificate_password, "s3cret");
  EXPECT_EQ(c.tls.tls.client_certificate_mode, transport::tls::ClientCertificateMode::require);
  EXPECT_TRUE(c.tls.tls.allowed_client_certificate_thumbprints.empty());
  EXPECT_EQ(c.routing.default_timeout, 30s);
  EXPECT_EQ(c.routing.max_request_body_size, 100'000'000u);
  EXPECT_TRUE(c.routing.streaming_enabled);
  EXPECT_EQ(c.routing.streaming_buffer_size, 16384u);
  EXPECT_EQ(c.routing.selector.neighbor_regions, (std::vector<std::string>{"eu2", "us1"}));
  EXPECT_EQ(c.routing.selector.local_region, "eu1");  // copied from node.region
  EXPECT_TRUE(c.auth.dpop_enabled);
  EXPECT_EQ(c.auth.dpop_max_clock_skew, 60s);
  EXPECT_TRUE(c.auth.mtls_enabled);
  EXPECT_TRUE(c.rate_limiting.enabled);
  EXPECT_EQ(c.rate_limiting.requests_per_minute, 1000u);
  EXPECT_EQ(c.rate_limiting.burst_size, 100u);
  EXPECT_EQ(c.rate_limiting.redis_connection_string, "valkey:6379");
  EXPECT_TRUE(c.openapi.enabled);
  EXPECT_EQ(c.openapi.cache_ttl, 300s);
  EXPECT_EQ(c.openapi.title, "Stella Ops API");
  EXPECT_EQ(c.openapi.version, "1.0.0");
  EXPECT_EQ(c.health.heartbeat_interval, 10s);
  EXPECT_EQ(c.health.heartbeat_timeout, 30s);
  EXPECT_EQ(c.health.unhealthy_threshold, 3u);
}

TEST_F(ConfigTest, SeedRateLimitingBlockLoads) {
  const LoadResult r = load(kSeedRateLimiting);
  ASSERT_TRUE(r.ok()) << dump(r);
  const RateLimitConfig& rl = r.config.rate_limiting;
  EXPECT_EQ(rl.process_back_pressure_per_5min, 5000u);
  ASSERT_EQ(rl.instance_rules.size(), 2u);
  EXPECT_EQ(rl.instance_rules[0].max_requests, 100u);
  EXPECT_EQ(rl.instance_rules[0].per, 1s);
  EXPECT_EQ(rl.instance_rules[1].max_requests, 1000u);
  EXPECT_EQ(rl.instance_rules[1].per, 60s);
  EXPECT_EQ(rl.valkey_connection, "localhost:6379");
  ASSERT_EQ(rl.environment_rules.size(), 1u);
  EXPECT_EQ(rl.environment_rules[0].max_requests, 10000u);
  EXPECT_EQ(rl.environment_rules[0].per, 60s);
  EXPECT_EQ(rl.circuit_failure_threshold, 3u);
  EXPECT_EQ(rl.circuit_timeout, 30s);
  EXPECT_EQ(rl.circuit_half_open_timeout, 10s);  // bare seconds although the name has no unit
}

TEST_F(ConfigTest, RateLimitingCamelCaseSpellings) {
  const LoadResult r = load(R"(rateLimiting:
  processBackPressureWhenMoreThanPer5min: 7
  forInstance:
    rules: [{maxRequests: 5, perSeconds: "500ms"}]
  forEnvironment:
    valkeyConnection: "v:1"
    rules: []
    circuitBreaker: {failureThreshold: 4, timeoutSeconds: "1m", halfOpenTimeout: 2}
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const RateLimitConfig& rl = r.config.rate_limiting;
  EXPECT_EQ(rl.process_back_pressure_per_5min, 7u);
  ASSERT_EQ(rl.instance_rules.size(), 1u);
  EXPECT_EQ(rl.instance_rules[0].max_requests, 5u);
  EXPECT_EQ(rl.instance_rules[0].per, 500ms);
  EXPECT_EQ(rl.valkey_connection, "v:1");
  EXPECT_TRUE(rl.environment_rules.empty());
  EXPECT_EQ(rl.circuit_failure_threshold, 4u);
  EXPECT_EQ(rl.circuit_timeout, 60s);
  EXPECT_EQ(rl.circuit_half_open_timeout, 2s);
}

TEST_F(ConfigTest, EveryOtherKeyReachesItsField) {
  const LoadResult r = load(R"(node: {region: r1, nodeId: n1, environment: staging}
transports:
  tcp: {enabled: false, host: "127.0.0.1", port: 9101, maxConnections: 5, receiveBufferSize: 0,
        sendBufferSize: "8KiB", maxPendingHellos: 7, helloTimeout: "3s"}
  tls: {enabled: true, host: "::1", port: 9444, maxConnections: 6, receiveBufferSize: 1024,
        sendBufferSize: 2048, handshakeTimeout: "1500ms", certificatePath: /c.pem,
        privateKeyPath: /k.pem, certificatePassword: pw, clientCertificateMode: AllowCertificate,
        caPath: /ca.pem,
        allowedClientCertificateThumbprints:
          ["AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"]}
http:
  host: "10.0.0.1"
  port: 8081
  tls: {enabled: true, certificatePath: /h.pem, privateKeyPath: /h.key, certificatePassword: hp,
        sessionTickets: false}
  workers: 4
  maxConnections: 100
  maxRequestLineSize: "4KiB"
  maxHeaderFieldSize: 2000
  maxHeaderBytes: "32KiB"
  maxHeaderCount: 50
  headerTimeout: "5s"
  idleTimeout: "2m"
  bodyTimeout: "15s"
  maxPipelinedRequests: 0
  drainTimeout: "0s"
  identityHeaderPrefix: "X-Gw-"
routing:
  defaultTimeout: "1h30m"
  maxRequestBodySize: "1.5KB"
  streamingEnabled: false
  streamingBufferSize: "64KiB"
  neighborRegions: [r2]
  loadBalancing: {policy: round-robin, preferHealthy: false, overprovisioningFactor: 0,
                  maxCandidates: 8, p2cMinPing: "250us"}
  maxInstances: 10
  maxEndpointsPerInstance: 1024
  maxRoutes: 11
  maxMethodLength: 12
  maxTemplateLength: 13
  maxTemplateSegments: 14
health: {heartbeatIntervalSeconds: 0.5, heartbeatTimeoutSeconds: "2s", unhealthyThreshold: 4,
         healthyThreshold: 5, pingEwmaAlpha: 1, initialStatus: degraded}
auth: {enabled: true, dpopEnabled: false, dpopMaxClockSkew: "5s", mtlsEnabled: false,
       authority: {issuer: "https://i", audiences: [aud], jwksFile: /j.json, refreshInterval: 1m,
                   requireHttpsMetadata: false, caPath: /ca.pem},
       algorithms: [ES256, EdDSA], clockSkew: 10s, anonymousServices: [demo],
       replayCache: {type: redis, url: "redis://127.0.0.1:6380/2", onUnavailable: closed},
       requireSenderConstrained: true, tokenCacheSize: 5, maxTokenSize: 4096}
openapi: {enabled: false, cacheTtlSeconds: 0, title: T, version: "2"}
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const GatewayConfig& c = r.config;
  EXPECT_EQ(c.node.region, "r1");
  EXPECT_EQ(c.node.node_id, "n1");
  EXPECT_EQ(c.node.environment, "staging");
  EXPECT_FALSE(c.tcp.enabled);
  EXPECT_EQ(c.tcp.listen.host, "127.0.0.1");
  EXPECT_EQ(c.tcp.listen.port, 9101);
  EXPECT_EQ(c.tcp.max_connections, 5u);
  EXPECT_EQ(c.tcp.receive_buffer_size, 0);
  EXPECT_EQ(c.tcp.send_buffer_size, 8192);
  EXPECT_EQ(c.tcp.max_pending_hellos, 7u);
  EXPECT_EQ(c.tcp.hello_timeout, 3s);
  EXPECT_EQ(c.tls.listen.host, "::1");
  EXPECT_EQ(c.tls.listen.port, 9444);
  EXPECT_EQ(c.tls.max_connections, 6u);
  EXPECT_EQ(c.tls.receive_buffer_size, 1024);
  EXPECT_EQ(c.tls.send_buffer_size, 2048);
  EXPECT_EQ(c.tls.handshake_timeout, 1500ms);
  EXPECT_EQ(c.tls.tls.certificate_path, "/c.pem");
  EXPECT_EQ(c.tls.tls.private_key_path, "/k.pem");
  EXPECT_EQ(c.tls.tls.certificate_password, "pw");
  EXPECT_EQ(c.tls.tls.client_certificate_mode, transport::tls::ClientCertificateMode::allow);
  EXPECT_EQ(c.tls.tls.ca_path, "/ca.pem");
  ASSERT_EQ(c.tls.tls.allowed_client_certificate_thumbprints.size(), 1u);
  EXPECT_EQ(c.http.listen.host, "10.0.0.1");
  EXPECT_EQ(c.http.listen.port, 8081);
  EXPECT_TRUE(c.http.tls.enabled);
  EXPECT_EQ(c.http.tls.certificate_path, "/h.pem");
  EXPECT_EQ(c.http.tls.private_key_path, "/h.key");
  EXPECT_EQ(c.http.tls.certificate_password, "hp");
  EXPECT_FALSE(c.http.tls.session_tickets);
  EXPECT_TRUE(GatewayConfig{}.http.tls.session_tickets);
  EXPECT_EQ(c.http.workers, 4u);
  EXPECT_EQ(c.http.max_connections, 100u);
  EXPECT_EQ(c.http.max_request_line, 4096u);
  EXPECT_EQ(c.http.max_header_field, 2000u);
  EXPECT_EQ(c.http.max_header_bytes, 32768u);
  EXPECT_EQ(c.http.max_header_count, 50u);
  EXPECT_EQ(c.http.header_timeout, 5s);
  EXPECT_EQ(c.http.idle_timeout, 120s);
  EXPECT_EQ(c.http.body_timeout, 15s);
  EXPECT_EQ(c.http.max_pipelined, 0u);
  EXPECT_EQ(c.http.drain_timeout, 0s);
  EXPECT_EQ(c.http.identity_header_prefix, "X-Gw-");
  EXPECT_EQ(c.routing.default_timeout, 90min);
  EXPECT_EQ(c.routing.max_request_body_size, 1500u);
  EXPECT_FALSE(c.routing.streaming_enabled);
  EXPECT_EQ(c.routing.streaming_buffer_size, 65536u);
  EXPECT_EQ(c.routing.selector.neighbor_regions, std::vector<std::string>{"r2"});
  EXPECT_EQ(c.routing.selector.local_region, "r1");
  EXPECT_EQ(c.routing.selector.policy, Policy::round_robin);
  EXPECT_FALSE(c.routing.selector.prefer_healthy);
  EXPECT_EQ(c.routing.selector.overprovisioning_factor, 0.0);
  EXPECT_EQ(c.routing.selector.max_candidates, 8u);
  EXPECT_EQ(c.routing.selector.p2c_min_ping, 250us);
  EXPECT_EQ(c.routing.table.max_instances, 10u);
  EXPECT_EQ(c.routing.table.max_endpoints_per_instance, 1024u);
  EXPECT_EQ(c.routing.table.max_routes, 11u);
  EXPECT_EQ(c.routing.table.max_method_length, 12u);
  EXPECT_EQ(c.routing.table.template_limits.max_length, 13u);
  EXPECT_EQ(c.routing.table.template_limits.max_segments, 14u);
  EXPECT_EQ(c.routing.table.initial_health, core::HealthStatus::degraded);  // from health
  EXPECT_EQ(c.health.heartbeat_interval, 500ms);
  EXPECT_EQ(c.health.heartbeat_timeout, 2s);
  EXPECT_EQ(c.health.unhealthy_threshold, 4u);
  EXPECT_EQ(c.health.healthy_threshold, 5u);
  EXPECT_EQ(c.health.ping_ewma_alpha, 1.0);
  EXPECT_EQ(c.health.initial_status, core::HealthStatus::degraded);
  EXPECT_TRUE(c.auth.enabled);
  EXPECT_FALSE(c.auth.dpop_enabled);
  EXPECT_EQ(c.auth.dpop_max_clock_skew, 5s);
  EXPECT_FALSE(c.auth.mtls_enabled);
  EXPECT_EQ(c.auth.authority.issuer, "https://i");
  EXPECT_EQ(c.auth.authority.audiences, std::vector<std::string>{"aud"});
  EXPECT_EQ(c.auth.authority.jwks_file, "/j.json");
  EXPECT_EQ(c.auth.authority.refresh_interval, 1min);
  EXPECT_FALSE(c.auth.authority.require_https_metadata);
  EXPECT_EQ(c.auth.authority.ca_path, "/ca.pem");
  EXPECT_EQ(c.auth.algorithms, (std::vector<std::string>{"ES256", "EdDSA"}));
  EXPECT_EQ(c.auth.clock_skew, 10s);
  EXPECT_EQ(c.auth.anonymous_services, std::vector<std::string>{"demo"});
  EXPECT_EQ(c.auth.replay_cache.type, ReplayCacheType::redis);
  EXPECT_EQ(c.auth.replay_cache.url, "redis://127.0.0.1:6380/2");
  EXPECT_EQ(c.auth.replay_cache.on_unavailable, ReplayFallback::closed);
  EXPECT_TRUE(c.auth.require_sender_constrained);
  EXPECT_EQ(c.auth.token_cache_size, 5u);
  EXPECT_EQ(c.auth.max_token_size, 4096u);
  EXPECT_FALSE(c.openapi.enabled);
  EXPECT_EQ(c.openapi.cache_ttl, 0s);
  EXPECT_EQ(c.openapi.title, "T");
  EXPECT_EQ(c.openapi.version, "2");
}

TEST_F(ConfigTest, EmptyFileAndEmptySectionsMeanDefaults) {
  for (const char* yaml : {"", "# only a comment\n", "gateway:\n", "routing:\nhealth: {}\n",
                           "gateway:\n  auth:\n  http: {}\n"}) {
    const LoadResult r = load(yaml);
    ASSERT_TRUE(r.ok()) << yaml << dump(r);
    // Everything `config print` shows equals a default-constructed config.
    EXPECT_EQ(to_yaml(r.config), to_yaml(GatewayConfig{})) << yaml;
    EXPECT_EQ(r.config.routing.selector.local_region, "local");
  }
}

TEST_F(ConfigTest, BothNestingsGiveTheSameConfig) {
  const std::string body = R"(node: {region: eu1}
routing:
  defaultTimeout: "5s"
  neighborRegions: [eu2]
health: {heartbeatIntervalSeconds: 3, heartbeatTimeoutSeconds: 9}
rate_limiting: {enabled: true}
)";
  std::string nested = "gateway:\n";
  for (std::size_t pos = 0; pos < body.size();) {
    const auto eol = body.find('\n', pos);
    nested += "  " + body.substr(pos, eol + 1 - pos);
    pos = eol + 1;
  }
  const LoadResult top = load(body);
  const LoadResult under = load(nested);
  ASSERT_TRUE(top.ok()) << dump(top);
  ASSERT_TRUE(under.ok()) << dump(under);
  EXPECT_EQ(to_yaml(top.config), to_yaml(under.config));
  EXPECT_EQ(top.config.routing.default_timeout, 5s);
  EXPECT_TRUE(top.config.rate_limiting.enabled);
  // Some sections under gateway:, others at the top level: also fine.
  const LoadResult mixed = load("gateway:\n  node: {region: eu1}\nrouting: {defaultTimeout: 5s}\n");
  ASSERT_TRUE(mixed.ok()) << dump(mixed);
  EXPECT_EQ(mixed.config.routing.default_timeout, 5s);
  EXPECT_EQ(mixed.config.node.region, "eu1");
}

TEST_F(ConfigTest, SectionGivenBothWaysIsAnError) {
  const LoadResult r = load(R"(gateway:
  routing:
    defaultTimeout: "5s"
routing:
  defaultTimeout: "6s"
)");
  EXPECT_TRUE(has_error(r, "routing", "both under 'gateway:' (line 2) and at the top level", 4));
  EXPECT_EQ(r.errors.size(), 1u) << dump(r);
  // rateLimiting under gateway:, rate_limiting at the top level: the same section.
  EXPECT_TRUE(has_error(load("gateway:\n  rateLimiting: {}\nrate_limiting: {}\n"), "rate_limiting",
                        "both under 'gateway:'", 3));
  // Both spellings in one map.
  EXPECT_TRUE(has_error(load("rateLimiting: {}\nrate_limiting: {}\n"), "rate_limiting",
                        "given twice, as 'rateLimiting' (line 1) and as 'rate_limiting'", 2));
  EXPECT_TRUE(has_error(
      load("rate_limiting:\n  for_instance:\n    rules: [{max_requests: 1, maxRequests: 2, "
           "per_seconds: 1}]\n"),
      "rate_limiting.for_instance.rules[0].maxRequests", "given twice", 3));
}

TEST_F(ConfigTest, FilesAndFormatting) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = (dir / "gw.yaml").string();
  {
    std::ofstream out(file);
    out << "routing:\n  defaultTimeout: 30\n";
  }
  const LoadResult r = load_config_file(file, &testing::fake_lookup);
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.config.source, file);
  EXPECT_EQ(format_error(file, r.errors[0]),
            file +
                ":2: routing.defaultTimeout: duration '30' has no unit (write e.g. \"30s\"; "
                "units ns, us, ms, s, m, h, d)");

  const LoadResult missing = load_config_file((dir / "nope.yaml").string());
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].key, "");
  EXPECT_EQ(missing.errors[0].line, 0);
  EXPECT_NE(missing.errors[0].message.find("cannot read"), std::string::npos);
  EXPECT_EQ(format_error("x.yaml", missing.errors[0]), "x.yaml: " + missing.errors[0].message);

  const LoadResult directory = load_config_file(dir.string());
  ASSERT_EQ(directory.errors.size(), 1u);
  EXPECT_NE(directory.errors[0].message.find("directory"), std::string::npos);

  {
    std::ofstream out(file);
    out << "# " << std::string(5 * 1024 * 1024, 'x') << "\n";
  }
  const LoadResult big = load_config_file(file);
  ASSERT_EQ(big.errors.size(), 1u);
  EXPECT_NE(big.errors[0].message.find("at most"), std::string::npos);
  std::filesystem::remove_all(dir);

  EXPECT_EQ(format_error("f.yaml", ConfigError{"a.b", 0, "bad"}), "f.yaml: a.b: bad");
  EXPECT_EQ(format_error("f.yaml", ConfigError{"", 3, "bad"}), "f.yaml:3: bad");
}

}  // namespace
}  // namespace stella::gw::config
