// The rules that span keys, checked after parsing (docs/configuration.md, "Validation").
#include <gtest/gtest.h>

#include <string>

#include "config_test_util.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config {
namespace {

using testing::ConfigTest;
using testing::dump;
using testing::has_error;
using testing::load;
using testing::load_strict;

TEST_F(ConfigTest, NodeFieldsMustNotBeEmpty) {
  const LoadResult r = load("node:\n  region: \"\"\n  nodeId:\n  environment: ''\n");
  EXPECT_TRUE(has_error(r, "node.region", "must not be empty", 2));
  EXPECT_TRUE(has_error(r, "node.nodeId", "must not be empty", 3));
  EXPECT_TRUE(has_error(r, "node.environment", "must not be empty", 4));
}

TEST_F(ConfigTest, BothTransportsDisabledIsAnError) {
  const LoadResult r = load("transports:\n  tcp: {enabled: false}\n  tls: {enabled: false}\n");
  EXPECT_TRUE(has_error(r, "transports", "both disabled: services could not reach", 1));
  EXPECT_EQ(r.errors.size(), 1u) << dump(r);
  // TLS alone is fine.
  EXPECT_TRUE(
      load("transports:\n  tcp: {enabled: false}\n  tls: {enabled: true, certificatePath: /c}\n")
          .ok());
}

TEST_F(ConfigTest, TlsNeedsACertificate) {
  EXPECT_TRUE(has_error(load("transports:\n  tls:\n    enabled: true\n"),
                        "transports.tls.certificatePath", "is required when", 2));
  EXPECT_TRUE(has_error(load("http:\n  tls: {enabled: true}\n"), "http.tls.certificatePath",
                        "is required when http.tls.enabled is true", 2));
  // Disabled: no certificate needed.
  EXPECT_TRUE(load("transports: {tls: {enabled: false}}\nhttp: {tls: {enabled: false}}").ok());
}

TEST_F(ConfigTest, ThumbprintsNeedAClientCertificateMode) {
  const LoadResult r = load(R"(transports:
  tls:
    clientCertificateMode: NoCertificate
    allowedClientCertificateThumbprints:
      - "0000000000000000000000000000000000000000000000000000000000000000"
)");
  EXPECT_TRUE(has_error(r, "transports.tls.allowedClientCertificateThumbprints",
                        "needs clientCertificateMode AllowCertificate or RequireCertificate", 4));
  EXPECT_TRUE(load("transports: {tls: {clientCertificateMode: none}}").ok());
}

TEST_F(ConfigTest, HostsMustBeAddresses) {
  const LoadResult r = load(R"(http: {host: "gateway.example.com"}
transports:
  tcp: {host: "127.0.0.1"}
  tls: {host: "::1"}
)");
  EXPECT_TRUE(has_error(r, "http.host", "'gateway.example.com' is not an IP address", 1));
  EXPECT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_TRUE(load("http: {host: localhost}").ok());
  EXPECT_TRUE(has_error(load("transports: {tcp: {host: \"\"}}"), "transports.tcp.host",
                        "is not an IP address"));
}

TEST_F(ConfigTest, PortsUsedTwiceByEnabledListeners) {
  // Wildcard overlaps everything.
  EXPECT_TRUE(has_error(load("transports: {tcp: {port: 8080}}"), "transports.tcp.port",
                        "port 8080 on 0.0.0.0 is already used by http (0.0.0.0:8080)"));
  EXPECT_TRUE(has_error(load("http: {host: 127.0.0.1, port: 9100}"), "transports.tcp.port",
                        "already used by http"));
  EXPECT_TRUE(has_error(load("transports: {tls: {enabled: true, certificatePath: /c, port: 9100}}"),
                        "transports.tls.port", "already used by transports.tcp"));
  // localhost and 127.0.0.1 are the same interface.
  EXPECT_TRUE(has_error(
      load("http: {host: localhost, port: 9000}\ntransports: {tcp: {host: 127.0.0.1, port: 9000}}"),
      "transports.tcp.port", "already used by http"));
  // Distinct specific addresses, a disabled listener, or port 0 (any free port): no conflict.
  EXPECT_TRUE(
      load("http: {host: 127.0.0.1, port: 9000}\ntransports: {tcp: {host: 10.0.0.1, port: 9000}}")
          .ok());
  EXPECT_TRUE(load("transports: {tls: {enabled: false, port: 8080}}").ok());
  EXPECT_TRUE(load("http: {port: 0}\ntransports: {tcp: {port: 0}}").ok());
}

TEST_F(ConfigTest, HttpLimitsThatSpanKeys) {
  EXPECT_TRUE(has_error(load("http: {maxHeaderFieldSize: 9000, maxHeaderBytes: 8000}"),
                        "http.maxHeaderFieldSize", "must be at most http.maxHeaderBytes (8000)"));
  EXPECT_TRUE(load("http: {maxHeaderFieldSize: 8000, maxHeaderBytes: 8000}").ok());
  EXPECT_TRUE(has_error(load("http: {identityHeaderPrefix: \"\"}"), "http.identityHeaderPrefix",
                        "must not be empty"));
  EXPECT_TRUE(has_error(load("http: {identityHeaderPrefix: \"X Stella\"}"),
                        "http.identityHeaderPrefix", "is not a header-name prefix"));
}

TEST_F(ConfigTest, NeighborRegions) {
  const LoadResult r =
      load("node: {region: eu1}\nrouting:\n  neighborRegions: [eu2, eu1, \"\", eu2]\n");
  EXPECT_TRUE(has_error(r, "routing.neighborRegions[1]", "is this gateway's own region", 3));
  EXPECT_TRUE(has_error(r, "routing.neighborRegions[2]", "must not be empty", 3));
  EXPECT_TRUE(has_error(r, "routing.neighborRegions[3]", "'eu2' is listed twice", 3));
  EXPECT_EQ(r.errors.size(), 3u) << dump(r);
}

TEST_F(ConfigTest, SelectorSettingsUseTheSelectorsValidate) {
  EXPECT_TRUE(has_error(load("routing:\n  loadBalancing:\n    overprovisioningFactor: 0.5\n"),
                        "routing.loadBalancing.overprovisioningFactor", "must be 0 (off) or >= 1",
                        3));
  EXPECT_TRUE(has_error(load("routing: {loadBalancing: {maxCandidates: 0}}"),
                        "routing.loadBalancing.maxCandidates", "must be >= 1"));
  EXPECT_TRUE(has_error(load("routing: {loadBalancing: {p2cMinPing: 0s}}"),
                        "routing.loadBalancing.p2cMinPing", "must be > 0"));
}

TEST_F(ConfigTest, HealthSettingsUseTheTrackersValidate) {
  EXPECT_TRUE(has_error(load("health:\n  heartbeatIntervalSeconds: 0\n"),
                        "health.heartbeatIntervalSeconds", "must be > 0", 2));
  EXPECT_TRUE(has_error(load("health: {heartbeatIntervalSeconds: 10, heartbeatTimeoutSeconds: 9}"),
                        "health.heartbeatTimeoutSeconds", "must be >= health.heartbeatInterval"));
  EXPECT_TRUE(has_error(load("health: {unhealthyThreshold: 0}"), "health.unhealthyThreshold",
                        "must be >= 1"));
  EXPECT_TRUE(
      has_error(load("health: {healthyThreshold: 0}"), "health.healthyThreshold", "must be >= 1"));
  EXPECT_TRUE(
      has_error(load("health: {pingEwmaAlpha: 0}"), "health.pingEwmaAlpha", "must be in (0, 1]"));
  EXPECT_TRUE(has_error(load("health: {pingEwmaAlpha: 1.01}"), "health.pingEwmaAlpha",
                        "must be in (0, 1]"));
  EXPECT_TRUE(has_error(load("health: {initialStatus: draining}"), "health.initialStatus",
                        "must be healthy, degraded or unhealthy"));
  // A message's key that was never written still gets the section's line.
  const LoadResult r = load("node: {}\nhealth:\n  unhealthyThreshold: 3\n  pingEwmaAlpha: 0\n");
  EXPECT_TRUE(has_error(r, "health.pingEwmaAlpha", "must be in (0, 1]", 4));
}

TEST_F(ConfigTest, ValidateConfigChecksAConfigBuiltInCode) {
  GatewayConfig c = dev_default();
  EXPECT_TRUE(validate_config(c).empty());
  c.http.max_connections = 0;
  c.tcp.enabled = false;
  c.routing.selector.neighbor_regions = {"local"};
  c.node.node_id = "has $ and ${NOT_A_VAR}";  // escaped, not substituted
  const auto errors = validate_config(c);
  LoadResult wrapped;
  wrapped.errors = errors;
  EXPECT_TRUE(has_error(wrapped, "http.maxConnections", "must be at least 1"));
  EXPECT_TRUE(has_error(wrapped, "transports", "both disabled"));
  EXPECT_TRUE(has_error(wrapped, "routing.neighborRegions[0]", "own region"));
  EXPECT_EQ(errors.size(), 3u) << dump(wrapped);
  for (const auto& e : errors)
    EXPECT_EQ(e.line, 0);
}

TEST_F(ConfigTest, AuthEnabledFailsClosed) {
  // No Authority at all.
  EXPECT_TRUE(has_error(load_strict("auth:\n  enabled: true\n"), "auth.enabled",
                        "no Authority is configured", 2));
  EXPECT_TRUE(
      load_strict("auth:\n  enabled: true\n  authority:\n    issuer: https://a.example\n").ok());
  EXPECT_TRUE(load_strict("auth:\n  enabled: true\n  authority:\n    jwksFile: /k.json\n").ok());
  // The first shape's flat keys moved under auth.authority.
  EXPECT_TRUE(has_error(load_strict("auth:\n  enabled: false\n  issuer: https://a.example\n"),
                        "auth.issuer", "did you mean 'auth.authority.issuer'", 3));
  EXPECT_TRUE(has_error(load_strict("auth:\n  jwksPath: /k.json\n"), "auth.jwksPath",
                        "did you mean 'auth.authority.jwksFile'", 2));
}

TEST_F(ConfigTest, AuthKeysAreChecked) {
  // Discovery and JWKS over plain http only when requireHttpsMetadata is off.
  EXPECT_TRUE(has_error(load_strict("auth:\n  authority:\n    issuer: http://a.example\n"),
                        "auth.authority.issuer", "https URL", 3));
  EXPECT_TRUE(load_strict("auth:\n  authority:\n    issuer: http://a.example\n"
                          "    requireHttpsMetadata: false\n")
                  .ok());
  EXPECT_TRUE(has_error(load_strict("auth:\n  authority:\n    jwksUri: ftp://a/k\n"),
                        "auth.authority.jwksUri", "https URL", 3));
  EXPECT_TRUE(has_error(
      load_strict("auth:\n  authority:\n    jwksUri: https://a/k\n    jwksFile: /k.json\n"),
      "auth.authority.jwksFile", "not both", 4));
  // Never none or HMAC.
  for (const char* alg : {"none", "HS256", "es256"}) {
    EXPECT_TRUE(has_error(load_strict(std::string("auth:\n  algorithms: [ES256, ") + alg + "]\n"),
                          "auth.algorithms[1]", "not an accepted algorithm", 2))
        << alg;
  }
  EXPECT_TRUE(has_error(load_strict("auth:\n  replayCache: {type: redis}\n"),
                        "auth.replayCache.url", "required"));
  EXPECT_TRUE(has_error(load_strict("auth:\n  replayCache: {type: disk}\n"),
                        "auth.replayCache.type", "memory or redis", 2));
  // Certificate-bound tokens need client certificates.
  EXPECT_TRUE(has_error(load_strict("auth:\n  enabled: true\n  mtlsEnabled: true\n"
                                    "  authority: {jwksFile: /k.json}\n"),
                        "auth.mtlsEnabled", "clientCertificateMode", 3));
  EXPECT_TRUE(has_error(load_strict("http:\n  tls:\n    clientCertificateMode: require\n"),
                        "http.tls.clientCertificateMode", "needs http.tls.enabled", 3));
  for (const char* bad : {"https://a.example/path", "https://a.example?x=1", "ftp://a.example",
                          "https://user@a.example", "a.example"}) {
    EXPECT_TRUE(has_error(load_strict(std::string("http:\n  externalUrl: \"") + bad + "\"\n"),
                          "http.externalUrl", "scheme://host", 2))
        << bad;
  }
  for (const char* good :
       {"https://api.example.com", "http://127.0.0.1:8080", "https://a.example/"})
    EXPECT_TRUE(load_strict(std::string("http:\n  externalUrl: \"") + good + "\"\n").ok()) << good;
}

TEST_F(ConfigTest, RateLimitingIsCheckedAndMapped) {
  EXPECT_TRUE(load_strict("rate_limiting:\n  for_instance:\n    rules:\n"
                          "      - {max_requests: 1, per_seconds: 1}\n")
                  .ok());
  // Environment rules need a Redis.
  EXPECT_TRUE(has_error(load_strict("rate_limiting:\n  for_environment:\n    rules:\n"
                                    "      - {max_requests: 1, per_seconds: 60}\n"),
                        "rateLimiting.forEnvironment.valkeyConnection", "required"));
  EXPECT_TRUE(has_error(load_strict("rate_limiting:\n  key_by: cookie\n"), "rate_limiting.key_by",
                        "header:NAME", 2));
  EXPECT_TRUE(has_error(load_strict("rate_limiting:\n  key_by: \"header:\"\n"),
                        "rate_limiting.key_by", "header:NAME", 2));
  EXPECT_TRUE(
      has_error(load_strict("rate_limiting:\n  overrides:\n    - {match: {}, exempt: true}\n"),
                "rateLimiting.overrides[0].match", "every route"));
  EXPECT_TRUE(has_error(load_strict("rate_limiting:\n  overrides:\n    - {match: {service: a}}\n"),
                        "rateLimiting.overrides[0]", "says nothing"));
  // The short form onto the two levels: burst per second here, per minute in Redis (or here
  // without one).
  auto r =
      load_strict("rateLimiting:\n  enabled: true\n  requestsPerMinute: 600\n  burstSize: 20\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& rl = r.config.rate_limiting;
  EXPECT_TRUE(rl.active());
  ASSERT_EQ(rl.effective_instance_rules().size(), 2u);
  EXPECT_EQ(rl.effective_instance_rules()[0].max_requests, 20u);
  EXPECT_EQ(rl.effective_instance_rules()[0].per, std::chrono::seconds(1));
  EXPECT_EQ(rl.effective_instance_rules()[1].max_requests, 600u);
  EXPECT_TRUE(rl.effective_environment_rules().empty());
  auto with_redis = load_strict(
      "rateLimiting:\n  enabled: true\n  requestsPerMinute: 600\n  burstSize: 20\n"
      "  redisConnectionString: \"127.0.0.1:6379\"\n");
  ASSERT_TRUE(with_redis.ok()) << dump(with_redis);
  EXPECT_EQ(with_redis.config.rate_limiting.effective_instance_rules().size(), 2u);
  ASSERT_EQ(with_redis.config.rate_limiting.effective_environment_rules().size(), 1u);
  EXPECT_EQ(with_redis.config.rate_limiting.effective_environment_rules()[0].per,
            std::chrono::minutes(1));
  EXPECT_FALSE(load_strict("rateLimiting:\n  enabled: false\n").config.rate_limiting.active());
}

TEST_F(ConfigTest, UnstreamedBodiesMustFitOneFrame) {
  EXPECT_TRUE(has_error(load("routing:\n  streamingEnabled: false\n"), "routing.maxRequestBodySize",
                        "when routing.streamingEnabled is false"));
  EXPECT_TRUE(load("routing:\n  streamingEnabled: false\n  maxRequestBodySize: 512KB\n").ok());
}

TEST_F(ConfigTest, TelemetryKeys) {
  const LoadResult r = load(
      "telemetry:\n  metrics: {path: /prom, host: 127.0.0.1, port: 9091, topTenants: 5}\n"
      "  logging: {format: json, output: stderr, requests: false}\n"
      "  tracing: {enabled: true, endpoint: 'http://127.0.0.1:4318/v1/traces', "
      "maxQueueSpans: 100, maxBatchSpans: 10, exportInterval: 200ms, caFile: /etc/ca.pem}\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& t = r.config.telemetry;
  EXPECT_EQ(t.metrics.path, "/prom");
  ASSERT_TRUE(t.metrics.listen);
  EXPECT_EQ(t.metrics.listen->port, 9091);
  EXPECT_EQ(t.metrics.top_tenants, 5u);
  EXPECT_EQ(t.logging.format, LogFormat::json);
  EXPECT_FALSE(t.logging.request_lines());
  EXPECT_EQ(t.tracing.max_batch_spans, 10u);
  EXPECT_EQ(t.tracing.ca_file, "/etc/ca.pem");
  EXPECT_TRUE(has_error(load("telemetry:\n  metrics: {path: /health/x}\n"),
                        "telemetry.metrics.path", "outside /health/"));
  for (const char* bad : {"/a//m", "/m%65trics", "/x/", "/./m", "metrics", "/m?x"})
    EXPECT_TRUE(has_error(load(std::string("telemetry:\n  metrics: {path: '") + bad + "'}\n"),
                          "telemetry.metrics.path", "normal form"))
        << bad;
  EXPECT_TRUE(has_error(load("telemetry:\n  logging: {format: xml}\n"), "telemetry.logging.format",
                        "expected text or json"));
  EXPECT_TRUE(has_error(load("telemetry:\n  tracing: {enabled: true, endpoint: 'udp://x'}\n"),
                        "telemetry.tracing.endpoint", "not an http:// or https:// URL"));
  EXPECT_TRUE(has_error(load("http: {port: 8080}\ntelemetry:\n  metrics: {port: 8080}\n"),
                        "telemetry.metrics.port", "already used by http"));
  EXPECT_TRUE(has_error(load("telemetry:\n  tracing: {enabeld: true}\n"),
                        "telemetry.tracing.enabeld", "enabled"));
}

}  // namespace
}  // namespace stella::gw::config
