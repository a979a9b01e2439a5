// Rate limiting end to end: the real gateway and demo service, the instance level alone, and
// two gateways sharing one real redis-server (the environment level) while Redis dies and
// comes back.
#include <gtest/gtest.h>

#include "../redis/redis_server.hpp"
#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

std::string metric_value(std::uint16_t port, const std::string& sample) {
  auto r = http_exchange(port, get("/metrics"));
  if (!r) return {};
  const auto at = r->body.find("\n" + sample + " ");
  if (at == std::string::npos) return {};
  const auto start = at + 1 + sample.size() + 1;
  return r->body.substr(start, r->body.find('\n', start) - start);
}

TEST(RateLimit, InstanceRuleAnswers429WithRetryAfterAndTheFields) {
  GatewayRun gw(test_config() +
                "rate_limiting:\n"
                "  key_by: ip\n"
                "  for_instance:\n"
                "    rules:\n"
                "      - {max_requests: 5, per_seconds: 60}\n"
                "  overrides:\n"
                "    - {match: {path: \"/api/v1/demo/items/{id}\"}, exempt: true}\n");
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-rl");
  ASSERT_TRUE(gw.wait_instances(1));
  for (int i = 0; i < 5; ++i) {
    auto r = http_exchange(gw.http(), get("/api/v1/demo/echo"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->headers["x-ratelimit-limit"], "5");
    EXPECT_EQ(r->headers["x-ratelimit-remaining"], std::to_string(4 - i));
    EXPECT_EQ(r->headers["ratelimit-policy"], "\"r0\";q=5;w=60");
    EXPECT_EQ(r->headers["ratelimit"].rfind("\"r0\";r=" + std::to_string(4 - i) + ";t=", 0), 0u)
        << r->headers["ratelimit"];
  }
  auto refused = http_exchange(gw.http(), get("/api/v1/demo/echo"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  const int retry = std::stoi(refused->headers["retry-after"]);
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 61);
  EXPECT_EQ(refused->headers["x-ratelimit-remaining"], "0");
  EXPECT_NE(refused->body.find("rate-limited"), std::string::npos) << refused->body;
  // Exempt route: never limited, no fields.
  for (int i = 0; i < 8; ++i) {
    auto r = http_exchange(gw.http(), get("/api/v1/demo/items/7"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers.count("x-ratelimit-limit"), 0u);
  }
  // Counted: the 429 by route and by tenant ("anonymous" without a verified identity).
  EXPECT_TRUE(eventually([&] {
    return metric_value(gw.http(),
                        "gateway_ratelimit_total{service=\"demo\",path=\"/api/v1/demo/echo\"}") ==
               "1" &&
           metric_value(gw.http(), "gateway_rate_limit_exceeded_total{tenant=\"anonymous\"}") ==
               "1";
  }));
}

TEST(RateLimit, TwoGatewaysShareOneLimitThroughRedisAndSurviveItsDeath) {
  test::RedisServer redis;
  const std::string cfg = test_config() +
                          "rate_limiting:\n"
                          "  process_back_pressure_when_more_than_per_5min: 0\n"
                          "  key_by: ip\n"
                          "  for_environment:\n"
                          "    valkey_connection: \"127.0.0.1:" +
                          std::to_string(redis.port()) +
                          "\"\n"
                          "    check_timeout: 500ms\n"
                          "    rules:\n"
                          "      - {max_requests: 20, per_seconds: 60}\n"
                          "    circuit_breaker: {failure_threshold: 3, timeout_seconds: 1, "
                          "half_open_timeout: 1}\n";
  GatewayRun gw1(cfg), gw2(cfg);
  ASSERT_TRUE(gw1.ok()) << gw1.gateway_log();
  ASSERT_TRUE(gw2.ok()) << gw2.gateway_log();
  gw1.start_service("demo-a");
  gw2.start_service("demo-b");
  ASSERT_TRUE(gw1.wait_instances(1));
  ASSERT_TRUE(gw2.wait_instances(1));
  // The Redis connection comes up in the background: wait for it to answer one check.
  ASSERT_TRUE(eventually([&] {
    http_exchange(gw1.http(), get("/api/v1/demo/status/204"));
    return metric_value(gw1.http(),
                        "gateway_rate_limit_environment_checks_total{result=\"allowed\"}") != "0";
  })) << gw1.gateway_log();
  int admitted = 1, refused = 0;  // the probe above
  for (int i = 0; i < 15; ++i)
    for (GatewayRun* gw : {&gw1, &gw2}) {
      auto r = http_exchange(gw->http(), get("/api/v1/demo/status/204"));
      ASSERT_TRUE(r);
      if (r->status == 204) ++admitted;
      if (r->status == 429) ++refused;
    }
  // One global limit of 20 across both gateways.
  EXPECT_EQ(admitted, 20) << "refused " << refused;
  EXPECT_EQ(refused, 11);

  // Redis dies: checks fail, the breaker opens, requests keep flowing (fail open).
  redis.kill();
  int ok_while_down = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = http_exchange(gw1.http(), get("/api/v1/demo/status/204"));
    ASSERT_TRUE(r);
    if (r->status == 204) ++ok_while_down;
  }
  EXPECT_EQ(ok_while_down, 6);
  // (A scrape may be up to 250 ms old: wait for it, do not read it once.)
  EXPECT_TRUE(eventually([&] {
    return metric_value(gw1.http(), "gateway_rate_limit_breaker_state{state=\"open\"}") == "1";
  }));
  EXPECT_TRUE(eventually([&] {
    return gw1.gateway_log().find("breaker closed → open") != std::string::npos;
  })) << gw1.gateway_log();
  // Redis is back (empty: the limit starts afresh): the breaker half-opens, its probe succeeds,
  // and the environment level decides again.
  redis.start();
  EXPECT_TRUE(eventually([&] {
    http_exchange(gw1.http(), get("/api/v1/demo/status/204"));
    return metric_value(gw1.http(), "gateway_rate_limit_breaker_state{state=\"closed\"}") == "1";
  })) << gw1.gateway_log();
}

// The script cache flushed (a Redis restart, SCRIPT FLUSH): EVALSHA gets NOSCRIPT and the
// gateway falls back to EVAL, counting on. Redis slow (DEBUG SLEEP): the check gives up at
// check_timeout and the request is answered on the instance level's word.
TEST(RateLimit, NoscriptIsHandledAndASlowRedisCostsOnlyTheBudget) {
  test::RedisServer::Options o;
  o.extra_args = {"--enable-debug-command", "yes"};
  test::RedisServer redis(o);
  const std::string port = std::to_string(redis.port());
  GatewayRun gw(test_config() +
                "rate_limiting:\n"
                "  process_back_pressure_when_more_than_per_5min: 0\n"
                "  key_by: ip\n"
                "  for_environment:\n"
                "    valkey_connection: \"127.0.0.1:" +
                port +
                "\"\n"
                "    check_timeout: 300ms\n"
                "    rules:\n"
                "      - {max_requests: 6, per_seconds: 60}\n"
                "    circuit_breaker: {failure_threshold: 100, timeout_seconds: 1, "
                "half_open_timeout: 1}\n");
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-ns");
  ASSERT_TRUE(gw.wait_instances(1));
  ASSERT_TRUE(eventually([&] {
    http_exchange(gw.http(), get("/api/v1/demo/status/204"));
    return metric_value(gw.http(),
                        "gateway_rate_limit_environment_checks_total{result=\"allowed\"}") != "0";
  })) << gw.gateway_log();
  ASSERT_EQ(shell("redis-cli -p " + port + " SCRIPT FLUSH").first, 0);
  int admitted = 1, refused = 0;
  for (int i = 0; i < 7; ++i) {
    auto r = http_exchange(gw.http(), get("/api/v1/demo/status/204"));
    ASSERT_TRUE(r);
    admitted += r->status == 204;
    refused += r->status == 429;
  }
  EXPECT_EQ(admitted, 6);  // the flushed script made no request slip through
  EXPECT_EQ(refused, 2);
  // Redis stalls for 3 s. The limit is used up, so while Redis answers every request is a 429;
  // once the stall begins a check gives up at the budget and the instance level (no rules
  // here) admits the request, counted as a timeout.
  auto sleeper = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/redis-cli", "-p", port, "DEBUG", "SLEEP", "3"},
      gw.dir() / "sleep.log");
  EXPECT_TRUE(eventually([&] {
    auto r = http_exchange(gw.http(), get("/api/v1/demo/status/204"));
    return r && r->status == 204;
  }));
  EXPECT_TRUE(eventually([&] {
    return metric_value(gw.http(),
                        "gateway_rate_limit_environment_checks_total{result=\"timeout\"}") != "0";
  }));
  sleeper->wait_exit();
}

}  // namespace
}  // namespace stella::e2e
