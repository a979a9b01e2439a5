// ${NAME} and ${NAME:-default} substitution in every scalar.
#include <gtest/gtest.h>
#include <cstdlib>

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

TEST_F(ConfigTest, EnvironmentSubstitution) {
  fake_env()["REGION"] = "eu3";
  fake_env()["PORT"] = "9200";
  fake_env()["EMPTY"] = "";
  fake_env()["ON"] = "true";
  const LoadResult r = load(R"(node:
  region: "${REGION}"
  nodeId: "gw-${REGION}-${UNSET_NUMBER:-01}"
  environment: "${EMPTY:-prod}"
transports:
  tcp: {port: "${PORT}", enabled: "${ON}"}
  tls: {certificatePassword: "pa$$word${EMPTY}", caPath: "${UNSET_PATH:-}"}
routing:
  neighborRegions: ["${NEIGHBOR:-eu4}"]
  defaultTimeout: "${TIMEOUT:-45s}"
openapi: {title: "US$ 5 a$"}
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.node.region, "eu3");
  EXPECT_EQ(r.config.node.node_id, "gw-eu3-01");
  EXPECT_EQ(r.config.node.environment, "prod");  // set but empty: the default applies
  EXPECT_EQ(r.config.tcp.listen.port, 9200);
  EXPECT_TRUE(r.config.tcp.enabled);
  EXPECT_EQ(r.config.tls.tls.certificate_password, "pa$word");
  EXPECT_EQ(r.config.tls.tls.ca_path, "");
  EXPECT_EQ(r.config.routing.selector.neighbor_regions, std::vector<std::string>{"eu4"});
  EXPECT_EQ(r.config.routing.default_timeout, 45s);
  EXPECT_EQ(r.config.openapi.title, "US$ 5 a$");
}

TEST_F(ConfigTest, SubstitutedValuesAreNotExpandedAgainAndStillTypeChecked) {
  fake_env()["TRICKY"] = "${OTHER}";
  fake_env()["BAD_PORT"] = "http";
  const LoadResult ok = load("node: {nodeId: \"${TRICKY}\"}");
  ASSERT_TRUE(ok.ok()) << dump(ok);
  EXPECT_EQ(ok.config.node.node_id, "${OTHER}");
  EXPECT_TRUE(has_error(load("transports: {tcp: {port: \"${BAD_PORT}\"}}"), "transports.tcp.port",
                        "expected a whole number, got 'http'"));
}

TEST_F(ConfigTest, EnvironmentSubstitutionErrors) {
  const LoadResult r = load(R"(transports:
  tls:
    certificatePassword: "${GATEWAY_CERT_PASSWORD}"
routing:
  neighborRegions: ["eu2", "${NEIGHBOR}"]
node:
  region: "${REGION"
  nodeId: "${1BAD}"
  environment: "$ENVIRONMENT"
)");
  EXPECT_TRUE(has_error(r, "transports.tls.certificatePassword",
                        "environment variable GATEWAY_CERT_PASSWORD is not set", 3));
  EXPECT_TRUE(has_error(r, "transports.tls.certificatePassword", "${GATEWAY_CERT_PASSWORD:-"));
  EXPECT_TRUE(has_error(r, "routing.neighborRegions[1]", "NEIGHBOR is not set", 5));
  EXPECT_TRUE(has_error(r, "node.region", "unterminated '${'", 7));
  EXPECT_TRUE(has_error(r, "node.nodeId", "invalid variable '${1BAD}'", 8));
  EXPECT_TRUE(has_error(r, "node.environment", "write ${NAME} for a variable, or $$", 9));
  EXPECT_EQ(r.errors.size(), 5u) << dump(r);
}

TEST_F(ConfigTest, ProcessEnvReadsTheRealEnvironment) {
  ::setenv("STELLA_CONFIG_TEST_VAR", "value", 1);
  EXPECT_EQ(process_env("STELLA_CONFIG_TEST_VAR"), "value");
  ::unsetenv("STELLA_CONFIG_TEST_VAR");
  EXPECT_EQ(process_env("STELLA_CONFIG_TEST_VAR"), std::nullopt);
}

}  // namespace
}  // namespace stella::gw::config
