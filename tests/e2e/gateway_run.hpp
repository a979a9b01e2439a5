// A real gateway process with real demo-service processes, on ephemeral ports.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <regex>

#include "e2e_util.hpp"

namespace stella::e2e {

/// The e2e config: short timeouts so the tests finish quickly (never asserted as timings).
inline std::string test_config(const std::string& extra_http = "",
                               const std::string& extra_routing = "") {
  return "gateway:\n"
         "  node:\n"
         "    region: local\n"
         "    nodeId: gw-e2e\n"
         "transports:\n"
         "  tcp:\n"
         "    enabled: true\n"
         "    host: 127.0.0.1\n"
         "    port: 0\n"
         "http:\n"
         "  host: 127.0.0.1\n"
         "  port: 0\n"
         "  workers: 1\n"
         "  headerTimeout: 1s\n"
         "  bodyTimeout: 1s\n"
         "  idleTimeout: 5s\n"
         "  drainTimeout: 10s\n" +
         extra_http +
         "routing:\n"
         "  defaultTimeout: 3s\n"
         "  maxRequestBodySize: 1MB\n" +
         extra_routing +
         "health:\n"
         "  heartbeatIntervalSeconds: 0.2\n"
         "  heartbeatTimeoutSeconds: 1\n"
         "  unhealthyThreshold: 2\n";
}

class GatewayRun {
 public:
  explicit GatewayRun(const std::string& config = test_config()) {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("stella-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "gateway.yaml") << config;
    spawn("gateway.log");
  }
  /// Kills the gateway (SIGKILL: a crash, no DRAIN) and starts it again with the same config,
  /// logging to `log_name`. With fixed ports in the config it listens where it did; ok() says
  /// whether it came up.
  void restart(const std::string& log_name) {
    gateway_.reset();
    http_ = tcp_ = 0;
    spawn(log_name);
  }
  ~GatewayRun() {
    services_.clear();
    gateway_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool ok() const { return http_ != 0; }
  const std::filesystem::path& dir() const { return dir_; }
  std::uint16_t http() const { return http_; }
  std::uint16_t tcp() const { return tcp_; }
  Process& gateway() { return *gateway_; }
  std::string gateway_log() const { return gateway_->log(); }

  /// Starts a demo service instance; returns its index.
  std::size_t start_service(const std::string& instance, const std::string& region = "local") {
    services_.push_back(std::make_unique<Process>(
        std::vector<std::string>{STELLA_GW_BINARY, "service", "demo", "--gateway",
                                 "tcp://127.0.0.1:" + std::to_string(tcp_), "--instance", instance,
                                 "--region", region},
        dir_ / (instance + ".log")));
    return services_.size() - 1;
  }
  /// Starts `stella-gw <args...>` (a service with options of its own); its log is
  /// dir()/<log_name>.log. Returns its index for service().
  std::size_t start_process(std::vector<std::string> args, const std::string& log_name) {
    args.insert(args.begin(), STELLA_GW_BINARY);
    services_.push_back(std::make_unique<Process>(std::move(args), dir_ / (log_name + ".log")));
    return services_.size() - 1;
  }
  Process& service(std::size_t i) { return *services_[i]; }

  /// Waits until `n` requests are in flight at the instances of `service` (the gateway's own
  /// gauge: the REQUEST frame has been handed to the service connection).
  bool wait_in_flight(int n, const std::string& service = "demo") {
    return eventually([&] { return in_flight(service) == n; });
  }
  /// The service's requests in flight as the gateway counts them (-1: no answer from /metrics).
  int in_flight(const std::string& service = "demo") {
    auto r = http_exchange(http_, get("/metrics"));
    if (!r) return -1;
    const std::string key = "gateway_active_connections{service=\"" + service + "\"} ";
    const auto at = r->body.find(key);
    return at == std::string::npos ? 0 : std::atoi(r->body.c_str() + at + key.size());
  }

  /// Waits until /health/ready lists `n` instances.
  bool wait_instances(int n, std::chrono::milliseconds timeout = 20s) {
    const std::string want = "\"instances\":" + std::to_string(n) + ",";
    return eventually(
        [&] {
          auto r = http_exchange(http_, get("/health/ready"));
          return r && r->body.find(want) != std::string::npos;
        },
        timeout);
  }

 private:
  void spawn(const std::string& log_name) {
    gateway_ =
        std::make_unique<Process>(std::vector<std::string>{STELLA_GW_BINARY, "serve", "--config",
                                                           (dir_ / "gateway.yaml").string()},
                                  dir_ / log_name);
    const std::regex re("listening https?=127\\.0\\.0\\.1:(\\d+) tcp=127\\.0\\.0\\.1:(\\d+)");
    std::smatch m;
    std::string log;
    eventually([&] {
      log = gateway_->log();
      return std::regex_search(log, m, re);
    });
    if (std::regex_search(log, m, re)) {
      http_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      tcp_ = static_cast<std::uint16_t>(std::stoi(m[2]));
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<Process> gateway_;
  std::vector<std::unique_ptr<Process>> services_;
  std::uint16_t http_ = 0, tcp_ = 0;
};

}  // namespace stella::e2e
