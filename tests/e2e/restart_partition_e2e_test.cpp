// Two rows of the chaos table on real processes: a gateway restart with hundreds of service
// connections reconnecting at once (load/restart_fleet.sh runs the thousand-connection version
// on the release build), and a network partition between one instance and the
// gateway (a forwarding proxy in between that stops moving bytes while the sockets stay open).
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

// The e2e config on fixed ports (a restarted gateway listens where the services look for it),
// with heartbeats every 2 s: a thousand connections beating every 0.2 s would keep two
// sanitizer builds busy with heartbeats alone.
std::string fleet_config(std::uint16_t http, std::uint16_t tcp) {
  std::string config = test_config();
  const auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = config.find(from);
    config.replace(at, from.size(), to);
  };
  replace("    port: 0\n", "    port: " + std::to_string(tcp) + "\n");  // transports.tcp
  replace("  port: 0\n", "  port: " + std::to_string(http) + "\n");     // http
  replace("heartbeatIntervalSeconds: 0.2", "heartbeatIntervalSeconds: 2");
  replace("heartbeatTimeoutSeconds: 1", "heartbeatTimeoutSeconds: 10");
  return config;
}

// Every service of the fleet answers its echo, from one of its own instances.
int services_answering(std::uint16_t http, int services) {
  int ok = 0;
  for (int s = 1; s <= services; ++s) {
    const std::string name = (s < 10 ? "svc0" : "svc") + std::to_string(s);
    auto r = http_exchange(http, get("/api/v1/" + name + "/echo"));
    if (r && r->status == 200 && r->body.find("\"instance\":\"" + name + "-") != std::string::npos)
      ++ok;
  }
  return ok;
}

// 10 services × 20 instances in one fleet process: 200 service connections (a sanitizer build of
// both ends; the release binary takes 1,000 in load/restart_fleet.sh). The gateway is killed and
// started again on the same ports; every instance reconnects (jittered backoff, at most 32
// pending HELLOs per source address) and every route answers again.
TEST(RestartE2e, EveryServiceConnectionComesBackAfterAGatewayRestart) {
  constexpr int kServices = 10, kInstances = 20, kAll = kServices * kInstances;
  GatewayRun gw(fleet_config(free_port(), free_port()));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  const auto fleet = gw.start_process(
      {"service", "fleet", "--gateway", "tcp://127.0.0.1:" + std::to_string(gw.tcp()), "--services",
       std::to_string(kServices), "--instances", std::to_string(kInstances), "--region", "local",
       "--reconnect-max", "2"},
      "fleet");
  ASSERT_TRUE(gw.wait_instances(kAll, 120s)) << gw.gateway_log().substr(0, 2000);
  EXPECT_EQ(services_answering(gw.http(), kServices), kServices);
  const auto http = gw.http(), tcp = gw.tcp();

  gw.restart("gateway-2.log");
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  ASSERT_EQ(gw.http(), http);
  ASSERT_EQ(gw.tcp(), tcp);
  const auto back_from = std::chrono::steady_clock::now();
  ASSERT_TRUE(gw.wait_instances(kAll, 120s)) << gw.gateway_log().substr(0, 2000);
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - back_from).count();
  std::printf("all %d instances registered again %.1f s after the restart\n", kAll, seconds);
  EXPECT_EQ(services_answering(gw.http(), kServices), kServices);
  EXPECT_TRUE(eventually([&] {  // the fleet reports once a second
    return gw.service(fleet).log_contains("fleet: 200 of 200 instances registered");
  }));
  EXPECT_EQ(::kill(gw.service(fleet).pid(), 0), 0) << "the fleet process died";
}

// A TCP proxy between one service and the gateway: forwards both ways until partition(), then
// moves no byte (sockets stay open: a black hole, as a lost route) until heal().
class PartitionProxy {
 public:
  explicit PartitionProxy(std::uint16_t target)
      : target_(target), listen_(bind_loopback(port_, 16)) {
    thread_ = std::thread([this] { run(); });
  }
  ~PartitionProxy() {
    stop_ = true;
    thread_.join();
    for (auto& p : pairs_) {
      ::close(p.first);
      ::close(p.second);
    }
    ::close(listen_);
  }
  std::uint16_t port() const { return port_; }
  void partition() { partitioned_ = true; }
  void heal() { partitioned_ = false; }

 private:
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_, POLLIN, 0}};
      if (!partitioned_) {
        for (auto& p : pairs_) {
          fds.push_back({p.first, POLLIN, 0});
          fds.push_back({p.second, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) accept_one();
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        auto& pair = pairs_[(i - 1) / 2];
        const int from = fds[i].fd, to = from == pair.first ? pair.second : pair.first;
        char buf[65536];
        const ssize_t n = ::recv(from, buf, sizeof buf, 0);
        if (n <= 0 || ::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
          ::shutdown(pair.first, SHUT_RDWR);  // one side left: close both (after the loop)
          ::shutdown(pair.second, SHUT_RDWR);
          dead_.push_back((i - 1) / 2);
        }
      }
      std::sort(dead_.begin(), dead_.end());
      dead_.erase(std::unique(dead_.begin(), dead_.end()), dead_.end());
      for (auto it = dead_.rbegin(); it != dead_.rend(); ++it) {
        ::close(pairs_[*it].first);
        ::close(pairs_[*it].second);
        pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(*it));
      }
      dead_.clear();
    }
  }
  void accept_one() {
    const int in = ::accept(listen_, nullptr, nullptr);
    if (in < 0) return;
    const int out = connect_loopback(target_);
    if (out < 0) {
      ::close(in);
      return;
    }
    pairs_.emplace_back(in, out);
  }

  std::uint16_t target_, port_ = 0;
  int listen_ = -1;
  std::vector<std::pair<int, int>> pairs_;
  std::vector<std::size_t> dead_;
  std::atomic<bool> partitioned_{false}, stop_{false};
  std::thread thread_;
};

int instance_answering(std::uint16_t http, const std::string& instance, int tries) {
  int hits = 0;
  for (int i = 0; i < tries; ++i) {
    auto r = http_exchange(http, get("/api/v1/demo/echo"));
    if (r && r->status == 200 &&
        r->body.find("\"instance\":\"" + instance + "\"") != std::string::npos)
      ++hits;
  }
  return hits;
}

// demo-1 reaches the gateway through the proxy, demo-2 directly. While partitioned, demo-1's
// heartbeats go unanswered: it turns Unhealthy and every request goes to demo-2 (a request
// caught in flight gets 504 at the endpoint timeout, never another's answer). Healed, demo-1
// reconnects (its liveness timeout closed the silent connection) and serves again.
TEST(PartitionE2e, APartitionedInstanceLosesItsTrafficAndGetsItBackWhenHealed) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  PartitionProxy proxy(gw.tcp());
  gw.start_process(
      {"service", "demo", "--gateway", "tcp://127.0.0.1:" + std::to_string(proxy.port()),
       "--instance", "demo-1", "--region", "local"},
      "demo-1");
  gw.start_service("demo-2");
  ASSERT_TRUE(gw.wait_instances(2)) << gw.gateway_log();
  ASSERT_TRUE(eventually([&] { return instance_answering(gw.http(), "demo-1", 10) > 0; }));

  proxy.partition();
  // Missed heartbeats (0.2 s interval, 2 misses) make demo-1 Unhealthy: then only demo-2.
  ASSERT_TRUE(eventually([&] { return instance_answering(gw.http(), "demo-2", 20) == 20; }))
      << gw.gateway_log();
  EXPECT_EQ(instance_answering(gw.http(), "demo-1", 20), 0);

  proxy.heal();
  ASSERT_TRUE(eventually([&] { return instance_answering(gw.http(), "demo-1", 20) > 0; }, 30s))
      << gw.gateway_log();
  EXPECT_TRUE(gw.service(0).log_contains("registered"));
}

}  // namespace
}  // namespace stella::e2e
