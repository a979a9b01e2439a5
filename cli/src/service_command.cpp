#include "service_command.hpp"

#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <memory>
#include <vector>

#include "stella/core/path_template.hpp"
#include "stella/gateway/http/registry_hooks.hpp"
#include "stella/microservice/demo_service.hpp"
#include "stella/transport/address.hpp"
#include "stella/transport/gateway_listener.hpp"
#include "tls_command.hpp"

namespace stella::cli {
namespace {

namespace asio = boost::asio;

void log_line(const std::string& line) {
  std::fprintf(stderr, "%s %s\n", core::wall_clock_rfc3339().c_str(), line.c_str());
}

auto log_failure(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_line(std::string(what) + " failed: " + ex.what());
    }
  };
}

struct DemoOptions {
  std::string gateway = "tcp://127.0.0.1:9100";
  std::string name = "demo";
  std::string version = "1.0.0";
  std::string region = "eu1";
  std::string instance;
  std::string path_prefix = "/api/v1/demo";
  std::uint32_t request_window = microservice::ServiceOptions{}.request_window;
  /// Connections of this one instance to the gateway (one per gateway worker: docs/http.md
  /// "Workers"), each a Service of its own with the same options and endpoints.
  std::size_t connections = 1;
  DemoTlsOptions tls;
};

int run_demo(const DemoOptions& opt) {
  std::string error;
  auto address = transport::parse_address(opt.gateway, error);
  if (!address) {
    std::fprintf(stderr, "stella-gw service demo: --gateway '%s': %s\n", opt.gateway.c_str(),
                 error.c_str());
    return 2;
  }
  std::optional<transport::tls::ClientTlsSettings> tls;
  if (const int rc = demo_tls_settings(opt.tls, *address, tls)) return rc;
  asio::io_context io(1);
  core::SteadyClock clock;
  microservice::ServiceOptions so;
  so.name = opt.name;
  so.version = opt.version;
  so.region = opt.region;
  so.tls = std::move(tls);
  so.request_window = opt.request_window;
  so.instance_id =
      opt.instance.empty() ? opt.name + "-" + std::to_string(::getpid()) : opt.instance;
  if (opt.path_prefix.empty() || opt.path_prefix.front() != '/' || opt.path_prefix.back() == '/' ||
      opt.path_prefix.find_first_of("{}") != std::string::npos) {
    std::fprintf(stderr,
                 "stella-gw service demo: --path-prefix '%s': must start with '/', not end "
                 "with one, and hold no parameters\n",
                 opt.path_prefix.c_str());
    return 2;
  }
  // Reconnect jitter only needs to differ between instances (and connections): the pid, the
  // instance id and the connection's number do.
  const std::uint64_t seed =
      std::hash<std::string>{}(so.instance_id) ^ static_cast<std::uint64_t>(::getpid());
  std::vector<std::unique_ptr<microservice::Service>> services;
  for (std::size_t i = 0; i < opt.connections; ++i) {
    services.push_back(
        std::make_unique<microservice::Service>(io.get_executor(), so, clock, seed + i));
    microservice::add_demo_endpoints(*services.back(), so.instance_id, opt.path_prefix);
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log_line("signal " + std::to_string(sig) + ": draining");
    for (auto& service : services)
      service->stop(std::chrono::seconds(10));
  });
  std::size_t running = services.size();
  for (auto& service : services)
    asio::co_spawn(io, service->run(*address), [&](std::exception_ptr e) {
      log_failure("service")(e);
      if (--running == 0) signals.cancel();
    });
  io.run();
  return 0;
}

// `stella-gw service fleet`: many demo services in one process, each instance its own
// connection (as many separate processes would have), for tests and demonstrations at scale —
// a gateway restart with a thousand services reconnecting, say. Service k is "svcNN" (two
// digits at least) under /api/v1/svcNN; its instances are svcNN-1..svcNN-I.
struct FleetOptions {
  std::string gateway = "tcp://127.0.0.1:9100";
  unsigned services = 50;
  unsigned instances = 20;
  std::string region = "eu1";
  double reconnect_max_seconds = 10;
};

int run_fleet(const FleetOptions& opt) {
  std::string error;
  auto address = transport::parse_address(opt.gateway, error);
  if (!address || address->scheme != "tcp") {
    std::fprintf(stderr, "stella-gw service fleet: --gateway '%s': %s\n", opt.gateway.c_str(),
                 address ? "only tcp:// addresses" : error.c_str());
    return 2;
  }
  asio::io_context io(1);
  core::SteadyClock clock;
  std::vector<std::unique_ptr<microservice::Service>> fleet;
  std::size_t lines = 0;  // connection lifecycle lines of 1,000 services: only the first few
  for (unsigned s = 1; s <= opt.services; ++s) {
    const std::string name = (s < 10 ? "svc0" : "svc") + std::to_string(s);
    for (unsigned i = 1; i <= opt.instances; ++i) {
      microservice::ServiceOptions so;
      so.name = name;
      so.region = opt.region;
      so.instance_id = name + "-" + std::to_string(i);
      so.reconnect_max = std::chrono::duration_cast<core::Duration>(
          std::chrono::duration<double>(opt.reconnect_max_seconds));
      so.log = [&lines](const std::string& line) {
        if (++lines <= 20) log_line(line);
      };
      fleet.push_back(std::make_unique<microservice::Service>(
          io.get_executor(), so, clock, std::hash<std::string>{}(so.instance_id)));
      microservice::add_demo_endpoints(*fleet.back(), so.instance_id, "/api/v1/" + name);
      asio::co_spawn(io, fleet.back()->run(*address), log_failure("service"));
    }
  }
  // One line whenever the number of registered instances changes (at most once a second).
  asio::steady_timer tick(io);
  std::size_t last = SIZE_MAX;
  std::function<void()> report = [&] {
    std::size_t registered = 0;
    for (const auto& s : fleet)
      registered += s->registered() ? 1 : 0;
    if (registered != last) {
      log_line("fleet: " + std::to_string(registered) + " of " + std::to_string(fleet.size()) +
               " instances registered");
      last = registered;
    }
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) report();
    });
  };
  report();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    log_line("fleet: draining");
    tick.cancel();
    for (auto& s : fleet)
      s->stop(std::chrono::seconds(5));
  });
  io.run();
  return 0;
}

struct ListenOptions {
  std::string tcp = "127.0.0.1:9100";
  double heartbeat_seconds = 10;
  bool log_heartbeats = false;
  bool tcp_given = false;  // with --tls, TCP listens only when --tcp is given
  ListenTlsOptions tls;
};

core::Duration settings_interval(double seconds) {
  return std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(seconds));
}

int run_listen(const ListenOptions& opt) {
  const bool want_tcp = opt.tls.address.empty() || opt.tcp_given;
  std::string error;
  auto address = transport::parse_address(opt.tcp, error);
  if (want_tcp && !address) {
    std::fprintf(stderr, "stella-gw listen: --tcp '%s': %s\n", opt.tcp.c_str(), error.c_str());
    return 2;
  }
  boost::system::error_code ec;
  const auto ip = address ? asio::ip::make_address(address->host, ec) : asio::ip::address();
  if (want_tcp && ec) {
    std::fprintf(stderr, "stella-gw listen: --tcp '%s': not an IP address\n", opt.tcp.c_str());
    return 2;
  }
  asio::io_context io(1);
  core::SteadyClock clock;
  gw::RegistrySettings registry;
  registry.health.heartbeat_interval = settings_interval(opt.heartbeat_seconds);
  registry.health.heartbeat_timeout = 3 * registry.health.heartbeat_interval;
  gw::http::RegistryHooks hooks(registry, clock, log_line, opt.log_heartbeats);
  transport::ListenerSettings settings;
  settings.session.node_id = "gw-local";
  settings.session.heartbeat_interval = settings_interval(opt.heartbeat_seconds);
  transport::GatewayListener listener(io.get_executor(), settings, clock, hooks);
  if (auto lec = want_tcp ? listener.listen({ip, address->port}) : std::error_code()) {
    std::fprintf(stderr, "stella-gw listen: cannot listen on %s: %s\n", opt.tcp.c_str(),
                 lec.message().c_str());
    return 1;
  }
  if (want_tcp) {
    const auto ep = listener.local_endpoint();
    log_line("listening for services on tcp://" + ep.address().to_string() + ":" +
             std::to_string(ep.port()));
  }
  std::unique_ptr<transport::tls::TlsGatewayListener> tls_listener;
  if (!opt.tls.address.empty()) {
    if (const int rc = start_tls_listener(io, listener, opt.tls, tls_listener)) return rc;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& sec, int) {
    if (sec) return;
    log_line("stopping: draining connections");
    if (tls_listener) tls_listener->stop();
    listener.stop(std::chrono::seconds(5));
  });
  if (want_tcp) {
    asio::co_spawn(io, listener.run(), [&](std::exception_ptr e) { log_failure("listener")(e); });
  }
  io.run();
  return 0;
}

}  // namespace

void add_service_command(CLI::App& app, int& exit_code) {
  auto* service = app.add_subcommand("service", "Run a microservice built on the SDK");
  service->require_subcommand(1);
  auto opt = std::make_shared<DemoOptions>();
  auto* demo = service->add_subcommand(
      "demo",
      "The demo service: echo, slow/{ms}, stream/{chunks}, bytes/{n}, sink, status/{code} "
      "under /api/v1/demo");
  demo->add_option("--gateway", opt->gateway, "Gateway service transport address")
      ->capture_default_str();
  demo->add_option("--name", opt->name, "Service name")->capture_default_str();
  demo->add_option("--connections", opt->connections,
                   "Connections of this instance to the gateway: one per gateway worker lets "
                   "every worker reach it without a hop (docs/http.md \"Workers\")")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  demo->add_option("--service-version", opt->version, "Service version")->capture_default_str();
  demo->add_option("--region", opt->region, "Region of this instance")->capture_default_str();
  demo->add_option("--instance", opt->instance, "Instance id (default: NAME-PID)");
  demo->add_option("--path-prefix", opt->path_prefix,
                   "Where the endpoints live (a second demo service under another prefix "
                   "registers routes of its own)")
      ->capture_default_str();
  demo->add_option("--request-window", opt->request_window,
                   "Request-body bytes per request the gateway sends before it waits for "
                   "CREDIT (0: no credit; docs/protocol.md section 8.2)")
      ->capture_default_str();
  add_demo_tls_options(*demo, opt->tls);
  demo->callback([opt, &exit_code] { exit_code = run_demo(*opt); });

  auto fleet_opt = std::make_shared<FleetOptions>();
  auto* fleet = service->add_subcommand(
      "fleet",
      "Many demo services in one process, one connection per instance: svcNN under "
      "/api/v1/svcNN, instances svcNN-1.. (tests at scale)");
  fleet->add_option("--gateway", fleet_opt->gateway, "Gateway service transport address (tcp://)")
      ->capture_default_str();
  fleet->add_option("--services", fleet_opt->services, "How many services")
      ->capture_default_str()
      ->check(CLI::Range(1, 999));
  fleet->add_option("--instances", fleet_opt->instances, "Instances of each service")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  fleet->add_option("--region", fleet_opt->region, "Region of every instance")
      ->capture_default_str();
  fleet
      ->add_option("--reconnect-max", fleet_opt->reconnect_max_seconds,
                   "Longest reconnect backoff, in seconds (full jitter below it)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  fleet->callback([fleet_opt, &exit_code] { exit_code = run_fleet(*fleet_opt); });
}

void add_listen_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ListenOptions>();
  auto* listen = app.add_subcommand(
      "listen", "A minimal gateway-side listener: registers services, logs heartbeats and health");
  auto* tcp = listen->add_option("--tcp", opt->tcp, "Address to listen on for services")
                  ->capture_default_str();
  add_listen_tls_options(*listen, opt->tls);
  listen->add_option("--heartbeat-interval", opt->heartbeat_seconds, "Seconds between heartbeats")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 3600.0));
  listen->add_flag("--log-heartbeats", opt->log_heartbeats, "Log every heartbeat reply");
  listen->callback([opt, tcp, &exit_code] {
    opt->tcp_given = tcp->count() > 0;
    exit_code = run_listen(*opt);
  });
}

}  // namespace stella::cli
