// What HTTP connections share: the immutable server-wide state (ServerShared, one per
// process) and the per-worker state (WorkerContext, one per event-loop thread, touched only
// by that thread).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/http/request_pipeline.hpp"
#include "stella/gateway/http/upstream_hub.hpp"
#include "stella/gateway/routing_state.hpp"
#include "stella/gateway/selector.hpp"

namespace stella::gw::http {

/// Counters kept by the ingress (relaxed atomics; any thread).
struct IngressStats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};  // over http.maxConnections
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> responses_2xx{0}, responses_3xx{0}, responses_4xx{0}, responses_5xx{0};
  std::atomic<std::uint64_t> bad_requests{0};       // framing refused (400/414/431/505/413)
  std::atomic<std::uint64_t> timeouts{0};           // 504
  std::atomic<std::uint64_t> header_timeouts{0};    // 408
  std::atomic<std::uint64_t> client_aborts{0};      // client left before its response: CANCEL
  std::atomic<std::uint64_t> aborted_responses{0};  // instance lost mid-response: connection cut
  std::atomic<std::uint64_t> stripped_headers{0};   // identity policy
};

class HttpConnectionBase;

/// Read-only after start (except the atomics).
struct ServerShared {
  std::shared_ptr<const config::GatewayConfig> config;
  PipelineConfig pipeline;
  HeadLimits head_limits;
  Selector selector;
  RouteTable* routes = nullptr;
  UpstreamHub* hub = nullptr;
  const core::Clock* clock = nullptr;
  std::function<void(const std::string&)> log;
  std::atomic<bool> started{false};   // every listener is up
  std::atomic<bool> draining{false};  // shutting down: not ready, no new requests
  std::atomic<std::size_t> connections{0};
  IngressStats stats;

  explicit ServerShared(SelectorSettings s) : selector(std::move(s)) {}
};

/// One per worker thread.
struct WorkerContext {
  WorkerContext(ServerShared& s, std::uint64_t seed) : shared(s), rng(seed) {}
  ServerShared& shared;
  boost::asio::io_context io{1};
  core::Random rng;
  std::vector<Candidate> scratch;
  std::unordered_set<HttpConnectionBase*> connections;  // live ones, for shutdown
};

/// The connection interface the server needs for shutdown.
class HttpConnectionBase {
 public:
  virtual ~HttpConnectionBase() = default;
  /// Graceful shutdown began: close now if idle, else after the current response.
  virtual void on_drain() = 0;
  /// Drain timeout passed: close at once (in-flight calls are cancelled).
  virtual void abort() = 0;
};

}  // namespace stella::gw::http
