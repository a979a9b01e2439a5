// The authentication and authorization stages' shared state and decisions (DESIGN.md §5,
// docs/security.md): the Authority's key set (a file, or discovery + JWKS refreshed in the
// background), the verified-token cache, the DPoP replay cache (in process, and shared through
// Redis when configured), and the checks a request passes: credentials, token, sender
// binding (DPoP proof or client certificate), required claims, tenant.
//
// One Authenticator per process, built before traffic; the pipeline's stages call it from every
// worker. The background work (key refresh, the Redis connection) runs on the executor given to
// start() (worker 0).
//
// Thread-safety: authenticate() and async_check_replay() may run on any worker concurrently;
// the key set is swapped atomically; the caches lock per shard; stats are atomics. start() and
// stop() are called once, by the server.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/http/exchange.hpp"
#include "stella/gateway/http/request_head.hpp"
#include "stella/gateway/http/request_pipeline.hpp"

namespace stella::gw::http {

/// Counters and gauges for /metrics. Any thread.
struct AuthStats {
  std::atomic<std::uint64_t> keys{0};
  std::atomic<std::int64_t> keys_loaded_unix{0};  // 0: never
  std::atomic<std::uint64_t> refreshes{0};
  std::atomic<std::uint64_t> refresh_failures{0};
  std::atomic<std::uint64_t> replay_fallbacks{0};
};

enum class AuthStep : std::uint8_t {
  pass,          // authenticated (or an anonymous endpoint): go on
  refuse,        // ex.problem is set, ex.identity.failure names why
  check_replay,  // all checks passed locally; the shared replay cache must still agree
};

class Authenticator {
 public:
  using Log = std::function<void(std::string_view level, const std::string& line)>;
  /// Wall-clock seconds since the Unix epoch (tokens carry wall-clock times).
  using WallClock = std::function<std::int64_t()>;

  /// Builds from `config.auth` (which must be enabled). Reads auth.authority.jwksFile when
  /// given: nullptr with `error` naming the key and file when it cannot be read or holds no
  /// usable key. Starts nothing.
  static std::unique_ptr<Authenticator> create(const config::GatewayConfig& config, Log log,
                                               std::string& error, WallClock wall = {});
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  /// Starts the key refresh (discovery/JWKS) and the Redis connection on `ex`.
  void start(boost::asio::any_io_executor ex);
  /// Stops them (pending Redis commands fail, the refresh loop ends). Idempotent.
  void stop();

  /// True once a key set with at least one key is loaded (readiness).
  bool has_keys() const noexcept;
  const AuthStats& stats() const noexcept;
  std::uint64_t token_cache_hits() const noexcept;
  std::uint64_t token_cache_misses() const noexcept;

  /// Stages 7–8 for one request whose route matched (ex.proxy.lookup is found): checks the
  /// credentials and the route's requirements, and on success writes the verified identity into
  /// ex.proxy.frame (subject, tenant, scopes, roles as claims, client id, binding).
  AuthStep authenticate(const RequestHead& head, const ConnectionFacts& facts, Exchange& ex);
  /// After check_replay: records the proof id in the shared cache. pass or refuse.
  boost::asio::awaitable<AuthStep> async_check_replay(Exchange& ex);

 private:
  struct Impl;
  explicit Authenticator(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace stella::gw::http
