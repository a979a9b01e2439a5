// Ships finished spans to an OpenTelemetry collector over OTLP/HTTP with JSON bodies.
//
// Request handling never waits on the collector: enqueue() appends to a bounded queue, and one
// export loop on the given executor sends batches of at most max_batch_spans, every
// export_interval or as soon as a batch is full. Tracing is best effort by design: when the
// queue is full new spans are dropped, and a batch the collector does not accept (network
// error, timeout, non-2xx) is dropped rather than retried, so a slow or absent collector costs
// a bounded amount of memory and never slows requests. Both are counted; failures are logged
// at most once per 10 s with the number suppressed in between.
//
// Thread-safety: enqueue, stop, finished and the counters may be called from any thread;
// start once. The loop runs on a strand of the executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/http/span.hpp"

namespace stella::gw::http {

struct OtlpExporterSettings {
  /// The collector's traces URL; http:// or https://.
  std::string endpoint = "http://127.0.0.1:4318/v1/traces";
  /// Resource attribute service.name, and the instrumentation scope's name.
  std::string service_name = "stella-gw";
  /// The instrumentation scope's version (the gateway's version); empty: not sent.
  std::string scope_version;
  /// Spans waiting to be sent (2048); beyond it enqueue drops and counts them.
  std::size_t max_queue_spans = 2048;
  /// Spans per POST (512); a queue this long is sent without waiting for the interval.
  std::size_t max_batch_spans = 512;
  /// How long a span waits for more to share its POST (1 s).
  core::Duration export_interval = std::chrono::seconds(1);
  /// One POST from resolve to the end of the response (5 s); also bounds the final flush.
  core::Duration export_timeout = std::chrono::seconds(5);
  /// Extra request headers, e.g. an authorization header for a hosted collector.
  std::vector<std::pair<std::string, std::string>> headers;
  /// PEM CA bundle for an https:// endpoint; empty: the system trust store.
  std::string ca_file;
};

class OtlpExporter {
 public:
  /// `log` receives one line per (rate-limited) failure report; it is called on the loop's
  /// strand and must stay callable until finished().
  OtlpExporter(boost::asio::any_io_executor ex, OtlpExporterSettings s,
               std::function<void(const std::string&)> log);
  /// Calls stop(). The loop owns its state, so the exporter may go before the loop has ended.
  ~OtlpExporter();
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  /// Any thread. Never blocks on I/O: takes a short lock to append to the queue. Spans beyond
  /// max_queue_spans (the tail of `spans` when it only partly fits) are dropped and counted in
  /// dropped_spans(); so are all spans after stop().
  void enqueue(std::vector<Span>&& spans) noexcept;

  /// Spawns the export loop on the executor. Call once; a no-op after stop().
  void start();

  /// Any thread, does not block: the loop makes one last attempt to send what is queued,
  /// bounded by export_timeout in total, then ends. What is still queued then is dropped.
  void stop();

  /// True once the loop has ended, or when it never started and stop() was called.
  bool finished() const noexcept;

  /// Spans the collector accepted (a partialSuccess' rejected spans are not counted here).
  std::uint64_t exported_spans() const noexcept;
  /// Spans dropped: queue full, their batch failed or was rejected, or left at stop().
  std::uint64_t dropped_spans() const noexcept;
  /// POSTs that failed: network error, timeout or non-2xx status.
  ///
  /// The counters never block. exported_spans and failed_exports move last for a batch
  /// (release/acquire): once either shows a batch, its dropped spans and log line are visible.
  std::uint64_t failed_exports() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace stella::gw::http
