// Request metrics, kept per worker and merged when /metrics is scraped (docs/observability.md).
//
// The request path writes only its own worker's WorkerMetrics: plain integers, no atomics, no
// lock, no cache line shared with another thread. A scrape visits each worker on that worker's
// own event loop, copies its WorkerMetrics there, and merges the copies; the text is then
// rendered with prometheus-cpp's TextSerializer (Prometheus text format 0.0.4).
//
// Bounded: at most kMaxRouteSeries route series per worker, each with the statuses seen;
// unmatched requests share the path label "(unmatched)"; methods outside the standard set share
// "OTHER"; tenants are merged to the top N (telemetry.metrics.topTenants) plus "other".
//
// Thread-safety: a WorkerMetrics belongs to one thread. render_metrics is a pure function.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stella/gateway/auth/token_verifier.hpp"
#include "stella/gateway/http/outcome.hpp"
#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::http {

/// Upper bounds (seconds) of every duration histogram's buckets; +Inf is implicit.
inline constexpr std::array<double, 15> kDurationBuckets{
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

/// The reasons of gateway_auth_failures_total: auth::AuthFailure, in enum order, named by
/// auth::auth_failure_name (all exposed at zero while auth is off).
inline constexpr std::size_t kAuthFailureReasonCount = auth::kAuthFailureCount;

/// The path label value of requests that matched no route.
inline constexpr std::string_view kUnmatchedPath = "(unmatched)";
/// Route series one worker keeps at most. Routes that churn (services re-registering with new
/// templates) would otherwise grow the series without end; past the cap new (service, method,
/// template) combinations are counted under service="", method="", path="(other)".
inline constexpr std::size_t kMaxRouteSeries = 10000;

struct HistogramData {
  std::array<std::uint64_t, kDurationBuckets.size() + 1> buckets{};  // non-cumulative; last: +Inf
  double sum = 0;
  std::uint64_t count = 0;

  void observe(double seconds) noexcept;
  void merge(const HistogramData& o) noexcept;
};

/// One (service, method, path template) series set.
struct RouteSeries {
  std::string service, method, path;
  std::vector<std::pair<unsigned, std::uint64_t>> by_status;  // few statuses per route
  HistogramData duration;
  std::uint64_t rate_limited = 0;  // 429 answers (gateway_ratelimit_total)
  void count_status(unsigned status) noexcept;
};

class WorkerMetrics {
 public:
  /// One finished request: `method` is the route's method when matched (else the request's,
  /// folded to "OTHER" outside the standard set), `path` the route template or kUnmatchedPath.
  void record_request(std::string_view service, std::string_view method, std::string_view path,
                      unsigned status, Outcome outcome, double duration_seconds);
  /// Only the outcome (gateway_request_outcomes_total): management answers (/metrics,
  /// /health/*) are not traffic, and counting them would put probes and scrapes into the SLOs.
  void record_outcome(Outcome outcome) noexcept { ++outcomes_[static_cast<std::size_t>(outcome)]; }
  void record_routing(double seconds) noexcept { routing_.observe(seconds); }
  void record_auth(double seconds) noexcept { auth_.observe(seconds); }
  void record_transport(std::string_view service, double seconds);
  void record_auth_failure(std::size_t reason_index) noexcept;
  /// A 429 for `tenant` (empty: "anonymous"). At most `max_tenants` distinct tenants are kept
  /// per worker; the rest count as "other".
  void record_rate_limit_exceeded(std::string_view tenant, std::size_t max_tenants);
  /// A REQUEST sent on a service connection of another worker (a thread hop each way).
  void record_cross_worker_call() noexcept { ++cross_worker_calls_; }

  /// Adds `o` into this (the scrape's accumulator).
  void merge(const WorkerMetrics& o);

  const std::unordered_map<std::string, RouteSeries>& routes() const noexcept { return routes_; }
  const std::unordered_map<std::string, HistogramData>& transport() const noexcept {
    return transport_;
  }
  const HistogramData& routing() const noexcept { return routing_; }
  const HistogramData& auth() const noexcept { return auth_; }
  const std::array<std::uint64_t, kAuthFailureReasonCount>& auth_failures() const noexcept {
    return auth_failures_;
  }
  const std::array<std::uint64_t, kOutcomeCount>& outcomes() const noexcept { return outcomes_; }
  std::uint64_t cross_worker_calls() const noexcept { return cross_worker_calls_; }
  const std::unordered_map<std::string, std::uint64_t>& tenants_exceeded() const noexcept {
    return tenants_exceeded_;
  }

 private:
  RouteSeries& series(std::string_view service, std::string_view method, std::string_view path);

  std::unordered_map<std::string, RouteSeries> routes_;       // key: service \x1f method \x1f path
  std::unordered_map<std::string, HistogramData> transport_;  // by service
  HistogramData routing_, auth_;
  std::array<std::uint64_t, kAuthFailureReasonCount> auth_failures_{};
  std::array<std::uint64_t, kOutcomeCount> outcomes_{};
  std::unordered_map<std::string, std::uint64_t> tenants_exceeded_;
  std::uint64_t cross_worker_calls_ = 0;
  std::string key_;  // reused lookup key: no allocation once it has grown
};

/// Process-wide values read at scrape time (gauges and counters kept outside the workers).
/// The rate limiter's state for /metrics (rate_limiter.hpp).
struct RateLimitGauges {
  std::uint64_t keys = 0, evictions = 0;  // instance-level key tables
  std::string breaker_state;  // closed, open, half_open ("" without an environment level)
  std::uint64_t breaker_transitions = 0;
  bool environment_active = false;  // the activation gate is open
  std::uint64_t gate_count = 0;     // requests of the last 5 minutes
  /// Environment checks by result: allowed, refused, error, timeout, skipped (breaker open).
  std::vector<std::pair<std::string, std::uint64_t>> environment_checks;
  HistogramData environment_duration;
};

struct ProcessGauges {
  std::uint64_t http_connections = 0;
  std::uint64_t http_connections_accepted = 0;
  std::uint64_t http_connections_refused = 0;
  /// Client read buffers (16 KiB each): held by connections with unconsumed or arriving bytes,
  /// and kept free for reuse.
  std::uint64_t http_read_buffers_in_use = 0, http_read_buffers_pooled = 0;
  std::uint64_t routes = 0;
  std::uint64_t routes_held = 0;             // held for a departed service (ownership grace)
  std::uint64_t hellos_refused = 0;          // whole HELLOs refused (identity, limits)
  std::uint64_t service_write_timeouts = 0;  // service connections cut by writeTimeout
  /// (service, health) → instances; (service, service_instance) → in-flight; service → open
  /// requests.
  std::vector<std::pair<std::pair<std::string, std::string>, std::uint64_t>> instances_by_health;
  std::vector<std::pair<std::pair<std::string, std::string>, std::uint64_t>> instance_in_flight;
  /// (service, service_instance) → health name, one per registered instance.
  std::vector<std::pair<std::pair<std::string, std::string>, std::string>> instance_health;
  std::vector<std::pair<std::string, std::uint64_t>> open_requests_by_service;
  /// (type name, direction) → frames.
  std::vector<std::pair<std::pair<std::string, std::string>, std::uint64_t>> frames;
  /// reason → refused HELLO endpoints.
  std::vector<std::pair<std::string, std::uint64_t>> hello_endpoints_refused;
  std::uint64_t spans_exported = 0, spans_dropped = 0, log_lines_dropped = 0;
  // Authentication (zero while auth is off).
  std::uint64_t auth_keys = 0;                  // keys in the current key set
  double auth_keys_age_seconds = 0;             // since the key set was last loaded (0: never)
  std::uint64_t auth_key_refreshes = 0;         // successful key-set loads
  std::uint64_t auth_key_refresh_failures = 0;  // failed fetches or documents
  std::uint64_t auth_token_cache_hits = 0, auth_token_cache_misses = 0;
  std::uint64_t auth_replay_fallbacks = 0;  // proofs checked locally only (Redis unreachable)
  RateLimitGauges rate_limit;               // zero without rate limiting
  // OpenAPI (zero while openapi.enabled is false or before the first build).
  std::uint64_t openapi_rebuilds = 0;
  std::uint64_t openapi_document_bytes = 0;
  std::array<std::uint64_t, openapi::kReasonCount> openapi_rejected{};  // by openapi::Reason
};

/// The Prometheus text (format 0.0.4) for merged worker metrics, process gauges and the
/// process_* family read from /proc. Every family is written with HELP and TYPE even when it
/// has no series yet; fixed label sets (auth failure reasons, outcomes) are written at zero.
std::string render_metrics(const WorkerMetrics& merged, const ProcessGauges& gauges,
                           std::size_t top_tenants);

}  // namespace stella::gw::http
