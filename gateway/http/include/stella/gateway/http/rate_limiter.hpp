// The rate-limiting stage's shared state and decisions (DESIGN.md §6, docs/ratelimit.md): the
// instance level (stella::ratelimit::InstanceLimiter, exact across workers), the environment
// level (the same sliding window as one atomic Lua script in Valkey/Redis, shared by every
// gateway), the activation gate in front of it and the circuit breaker around it, per-route
// overrides and exemptions, and the response fields.
//
// One RateLimiter per process, built before traffic when a rule is configured; the pipeline's
// stage calls it from every worker. The Redis connection runs on the executor given to start().
//
// Thread-safety: check() and async_check_environment() may run on any worker concurrently;
// everything they share is locked per shard or atomic.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/http/exchange.hpp"
#include "stella/gateway/http/metrics.hpp"
#include "stella/gateway/http/request_head.hpp"
#include "stella/gateway/http/request_pipeline.hpp"

namespace stella::gw::http {

enum class RateStep : std::uint8_t {
  pass,               // admitted (response fields set in ex.response_headers), or not limited
  refuse,             // 429: ex.problem is set
  check_environment,  // admitted here; the environment level (Redis) must still agree
};

class RateLimiter {
 public:
  using Log = std::function<void(std::string_view level, const std::string& line)>;

  /// From config.rate_limiting (which must be active()). nullptr with `error` naming the key
  /// when a rule set is invalid or the Redis address does not parse.
  static std::unique_ptr<RateLimiter> create(const config::GatewayConfig& config, Log log,
                                             const core::Clock& clock, std::uint64_t hash_seed,
                                             std::string& error);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// Connects to Redis (when an environment level is configured) on `ex`.
  void start(boost::asio::any_io_executor ex);
  void stop();

  /// Stage 9 for one request whose route matched and which passed authentication.
  RateStep check(const RequestHead& head, const ConnectionFacts& facts, Exchange& ex,
                 core::TimePoint now);
  /// After check_environment: asks Redis within checkTimeout. pass or refuse; a failure or
  /// timeout lets the instance decision stand (and counts towards the breaker).
  boost::asio::awaitable<RateStep> async_check_environment(Exchange& ex, core::TimePoint now);

  RateLimitGauges gauges(core::TimePoint now) const;

 private:
  struct Impl;
  explicit RateLimiter(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace stella::gw::http
