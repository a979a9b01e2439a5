#include "serve_command.hpp"

#include <csignal>
#include <cstdio>
#include <memory>

#include "stella/core/clock.hpp"
#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/http/gateway_server.hpp"
#include "stella/transport/address.hpp"

namespace stella::cli {
namespace {

struct ServeOptions {
  std::string config;
  std::string http_listen, tcp_listen, tls_listen;
  std::size_t workers = 0;
  bool workers_given = false;
  std::string log_format;  // "", "text" or "json": overrides telemetry.logging.format
};

// "HOST:PORT" / "[V6]:PORT" into a ListenAddress; false with a message naming the flag.
bool parse_listen(const std::string& flag, const std::string& text,
                  gw::config::ListenAddress& out) {
  std::string error;
  auto a = transport::parse_address("tcp://" + text, error);
  if (!a) {
    std::fprintf(stderr, "stella-gw serve: %s '%s': %s (expected HOST:PORT)\n", flag.c_str(),
                 text.c_str(), error.c_str());
    return false;
  }
  out.host = a->host;
  out.port = a->port;
  return true;
}

int run_serve(const ServeOptions& opt) {
  // Log lines go out with write(2): a reader that went away must not kill the gateway.
  std::signal(SIGPIPE, SIG_IGN);
  gw::config::GatewayConfig config;
  if (opt.config.empty()) {
    config = gw::config::dev_default();
  } else {
    auto loaded = gw::config::load_config_file(opt.config);
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors)
        std::fprintf(stderr, "%s\n", gw::config::format_error(opt.config, e).c_str());
      return 1;
    }
    config = std::move(loaded.config);
  }
  if (!opt.http_listen.empty() &&
      !parse_listen("--http-listen", opt.http_listen, config.http.listen))
    return 2;
  if (!opt.tcp_listen.empty()) {
    if (!parse_listen("--tcp-listen", opt.tcp_listen, config.tcp.listen)) return 2;
    config.tcp.enabled = true;
  }
  if (!opt.tls_listen.empty()) {
    if (!parse_listen("--tls-listen", opt.tls_listen, config.tls.listen)) return 2;
    config.tls.enabled = true;
    if (config.tls.tls.certificate_path.empty()) {
      std::fprintf(stderr,
                   "stella-gw serve: --tls-listen needs transports.tls.certificatePath in the "
                   "config\n");
      return 2;
    }
  }
  if (opt.workers_given) config.http.workers = opt.workers;
  if (!opt.log_format.empty())
    config.telemetry.logging.format =
        opt.log_format == "json" ? gw::config::LogFormat::json : gw::config::LogFormat::text;
  std::string sink_error;
  auto sink = gw::http::LogSink::open(config.telemetry.logging, sink_error);
  if (!sink) {
    std::fprintf(stderr, "stella-gw serve: %s%s\n",
                 config.source.empty() ? "" : (config.source + ": ").c_str(), sink_error.c_str());
    return 1;
  }
  if (opt.config.empty())
    sink->lifecycle("warn",
                    "WARNING: no --config given: running the embedded DEV configuration "
                    "(plain HTTP, plain TCP transport, authentication OFF). Do not expose it.");
  else if (config.tcp.enabled)
    sink->lifecycle("warn",
                    "WARNING: transports.tcp is enabled: services connecting over plain TCP are "
                    "not authenticated and may register any service name that "
                    "transports.tls.serviceIdentities does not reserve (docs/security.md)");
  auto shared = std::make_shared<const gw::config::GatewayConfig>(std::move(config));
  gw::http::GatewayServer server(shared, *sink);
  std::string error;
  if (!server.start(error)) {
    std::fprintf(stderr, "stella-gw serve: %s%s%s\n",
                 shared->source.empty() ? "" : (shared->source + ": ").c_str(), error.c_str(), "");
    return 1;
  }
  auto ep_text = [](const boost::asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address().to_string();
    return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
  };
  std::string line = "stella-gw serve: node " + shared->node.node_id + " region " +
                     shared->node.region + ", " + std::to_string(server.workers()) +
                     " worker(s); listening http" + (shared->http.tls.enabled ? "s" : "") + "=" +
                     ep_text(server.http_endpoint());
  if (server.tcp_endpoint().port() != 0) line += " tcp=" + ep_text(server.tcp_endpoint());
  if (server.tls_endpoint().port() != 0) line += " tls=" + ep_text(server.tls_endpoint());
  if (server.metrics_endpoint().port() != 0)
    line += " metrics=" + ep_text(server.metrics_endpoint());
  sink->lifecycle("info", line);
  server.run();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  auto* serve = app.add_subcommand(
      "serve", "Run the gateway: HTTP ingress, service transport, routing (docs/operations.md)");
  serve->add_option("--config", opt->config, "Gateway YAML config (default: embedded dev setup)")
      ->check(CLI::ExistingFile);
  serve->add_option("--http-listen", opt->http_listen, "HTTP listener HOST:PORT (overrides http)");
  serve->add_option("--tcp-listen", opt->tcp_listen,
                    "Service TCP transport HOST:PORT (overrides transports.tcp)");
  serve->add_option("--tls-listen", opt->tls_listen,
                    "Service TLS transport HOST:PORT (overrides transports.tls)");
  auto* workers = serve
                      ->add_option("--workers", opt->workers,
                                   "Event-loop threads (default: http.workers, 0 = every core)")
                      ->check(CLI::Range(0, 256));
  serve
      ->add_option("--log-format", opt->log_format,
                   "Log lines as text or json (overrides telemetry.logging.format)")
      ->check(CLI::IsMember({"text", "json"}));
  serve->callback([opt, workers, &exit_code] {
    opt->workers_given = workers->count() > 0;
    exit_code = run_serve(*opt);
  });
}

}  // namespace stella::cli
