// Service identity over real TLS (docs/security.md): a second service presenting another
// certificate cannot take the demo service's routes, neither by its name nor by a path under
// the demo's prefix, and neither can a plain-TCP peer. When the owner is gone its routes answer
// 503 with Retry-After during the ownership grace period, not 404.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

class ServiceIdentityE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ =
        std::filesystem::temp_directory_path() / ("stella-e2e-ids-" + std::to_string(::getpid()));
    auto [rc, out] = shell(std::string(STELLA_GW_BINARY) + " tls dev-certs --out " +
                           certs_.string() + " --service demo.internal --service intruder 2>&1");
    ASSERT_EQ(rc, 0) << out;
    const std::string tls =
        "  tls:\n"
        "    enabled: true\n"
        "    host: 127.0.0.1\n"
        "    port: 0\n"
        "    certificatePath: " +
        (certs_ / "gateway.pem").string() + "\n" +
        "    privateKeyPath: " + (certs_ / "gateway-key.pem").string() + "\n" +
        "    clientCertificateMode: RequireCertificate\n"
        "    caPath: " +
        (certs_ / "ca.pem").string() + "\n" +
        "    serviceIdentities:\n"
        "      - match: { san: demo.internal }\n"
        "        services: [demo]\n"
        "        pathPrefixes: [/api/v1/demo]\n";
    std::string config = test_config("", "  ownershipGracePeriod: 30s\n");
    config.replace(config.find("http:\n"), 0, tls);
    gw_ = std::make_unique<GatewayRun>(config);
    const std::regex re("tls=127\\.0\\.0\\.1:(\\d+)");
    std::smatch m;
    const std::string log = gw_->gateway_log();
    if (std::regex_search(log, m, re)) tls_port_ = m[1];
  }
  void TearDown() override {
    gw_.reset();
    std::filesystem::remove_all(certs_);
  }
  std::size_t start_tls_service(const std::string& name, const std::string& cert,
                                const std::string& instance) {
    return gw_->start_process(
        {"service", "demo", "--name", name, "--instance", instance, "--gateway",
         "tls://127.0.0.1:" + tls_port_, "--tls-ca", (certs_ / "ca.pem").string(), "--tls-cert",
         (certs_ / (cert + ".pem")).string(), "--tls-key", (certs_ / (cert + "-key.pem")).string(),
         "--tls-server-name", "localhost"},
        instance);
  }
  std::filesystem::path certs_;
  std::unique_ptr<GatewayRun> gw_;
  std::string tls_port_;
};

TEST_F(ServiceIdentityE2e, AnotherCertificateCannotTakeTheDemoRoutes) {
  ASSERT_TRUE(gw_->ok() && !tls_port_.empty()) << gw_->gateway_log();
  start_tls_service("demo", "demo.internal", "demo-owner");
  ASSERT_TRUE(gw_->wait_instances(1)) << gw_->gateway_log();

  // Same name, another certificate: the whole HELLO is refused.
  start_tls_service("demo", "intruder", "demo-impostor");
  ASSERT_TRUE(eventually([&] {
    return gw_->gateway().log_contains(
        "HELLO from demo/demo-impostor refused: service \"demo\" "
        "is reserved for the certificate with san=demo.internal");
  })) << gw_->gateway_log();
  // Same name over plain TCP: refused too.
  gw_->start_process({"service", "demo", "--instance", "demo-plain", "--gateway",
                      "tcp://127.0.0.1:" + std::to_string(gw_->tcp())},
                     "demo-plain");
  ASSERT_TRUE(eventually([&] {
    return gw_->gateway().log_contains("HELLO from demo/demo-plain refused");
  })) << gw_->gateway_log();
  // Another name with the demo's paths: registered, every path under /api/v1/demo refused.
  start_tls_service("intruder", "intruder", "intruder-1");
  ASSERT_TRUE(eventually([&] {
    return gw_->gateway().log_contains("registered intruder/intruder-1");
  })) << gw_->gateway_log();
  EXPECT_TRUE(eventually([&] {
    return gw_->gateway().log_contains(
        "refused GET /api/v1/demo/echo: /api/v1/demo/echo reaches under /api/v1/demo, granted to "
        "service \"demo\"");
  })) << gw_->gateway_log();

  // Every request is still answered by the owner.
  for (int i = 0; i < 20; ++i) {
    auto r = http_exchange(gw_->http(), get("/api/v1/demo/echo"));
    ASSERT_TRUE(r && r->status == 200);
    EXPECT_EQ(nlohmann::json::parse(r->body)["instance"], "demo-owner") << r->body;
  }
  auto metrics = http_exchange(gw_->http(), get("/metrics"));
  ASSERT_TRUE(metrics);
  // Refused peers retry with backoff: at least the two refusals above.
  std::smatch refused;
  ASSERT_TRUE(std::regex_search(metrics->body, refused,
                                std::regex("\ngateway_hellos_refused_total (\\d+)\n")));
  EXPECT_GE(std::stoi(refused[1]), 2);
  EXPECT_NE(metrics->body.find("gateway_hello_endpoints_refused_total{reason=\"forbidden\"} "),
            std::string::npos);

  // The owner dies: its routes are held for it — 503 with Retry-After, not 404.
  gw_->service(0).signal(SIGKILL);
  ASSERT_TRUE(eventually([&] {
    auto r = http_exchange(gw_->http(), get("/api/v1/demo/echo"));
    return r && r->status == 503;
  })) << gw_->gateway_log();
  auto held = http_exchange(gw_->http(), get("/api/v1/demo/echo"));
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, 503);
  EXPECT_EQ(held->headers["retry-after"], "1");
  EXPECT_NE(held->body.find("held for it"), std::string::npos) << held->body;
  // The owner restarts with its certificate and takes its routes back.
  start_tls_service("demo", "demo.internal", "demo-owner-2");
  ASSERT_TRUE(eventually([&] {
    auto r = http_exchange(gw_->http(), get("/api/v1/demo/echo"));
    return r && r->status == 200 && r->body.find("demo-owner-2") != std::string::npos;
  })) << gw_->gateway_log();
}

}  // namespace
}  // namespace stella::e2e
