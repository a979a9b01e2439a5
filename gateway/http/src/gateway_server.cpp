#include "stella/gateway/http/gateway_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "request_completion.hpp"
#include "stella/core/frame_counters.hpp"
#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/http/authenticator.hpp"
#include "stella/gateway/http/http_connection.hpp"
#include "stella/gateway/http/openapi_publisher.hpp"
#include "stella/gateway/http/otlp_exporter.hpp"
#include "stella/gateway/http/rate_limiter.hpp"
#include "stella/gateway/http/registry_hooks.hpp"
#include "stella/gateway/http/upstream_hub.hpp"
#include "stella/gateway/http/worker_context.hpp"
#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tcp_socket.hpp"
#include "stella/transport/tls/tls_context.hpp"
#include "stella/transport/tls/tls_gateway_listener.hpp"

namespace stella::gw::http {
namespace {
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

std::optional<tcp::endpoint> endpoint_of(const config::ListenAddress& a, std::string& error) {
  boost::system::error_code ec;
  const std::string host = a.host == "localhost" ? "127.0.0.1" : a.host;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    error = "'" + a.host + "' is not an IP address";
    return std::nullopt;
  }
  return tcp::endpoint(ip, a.port);
}

std::string to_string(const tcp::endpoint& ep) {
  return (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) +
         ":" + std::to_string(ep.port());
}

gw::RegistrySettings registry_settings(const config::GatewayConfig& c, const Selector& selector) {
  gw::RegistrySettings r;
  r.routes = c.routing.table;
  r.region_tiers = selector.region_tiers();
  r.health = c.health;
  r.identities = gw::ServiceIdentityPolicy(c.tls.service_identities);
  return r;
}

SelectorSettings selector_settings(const config::GatewayConfig& c) {
  SelectorSettings s = c.routing.selector;
  s.local_region = c.node.region;
  return s;
}

}  // namespace

struct GatewayServer::Impl {
  Impl(std::shared_ptr<const config::GatewayConfig> cfg, LogSink& sink)
      : config(std::move(cfg)),
        log_sink(sink),
        log([&sink](const std::string& line) {
          sink.lifecycle(line.rfind("WARNING", 0) == 0 ? "warn" : "info", line);
        }),
        shared(selector_settings(*config)),
        registry_hooks(registry_settings(*config, shared.selector), clock, log, false) {
    std::size_t n = config->http.workers;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    const std::uint64_t seed = core::entropy_seed();
    core::Random seeds(seed);
    for (std::size_t i = 0; i < n; ++i) {
      workers.push_back(std::make_unique<WorkerContext>(shared, seeds.next()));
      workers.back()->local = {i, n};
    }
    shared.config = config;
    shared.pipeline.identity_header_prefix = config->http.identity_header_prefix;
    shared.pipeline.identity_headers_strip = config->http.identity_headers_strip;
    shared.pipeline.identity_headers_allow = config->http.identity_headers_allow;
    shared.pipeline.default_timeout = config->routing.default_timeout;
    shared.head_limits = {config->http.max_request_line, config->http.max_header_field,
                          config->http.max_header_bytes, config->http.max_header_count};
    shared.clock = &clock;
    shared.log = log;
    shared.log_sink = &log_sink;
    for (auto& w : workers)
      shared.workers.push_back(w.get());
    if (config->auth.enabled) {
      const auto& a = config->auth;
      if (a.dpop_enabled && config->http.external_url.empty())
        log("WARNING: http.externalUrl is not set: DPoP proofs are checked against each "
            "request's own Host header, so a proof made for another server with the same "
            "token audience is accepted here; set it to the URL clients use (docs/security.md)");
      if (a.authority.issuer.empty())
        log("WARNING: auth.authority.issuer is not set: tokens' iss is not checked");
      if (a.authority.audiences.empty())
        log("WARNING: auth.authority.audiences is empty: tokens' aud is not checked, so a token "
            "the Authority issued for any other service is accepted here");
      auth = Authenticator::create(
          *config,
          [&sink](std::string_view level, const std::string& line) { sink.lifecycle(level, line); },
          auth_error);
      shared.auth = auth.get();
    }
    if (config->rate_limiting.active()) {
      rate_limiter = RateLimiter::create(
          *config,
          [&sink](std::string_view level, const std::string& line) { sink.lifecycle(level, line); },
          clock, core::entropy_seed(), rate_limit_error);
      shared.rate_limiter = rate_limiter.get();
    }
    shared.stages = std::make_unique<Pipeline>(build_pipeline(shared));
    shared.process_gauges = [this] { return transport_gauges(); };
    shared.routes = &registry_hooks.routes();
    if (config->openapi.enabled) {
      openapi = std::make_unique<OpenApiPublisher>(
          config, [routes = shared.routes] { return routes->snapshot(); }, clock,
          [&sink](std::string_view level, const std::string& line) {
            sink.lifecycle(level, line);
          });
      shared.openapi = openapi.get();
    }
    auto& transport_io = workers[0]->io;
    UpstreamSettings us;
    us.stream_window = config->routing.stream_window;
    // A service that honours credit has at most a window, one chunk past it and a head's body
    // unread here: never cut for being on time.
    us.max_buffered_bytes = std::max<std::size_t>(
        us.max_buffered_bytes, us.stream_window + 2 * std::size_t{core::FrameLimits{}.max_payload});
    us.channel_capacity =
        std::max<std::size_t>(us.channel_capacity, us.stream_window / core::kCreditPerChunk + 8);
    std::vector<asio::any_io_executor> executors;
    for (auto& w : workers)
      executors.push_back(w->io.get_executor());
    hub.emplace(std::move(executors), us, registry_hooks, clock);
    shared.hub = &*hub;
    transport::ListenerSettings ls;
    ls.session.node_id = config->node.node_id;
    ls.session.heartbeat_interval = config->health.heartbeat_interval;
    ls.session.hello_timeout = config->tcp.hello_timeout;
    ls.session.stream_window = config->routing.stream_window;
    ls.max_connections = config->tcp.max_connections + config->tls.max_connections;
    ls.write_timeout_by_origin = {config->tcp.write_timeout, config->tls.write_timeout,
                                  std::max(config->tcp.write_timeout, config->tls.write_timeout)};
    ls.max_connections_by_origin = {config->tcp.max_connections, config->tls.max_connections,
                                    config->tcp.max_connections + config->tls.max_connections};
    ls.receive_buffer_size = config->tcp.receive_buffer_size;
    ls.send_buffer_size = config->tcp.send_buffer_size;
    ls.max_pending_hellos = config->tcp.max_pending_hellos;
    ls.max_pending_hellos_per_source = config->tcp.max_pending_hellos_per_source;
    ls.log = log;
    // A listener per worker, sharing the limits; the first accepts service connections on
    // transports.tcp and hands them to each worker in turn (docs/http.md "Workers").
    admission = std::make_shared<transport::Admission>(ls);
    ls.id_stride = n;
    for (std::size_t i = 0; i < n; ++i) {
      ls.id_offset = i;
      ls.session.frame_counters = &frames.emplace_back();  // one writer each
      listeners.push_back(std::make_unique<transport::GatewayListener>(
          workers[i]->io.get_executor(), ls, clock, hub->hooks(i), admission));
      hub->attach(i, *listeners.back());
    }
    std::vector<transport::GatewayListener*> spread;
    for (auto& l : listeners)
      spread.push_back(l.get());
    listeners.front()->spread_over(std::move(spread));
    if (config->telemetry.tracing.enabled) {
      const auto& t = config->telemetry.tracing;
      OtlpExporterSettings es;
      es.endpoint = t.endpoint;
      es.service_name = t.service_name;
      es.max_queue_spans = t.max_queue_spans;
      es.max_batch_spans = t.max_batch_spans;
      es.export_interval = t.export_interval;
      es.export_timeout = t.export_timeout;
      es.ca_file = t.ca_file;
      exporter = std::make_unique<OtlpExporter>(transport_io.get_executor(), es, log);
      shared.exporter = exporter.get();
    }
  }

  // Runs on worker 0 (the registry's parts it reads are behind their own locks).
  ProcessGauges transport_gauges() {
    ProcessGauges g;
    const auto snapshot = registry_hooks.routes().snapshot();
    g.routes = snapshot->route_count();
    g.routes_held = registry_hooks.routes().held_routes();
    g.hellos_refused = registry_hooks.refused_hellos();
    g.service_write_timeouts = registry_hooks.write_timeouts();
    std::map<std::pair<std::string, std::string>, std::uint64_t> health, in_flight;
    // An instance connected more than once (once per worker) is one instance: its health is
    // the worst of its connections' (the enum is ordered healthy < degraded < unhealthy <
    // draining), its in-flight count their sum.
    std::map<std::pair<std::string, std::string>, core::HealthStatus> instances;
    std::map<std::string, std::uint64_t> open;
    std::set<std::uint64_t> seen;
    for (const auto& method : snapshot->methods())
      for (const auto& route : method->routes)
        for (const auto& c : route.candidates) {
          if (!seen.insert(c.info->connection_id).second) continue;
          const std::pair<std::string, std::string> key{c.info->service, c.info->instance_id};
          const auto h = c.state->health();
          if (auto [it, fresh] = instances.try_emplace(key, h); !fresh && h > it->second)
            it->second = h;
          in_flight[key] += c.state->in_flight();
          open[c.info->service] += c.state->in_flight();
        }
    for (const auto& [key, h] : instances) {
      ++health[{key.first, std::string(health_status_name(h))}];
      g.instance_health.push_back({key, std::string(health_status_name(h))});
    }
    g.instances_by_health.assign(health.begin(), health.end());
    g.instance_in_flight.assign(in_flight.begin(), in_flight.end());
    g.open_requests_by_service.assign(open.begin(), open.end());
    for (std::uint8_t type = 0; type < core::FrameCounters::kSlots; ++type) {
      const std::string name(type == 0 ? "UNKNOWN" : core::frame_type_name(type));
      std::uint64_t in = 0, out = 0;
      for (const auto& f : frames) {
        in += f.get(core::FrameCounters::in, type);
        out += f.get(core::FrameCounters::out, type);
      }
      g.frames.push_back({{name, "in"}, in});
      g.frames.push_back({{name, "out"}, out});
    }
    static constexpr std::string_view kReasons[] = {
        "other",          "malformed_template", "conflict", "limit_exceeded",
        "invalid_method", "duplicate",          "forbidden"};
    const auto refused = registry_hooks.refused_endpoints();
    for (std::size_t i = 0; i < refused.size(); ++i)
      g.hello_endpoints_refused.emplace_back(std::string(kReasons[i]), refused[i]);
    if (exporter) {
      g.spans_exported = exporter->exported_spans();
      g.spans_dropped = exporter->dropped_spans();
    }
    if (auth) {
      const auto& s = auth->stats();
      g.auth_keys = s.keys.load(std::memory_order_relaxed);
      const auto loaded = s.keys_loaded_unix.load(std::memory_order_relaxed);
      if (loaded > 0)
        g.auth_keys_age_seconds =
            static_cast<double>(core::wall_clock_unix_nano()) / 1e9 - static_cast<double>(loaded);
      g.auth_key_refreshes = s.refreshes.load(std::memory_order_relaxed);
      g.auth_key_refresh_failures = s.refresh_failures.load(std::memory_order_relaxed);
      g.auth_replay_fallbacks = s.replay_fallbacks.load(std::memory_order_relaxed);
      g.auth_token_cache_hits = auth->token_cache_hits();
      g.auth_token_cache_misses = auth->token_cache_misses();
    }
    if (rate_limiter) g.rate_limit = rate_limiter->gauges(clock.now());
    return g;
  }

  bool start(std::string& error);
  void run();
  void shutdown();
  asio::awaitable<void> accept_loop(WorkerContext& w, tcp::acceptor& acceptor);
  asio::awaitable<void> metrics_accept_loop();
  /// Once a second on worker 0: drops routes held past their grace.
  asio::awaitable<void> expire_held_routes();
  /// Counts an accepted client connection, or closes it when http.maxConnections is reached.
  bool admit(tcp::socket& socket, std::size_t reserve = 0);
  /// An accepted client connection: admitted, then served over HTTP or HTTPS.
  void serve(WorkerContext& w, tcp::socket socket, const tcp::endpoint& peer);
  /// Client connections one accept loop takes per turn of its event loop.
  static constexpr std::size_t kAcceptBatch = 64;
  /// Connections the metrics listener may open beyond http.maxConnections.
  static constexpr std::size_t kManagementReserve = 64;
  asio::awaitable<void> drain();

  std::shared_ptr<const config::GatewayConfig> config;
  LogSink& log_sink;
  std::function<void(const std::string&)> log;
  core::SteadyClock clock;
  std::deque<core::FrameCounters> frames;  // one per worker's listener (one writer each)
  ServerShared shared;
  RegistryHooks registry_hooks;
  std::vector<std::unique_ptr<WorkerContext>> workers;
  std::optional<UpstreamHub> hub;
  std::shared_ptr<transport::Admission> admission;  // the service listeners' limits
  std::vector<std::unique_ptr<transport::GatewayListener>> listeners;  // one per worker
  std::unique_ptr<OtlpExporter> exporter;
  std::unique_ptr<Authenticator> auth;        // auth.enabled
  std::string auth_error;                     // why it could not be built (start() reports it)
  std::unique_ptr<RateLimiter> rate_limiter;  // a rate-limit rule is configured
  std::unique_ptr<OpenApiPublisher> openapi;  // openapi.enabled
  std::string rate_limit_error;
  std::unique_ptr<tcp::acceptor> metrics_acceptor;  // telemetry.metrics.host/port
  std::unique_ptr<transport::tls::TlsGatewayListener> tls_listener;
  std::shared_ptr<transport::tls::ServerTlsContext> https_context;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // one per worker
  tcp::endpoint http_ep, tcp_ep, tls_ep, metrics_ep;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::optional<asio::signal_set> signals;
  bool tcp_enabled = false;
};

bool GatewayServer::Impl::start(std::string& error) {
  const auto& c = *config;
  if (!auth_error.empty()) {
    error = auth_error;
    return false;
  }
  if (!rate_limit_error.empty()) {
    error = rate_limit_error;
    return false;
  }
  if (const auto& t = c.telemetry.tracing; t.enabled && !t.ca_file.empty()) {
    if (std::FILE* f = std::fopen(t.ca_file.c_str(), "r")) {
      std::fclose(f);
    } else {
      error = "telemetry.tracing.caFile: cannot read '" + t.ca_file + "'";
      return false;
    }
  }
  // Service transport first: an ingress without it could only answer 503.
  if (c.tcp.enabled) {
    auto ep = endpoint_of(c.tcp.listen, error);
    if (!ep) {
      error = "transports.tcp.host: " + error;
      return false;
    }
    if (auto ec = listeners.front()->listen(*ep)) {
      error = "transports.tcp: cannot listen on " + to_string(*ep) + ": " + ec.message();
      return false;
    }
    tcp_ep = listeners.front()->local_endpoint();
    tcp_enabled = true;
  }
  if (c.tls.enabled) {
    std::string tls_error;
    auto ctx = transport::tls::make_server_context(c.tls.tls, tls_error);
    if (!ctx) {
      error = "transports.tls: " + tls_error;
      return false;
    }
    transport::tls::TlsListenerSettings ts;
    ts.handshake_timeout = c.tls.handshake_timeout;
    ts.receive_buffer_size = c.tls.receive_buffer_size;
    ts.send_buffer_size = c.tls.send_buffer_size;
    ts.max_pending_handshakes_per_source = c.tcp.max_pending_hellos_per_source;
    ts.log = log;
    // TLS service connections are served by worker 0 (docs/http.md "Workers").
    tls_listener = std::make_unique<transport::tls::TlsGatewayListener>(
        workers[0]->io.get_executor(), ctx, *listeners.front(), ts);
    auto ep = endpoint_of(c.tls.listen, error);
    if (!ep) {
      error = "transports.tls.host: " + error;
      return false;
    }
    if (auto ec = tls_listener->listen(*ep)) {
      error = "transports.tls: cannot listen on " + to_string(*ep) + ": " + ec.message();
      return false;
    }
    tls_ep = tls_listener->local_endpoint();
  }
  if (c.http.tls.enabled) {
    transport::tls::TlsSettings hs;
    hs.certificate_path = c.http.tls.certificate_path;
    hs.private_key_path = c.http.tls.private_key_path;
    hs.certificate_password = c.http.tls.certificate_password;
    hs.client_certificate_mode = c.http.tls.client_certificate_mode;
    hs.ca_path = c.http.tls.ca_path;
    // A resumed session keeps its full handshake's client certificate without checking it again
    // (expiry, a CA taken out of caPath), and each resumption renews the ticket: with client
    // certificates every connection makes a full handshake.
    hs.session_tickets =
        c.http.tls.session_tickets &&
        c.http.tls.client_certificate_mode == transport::tls::ClientCertificateMode::none;
    // OpenSSL writes the client socket itself (TlsStream) with write(2): a client's reset must
    // not raise SIGPIPE (stella-gw serve ignores it too; this covers any other host).
    std::signal(SIGPIPE, SIG_IGN);
    std::string tls_error;
    https_context = transport::tls::make_server_context(hs, tls_error);
    if (!https_context) {
      error = "http.tls: " + tls_error;
      return false;
    }
  }
  auto ep = endpoint_of(c.http.listen, error);
  if (!ep) {
    error = "http.host: " + error;
    return false;
  }
  for (auto& w : workers) {
    auto acceptor = std::make_unique<tcp::acceptor>(w->io);
    boost::system::error_code ec;
    acceptor->open(ep->protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->set_option(ReusePort(true), ec);
    // Accepted sockets inherit TCP_NODELAY from the listener (Linux): one setsockopt per
    // listener instead of one per connection.
    if (!ec) acceptor->set_option(tcp::no_delay(true), ec);
    if (!ec) acceptor->bind(*ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "http: cannot listen on " + to_string(*ep) + ": " + ec.message();
      return false;
    }
    // Port 0: the first acceptor picked the port; the other workers share it.
    if (ep->port() == 0) ep->port(acceptor->local_endpoint().port());
    acceptors.push_back(std::move(acceptor));
  }
  http_ep = acceptors.front()->local_endpoint();
  if (const auto& m = c.telemetry.metrics; m.enabled && m.listen) {
    auto mep = endpoint_of(*m.listen, error);
    if (!mep) {
      error = "telemetry.metrics.host: " + error;
      return false;
    }
    metrics_acceptor = std::make_unique<tcp::acceptor>(workers[0]->io);
    boost::system::error_code ec;
    metrics_acceptor->open(mep->protocol(), ec);
    if (!ec) metrics_acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) metrics_acceptor->set_option(tcp::no_delay(true), ec);  // inherited, as above
    if (!ec) metrics_acceptor->bind(*mep, ec);
    if (!ec) metrics_acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "telemetry.metrics: cannot listen on " + to_string(*mep) + ": " + ec.message();
      return false;
    }
    metrics_ep = metrics_acceptor->local_endpoint();
  }
  return true;
}

bool GatewayServer::Impl::admit(tcp::socket& socket, std::size_t reserve) {
  // Both listeners count in http.maxConnections: beyond it a connection is closed at once. The
  // metrics listener has `reserve` more, so a flood of clients cannot take probes and scrapes
  // away with it.
  if (shared.connections.load(std::memory_order_relaxed) >=
      config->http.max_connections + reserve) {
    shared.stats.connections_refused.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.close(ignored);
    return false;
  }
  shared.connections.fetch_add(1, std::memory_order_relaxed);
  shared.stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

asio::awaitable<void> GatewayServer::Impl::expire_held_routes() {
  asio::steady_timer tick(workers[0]->io);
  while (!shared.draining.load(std::memory_order_relaxed)) {
    tick.expires_after(std::chrono::seconds(1));
    co_await tick.async_wait(kTuple);
    registry_hooks.routes().expire_held(clock.now());
  }
}

asio::awaitable<void> GatewayServer::Impl::metrics_accept_loop() {
  WorkerContext& w = *workers[0];
  asio::steady_timer backoff(w.io);
  for (;;) {
    // The peer's address comes with the accept (no getpeername per connection).
    tcp::endpoint peer;
    auto [ec, socket] = co_await metrics_acceptor->async_accept(peer, kTuple);
    if (ec) {
      if (!metrics_acceptor->is_open() || shared.draining.load()) co_return;
      // EMFILE and friends: wait a moment rather than spin on worker 0 (the transport's loop).
      backoff.expires_after(std::chrono::milliseconds(20));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    if (!admit(socket, kManagementReserve)) continue;
    serve_http_connection(w, std::move(socket), peer, true);
  }
}

void GatewayServer::Impl::serve(WorkerContext& w, tcp::socket socket, const tcp::endpoint& peer) {
  if (!admit(socket)) return;
  if (https_context) {
    std::shared_ptr<asio::ssl::context> ctx(https_context, &https_context->ssl);
    serve_https_connection(w, std::move(socket), peer, std::move(ctx));
  } else {
    serve_http_connection(w, std::move(socket), peer);
  }
}

asio::awaitable<void> GatewayServer::Impl::accept_loop(WorkerContext& w, tcp::acceptor& acceptor) {
  asio::steady_timer backoff(w.io);
  // The batch below needs a non-blocking listener (async_accept is unaffected).
  boost::system::error_code nb;
  acceptor.non_blocking(true, nb);
  for (;;) {
    tcp::endpoint peer;
    auto [ec, socket] = co_await acceptor.async_accept(peer, kTuple);
    if (ec) {
      if (!acceptor.is_open() || shared.draining.load()) co_return;
      // EMFILE and friends: wait a moment rather than spin.
      backoff.expires_after(std::chrono::milliseconds(20));
      co_await backoff.async_wait(kTuple);
      continue;
    }
    serve(w, std::move(socket), peer);
    // The connections queued behind it are taken in the same turn, up to kAcceptBatch: one per
    // turn of the loop would leave a burst of new connections in the kernel's queue behind every
    // ready socket of the loop, their first requests waiting there (a 1-2 s tail when 1,000
    // clients connect at once), and costs a loop turn per connection.
    for (std::size_t taken = 1; !nb && taken < kAcceptBatch; ++taken) {
      tcp::socket more(w.io);
      boost::system::error_code aec;
      acceptor.accept(more, peer, aec);
      if (aec) break;  // none waiting (would_block), or an error the next async_accept sees
      serve(w, std::move(more), peer);
    }
  }
}

void GatewayServer::Impl::run() {
  auto on_done = [this](const char* what) {
    return [this, what](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log(std::string(what) + " failed: " + ex.what());
      }
    };
  };
  auto& io0 = workers[0]->io;
  if (tcp_enabled) asio::co_spawn(io0, listeners.front()->run(), on_done("service listener"));
  if (tls_listener) asio::co_spawn(io0, tls_listener->run(), on_done("service TLS listener"));
  if (metrics_acceptor) asio::co_spawn(io0, metrics_accept_loop(), on_done("metrics accept"));
  if (config->routing.table.ownership_grace > core::Duration::zero())
    asio::co_spawn(io0, expire_held_routes(), on_done("route expiry"));
  if (exporter) exporter->start();
  if (auth) auth->start(io0.get_executor());
  if (rate_limiter) rate_limiter->start(io0.get_executor());
  for (std::size_t i = 0; i < workers.size(); ++i)
    asio::co_spawn(workers[i]->io, accept_loop(*workers[i], *acceptors[i]), on_done("http accept"));
  for (auto& w : workers)
    guards.push_back(asio::make_work_guard(w->io));
  signals.emplace(io0, SIGINT, SIGTERM);
  signals->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log("signal " + std::to_string(sig) + ": shutting down gracefully");
    shutdown();
  });
  shared.started = true;
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers.size(); ++i)
    threads.emplace_back([w = workers[i].get()] { w->io.run(); });
  io0.run();
  for (auto& t : threads)
    t.join();
  // Request lines of the last loop turns, whose posted flush the stopped loops did not run.
  for (auto& w : workers)
    if (!w->log_batch.empty()) flush_request_log(*w);
}

void GatewayServer::Impl::shutdown() {
  asio::post(workers[0]->io, [this] {
    if (shared.draining.exchange(true)) return;
    if (signals) signals->cancel();
    for (std::size_t i = 0; i < workers.size(); ++i) {
      asio::post(workers[i]->io, [this, i] {
        boost::system::error_code ignored;
        acceptors[i]->close(ignored);
        if (i == 0 && metrics_acceptor) metrics_acceptor->close(ignored);
        // Copy: on_drain may close and remove the connection from the set.
        std::vector<HttpConnectionBase*> conns(workers[i]->connections.begin(),
                                               workers[i]->connections.end());
        for (auto* c : conns)
          if (workers[i]->connections.count(c)) c->on_drain();
      });
    }
    asio::co_spawn(workers[0]->io, drain(), [this](std::exception_ptr) {
      for (auto& g : guards)
        g.reset();
      for (auto& w : workers)
        w->io.stop();
    });
  });
}

asio::awaitable<void> GatewayServer::Impl::drain() {
  asio::steady_timer tick(workers[0]->io);
  const auto deadline = clock.now() + config->http.drain_timeout;
  while (shared.connections.load() > 0 && clock.now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(kTuple);
  }
  if (const auto left = shared.connections.load(); left > 0) {
    log("drain timeout: closing " + std::to_string(left) + " client connection(s)");
    for (auto& w : workers) {
      asio::post(w->io, [wp = w.get()] {
        std::vector<HttpConnectionBase*> conns(wp->connections.begin(), wp->connections.end());
        for (auto* c : conns)
          if (wp->connections.count(c)) c->abort();
      });
    }
    tick.expires_after(std::chrono::milliseconds(100));
    co_await tick.async_wait(kTuple);
  }
  // Client side is done: say goodbye to the services.
  if (tls_listener) tls_listener->stop();
  for (std::size_t i = 0; i < workers.size(); ++i)
    asio::post(workers[i]->io, [l = listeners[i].get()] { l->stop(std::chrono::seconds(2)); });
  const auto bye = clock.now() + std::chrono::seconds(3);
  while (admission->connections() > 0 && clock.now() < bye) {
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(kTuple);
  }
  if (auth) auth->stop();
  if (rate_limiter) rate_limiter->stop();
  if (exporter) {  // last spans: one bounded attempt
    exporter->stop();
    while (!exporter->finished()) {
      tick.expires_after(std::chrono::milliseconds(20));
      co_await tick.async_wait(kTuple);
    }
  }
  log("shutdown complete");
}

GatewayServer::GatewayServer(std::shared_ptr<const config::GatewayConfig> config, LogSink& log)
    : impl_(std::make_unique<Impl>(std::move(config), log)) {}
GatewayServer::~GatewayServer() = default;
bool GatewayServer::start(std::string& error) {
  return impl_->start(error);
}
void GatewayServer::run() {
  impl_->run();
}
void GatewayServer::shutdown() {
  impl_->shutdown();
}
tcp::endpoint GatewayServer::http_endpoint() const {
  return impl_->http_ep;
}
tcp::endpoint GatewayServer::tcp_endpoint() const {
  return impl_->tcp_ep;
}
tcp::endpoint GatewayServer::tls_endpoint() const {
  return impl_->tls_ep;
}
tcp::endpoint GatewayServer::metrics_endpoint() const {
  return impl_->metrics_ep;
}
std::size_t GatewayServer::workers() const {
  return impl_->workers.size();
}

}  // namespace stella::gw::http
