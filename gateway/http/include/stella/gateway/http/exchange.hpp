// One request's whole life: what it asked, what the stages decided, where it went, how it
// ended, and when each phase happened. A connection owns one Exchange and reuses it for each
// of its requests (capacities kept: no allocation per request once warm); on_complete reads it
// exactly once per request that got a head parsed.
//
// The route snapshot the request was matched against is held here as a shared_ptr, so the
// route, its candidates and the picked instance (raw pointers into that snapshot) stay valid
// for the request's whole life, whatever the registry publishes meanwhile.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/auth/token_verifier.hpp"
#include "stella/gateway/http/outcome.hpp"
#include "stella/gateway/http/problem.hpp"
#include "stella/gateway/http/request_pipeline.hpp"
#include "stella/gateway/ratelimit/circuit_breaker.hpp"
#include "stella/gateway/ratelimit/decision.hpp"
#include "stella/gateway/route_snapshot.hpp"

namespace stella::gw::http {

/// Who the request is from, once authentication has run (empty while auth is off). The
/// verified values travel in the REQUEST frame's own fields (ProxyRequest::frame).
struct Identity {
  bool authenticated = false;
  std::string subject, tenant;  // for the request log (the frame is moved to the service)
  /// The failure that refused the request (logged and counted); none when it passed.
  std::optional<auth::AuthFailure> failure;
  /// DPoP only: the replay-cache key of the proof and how long to keep it, for the shared
  /// cache (the authentication stage's I/O part).
  std::string replay_key;
  std::string local_replay_key;  // this gateway's entry (erased when Redis refuses, closed)
  std::int64_t replay_ttl_ms = 0;
  void clear() {
    authenticated = false;
    subject.clear();
    tenant.clear();
    failure.reset();
    replay_key.clear();
    local_replay_key.clear();
    replay_ttl_ms = 0;
  }
};

/// The rate-limiting stage's state between its check and its environment (Redis) check.
struct RateLimitState {
  int policy = -1;  // which rule set applies (the limiter's index); -1: not limited
  std::string key;  // what the request is counted under
  bool has_instance = false;
  ratelimit::Decision instance;  // the instance level's decision, when it has rules
  ratelimit::BreakerPermit permit;
  void clear() {
    policy = -1;
    key.clear();
    has_instance = false;
    instance = {};
    permit = {};
  }
};

/// W3C trace context of the request: the incoming (or fresh) trace id, the client's parent span
/// (zero when the gateway started the trace) and the gateway's own root span id.
struct ExchangeTrace {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> parent_id{};  // the client's span; zero: none
  std::array<std::uint8_t, 8> span_id{};    // gateway.route
  std::array<std::uint8_t, 8> auth_span_id{};
  std::array<std::uint8_t, 8> send_span_id{};  // gateway.transport.send
  std::uint8_t flags = 0;                      // 0x01: sampled
};

/// A direct answer made by a stage (management endpoints): not a problem, not forwarded.
struct DirectReply {
  unsigned status = 200;
  std::string_view content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// When each phase began (monotonic). Zero when the phase was not reached.
struct PhaseTimes {
  core::TimePoint head{};  // the request head was parsed
  core::TimePoint auth_start{}, auth_end{};
  core::TimePoint routing_start{}, routing_end{};
  core::TimePoint upstream_sent{};  // REQUEST frame handed to the service connection
  core::TimePoint body_sent{};      // the last of a streamed request body handed to it
  core::TimePoint upstream_head{};  // the service's response head arrived
  core::TimePoint end{};            // the answer was written (or the request abandoned)
};

struct Exchange {
  // ---- the request (copied from the head: the read buffer moves) ----
  std::string method;
  int http_minor = 1;
  bool head_request = false;
  bool keep_alive = true;
  std::uint64_t wall_start_unix_nano = 0;  // for logs and spans only

  // ---- stage state ----
  ProxyRequest proxy;  // correlation id, frame to send, normalised path, lookup, pick, timeout
  std::shared_ptr<const RouteSnapshot> snapshot;  // keeps lookup.route and pick alive
  Identity identity;
  RateLimitState rate;
  ExchangeTrace trace;
  std::optional<Problem> problem;  // set by the stage or step that refused the request
  std::optional<DirectReply> reply;
  /// Headers a stage adds to whatever answer the request gets (the rate-limit fields): set
  /// over the service's own of the same name.
  std::vector<std::pair<std::string, std::string>> response_headers;
  bool path_normalized = false;
  /// The response head being written (exchange_loop.hpp render_head); kept across requests for
  /// its capacity.
  std::string head_out;

  // ---- how it ended ----
  Outcome outcome = Outcome::ok;
  unsigned status = 0;                        // what the client got (499 when it left first)
  std::uint64_t bytes_in = 0, bytes_out = 0;  // body bytes
  PhaseTimes times;
  bool completed = false;  // on_complete ran

  /// The matched route's service and template, and the picked instance's id; when nothing
  /// matched: "", kUnmatchedPath ("(unmatched)") and "".
  std::string_view service() const noexcept;
  std::string_view route_template() const noexcept;
  std::string_view instance_id() const noexcept;

  /// Ready for the next request on the same connection: values cleared, capacities kept.
  void reset();
};

}  // namespace stella::gw::http
