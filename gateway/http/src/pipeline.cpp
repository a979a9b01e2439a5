// The request pipeline, in the order a request passes it (DESIGN.md §4; docs/architecture.md
// "Life of a request"). build_pipeline() at the bottom lists the stages; each one is a small
// class of immutable config with run() (and async_run() when it waits for I/O).
//
//   1. trace context     accept a valid W3C traceparent or start a trace; ids for our spans
//   2. correlation id    keep a well-formed X-Correlation-Id or make one; echoed on the answer
//   3. path              normalise the path (400/414) — management and routing match on it
//   4. management        /health/*, /metrics: answered here, before authentication
//   5. admission         draining → 503; declared body over routing.maxRequestBodySize → 413
//   6. identity policy   strip gateway-owned headers; set X-Forwarded-*
//   7. authentication    (the authentication stage goes here; auth.enabled refuses to start
//   8. tenant             until it exists, so nothing is served unauthenticated)
//   9. rate limiting     (the rate-limiting stage goes here; rules refuse to start until then)
//  10. routing           route lookup (404/405) and instance selection (503)
//  then transport        UpstreamForwarder: REQUEST/STREAM_DATA out, RESPONSE back, CANCEL
//                        (exchange_loop.hpp drives it; it is not a stage: it ends the list)
#include "stella/gateway/http/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "stella/gateway/http/management.hpp"
#include "stella/gateway/http/span.hpp"
#include "stella/gateway/http/worker_context.hpp"

namespace stella::gw::http {

boost::asio::awaitable<StageStatus> Stage::async_run(Exchange&, StageContext&) const {
  co_return StageStatus::next;
}

namespace {

template <std::size_t N>
void random_bytes(core::Random& rng, std::array<std::uint8_t, N>& out) {
  for (std::size_t i = 0; i < N; i += 8) {
    std::uint64_t bits = rng.next();
    for (std::size_t j = i; j < N && j < i + 8; ++j, bits >>= 8)
      out[j] = static_cast<std::uint8_t>(bits);
  }
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
    // The service's parent is the gateway's transport.send span.
    ex.proxy.frame.traceparent = format_traceparent(t.trace_id, t.send_span_id, t.flags);
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
    ex.reply = health_reply(shared, which);
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

// ---- 10. routing ---------------------------------------------------------------------------
class RoutingStage final : public Stage {
 public:
  explicit RoutingStage(const PipelineConfig& c) : config_(c) {}
  std::string_view name() const noexcept override { return "routing"; }
  StageStatus run(Exchange& ex, StageContext& ctx) const override {
    auto& w = ctx.worker;
    ex.times.routing_start = w.shared.clock->now();
    ex.snapshot = w.shared.routes->snapshot();
    auto problem = route_normalized(config_, ctx.head, *ex.snapshot, w.shared.selector, w.rng,
                                    w.scratch, ex.proxy);
    ex.times.routing_end = w.shared.clock->now();
    if (w.shared.config->telemetry.metrics.enabled)
      w.metrics.record_routing(
          std::chrono::duration<double>(ex.times.routing_end - ex.times.routing_start).count());
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
  // Authentication, tenant and rate limiting join here when they exist; until then their
  // configuration refuses to start (config_validate.cpp), never silently serving unprotected.
  s.push_back(std::make_unique<RoutingStage>(shared.pipeline));
  return Pipeline(std::move(s));
}

}  // namespace stella::gw::http
