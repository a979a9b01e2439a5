#include "stella/gateway/http/metrics.hpp"

#include "stella/gateway/http/log_sink.hpp"

#include <dirent.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace stella::gw::http {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::string_view kStandardMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                 "CONNECT", "OPTIONS", "TRACE", "PATCH"};

std::string_view fold_method(std::string_view m) noexcept {
  for (auto s : kStandardMethods)
    if (m == s) return s;
  return "OTHER";
}

ClientMetric labelled(std::initializer_list<std::pair<std::string_view, std::string_view>> l) {
  ClientMetric m;
  // Values come from peers (service and instance names): invalid UTF-8 would make Prometheus
  // refuse the whole scrape, so it is replaced (the serializer escapes quotes and newlines).
  for (const auto& [name, value] : l)
    m.label.push_back({std::string(name), to_valid_utf8(value)});
  return m;
}

ClientMetric counter(ClientMetric m, double v) {
  m.counter.value = v;
  return m;
}
ClientMetric gauge(ClientMetric m, double v) {
  m.gauge.value = v;
  return m;
}
ClientMetric histogram(ClientMetric m, const HistogramData& h) {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    cumulative += h.buckets[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound =
        i < kDurationBuckets.size() ? kDurationBuckets[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum;
  return m;
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

struct ProcStat {
  double cpu_seconds = 0, start_time_seconds = 0;
  double virtual_bytes = 0, resident_bytes = 0;
};

ProcStat read_proc_stat() {
  ProcStat out;
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; fields >> s;)
    f.push_back(s);
  // f[0] is field 3 (state): field N is f[N - 3].
  if (f.size() < 22) return out;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime + stime
  out.virtual_bytes = std::stod(f[20]);
  out.resident_bytes = std::stod(f[21]) * page;
  double boot = 0;
  std::ifstream st("/proc/stat");
  for (std::string line; std::getline(st, line);)
    if (line.rfind("btime ", 0) == 0) boot = std::stod(line.substr(6));
  out.start_time_seconds = boot + std::stod(f[19]) / ticks;
  return out;
}

double open_fds() {
  double n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    n -= 1;  // the directory stream's own descriptor
  }
  return n;
}

}  // namespace

void HistogramData::observe(double seconds) noexcept {
  if (!(seconds >= 0)) seconds = 0;  // NaN or a clock step: never a negative bucket
  const auto it = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds);
  ++buckets[static_cast<std::size_t>(it - kDurationBuckets.begin())];
  sum += seconds;
  ++count;
}

void HistogramData::merge(const HistogramData& o) noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i)
    buckets[i] += o.buckets[i];
  sum += o.sum;
  count += o.count;
}

void RouteSeries::count_status(unsigned status) noexcept {
  for (auto& [s, n] : by_status)
    if (s == status) {
      ++n;
      return;
    }
  by_status.emplace_back(status, 1);
}

RouteSeries& WorkerMetrics::series(std::string_view service, std::string_view method,
                                   std::string_view path) {
  key_.clear();
  key_.append(service).push_back('\x1f');
  key_.append(method).push_back('\x1f');
  key_.append(path);
  auto it = routes_.find(key_);
  if (it == routes_.end() && routes_.size() >= kMaxRouteSeries) {
    // Routes that came and went leave their series behind: past the cap, new ones share one.
    key_ = "\x1f\x1f(other)";
    service = method = {};
    path = "(other)";
    it = routes_.find(key_);
  }
  if (it == routes_.end()) {
    RouteSeries s;
    s.service = service;
    s.method = method;
    s.path = path;
    it = routes_.emplace(key_, std::move(s)).first;
  }
  return it->second;
}

void WorkerMetrics::record_request(std::string_view service, std::string_view method,
                                   std::string_view path, unsigned status, Outcome outcome,
                                   double duration_seconds) {
  auto& s = series(service, fold_method(method), path);
  s.count_status(status);
  s.duration.observe(duration_seconds);
  if (outcome == Outcome::rate_limited) ++s.rate_limited;
  ++outcomes_[static_cast<std::size_t>(outcome)];
}

void WorkerMetrics::record_transport(std::string_view service, double seconds) {
  key_.assign(service);
  auto it = transport_.find(key_);
  if (it == transport_.end()) it = transport_.emplace(key_, HistogramData{}).first;
  it->second.observe(seconds);
}

void WorkerMetrics::record_auth_failure(std::size_t reason_index) noexcept {
  if (reason_index < auth_failures_.size()) ++auth_failures_[reason_index];
}

void WorkerMetrics::record_rate_limit_exceeded(std::string_view tenant, std::size_t max_tenants) {
  key_.assign(tenant.empty() ? std::string_view("anonymous") : tenant);
  auto it = tenants_exceeded_.find(key_);
  if (it == tenants_exceeded_.end()) {
    if (tenants_exceeded_.size() >= max_tenants) key_ = "other";
    it = tenants_exceeded_.try_emplace(key_, 0).first;
  }
  ++it->second;
}

void WorkerMetrics::merge(const WorkerMetrics& o) {
  for (const auto& [k, s] : o.routes_) {
    auto [it, fresh] = routes_.try_emplace(k, s);
    if (fresh) continue;
    for (const auto& [status, n] : s.by_status) {
      bool found = false;
      for (auto& [st, m] : it->second.by_status)
        if (st == status) {
          m += n;
          found = true;
        }
      if (!found) it->second.by_status.emplace_back(status, n);
    }
    it->second.duration.merge(s.duration);
    it->second.rate_limited += s.rate_limited;
  }
  for (const auto& [k, h] : o.transport_)
    transport_[k].merge(h);
  routing_.merge(o.routing_);
  auth_.merge(o.auth_);
  for (std::size_t i = 0; i < auth_failures_.size(); ++i)
    auth_failures_[i] += o.auth_failures_[i];
  for (std::size_t i = 0; i < outcomes_.size(); ++i)
    outcomes_[i] += o.outcomes_[i];
  for (const auto& [t, n] : o.tenants_exceeded_)
    tenants_exceeded_[t] += n;
  cross_worker_calls_ += o.cross_worker_calls_;
}

std::string render_metrics(const WorkerMetrics& m, const ProcessGauges& g,
                           std::size_t top_tenants) {
  std::vector<MetricFamily> fams;
  // Sorted series: stable output, easy to diff between scrapes.
  std::vector<const RouteSeries*> routes;
  for (const auto& [k, s] : m.routes())
    routes.push_back(&s);
  std::sort(routes.begin(), routes.end(), [](const RouteSeries* a, const RouteSeries* b) {
    return std::tie(a->service, a->method, a->path) < std::tie(b->service, b->method, b->path);
  });

  auto requests = family("gateway_requests_total",
                         "Requests answered, by route template and status (also "
                         "gateway.requests.total)",
                         MetricType::Counter);
  auto errors = family("gateway_errors_total", "Requests answered with a status of 400 or more",
                       MetricType::Counter);
  auto ratelimit =
      family("gateway_ratelimit_total", "Requests refused with 429, by route", MetricType::Counter);
  auto duration =
      family("gateway_request_duration_seconds",
             "Time from the request head to the last byte of the answer", MetricType::Histogram);
  for (const RouteSeries* s : routes) {
    auto statuses = s->by_status;
    std::sort(statuses.begin(), statuses.end());
    for (const auto& [status, n] : statuses) {
      const std::string st = std::to_string(status);
      const auto labels = labelled(
          {{"service", s->service}, {"method", s->method}, {"path", s->path}, {"status", st}});
      requests.metric.push_back(counter(labels, static_cast<double>(n)));
      if (status >= 400) errors.metric.push_back(counter(labels, static_cast<double>(n)));
    }
    if (s->rate_limited > 0)
      ratelimit.metric.push_back(counter(labelled({{"service", s->service}, {"path", s->path}}),
                                         static_cast<double>(s->rate_limited)));
    duration.metric.push_back(
        histogram(labelled({{"service", s->service}, {"method", s->method}, {"path", s->path}}),
                  s->duration));
  }
  fams.push_back(std::move(requests));
  fams.push_back(std::move(errors));
  fams.push_back(std::move(ratelimit));
  fams.push_back(std::move(duration));

  auto outcomes =
      family("gateway_request_outcomes_total",
             "Requests by how they ended (docs/http.md, outcomes)", MetricType::Counter);
  auto bad = family("gateway_bad_requests_total", "Requests refused as malformed, by reason",
                    MetricType::Counter);
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    const auto o = static_cast<Outcome>(i);
    const double n = static_cast<double>(m.outcomes()[i]);
    outcomes.metric.push_back(counter(labelled({{"outcome", outcome_label(o)}}), n));
    const unsigned status = outcome_info(o).status;
    if (status == 400 || status == 408 || status == 413 || status == 414 || status == 417 ||
        status == 431 || status == 505)
      bad.metric.push_back(counter(labelled({{"reason", outcome_label(o)}}), n));
  }
  fams.push_back(std::move(outcomes));
  fams.push_back(std::move(bad));
  auto cross = family("gateway_upstream_cross_worker_total",
                      "Requests sent on a service connection of another worker (a thread hop "
                      "each way; docs/http.md, Workers)",
                      MetricType::Counter);
  cross.metric.push_back(counter({}, static_cast<double>(m.cross_worker_calls())));
  fams.push_back(std::move(cross));

  auto auth_fail = family("gateway_auth_failures_total",
                          "Authentication and authorization "
                          "refusals, by reason",
                          MetricType::Counter);
  for (std::size_t i = 0; i < kAuthFailureReasonCount; ++i)
    auth_fail.metric.push_back(counter(
        labelled(
            {{"reason", std::string(auth::auth_failure_name(static_cast<auth::AuthFailure>(i)))}}),
        static_cast<double>(m.auth_failures()[i])));
  fams.push_back(std::move(auth_fail));

  // Top N tenants by count, the rest folded into "other".
  auto exceeded = family("gateway_rate_limit_exceeded_total",
                         "Requests refused by rate limiting, by tenant (top N, then other)",
                         MetricType::Counter);
  {
    std::vector<std::pair<std::string, std::uint64_t>> t(m.tenants_exceeded().begin(),
                                                         m.tenants_exceeded().end());
    std::sort(t.begin(), t.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::uint64_t other = 0;
    std::vector<std::pair<std::string, std::uint64_t>> shown;
    for (auto& [name, n] : t) {
      if (name != "other" && shown.size() < top_tenants)
        shown.emplace_back(name, n);
      else
        other += n;
    }
    std::sort(shown.begin(), shown.end());
    for (const auto& [name, n] : shown)
      exceeded.metric.push_back(counter(labelled({{"tenant", name}}), static_cast<double>(n)));
    if (other > 0)
      exceeded.metric.push_back(
          counter(labelled({{"tenant", "other"}}), static_cast<double>(other)));
  }
  fams.push_back(std::move(exceeded));

  auto auth_d = family("gateway_auth_duration_seconds", "Time spent in the authentication stage",
                       MetricType::Histogram);
  auth_d.metric.push_back(histogram({}, m.auth()));
  fams.push_back(std::move(auth_d));
  auto routing_d =
      family("gateway_routing_duration_seconds",
             "Time spent matching the route and selecting an instance", MetricType::Histogram);
  routing_d.metric.push_back(histogram({}, m.routing()));
  fams.push_back(std::move(routing_d));
  auto transport_d =
      family("gateway_transport_duration_seconds",
             "Time from sending the REQUEST frame to the response head", MetricType::Histogram);
  {
    std::vector<std::pair<std::string, const HistogramData*>> t;
    for (const auto& [svc, h] : m.transport())
      t.emplace_back(svc, &h);
    std::sort(t.begin(), t.end());
    for (const auto& [svc, h] : t)
      transport_d.metric.push_back(histogram(labelled({{"service", svc}}), *h));
  }
  fams.push_back(std::move(transport_d));

  auto active =
      family("gateway_active_connections",
             "Requests in flight to each service (open upstream calls)", MetricType::Gauge);
  for (const auto& [svc, n] : g.open_requests_by_service)
    active.metric.push_back(gauge(labelled({{"service", svc}}), static_cast<double>(n)));
  fams.push_back(std::move(active));

  auto conns = family("gateway_http_connections", "Open client connections", MetricType::Gauge);
  conns.metric.push_back(gauge({}, static_cast<double>(g.http_connections)));
  fams.push_back(std::move(conns));
  auto buffers = family("gateway_http_read_buffers",
                        "Client read buffers: held by connections (in_use) or kept for reuse "
                        "(pooled)",
                        MetricType::Gauge);
  buffers.metric.push_back(
      gauge(labelled({{"state", "in_use"}}), static_cast<double>(g.http_read_buffers_in_use)));
  buffers.metric.push_back(
      gauge(labelled({{"state", "pooled"}}), static_cast<double>(g.http_read_buffers_pooled)));
  fams.push_back(std::move(buffers));
  auto accepted = family("gateway_http_connections_accepted_total", "Client connections accepted",
                         MetricType::Counter);
  accepted.metric.push_back(counter({}, static_cast<double>(g.http_connections_accepted)));
  fams.push_back(std::move(accepted));
  auto refused =
      family("gateway_http_connections_refused_total",
             "Client connections closed at once: http.maxConnections reached", MetricType::Counter);
  refused.metric.push_back(counter({}, static_cast<double>(g.http_connections_refused)));
  fams.push_back(std::move(refused));

  auto frames = family("gateway_transport_frames_total",
                       "Service transport frames, by type and direction", MetricType::Counter);
  for (const auto& [k, n] : g.frames)
    frames.metric.push_back(
        counter(labelled({{"type", k.first}, {"direction", k.second}}), static_cast<double>(n)));
  fams.push_back(std::move(frames));

  auto instances =
      family("gateway_instances", "Registered service instances, by health", MetricType::Gauge);
  for (const auto& [k, n] : g.instances_by_health)
    instances.metric.push_back(
        gauge(labelled({{"service", k.first}, {"health", k.second}}), static_cast<double>(n)));
  fams.push_back(std::move(instances));
  auto in_flight =
      family("gateway_instance_in_flight", "Requests in flight per instance", MetricType::Gauge);
  for (const auto& [k, n] : g.instance_in_flight)
    in_flight.metric.push_back(gauge(
        labelled({{"service", k.first}, {"service_instance", k.second}}), static_cast<double>(n)));
  fams.push_back(std::move(in_flight));
  auto health =
      family("gateway_instance_health", "1 for each registered instance, labelled with its health",
             MetricType::Gauge);
  for (const auto& [k, state] : g.instance_health)
    health.metric.push_back(gauge(
        labelled({{"service", k.first}, {"service_instance", k.second}, {"health", state}}), 1));
  fams.push_back(std::move(health));
  // Families of one unlabelled sample.
  const auto single = [&](std::string name, std::string help, MetricType type, double value) {
    auto f = family(std::move(name), std::move(help), type);
    f.metric.push_back(type == MetricType::Counter ? counter({}, value) : gauge({}, value));
    fams.push_back(std::move(f));
  };
  single("gateway_routes", "Routes in the route table", MetricType::Gauge,
         static_cast<double>(g.routes));
  single("gateway_routes_held",
         "Routes with no instance, held for their service during routing.ownershipGracePeriod "
         "(they answer 503)",
         MetricType::Gauge, static_cast<double>(g.routes_held));
  single("gateway_hellos_refused_total",
         "Whole HELLOs refused (identity not granted, bad names, limits)", MetricType::Counter,
         static_cast<double>(g.hellos_refused));
  single("gateway_service_write_timeouts_total",
         "Service connections closed because a write made no progress for "
         "transports.*.writeTimeout (the service stopped reading)",
         MetricType::Counter, static_cast<double>(g.service_write_timeouts));
  single("gateway_auth_keys", "Signing keys in the Authority's key set in use", MetricType::Gauge,
         static_cast<double>(g.auth_keys));
  single("gateway_auth_keys_age_seconds",
         "Seconds since the key set was last loaded (0: never loaded)", MetricType::Gauge,
         g.auth_keys_age_seconds);
  single("gateway_auth_key_refreshes_total", "Key-set loads that succeeded", MetricType::Counter,
         static_cast<double>(g.auth_key_refreshes));
  single("gateway_auth_key_refresh_failures_total",
         "Discovery or JWKS fetches that failed (the last good keys stay in use)",
         MetricType::Counter, static_cast<double>(g.auth_key_refresh_failures));
  auto token_cache =
      family("gateway_auth_token_cache_total",
             "Access-token verifications by whether the cache had the token", MetricType::Counter);
  token_cache.metric.push_back(
      counter(labelled({{"result", "hit"}}), static_cast<double>(g.auth_token_cache_hits)));
  token_cache.metric.push_back(
      counter(labelled({{"result", "miss"}}), static_cast<double>(g.auth_token_cache_misses)));
  fams.push_back(std::move(token_cache));
  single("gateway_auth_replay_fallbacks_total",
         "DPoP proofs checked against this gateway's replay cache only, because the shared one "
         "(Redis) could not be reached",
         MetricType::Counter, static_cast<double>(g.auth_replay_fallbacks));
  const RateLimitGauges& limiter = g.rate_limit;
  single("gateway_rate_limit_keys", "Keys held by the instance-level rate limiter",
         MetricType::Gauge, static_cast<double>(limiter.keys));
  single("gateway_rate_limit_key_evictions_total",
         "Live keys evicted from a full instance-level table (rateLimiting.maxKeys)",
         MetricType::Counter, static_cast<double>(limiter.evictions));
  auto breaker = family("gateway_rate_limit_breaker_state",
                        "The Redis circuit breaker: 1 for its current state", MetricType::Gauge);
  for (const char* s : {"closed", "open", "half_open"})
    breaker.metric.push_back(
        gauge(labelled({{"state", s}}), limiter.breaker_state == s ? 1.0 : 0.0));
  fams.push_back(std::move(breaker));
  single("gateway_rate_limit_breaker_transitions_total",
         "State changes of the Redis circuit breaker", MetricType::Counter,
         static_cast<double>(limiter.breaker_transitions));
  single("gateway_rate_limit_environment_active",
         "1 while the activation gate lets requests reach the environment level (Redis)",
         MetricType::Gauge, limiter.environment_active ? 1.0 : 0.0);
  single("gateway_rate_limit_recent_requests",
         "Requests of the last 5 minutes, as the activation gate counts them", MetricType::Gauge,
         static_cast<double>(limiter.gate_count));
  auto env_checks = family("gateway_rate_limit_environment_checks_total",
                           "Environment-level (Redis) checks by result", MetricType::Counter);
  for (const char* r : {"allowed", "refused", "error", "timeout", "skipped"}) {
    std::uint64_t n = 0;
    for (const auto& [name, v] : limiter.environment_checks)
      if (name == r) n = v;
    env_checks.metric.push_back(counter(labelled({{"result", r}}), static_cast<double>(n)));
  }
  fams.push_back(std::move(env_checks));
  auto env_d = family("gateway_rate_limit_environment_duration_seconds",
                      "Time to an environment-level (Redis) answer, or to the check timeout",
                      MetricType::Histogram);
  env_d.metric.push_back(histogram({}, limiter.environment_duration));
  fams.push_back(std::move(env_d));
  single("gateway_openapi_rebuilds_total",
         "Builds of the aggregated OpenAPI document (on a change of the routes, at most once "
         "per openapi.cacheTtlSeconds)",
         MetricType::Counter, static_cast<double>(g.openapi_rebuilds));
  single("gateway_openapi_document_bytes", "Size of the current /openapi.json", MetricType::Gauge,
         static_cast<double>(g.openapi_document_bytes));
  auto rejected = family("gateway_openapi_fragments_rejected",
                         "OpenAPI fragments (or parts of them) services sent that the current "
                         "document leaves out, by reason",
                         MetricType::Gauge);
  for (std::size_t i = 0; i < openapi::kReasonCount; ++i)
    rejected.metric.push_back(gauge(
        labelled({{"reason", std::string(openapi::reason_name(static_cast<openapi::Reason>(i)))}}),
        static_cast<double>(g.openapi_rejected[i])));
  fams.push_back(std::move(rejected));
  auto hello = family("gateway_hello_endpoints_refused_total",
                      "HELLO endpoints refused in HELLO_ACK, by reason", MetricType::Counter);
  for (const auto& [reason, n] : g.hello_endpoints_refused)
    hello.metric.push_back(counter(labelled({{"reason", reason}}), static_cast<double>(n)));
  fams.push_back(std::move(hello));

  auto spans =
      family("gateway_spans_total", "Trace spans by fate (exported, dropped)", MetricType::Counter);
  spans.metric.push_back(
      counter(labelled({{"result", "exported"}}), static_cast<double>(g.spans_exported)));
  spans.metric.push_back(
      counter(labelled({{"result", "dropped"}}), static_cast<double>(g.spans_dropped)));
  fams.push_back(std::move(spans));
  auto log_dropped =
      family("gateway_log_lines_dropped_total",
             "Log lines that could not be written (full disk, closed pipe)", MetricType::Counter);
  log_dropped.metric.push_back(counter({}, static_cast<double>(g.log_lines_dropped)));
  fams.push_back(std::move(log_dropped));

  const ProcStat ps = read_proc_stat();
  auto add_process = [&](const char* name, const char* help, MetricType type, double v) {
    auto f = family(name, help, type);
    f.metric.push_back(type == MetricType::Counter ? counter({}, v) : gauge({}, v));
    fams.push_back(std::move(f));
  };
  add_process("process_cpu_seconds_total", "User and system CPU time spent in seconds",
              MetricType::Counter, ps.cpu_seconds);
  add_process("process_resident_memory_bytes", "Resident memory size in bytes", MetricType::Gauge,
              ps.resident_bytes);
  add_process("process_virtual_memory_bytes", "Virtual memory size in bytes", MetricType::Gauge,
              ps.virtual_bytes);
  add_process("process_start_time_seconds", "Start time of the process since the Unix epoch",
              MetricType::Gauge, ps.start_time_seconds);
  add_process("process_open_fds", "Open file descriptors", MetricType::Gauge, open_fds());
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  add_process("process_max_fds", "Maximum number of open file descriptors", MetricType::Gauge,
              static_cast<double>(rl.rlim_cur));

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, fams);
  return out.str();
}

}  // namespace stella::gw::http
