// What HTTP connections share: the immutable server-wide state (ServerShared, one per
// process) and the per-worker state (WorkerContext, one per event-loop thread, touched only
// by that thread).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/http/log_sink.hpp"
#include "stella/gateway/http/metrics.hpp"
#include "stella/gateway/http/pipeline.hpp"
#include "stella/gateway/http/request_pipeline.hpp"
#include "stella/gateway/http/upstream_hub.hpp"
#include "stella/gateway/routing_state.hpp"
#include "stella/gateway/selector.hpp"

namespace stella::gw::http {

/// What a client connection reads at a time, and the size of a pooled read buffer.
inline constexpr std::size_t kClientReadChunk = 16 * 1024;

/// Connection counters kept by the acceptors (relaxed atomics; any thread). Request counters
/// are per worker (WorkerContext::metrics).
struct IngressStats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};  // over http.maxConnections
};

/// The read buffers of one worker's client connections. A connection takes one when bytes
/// are ready to read and gives it back once it has consumed them, so an idle keep-alive
/// connection holds none and the steady path allocates none (docs/http.md "Memory").
class ReadBufferPool {
 public:
  /// Free buffers kept for reuse; beyond that a returned buffer is freed.
  static constexpr std::size_t kKeep = 256;
  /// The free list's room is reserved up front, so giving a buffer back never allocates (and
  /// never throws).
  explicit ReadBufferPool(std::size_t size) : size_(size) { free_.reserve(kKeep); }
  std::size_t buffer_size() const noexcept { return size_; }
  std::vector<char> take() {
    ++in_use_;
    if (free_.empty()) return std::vector<char>(size_);
    std::vector<char> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  /// Buffers grown past the pool's size (a long head) are freed, not kept.
  void give(std::vector<char>&& b) noexcept {
    --in_use_;
    if (b.size() == size_ && b.capacity() == size_ && free_.size() < kKeep)
      free_.push_back(std::move(b));
    std::vector<char>().swap(b);
  }
  std::size_t in_use() const noexcept { return in_use_; }
  std::size_t pooled() const noexcept { return free_.size(); }

 private:
  std::size_t size_;
  std::size_t in_use_ = 0;
  std::vector<std::vector<char>> free_;
};

/// Objects of one kind kept for reuse within one worker (at most `keep` free ones).
template <class T>
class Recycler {
 public:
  explicit Recycler(std::size_t keep) : keep_(keep) { free_.reserve(keep); }
  std::unique_ptr<T> take() {
    if (free_.empty()) return std::make_unique<T>();
    std::unique_ptr<T> t = std::move(free_.back());
    free_.pop_back();
    return t;
  }
  void give(std::unique_ptr<T> t) noexcept {
    if (t && free_.size() < keep_) free_.push_back(std::move(t));
  }

 private:
  std::size_t keep_;
  std::vector<std::unique_ptr<T>> free_;
};

class HttpConnectionBase;
class OtlpExporter;
class Authenticator;
class RateLimiter;
class OpenApiPublisher;
struct WorkerContext;

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
  /// The stages, in order (pipeline.cpp). Built once before traffic.
  std::unique_ptr<Pipeline> stages;
  /// Lifecycle and request log lines (never null while serving).
  LogSink* log_sink = nullptr;
  /// Span export; null when telemetry.tracing is off.
  OtlpExporter* exporter = nullptr;
  /// Authentication; null when auth.enabled is false.
  Authenticator* auth = nullptr;
  /// Rate limiting; null when no rule is configured.
  RateLimiter* rate_limiter = nullptr;
  /// The OpenAPI document and /docs; null when openapi.enabled is false.
  OpenApiPublisher* openapi = nullptr;
  /// Every worker, for the metrics scrape (set before traffic; fixed afterwards).
  std::vector<WorkerContext*> workers;
  /// Transport-side gauges (instances, frames, refused endpoints); runs on worker 0.
  std::function<ProcessGauges()> process_gauges;
  /// The last rendered /metrics text and when it was made: scrapes within kMetricsCacheFor of
  /// it get the same text, so a flood of scrapes costs one render per interval.
  std::mutex metrics_cache_mutex;
  std::string metrics_cache;
  core::TimePoint metrics_cache_at{};
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
  core::Random rng;
  std::vector<Candidate> scratch;
  /// This worker among all: its own service connections are reached without a hop.
  LocalWorker local;
  /// The route snapshot this worker's requests start from, renewed when a newer one is
  /// published (RouteTable::refresh: no lock per request). An idle worker keeps the one it had
  /// until its next request.
  std::shared_ptr<const RouteSnapshot> routes;
  /// This worker's request metrics: written only by this thread (metrics.hpp).
  WorkerMetrics metrics;
  /// Request log lines of the current loop turn, written at its end (request_completion.cpp).
  std::string log_batch;
  bool log_flush_posted = false;
  std::unordered_set<HttpConnectionBase*> connections;  // live ones, for shutdown
  /// Client connections' read buffers (client_connection.hpp).
  ReadBufferPool read_buffers{kClientReadChunk};
  /// Per-request state of client connections (exchange_loop.hpp): one per request in progress.
  Recycler<Exchange> exchanges{256};
  /// Declared after the pools above, so destroyed before them: handlers still pending at
  /// shutdown own connections, whose destructors give buffers back to the pools and leave
  /// `connections` above.
  boost::asio::io_context io{1};
  /// Finished upstream calls (a call object and its channel of parts) for the next request of
  /// any of this worker's connections; filled only by calls to this worker's own service
  /// connections (upstream_forwarder.hpp). Declared after `io`, so destroyed before it: the
  /// channels need it. Nothing gives calls back while `io` is destroyed (frames are destroyed, not
  /// resumed).
  std::vector<std::shared_ptr<UpstreamCall>> spare_calls;
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
