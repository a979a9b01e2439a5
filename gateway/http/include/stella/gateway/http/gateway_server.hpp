// The whole gateway process: worker event loops, the HTTP(S) ingress listener on each worker
// (SO_REUSEPORT: the kernel spreads connections), the service transport (a service listener per
// worker, worker 0 accepting on TCP and TLS and handing TCP connections to each worker in turn;
// the registry; the UpstreamHub's lane per worker), and graceful shutdown.
//
// Shutdown (SIGTERM/SIGINT, or shutdown()): readiness turns 503 and the listeners close; idle
// keep-alive connections close, busy ones after their response (Connection: close); when
// none is left, or http.drainTimeout passes (the rest are cut and their calls cancelled), the
// service sessions get DRAIN and the process exits 0.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/http/log_sink.hpp"

namespace stella::gw::http {

class GatewayServer {
 public:
  /// Lifecycle lines and request lines go to `log`, which must outlive the server.
  GatewayServer(std::shared_ptr<const config::GatewayConfig> config, LogSink& log);
  ~GatewayServer();
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  /// Binds every enabled listener and loads TLS material. false with `error` naming the
  /// listener, address or file.
  bool start(std::string& error);
  /// Runs the workers on this thread and N-1 more; returns when shutdown has finished.
  void run();
  /// Begins graceful shutdown. Thread-safe.
  void shutdown();

  boost::asio::ip::tcp::endpoint http_endpoint() const;
  boost::asio::ip::tcp::endpoint tcp_endpoint() const;  // port 0 when disabled
  boost::asio::ip::tcp::endpoint tls_endpoint() const;  // port 0 when disabled
  /// The dedicated metrics listener (telemetry.metrics.host/port); port 0 when none.
  boost::asio::ip::tcp::endpoint metrics_endpoint() const;
  std::size_t workers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stella::gw::http
