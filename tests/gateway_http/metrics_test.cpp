// Per-worker metrics, their merge, and the Prometheus text they render to.
#include <gtest/gtest.h>

#include "stella/gateway/http/metrics.hpp"

namespace stella::gw::http {
namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

TEST(Metrics, EveryFamilyIsWrittenEvenWithNoTraffic) {
  const std::string text = render_metrics(WorkerMetrics{}, ProcessGauges{}, 20);
  for (const char* family : {"gateway_requests_total",
                             "gateway_errors_total",
                             "gateway_ratelimit_total",
                             "gateway_request_duration_seconds",
                             "gateway_request_outcomes_total",
                             "gateway_bad_requests_total",
                             "gateway_auth_failures_total",
                             "gateway_rate_limit_exceeded_total",
                             "gateway_auth_duration_seconds",
                             "gateway_routing_duration_seconds",
                             "gateway_transport_duration_seconds",
                             "gateway_active_connections",
                             "gateway_http_connections",
                             "gateway_http_connections_accepted_total",
                             "gateway_http_connections_refused_total",
                             "gateway_transport_frames_total",
                             "gateway_instances",
                             "gateway_instance_in_flight",
                             "gateway_instance_health",
                             "gateway_routes",
                             "gateway_hello_endpoints_refused_total",
                             "gateway_spans_total",
                             "gateway_log_lines_dropped_total",
                             "gateway_auth_keys",
                             "gateway_auth_keys_age_seconds",
                             "gateway_auth_key_refreshes_total",
                             "gateway_auth_key_refresh_failures_total",
                             "gateway_auth_token_cache_total",
                             "gateway_auth_replay_fallbacks_total",
                             "gateway_rate_limit_keys",
                             "gateway_rate_limit_key_evictions_total",
                             "gateway_rate_limit_breaker_state",
                             "gateway_rate_limit_breaker_transitions_total",
                             "gateway_rate_limit_environment_active",
                             "gateway_rate_limit_recent_requests",
                             "gateway_rate_limit_environment_checks_total",
                             "gateway_rate_limit_environment_duration_seconds",
                             "process_cpu_seconds_total",
                             "process_resident_memory_bytes",
                             "process_open_fds",
                             "process_start_time_seconds"}) {
    EXPECT_EQ(count(text, std::string("# TYPE ") + family + " "), 1u) << family;
    EXPECT_EQ(count(text, std::string("# HELP ") + family + " "), 1u) << family;
  }
  // Fixed label sets are there at zero.
  EXPECT_NE(text.find("gateway_auth_failures_total{reason=\"dpop_replay\"} 0"), std::string::npos);
  EXPECT_NE(text.find("gateway_rate_limit_breaker_state{state=\"open\"} 0"), std::string::npos);
  EXPECT_NE(text.find("gateway_rate_limit_environment_checks_total{result=\"timeout\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("gateway_request_outcomes_total{outcome=\"rate_limited\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("gateway_auth_duration_seconds_bucket{le=\"+Inf\"} 0"), std::string::npos);
}

TEST(Metrics, RequestsAreCountedByTemplateAndStatusAndMerged) {
  WorkerMetrics a, b;
  a.record_request("demo", "GET", "/api/items/{id}", 200, Outcome::ok, 0.0015);
  a.record_request("demo", "GET", "/api/items/{id}", 200, Outcome::ok, 0.003);
  b.record_request("demo", "GET", "/api/items/{id}", 200, Outcome::ok, 0.04);
  b.record_request("demo", "GET", "/api/items/{id}", 503, Outcome::no_instance, 0.0001);
  b.record_request("", "BREW", std::string(kUnmatchedPath), 404, Outcome::no_route, 0.0001);
  WorkerMetrics merged;
  merged.merge(a);
  merged.merge(b);
  const std::string text = render_metrics(merged, ProcessGauges{}, 20);
  EXPECT_NE(text.find("gateway_requests_total{service=\"demo\",method=\"GET\",path=\"/api/items/"
                      "{id}\",status=\"200\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gateway_errors_total{service=\"demo\",method=\"GET\",path=\"/api/items/"
                      "{id}\",status=\"503\"} 1"),
            std::string::npos);
  // A method outside the standard set is folded: clients cannot mint label values.
  EXPECT_NE(text.find("method=\"OTHER\",path=\"(unmatched)\",status=\"404\"} 1"),
            std::string::npos);
  EXPECT_EQ(text.find("BREW"), std::string::npos);
  // Cumulative buckets: 1.5 ms and 3 ms and 40 ms and the 503.
  EXPECT_NE(text.find("gateway_request_duration_seconds_bucket{service=\"demo\",method=\"GET\","
                      "path=\"/api/items/{id}\",le=\"0.002\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gateway_request_duration_seconds_bucket{service=\"demo\",method=\"GET\","
                      "path=\"/api/items/{id}\",le=\"0.05\"} 4"),
            std::string::npos);
  EXPECT_NE(text.find("gateway_request_duration_seconds_count{service=\"demo\",method=\"GET\","
                      "path=\"/api/items/{id}\"} 4"),
            std::string::npos);
}

TEST(Metrics, HistogramBucketsAtTheirBounds) {
  HistogramData h;
  h.observe(0.0005);  // on the first bound: counted in it (le is inclusive)
  h.observe(0.00050001);
  h.observe(30);
  h.observe(31);                // +Inf
  h.observe(-1);                // a clock step: never a negative bucket
  EXPECT_EQ(h.buckets[0], 2u);  // 0.0005 and the clamped -1
  EXPECT_EQ(h.buckets[1], 1u);
  EXPECT_EQ(h.buckets[kDurationBuckets.size() - 1], 1u);
  EXPECT_EQ(h.buckets[kDurationBuckets.size()], 1u);
  EXPECT_EQ(h.count, 5u);
}

TEST(Metrics, TenantsAreTheTopNThenOther) {
  WorkerMetrics w;
  for (int i = 0; i < 5; ++i)
    w.record_rate_limit_exceeded("big", 100);
  for (int i = 0; i < 3; ++i)
    w.record_rate_limit_exceeded("mid", 100);
  w.record_rate_limit_exceeded("small", 100);
  w.record_rate_limit_exceeded("", 100);  // no tenant
  const std::string text = render_metrics(w, ProcessGauges{}, 2);
  EXPECT_NE(text.find("gateway_rate_limit_exceeded_total{tenant=\"big\"} 5"), std::string::npos);
  EXPECT_NE(text.find("gateway_rate_limit_exceeded_total{tenant=\"mid\"} 3"), std::string::npos);
  EXPECT_NE(text.find("gateway_rate_limit_exceeded_total{tenant=\"other\"} 2"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("tenant=\"small\""), std::string::npos);
  // Per worker, distinct tenants are bounded too.
  WorkerMetrics bounded;
  for (int i = 0; i < 1000; ++i)
    bounded.record_rate_limit_exceeded("t" + std::to_string(i), 10);
  EXPECT_LE(bounded.tenants_exceeded().size(), 11u);
}

TEST(Metrics, LabelValuesAreEscaped) {
  WorkerMetrics w;
  w.record_request("svc\"x\\y\nz", "GET", "/a", 200, Outcome::ok, 0.001);
  const std::string text = render_metrics(w, ProcessGauges{}, 20);
  EXPECT_NE(text.find(R"(service="svc\"x\\y\nz")"), std::string::npos) << text;
}

}  // namespace
}  // namespace stella::gw::http
