// Metrics, request logs and traces as an operator sees them: the real binary, real demo
// services, a real OTLP receiver, promtool on a live scrape.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

using Series = std::map<std::string, double>;

/// Every sample of a Prometheus text scrape: "name{labels}" → value.
Series parse_scrape(const std::string& text) {
  Series out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::string scrape_text(std::uint16_t port, const std::string& path = "/metrics") {
  auto r = http_exchange(port, get(path));
  return r && r->status == 200 ? r->body : std::string();
}

/// The request-counting series that changed between two scrapes, with their deltas (the
/// scrapes' own /metrics series left out).
std::map<std::string, double> moved(const Series& before, const Series& after,
                                    const std::string& family) {
  std::map<std::string, double> d;
  for (const auto& [k, v] : after) {
    if (k.rfind(family + "{", 0) != 0 || k.find("path=\"/metrics\"") != std::string::npos) continue;
    const auto it = before.find(k);
    const double delta = v - (it == before.end() ? 0 : it->second);
    if (delta != 0) d[k] = delta;
  }
  return d;
}

std::string receiver_script() {
  return std::string(STELLA_SOURCE_DIR) + "/tests/e2e/otlp_receiver.py";
}

class Observability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("stella-obs-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    receiver_ = new Process({"/usr/bin/python3", receiver_script(), "--port-file",
                             (*dir_ / "port").string(), "--out", (*dir_ / "spans.jsonl").string()},
                            *dir_ / "receiver.log", true);
    std::string port;
    ASSERT_TRUE(eventually([&] {
      port = slurp(*dir_ / "port");
      while (!port.empty() && !std::isdigit(static_cast<unsigned char>(port.back())))
        port.pop_back();
      return !port.empty();
    })) << receiver_->log();
    std::string config = test_config();
    config.replace(config.find("workers: 1"), 10, "workers: 2");  // metrics merge across workers
    config +=
        "telemetry:\n"
        "  logging:\n"
        "    format: json\n"  // on stdout: the gateway's log file here
        "  tracing:\n"
        "    enabled: true\n"
        "    endpoint: http://127.0.0.1:" +
        port +
        "/v1/traces\n"
        "    exportInterval: 100ms\n";
    gw_ = new GatewayRun(config);
    ASSERT_TRUE(gw_->ok()) << gw_->gateway_log();
    gw_->start_service("demo-a");
    ASSERT_TRUE(gw_->wait_instances(1)) << gw_->gateway_log();
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete receiver_;
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }
  static std::uint16_t port() { return gw_->http(); }
  static Series scrape() { return parse_scrape(scrape_text(port())); }

  /// Sends `request`, waits until `series` moved, and checks that it moved by exactly one and
  /// that no other gateway_requests_total series moved.
  static void expect_only(const std::function<void()>& request, const std::string& series,
                          const std::string& outcome) {
    const Series before = scrape();
    request();
    Series after;
    ASSERT_TRUE(eventually([&] {
      after = scrape();
      return !moved(before, after, "gateway_requests_total").empty();
    })) << series;
    const auto d = moved(before, after, "gateway_requests_total");
    std::string all;
    for (const auto& [k, v] : d)
      all += k + " += " + std::to_string(v) + "\n";
    ASSERT_EQ(d.size(), 1u) << series << "\nmoved:\n" << all;
    EXPECT_EQ(d.begin()->first, series);
    EXPECT_EQ(d.begin()->second, 1);
    auto o = moved(before, after, "gateway_request_outcomes_total");
    o.erase("gateway_request_outcomes_total{outcome=\"management\"}");  // the scrapes
    ASSERT_EQ(o.size(), 1u) << series;
    EXPECT_EQ(o.begin()->first, "gateway_request_outcomes_total{outcome=\"" + outcome + "\"}");
  }

  static std::filesystem::path* dir_;
  static Process* receiver_;
  static GatewayRun* gw_;
};
std::filesystem::path* Observability::dir_ = nullptr;
Process* Observability::receiver_ = nullptr;
GatewayRun* Observability::gw_ = nullptr;

std::string requests_series(const std::string& method, const std::string& path,
                            const std::string& service, int status) {
  return "gateway_requests_total{service=\"" + service + "\",method=\"" + method + "\",path=\"" +
         path + "\",status=\"" + std::to_string(status) + "\"}";
}

TEST_F(Observability, EveryOutcomeMovesExactlyItsSeriesByOne) {
  const auto send = [](std::string req) { return [req] { (void)http_exchange(port(), req); }; };
  expect_only(send(get("/api/v1/demo/echo")),
              requests_series("GET", "/api/v1/demo/echo", "demo", 200), "ok");
  expect_only(send(get("/api/v1/demo/items/42")),
              requests_series("GET", "/api/v1/demo/items/{id}", "demo", 200), "ok");
  expect_only(send(get("/no/such/route")), requests_series("GET", "(unmatched)", "", 404),
              "no_route");
  expect_only(send("DELETE /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n\r\n"),
              requests_series("DELETE", "(unmatched)", "", 405), "method_not_allowed");
  expect_only(send("POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\n\r\n"),
              requests_series("POST", "(unmatched)", "", 413), "body_too_large");
  // An informational status from the service is not a final answer: 502.
  expect_only(send(get("/api/v1/demo/status/103")),
              requests_series("GET", "/api/v1/demo/status/{code}", "demo", 502),
              "upstream_bad_response");
  // The demo's slow endpoint outlasts routing.defaultTimeout (3 s): 504, CANCEL sent.
  expect_only(send(get("/api/v1/demo/slow/5000")),
              requests_series("GET", "/api/v1/demo/slow/{ms}", "demo", 504), "upstream_timeout");
  // Smuggling shape: refused before any routing, method unknown.
  expect_only(send("POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
              requests_series("OTHER", "(unmatched)", "", 400), "bad_request_framing");
  // The client leaves while its request is at the service.
  expect_only(
      [] {
        Client c(port());
        c.send(get("/api/v1/demo/slow/1500"));
        // Wait until the service has it (in flight), then leave.
        eventually([] {
          return scrape_text(port()).find("gateway_active_connections{service=\"demo\"} 1") !=
                 std::string::npos;
        });
        c.close();
      },
      requests_series("GET", "/api/v1/demo/slow/{ms}", "demo", 499), "client_closed");
}

TEST_F(Observability, LiveScrapePassesPromtool) {
  (void)http_exchange(port(), get("/api/v1/demo/echo"));
  const std::string text = scrape_text(port());
  ASSERT_FALSE(text.empty());
  std::ofstream(*dir_ / "scrape.txt") << text;
  auto [rc, out] = shell("promtool check metrics < " + (*dir_ / "scrape.txt").string() + " 2>&1");
  EXPECT_EQ(rc, 0) << out;
  // Families of features that are off are still there, at zero.
  for (const char* needle :
       {"# TYPE gateway_auth_failures_total counter",
        "gateway_auth_failures_total{reason=\"dpop_replay\"} 0",
        "# TYPE gateway_rate_limit_exceeded_total counter",
        "# TYPE gateway_ratelimit_total counter",
        "# TYPE gateway_request_duration_seconds histogram",
        "gateway_routing_duration_seconds_bucket{le=\"0.05\"}",
        "gateway_transport_frames_total{type=\"REQUEST\",direction=\"out\"}",
        "gateway_instances{service=\"demo\",health=\"healthy\"} 1",
        "gateway_instance_health{service=\"demo\",service_instance=\"demo-a\",health=\"healthy\"} "
        "1",
        "gateway_routes ", "process_resident_memory_bytes ", "process_open_fds ",
        "process_cpu_seconds_total "})
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
}

TEST_F(Observability, DashboardAndAlertsQueryOnlyLiveMetrics) {
  (void)http_exchange(port(), get("/api/v1/demo/echo"));
  std::ofstream(*dir_ / "scrape2.txt") << scrape_text(port());
  const std::string g = std::string(STELLA_SOURCE_DIR) + "/grafana/";
  auto [rc, out] = shell("python3 " + g + "check_queries.py " + (*dir_ / "scrape2.txt").string() +
                         " " + g + "stella-ops-gateway-performance.json " + g + "alerts.yaml 2>&1");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("metric names checked"), std::string::npos) << out;
}

TEST_F(Observability, JsonRequestLogLineCarriesTheCorrelationId) {
  auto r = http_exchange(port(), get("/api/v1/demo/items/7?q=1",
                                     "X-Correlation-Id: obs-log-1\r\n"
                                     "Authorization: Bearer secret-token-value\r\n"
                                     "Cookie: session=secret-cookie\r\n"));
  ASSERT_TRUE(r);
  std::string line;
  ASSERT_TRUE(eventually([&] {
    std::istringstream in(gw_->gateway_log());
    for (std::string l; std::getline(in, l);)
      if (l.find("obs-log-1") != std::string::npos) line = l;
    return !line.empty();
  }));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["message"], "Request routed");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["correlationId"], "obs-log-1");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/api/v1/demo/items/7");
  EXPECT_EQ(j["route"], "/api/v1/demo/items/{id}");
  EXPECT_EQ(j["service"], "demo");
  EXPECT_EQ(j["instance"], "demo-a");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["outcome"], "ok");
  EXPECT_TRUE(j["durationMs"].is_number());
  EXPECT_TRUE(j["tenantId"].is_string());
  EXPECT_GT(j["bytesOut"].get<int>(), 0);
  EXPECT_TRUE(std::regex_match(j["timestamp"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_EQ(line.find("secret"), std::string::npos) << line;
  // Lifecycle lines are JSON in this mode too, on the same stream.
  std::istringstream all(gw_->gateway_log());
  for (std::string l; std::getline(all, l);)
    EXPECT_TRUE(nlohmann::json::accept(l)) << l;
  EXPECT_NE(gw_->gateway_log().find("registered demo/demo-a"), std::string::npos);
}

TEST_F(Observability, TraceparentIsContinuedPropagatedAndExported) {
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string parent = "00f067aa0ba902b7";
  auto r =
      http_exchange(port(), get("/api/v1/demo/echo", "traceparent: 00-" + trace + "-" + parent +
                                                         "-01\r\n"
                                                         "tracestate: vendor=x\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  // The client learns the gateway's span in the same trace.
  const std::string echoed = r->headers["traceparent"];
  EXPECT_EQ(echoed.substr(0, 36), "00-" + trace + "-") << echoed;
  // The service got the trace with the gateway's transport span as its parent.
  const auto body = nlohmann::json::parse(r->body);
  const std::string to_service = body["traceparent"];
  EXPECT_EQ(to_service.substr(0, 36), "00-" + trace + "-") << to_service;
  for (const auto& h : body["headers"])
    EXPECT_NE(h[0], "traceparent");

  std::vector<nlohmann::json> spans;
  ASSERT_TRUE(eventually([&] {
    spans.clear();
    std::istringstream in(slurp(*dir_ / "spans.jsonl"));
    for (std::string l; std::getline(in, l);) {
      auto j = nlohmann::json::parse(l);
      if (j["traceId"] == trace) spans.push_back(j);
    }
    return spans.size() >= 2;
  })) << receiver_->log();
  ASSERT_EQ(spans.size(), 2u);
  const auto& root = spans[0]["name"] == "gateway.route" ? spans[0] : spans[1];
  const auto& send = spans[0]["name"] == "gateway.route" ? spans[1] : spans[0];
  EXPECT_EQ(root["name"], "gateway.route");
  EXPECT_EQ(root["parentSpanId"], parent);
  EXPECT_EQ(echoed.substr(36, 16), root["spanId"].get<std::string>());
  EXPECT_EQ(send["name"], "gateway.transport.send");
  EXPECT_EQ(send["parentSpanId"], root["spanId"]);
  EXPECT_EQ(to_service.substr(36, 16), send["spanId"].get<std::string>());
}

TEST(ObservabilityConfig, MetricsOnTheirOwnListenerOrOff) {
  GatewayRun gw(test_config() + "telemetry:\n  metrics:\n    host: 127.0.0.1\n    port: 0\n");
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  std::smatch m;
  const std::string log = gw.gateway_log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("metrics=127\\.0\\.0\\.1:(\\d+)"))) << log;
  const auto metrics_port = static_cast<std::uint16_t>(std::stoi(m[1]));
  EXPECT_NE(scrape_text(metrics_port).find("# TYPE gateway_requests_total counter"),
            std::string::npos);
  // Not on the client listener; and the metrics listener serves nothing else.
  auto main = http_exchange(gw.http(), get("/metrics"));
  ASSERT_TRUE(main);
  EXPECT_EQ(main->status, 404);
  auto other = http_exchange(metrics_port, get("/api/v1/demo/echo"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  auto health = http_exchange(metrics_port, get("/health/live"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  GatewayRun off(test_config() + "telemetry:\n  metrics:\n    enabled: false\n");
  ASSERT_TRUE(off.ok()) << off.gateway_log();
  auto none = http_exchange(off.http(), get("/metrics"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
}

TEST(ObservabilityConfig, AuthEnabledWithoutAnAuthorityRefusesToStart) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-obs-auth-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "gw.yaml") << test_config() << "auth:\n  enabled: true\n";
  Process p({STELLA_GW_BINARY, "serve", "--config", (dir / "gw.yaml").string()}, dir / "log");
  EXPECT_EQ(p.wait_exit(), 1);
  EXPECT_TRUE(p.log_contains("auth.enabled")) << p.log();
  EXPECT_TRUE(p.log_contains("no Authority is configured")) << p.log();
  // A tracing CA file that cannot be read: refused at startup, named.
  std::ofstream(dir / "gw2.yaml") << test_config()
                                  << "telemetry:\n  tracing:\n    enabled: true\n"
                                     "    caFile: /nonexistent/ca.pem\n";
  Process p2({STELLA_GW_BINARY, "serve", "--config", (dir / "gw2.yaml").string()}, dir / "log2");
  EXPECT_EQ(p2.wait_exit(), 1);
  EXPECT_TRUE(p2.log_contains("telemetry.tracing.caFile")) << p2.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stella::e2e
