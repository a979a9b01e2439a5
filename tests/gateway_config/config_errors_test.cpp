// What the loader refuses and how it says so: unknown keys, types, limits, YAML syntax, lines.
#include <gtest/gtest.h>

#include <chrono>
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

TEST_F(ConfigTest, DuplicateKeyIsAnError) {
  const LoadResult r = load("routing:\n  defaultTimeout: 5s\n  defaultTimeout: 6s\n");
  EXPECT_TRUE(has_error(r, "routing.defaultTimeout", "duplicate key (first given at line 2)", 3));
  EXPECT_EQ(r.config.routing.default_timeout, 5s);
}

TEST_F(ConfigTest, ServiceIdentitiesAreReadAndCheckedItemByItem) {
  const LoadResult ok = load(R"(transports:
  tls:
    enabled: true
    certificatePath: /etc/stella/gateway.pem
    serviceIdentities:
      - match: { san: payments.internal }
        services: [payments]
        pathPrefixes: [/api/payments]
      - match: { thumbprint: "AB:CD:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89" }
        services: ["*"]
routing:
  ownershipGracePeriod: 45s
)");
  ASSERT_TRUE(ok.errors.empty()) << dump(ok);
  const auto& ids = ok.config.tls.service_identities;
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].match, ServiceIdentityRule::Match::san);
  EXPECT_EQ(ids[0].path_prefixes, std::vector<std::string>{"/api/payments"});
  EXPECT_EQ(ids[1].value, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(ok.config.routing.table.ownership_grace, 45s);
  // Without the TLS listener asking for certificates nobody could register a reserved name.
  const LoadResult no_tls = load(
      "transports:\n  tls:\n    serviceIdentities:\n"
      "      - { match: { cn: a }, services: [a] }\n");
  EXPECT_TRUE(
      has_error(no_tls, "transports.tls.serviceIdentities", "needs transports.tls.enabled"));

  const LoadResult bad = load(R"(transports:
  tls:
    serviceIdentities:
      - match: { san: a, cn: b }
        services: []
      - match: { thumbprint: xyz }
        services: [ok, ""]
        pathPrefixes: ["/api/{id}", relative]
      - services: [x]
        extra: 1
)");
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[0].match",
                        "exactly one of san, cn or thumbprint (got 2)", 4));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[0].services",
                        "must name at least one service", 5));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[1].match.thumbprint", "", 6));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[1].services[1]",
                        "is not a service name", 7));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[1].pathPrefixes[0]",
                        "is not a path prefix", 8));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[1].pathPrefixes[1]",
                        "is not a path prefix", 8));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[2].match", "missing", 9));
  EXPECT_TRUE(has_error(bad, "transports.tls.serviceIdentities[2].extra", "unknown key", 10));
}

TEST_F(ConfigTest, UnknownKeysAtEveryDepthNameThePathAndSuggest) {
  const LoadResult r = load(R"(gatway: {}
gateway:
  rooting: {}
  routing:
    defaultTimout: "5s"
    loadBalancing:
      polcy: p2c
    zzzzzzzzz: 1
  transports:
    tcp: {enable: true}
  rate_limiting:
    for_instance:
      rules:
        - {max_requests: 1, per_seconds: 1}
        - {max_request: 1, per_seconds: 1}
)");
  EXPECT_TRUE(has_error(r, "gatway", "unknown key; did you mean 'gateway'?", 1));
  EXPECT_TRUE(has_error(r, "gateway.rooting", "did you mean 'routing'?", 3));
  EXPECT_TRUE(has_error(r, "routing.defaultTimout", "did you mean 'defaultTimeout'?", 5));
  EXPECT_TRUE(has_error(r, "routing.loadBalancing.polcy", "did you mean 'policy'?", 7));
  EXPECT_TRUE(has_error(r, "routing.loadBalancing.polcy",
                        "(valid keys: policy, preferHealthy, overprovisioningFactor, "
                        "maxCandidates, p2cMinPing)"));
  EXPECT_TRUE(has_error(r, "transports.tcp.enable", "did you mean 'enabled'?", 10));
  EXPECT_TRUE(has_error(r, "rate_limiting.for_instance.rules[1].max_request",
                        "did you mean 'max_requests'?", 15));
  // Required key missing in that rule, too.
  EXPECT_TRUE(has_error(r, "rate_limiting.for_instance.rules[1].max_requests", "missing", 15));
  // Far from every valid key: no suggestion, but the list.
  bool found = false;
  for (const auto& e : r.errors) {
    if (e.key == "routing.zzzzzzzzz") {
      found = true;
      EXPECT_EQ(e.message.find("did you mean"), std::string::npos) << e.message;
      EXPECT_NE(e.message.find("valid keys: defaultTimeout, "), std::string::npos) << e.message;
      EXPECT_EQ(e.line, 8);
    }
  }
  EXPECT_TRUE(found) << dump(r);
  EXPECT_EQ(r.errors.size(), 8u) << dump(r);
}

TEST_F(ConfigTest, CaseAndUnderscoreMistakesAreSuggested) {
  EXPECT_TRUE(has_error(load("routing: {default_timeout: 5s}"), "routing.default_timeout",
                        "did you mean 'defaultTimeout'?"));
  EXPECT_TRUE(has_error(load("health: {HeartbeatIntervalSeconds: 5}"),
                        "health.HeartbeatIntervalSeconds",
                        "did you mean 'heartbeatIntervalSeconds'?"));
  EXPECT_TRUE(
      has_error(load("rate-limiting: {}"), "rate-limiting", "did you mean 'rateLimiting'?"));
}

TEST_F(ConfigTest, WrongShapesNameTheKey) {
  EXPECT_TRUE(has_error(load("routing: {defaultTimeout: {a: 1}}"), "routing.defaultTimeout",
                        "expected a duration (e.g. \"30s\"), got a map"));
  EXPECT_TRUE(has_error(load("routing: [1, 2]"), "routing", "expected a map of keys, got a list"));
  EXPECT_TRUE(
      has_error(load("gateway: 5"), "gateway", "expected a map of keys, got a single value"));
  EXPECT_TRUE(has_error(load("routing: {neighborRegions: eu2}"), "routing.neighborRegions",
                        "expected a list"));
  EXPECT_TRUE(has_error(load("routing: {neighborRegions: [[eu2]]}"), "routing.neighborRegions[0]",
                        "expected a string, got a list"));
  EXPECT_TRUE(
      has_error(load("node: {region: [a]}"), "node.region", "expected a string, got a list"));
  EXPECT_TRUE(has_error(load("rate_limiting: {for_instance: {rules: {max_requests: 1}}}"),
                        "rate_limiting.for_instance.rules", "expected a list"));
  EXPECT_TRUE(has_error(load("rate_limiting: {for_instance: {rules: [5]}}"),
                        "rate_limiting.for_instance.rules[0]", "expected a map of keys"));
  EXPECT_TRUE(has_error(load("- a\n- b\n"), "", "must be a map of sections"));
  EXPECT_TRUE(has_error(load("just text"), "", "must be a map of sections"));
}

TEST_F(ConfigTest, ScalarTypeErrors) {
  struct Case {
    const char* yaml;
    const char* key;
    const char* message;
  };
  const Case cases[] = {
      {"transports: {tcp: {enabled: yes}}", "transports.tcp.enabled",
       "expected true or false, got 'yes'"},
      {"transports: {tcp: {enabled: True}}", "transports.tcp.enabled", "expected true or false"},
      {"transports: {tcp: {enabled: 1}}", "transports.tcp.enabled", "expected true or false"},
      {"transports: {tcp: {enabled: }}", "transports.tcp.enabled", "has no value"},
      {"transports: {tcp: {port: abc}}", "transports.tcp.port",
       "expected a whole number, got 'abc'"},
      {"transports: {tcp: {port: 1.5}}", "transports.tcp.port", "expected a whole number"},
      {"transports: {tcp: {port: 0x10}}", "transports.tcp.port", "expected a whole number"},
      {"transports: {tcp: {port: 65536}}", "transports.tcp.port",
       "must be at most 65535, got 65536"},
      {"transports: {tcp: {port: -1}}", "transports.tcp.port", "must be at least 0, got -1"},
      {"transports: {tcp: {maxConnections: 0}}", "transports.tcp.maxConnections",
       "must be at least 1"},
      {"transports: {tcp: {maxConnections: 99999999999999999999999}}",
       "transports.tcp.maxConnections", "must be at most"},
      {"transports: {tcp: {receiveBufferSize: 3GB}}", "transports.tcp.receiveBufferSize",
       "must be at most 2147483647 bytes"},
      {"transports: {tls: {handshakeTimeout: 1500us}}", "transports.tls.handshakeTimeout",
       "whole number of milliseconds"},
      {"transports: {tls: {clientCertificateMode: Sometimes}}",
       "transports.tls.clientCertificateMode",
       "'Sometimes' is not valid (expected NoCertificate, AllowCertificate or RequireCertificate)"},
      {"routing: {defaultTimeout: 30}", "routing.defaultTimeout", "has no unit"},
      {"routing: {defaultTimeout: 0s}", "routing.defaultTimeout", "must be > 0"},
      {"routing: {defaultTimeout: -5s}", "routing.defaultTimeout", "negative duration"},
      {"routing: {defaultTimeout: 5 parsecs}", "routing.defaultTimeout", "unknown duration unit"},
      {"routing: {maxRequestBodySize: 100XB}", "routing.maxRequestBodySize",
       "unknown size unit 'XB'"},
      {"routing: {maxRequestBodySize: 0}", "routing.maxRequestBodySize",
       "must be at least 1 bytes"},
      {"routing: {maxRequestBodySize: 1.5}", "routing.maxRequestBodySize", "whole number of bytes"},
      {"routing: {loadBalancing: {policy: fastest}}", "routing.loadBalancing.policy",
       "'fastest' is not valid (expected p2c, lowest-ping or round-robin)"},
      {"routing: {loadBalancing: {overprovisioningFactor: lots}}",
       "routing.loadBalancing.overprovisioningFactor", "expected a number, got 'lots'"},
      {"routing: {loadBalancing: {overprovisioningFactor: .inf}}",
       "routing.loadBalancing.overprovisioningFactor", "expected a number"},
      {"routing: {loadBalancing: {overprovisioningFactor: 5000}}",
       "routing.loadBalancing.overprovisioningFactor", "must be between"},
      {"routing: {maxEndpointsPerInstance: 1025}", "routing.maxEndpointsPerInstance",
       "must be at most 1024"},
      {"health: {initialStatus: fine}", "health.initialStatus",
       "'fine' is not valid (expected healthy, degraded or unhealthy)"},
      {"health: {unhealthyThreshold: 4294967296}", "health.unhealthyThreshold",
       "must be at most 4294967295"},
      {"http: {workers: 1025}", "http.workers", "must be at most 1024"},
      {"http: {headerTimeout: 0ms}", "http.headerTimeout", "must be > 0"},
      {"rate_limiting: {for_instance: {rules: [{max_requests: 0, per_seconds: 1}]}}",
       "rate_limiting.for_instance.rules[0].max_requests", "must be at least 1"},
      {"rate_limiting: {for_instance: {rules: [{max_requests: 1, per_seconds: 0}]}}",
       "rate_limiting.for_instance.rules[0].per_seconds", "must be > 0"},
      {"rate_limiting: {for_environment: {circuit_breaker: {failure_threshold: 0}}}",
       "rate_limiting.for_environment.circuit_breaker.failure_threshold", "must be at least 1"},
      {"rate_limiting: {for_environment: {circuit_breaker: {timeout_seconds: x}}}",
       "rate_limiting.for_environment.circuit_breaker.timeout_seconds", "not a duration"},
  };
  for (const Case& c : cases) {
    const LoadResult r = load(c.yaml);
    EXPECT_TRUE(has_error(r, c.key, c.message)) << c.yaml;
    EXPECT_EQ(r.errors.size(), 1u) << c.yaml << "\n" << dump(r);
  }
}

TEST_F(ConfigTest, ErrorsAreCollectedAndSortedByLine) {
  const LoadResult r = load(R"(gateway:
  node:
    region: "eu1"
  transports:
    tcp:
      port: 99999
      enabled: maybe
  routing:
    defaultTimeout: "30"
    maxRequestBodySize: "lots"
    neighborRegions: ["eu1"]
  health:
    heartbeatIntervalSeconds: 10
    heartbeatTimeoutSeconds: 5
  auth:
    colour: blue
)");
  EXPECT_TRUE(has_error(r, "transports.tcp.port", "must be at most 65535", 6));
  EXPECT_TRUE(has_error(r, "transports.tcp.enabled", "expected true or false", 7));
  EXPECT_TRUE(has_error(r, "routing.defaultTimeout", "has no unit", 9));
  EXPECT_TRUE(has_error(r, "routing.maxRequestBodySize", "not a size", 10));
  EXPECT_TRUE(has_error(r, "routing.neighborRegions[0]", "own region", 11));
  EXPECT_TRUE(has_error(r, "health.heartbeatTimeoutSeconds",
                        "must be >= health.heartbeatIntervalSeconds", 14));
  EXPECT_TRUE(has_error(r, "auth.colour", "unknown key", 16));
  ASSERT_EQ(r.errors.size(), 7u) << dump(r);
  for (std::size_t i = 1; i < r.errors.size(); ++i)
    EXPECT_LE(r.errors[i - 1].line, r.errors[i].line) << dump(r);
}

TEST_F(ConfigTest, YamlSyntaxErrorsCarryTheLine) {
  const ConfigError e = only_error("routing:\n  defaultTimeout: 30s\n  neighborRegions: [eu2\n");
  EXPECT_EQ(e.key, "");
  EXPECT_GT(e.line, 0);
  EXPECT_NE(e.message.find("invalid YAML"), std::string::npos) << e.message;
  const ConfigError bad_indent = only_error("routing:\n  a: 1\n b: 2\n");
  EXPECT_EQ(bad_indent.line, 3);
  const ConfigError two_docs = only_error("node: {}\n---\nnode: {}\n");
  EXPECT_NE(two_docs.message.find("only one YAML document"), std::string::npos);
  // Deep nesting is refused by yaml-cpp's depth guard, as an error, not a crash.
  const LoadResult deep = load(std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_FALSE(deep.ok());
}

TEST_F(ConfigTest, ThumbprintsAreCheckedWithTheirIndex) {
  const LoadResult r = load(R"(transports:
  tls:
    allowedClientCertificateThumbprints:
      - "ab"
      - "0000000000000000000000000000000000000000000000000000000000000000"
      - "zz00000000000000000000000000000000000000000000000000000000000000"
)");
  EXPECT_TRUE(has_error(r, "transports.tls.allowedClientCertificateThumbprints[0]",
                        "2 hex digits, expected 64", 4));
  EXPECT_TRUE(has_error(r, "transports.tls.allowedClientCertificateThumbprints[2]",
                        "is not a hex digit", 6));
  EXPECT_EQ(r.errors.size(), 2u) << dump(r);
}

TEST_F(ConfigTest, LimitsAtTheLimitAndOneBeyond) {
  EXPECT_TRUE(load("routing: {streamingBufferSize: 1048576}").ok());
  EXPECT_TRUE(has_error(load("routing: {streamingBufferSize: 1048577}"),
                        "routing.streamingBufferSize", "must be at most 1048576 bytes"));
  EXPECT_TRUE(load("transports: {tcp: {port: 65535}}").ok());
  std::string rules;
  for (int i = 0; i < 32; ++i)
    rules += "{max_requests: 1, per_seconds: 1},";
  EXPECT_TRUE(load("rate_limiting: {for_instance: {rules: [" + rules + "]}}").ok());
  EXPECT_TRUE(has_error(load("rate_limiting: {for_instance: {rules: [" + rules +
                             "{max_requests: 1, per_seconds: 1}]}}"),
                        "rate_limiting.for_instance.rules", "at most 32 items, got 33"));
}

TEST_F(ConfigTest, SecondsKeysTakeBareNumbersOthersNeedAUnit) {
  const LoadResult r = load(
      "health: {heartbeatIntervalSeconds: 5, heartbeatTimeoutSeconds: \"1m\"}\n"
      "openapi: {cacheTtlSeconds: 90}\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.health.heartbeat_interval, 5s);
  EXPECT_EQ(r.config.health.heartbeat_timeout, 60s);
  EXPECT_EQ(r.config.openapi.cache_ttl, 90s);
  EXPECT_TRUE(has_error(load("auth: {dpopMaxClockSkew: 60}"), "auth.dpopMaxClockSkew", "no unit"));
  EXPECT_TRUE(has_error(load("http: {idleTimeout: 60}"), "http.idleTimeout", "no unit"));
}

TEST_F(ConfigTest, OpenApiKeysAreReadAndChecked) {
  const LoadResult r = load(
      "openapi:\n"
      "  description: \"The platform\"\n"
      "  servers: [\"https://api.example.com\", \"/gw\"]\n"
      "  ui: {enabled: false, assetsDir: /srv/swagger}\n"
      "  limits: {maxFragmentBytes: 64KiB, maxDepth: 32, maxComponents: 10}\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.openapi.description, "The platform");
  EXPECT_EQ(r.config.openapi.servers.size(), 2u);
  EXPECT_FALSE(r.config.openapi.ui.enabled);
  EXPECT_EQ(r.config.openapi.ui.assets_dir, "/srv/swagger");
  EXPECT_EQ(r.config.openapi.limits.max_fragment_bytes, 64u * 1024);
  EXPECT_EQ(r.config.openapi.limits.max_depth, 32u);
  EXPECT_EQ(r.config.openapi.limits.max_components, 10u);
  EXPECT_TRUE(has_error(load("openapi: {servers: [\"ftp://x\"]}"), "openapi.servers[0]",
                        "neither an http(s) URL"));
  EXPECT_TRUE(has_error(load("openapi: {servers: [\"//evil.example\"]}"), "openapi.servers[0]",
                        "neither an http(s) URL"));
  EXPECT_TRUE(has_error(load("openapi: {title: \"\"}"), "openapi.title", "must not be empty"));
  EXPECT_TRUE(
      has_error(load("openapi: {limits: {maxDepth: 100000}}"), "openapi.limits.maxDepth", ""));
  EXPECT_TRUE(has_error(load("openapi: {limits: {maxFragmentBytes: 1GB}}"),
                        "openapi.limits.maxFragmentBytes", ""));
  EXPECT_TRUE(has_error(load("openapi: {ui: {assets: x}}"), "openapi.ui.assets", "unknown key"));
}

}  // namespace
}  // namespace stella::gw::config
