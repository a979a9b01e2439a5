// The request pipeline, in the order a request passes it (DESIGN.md §4; docs/architecture.md
// "Life of a request"). build_pipeline() at the bottom lists the stages; each one is a small
// class of immutable config with run() (and async_run() when it waits for I/O).
//
//   1. trace context     accept a valid W3C traceparent or start a trace; ids for our spans
//   2. correlation id    keep a well-formed X-Correlation-Id or make one; echoed on the answer
//   3. path              normalise the path (400/414) — management and routing match on it
//   4. management        /health/*, /metrics, /openapi.*, /docs: answered here, before
//                        authentication
//   5. admission         draining → 503; declared body over routing.maxRequestBodySize → 413
//   6. identity policy   strip gateway-owned headers; set X-Forwarded-*
//   7. route match       route lookup (404/405): the route says what authentication it needs
//   8. authentication    token, DPoP proof or client certificate (401, 503 without keys),
//      and authorization required claims and tenant (403); the verified identity goes into
//                        the REQUEST frame (authenticator.cpp; off: not in the list)
//   9. rate limiting     instance level, then the environment level (Redis) when the gate is
//                        open; 429 with Retry-After; RateLimit fields (rate_limiter.cpp; no
//                        rules: not in the list)
//  10. instance pick     instance selection (503)
//  then transport        UpstreamForwarder: REQUEST/STREAM_DATA out, RESPONSE back, CANCEL
//                        (exchange_loop.hpp drives it; it is not a stage: it ends the list)
#include "stella/gateway/http/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "stella/core/text.hpp"
#include "stella/gateway/http/authenticator.hpp"
#include "stella/gateway/http/management.hpp"
#include "stella/gateway/http/rate_limiter.hpp"
#include "stella/gateway/http/span.hpp"
#include "stella/gateway/http/worker_context.hpp"

namespace stella::gw::http {

boost::asio::awaitable<StageStatus> Stage::async_run(Exchange&, StageContext&) const {
  co_return StageStatus::next;
}

namespace {

template <std::size_t N>
void random_bytes(core::Random& rng, std::array<std::uint8_t, N>& out) {
  rng.fill(out.data(), N);
}

// ---- 1. trace context ----------------------------------------------------------------------
class TraceContextStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "trace-context"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    auto& rng = ctx.worker.rng;
    auto& t = ex.trace;
    if (auto in = parse_traceparent(ctx.head.field("traceparent"))) {
      t.trace_id = in->trace_id;
      t.parent_id = in->parent_id;
      t.flags = in->flags;
      ex.proxy.frame.tracestate.assign(ctx.head.field("tracestate"));
    } else {
      random_bytes(rng, t.trace_id);
      t.flags = 0x01;  // we start the trace: sampled (the exporter decides whether to ship)
    }
    random_bytes(rng, t.span_id);
    random_bytes(rng, t.send_span_id);
    if (ctx.worker.shared.auth) random_bytes(rng, t.auth_span_id);
    // The service's parent is the gateway's transport.send span.
    ex.proxy.frame.traceparent.clear();  // its capacity is kept for the next request's
    append_traceparent(ex.proxy.frame.traceparent, t.trace_id, t.send_span_id, t.flags);
    return StageStatus::next;
  }
};

// ---- 2. correlation id ---------------------------------------------------------------------
class CorrelationStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "correlation-id"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    assign_correlation_id(ctx.head, ctx.worker.rng, ex.proxy);
    return StageStatus::next;
  }
};

// ---- 3. path -------------------------------------------------------------------------------
class PathStage final : public Stage {
 public:
  explicit PathStage(const PipelineConfig& c) : config_(c) {}
  std::string_view name() const noexcept override { return "path"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    if (auto p = normalize_request_path(config_, ctx.head, ex.proxy)) {
      ex.problem = std::move(p);
      return StageStatus::respond;
    }
    ex.path_normalized = true;
    return StageStatus::next;
  }

 private:
  const PipelineConfig& config_;
};

// ---- 4. management -------------------------------------------------------------------------
class ManagementStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "management"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    const auto& shared = ctx.worker.shared;
    const std::string_view path = ex.proxy.path.path();
    const ManagementEndpoint which = management_endpoint(shared, path, ctx.facts.management_only);
    if (which == ManagementEndpoint::none) return StageStatus::next;
    ex.outcome = Outcome::management;
    if (ctx.head.has_body()) {
      ex.problem = bad_request("management endpoints take no body");
      return StageStatus::respond;
    }
    if (which == ManagementEndpoint::not_found) {
      ex.problem = not_found(path);
      return StageStatus::respond;
    }
    if (ex.method != "GET" && ex.method != "HEAD") {
      ex.reply = method_not_allowed_reply();
      return StageStatus::respond;
    }
    if (which == ManagementEndpoint::metrics) return StageStatus::suspend;
    if (which == ManagementEndpoint::live || which == ManagementEndpoint::ready ||
        which == ManagementEndpoint::startup) {
      ex.reply = health_reply(shared, which);
    } else {
      // The normalised path has no trailing slash: /docs/ would load the page with its relative
      // references one level off, so it moves to /docs.
      const auto raw_path = ctx.head.target.substr(0, ctx.head.target.find('?'));
      const auto endpoint = which == ManagementEndpoint::docs_page && raw_path.ends_with('/')
                                ? ManagementEndpoint::docs_slash
                                : which;
      // If-None-Match may come as several field lines: one list.
      std::string if_none_match;
      for (const auto& f : ctx.head.fields)
        if (core::iequals_ascii(f.name, "if-none-match")) {
          if (!if_none_match.empty()) if_none_match += ", ";
          if_none_match.append(f.value);
        }
      ex.reply = openapi_reply(ctx.worker.shared, endpoint, path, if_none_match);
    }
    return StageStatus::respond;
  }
  boost::asio::awaitable<StageStatus> async_run(Exchange& ex, StageContext& ctx) const override {
    ex.reply = co_await async_metrics_reply(ctx.worker.shared);
    co_return StageStatus::respond;
  }
};

// ---- 5. admission --------------------------------------------------------------------------
class AdmissionStage final : public Stage {
 public:
  explicit AdmissionStage(std::uint64_t max_body) : max_body_(max_body) {}
  std::string_view name() const noexcept override { return "admission"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    if (ctx.worker.shared.draining.load(std::memory_order_relaxed)) {
      ex.problem = make_problem(Outcome::shutting_down, "the gateway is shutting down");
      ex.problem->headers.emplace_back("Retry-After", "1");
      return StageStatus::respond;
    }
    const auto& head = ctx.head;
    if (!head.chunked && head.content_length.value_or(0) > max_body_) {
      ex.problem = payload_too_large(max_body_);
      return StageStatus::respond;
    }
    return StageStatus::next;
  }

 private:
  std::uint64_t max_body_;
};

// ---- 6. identity header policy -------------------------------------------------------------
class IdentityPolicyStage final : public Stage {
 public:
  explicit IdentityPolicyStage(const PipelineConfig& c) : config_(c) {}
  std::string_view name() const noexcept override { return "identity-policy"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    apply_identity_policy(config_, ctx.head, ctx.facts, ex.proxy);
    return StageStatus::next;
  }

 private:
  const PipelineConfig& config_;
};

// ---- 7. route match ------------------------------------------------------------------------
// Routing time (gateway_routing_duration_seconds) is this stage and the instance pick; the
// authentication between them is timed on its own.
void record_routing(WorkerContext& w, core::TimePoint from) {
  if (w.shared.config->telemetry.metrics.enabled)
    w.metrics.record_routing(std::chrono::duration<double>(w.shared.clock->now() - from).count());
}

class RouteMatchStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "route-match"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    ex.times.routing_start = w.shared.clock->now();
    w.shared.routes->refresh(w.routes);
    ex.snapshot = w.routes;
    auto problem = match_route(ctx.head, *ex.snapshot, ex.proxy);
    if (problem) {
      ex.times.routing_end = w.shared.clock->now();
      record_routing(w, ex.times.routing_start);
      ex.problem = std::move(problem);
      return StageStatus::respond;
    }
    return StageStatus::next;
  }
};

// ---- 8. authentication and authorization ---------------------------------------------------
class AuthenticationStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "authentication"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    ex.times.auth_start = w.shared.clock->now();
    const AuthStep step = w.shared.auth->authenticate(ctx.head, ctx.facts, ex);
    if (step == AuthStep::check_replay) return StageStatus::suspend;
    return finish(ex, w, step);
  }
  boost::asio::awaitable<StageStatus> async_run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    const AuthStep step = co_await w.shared.auth->async_check_replay(ex);
    co_return finish(ex, w, step);
  }

 private:
  static StageStatus finish(Exchange& ex, WorkerContext& w, AuthStep step) {
    // The duration is recorded with the request (request_completion.cpp), like its span.
    ex.times.auth_end = w.shared.clock->now();
    if (w.shared.config->telemetry.metrics.enabled && ex.identity.failure)
      w.metrics.record_auth_failure(static_cast<std::size_t>(*ex.identity.failure));
    return step == AuthStep::pass ? StageStatus::next : StageStatus::respond;
  }
};

// ---- 9. rate limiting ----------------------------------------------------------------------
class RateLimitStage final : public Stage {
 public:
  std::string_view name() const noexcept override { return "rate-limiting"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    const RateStep step =
        w.shared.rate_limiter->check(ctx.head, ctx.facts, ex, w.shared.clock->now());
    if (step == RateStep::check_environment) return StageStatus::suspend;
    return finish(ex, w, step);
  }
  boost::asio::awaitable<StageStatus> async_run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    const RateStep step =
        co_await w.shared.rate_limiter->async_check_environment(ex, w.shared.clock->now());
    co_return finish(ex, w, step);
  }

 private:
  static StageStatus finish(Exchange& ex, WorkerContext& w, RateStep step) {
    if (step != RateStep::refuse) return StageStatus::next;
    if (w.shared.config->telemetry.metrics.enabled)
      w.metrics.record_rate_limit_exceeded(ex.identity.tenant,
                                           w.shared.config->telemetry.metrics.top_tenants);
    return StageStatus::respond;
  }
};

// ---- 10. instance pick ---------------------------------------------------------------------
class InstancePickStage final : public Stage {
 public:
  explicit InstancePickStage(const PipelineConfig& c) : config_(c) {}
  std::string_view name() const noexcept override { return "instance-pick"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    const auto start = w.shared.clock->now();
    auto problem = pick_route_instance(config_, ctx.head, w.shared.selector, w.rng, w.scratch,
                                       ex.proxy, w.local);
    ex.times.routing_end = w.shared.clock->now();
    // The match's share was taken before authentication; add the pick's.
    if (w.shared.config->telemetry.metrics.enabled) {
      const auto match = (ex.times.auth_start != core::TimePoint{} ? ex.times.auth_start : start) -
                         ex.times.routing_start;
      w.metrics.record_routing(
          std::chrono::duration<double>(match + (ex.times.routing_end - start)).count());
    }
    if (problem) {
      ex.problem = std::move(problem);
      return StageStatus::respond;
    }
    return StageStatus::next;
  }

 private:
  const PipelineConfig& config_;
};

}  // namespace

Pipeline build_pipeline(const ServerShared& shared) {
  const auto& config = *shared.config;
  std::vector<std::unique_ptr<const Stage>> s;
  s.push_back(std::make_unique<TraceContextStage>());
  s.push_back(std::make_unique<CorrelationStage>());
  s.push_back(std::make_unique<PathStage>(shared.pipeline));
  s.push_back(std::make_unique<ManagementStage>());
  s.push_back(std::make_unique<AdmissionStage>(config.routing.max_request_body_size));
  s.push_back(std::make_unique<IdentityPolicyStage>(shared.pipeline));
  s.push_back(std::make_unique<RouteMatchStage>());
  if (shared.auth) s.push_back(std::make_unique<AuthenticationStage>());
  if (shared.rate_limiter) s.push_back(std::make_unique<RateLimitStage>());
  s.push_back(std::make_unique<InstancePickStage>(shared.pipeline));
  return Pipeline(std::move(s));
}

}  // namespace stella::gw::http
