// Setup, the event loop and the request path of one simulation run.
#include "engine.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace stella::sim {
namespace detail {

const char* error_kind_name(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::no_route:
      return "no_route";
    case ErrorKind::no_instance:
      return "no_instance";
    case ErrorKind::send_failed:
      return "send_failed";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::instance_lost:
      return "instance_lost";
    case ErrorKind::service_error:
      return "service_error";
    case ErrorKind::service_unavailable:
      return "service_unavailable";
    case ErrorKind::gateway_down:
      return "gateway_down";
    case ErrorKind::gateway_overload:
      return "gateway_overload";
    case ErrorKind::count_:
      break;
  }
  return "?";
}

namespace {
double secs(core::Duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

Engine::Engine(const Topology& t, const SimOptions& o)
    : t_(t), o_(o), bounds_(compute_bounds(t)), queue_(t.limits.max_events), log_(o.event_log) {
  const core::Duration duration = o.duration.value_or(t.duration);
  end_ = core::TimePoint{} + duration;
  core::Duration max_timeout = t.gateway.default_timeout;
  for (const Service& s : t.services)
    for (const Endpoint& e : s.endpoints)
      max_timeout = std::max(max_timeout, e.timeout);
  hard_end_ = end_ + max_timeout + std::chrono::seconds(1);

  // Sub-generators, forked in a fixed order: adding draws to one subsystem never shifts
  // another's sequence.
  core::Random root(o.seed);
  workload_rng_ = root.fork();
  select_rng_ = root.fork();
  net_rng_ = root.fork();
  gateway_rng_ = root.fork();

  for (const Region& r : t.regions)
    region_names_.push_back(r.name);
  partition_count_.assign(region_names_.size(), 0);
  partition_since_.assign(region_names_.size(), kNever);
  region_picks_.assign(region_names_.size(), 0);
  region_ok_ = region_errors_ = sec_region_picks_ = region_picks_;

  gw::SelectorSettings ss;
  ss.policy = o.policy.value_or(t.gateway.policy);
  ss.local_region = t.gateway.region;
  ss.neighbor_regions = t.region(t.gateway.region)->neighbors;
  ss.prefer_healthy = t.gateway.prefer_healthy;
  ss.overprovisioning_factor = t.gateway.overprovisioning_factor;
  ss.max_candidates = t.gateway.max_candidates;
  if (!(o.rate_scale > 0)) throw TopologyError("rate_scale must be > 0");
  if (auto err = gw::validate(ss)) throw TopologyError(t.source_file + ": gateway: " + *err);
  selector_ = std::make_unique<gw::Selector>(ss);
  registry_settings_.region_tiers = selector_->region_tiers();

  registry_settings_.health.heartbeat_interval = t.gateway.heartbeat_interval;
  registry_settings_.health.heartbeat_timeout = t.gateway.heartbeat_timeout;
  registry_settings_.health.unhealthy_threshold = t.gateway.unhealthy_threshold;
  registry_settings_.health.healthy_threshold = t.gateway.healthy_threshold;
  if (auto err = gw::validate(registry_settings_.health))
    throw TopologyError(t.source_file + ": gateway: " + *err);
  router_ = std::make_unique<gw::UpstreamRouter>(registry_settings_);

  gs_config_.node_id = "sim-gateway";
  gs_config_.heartbeat_interval = t.gateway.heartbeat_interval;
  gs_config_.max_in_flight = t.gateway.max_in_flight_per_connection;

  setup_instances();
  setup_routes();
  expand_failures();
  reqs_.reserve(1024);
}

void Engine::setup_instances() {
  core::Random inst_root(net_rng_.next());
  std::size_t total = 0;
  for (const Service& s : t_.services)
    for (const InstanceGroup& g : s.instances)
      total += g.count;
  registry_settings_.routes.max_instances = std::max<std::size_t>(4096, 2 * total + 16);
  instances_.reserve(total);
  for (std::size_t si = 0; si < t_.services.size(); ++si) {
    const Service& s = t_.services[si];
    std::vector<std::uint32_t> per_region(region_names_.size(), 0);
    for (const InstanceGroup& g : s.instances) {
      const auto ri = static_cast<std::uint32_t>(
          std::find(region_names_.begin(), region_names_.end(), g.region) - region_names_.begin());
      for (std::uint32_t i = 0; i < g.count; ++i) {
        InstanceSim in;
        in.name = g.names.empty() ? s.name + "-" + g.region + "-" + std::to_string(++per_region[ri])
                                  : g.names[i];
        in.service = static_cast<std::uint32_t>(si);
        in.region = ri;
        in.cfg = &g;
        in.rng = inst_root.fork();
        in.net_rng = inst_root.fork();
        in.base_latency = t_.latency(t_.gateway.region, g.region);
        in.backoff = t_.reconnect.initial_backoff;
        instances_.push_back(std::move(in));
      }
    }
  }
  for (std::size_t i = 0; i < instances_.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (instances_[i].name == instances_[j].name)
        throw TopologyError(t_.source_file + ": services: duplicate instance name '" +
                            instances_[i].name + "'");
  // Per-second series per instance only for small topologies: the report stays readable and
  // bounded (the first 48 instances).
  for (std::uint32_t i = 0; i < instances_.size() && i < 48; ++i)
    timeline_instances_.push_back(i);
}

void Engine::setup_routes() {
  double cum = 0;
  for (const RouteMix& m : t_.workload.mix) {
    RouteW r;
    r.method = m.method;
    r.label = m.method + " " + m.path;
    for (std::size_t si = 0; si < t_.services.size() && r.service == kNone; ++si)
      for (const Endpoint& e : t_.services[si].endpoints)
        if (e.method == m.method && e.path == m.path) r.service = static_cast<std::uint32_t>(si);
    // Eight concrete paths per template: parameters get random numbers, catch-alls two
    // segments. Built once, so a request costs no string work.
    for (int v = 0; v < 8; ++v) {
      std::string path;
      std::size_t i = 0;
      while (i < m.path.size()) {
        if (m.path[i] == '{') {
          const std::size_t close = m.path.find('}', i);
          const bool catch_all = m.path[i + 1] == '*';
          path += catch_all ? "a/" + std::to_string(workload_rng_.below(1000))
                            : std::to_string(1 + workload_rng_.below(999999));
          i = close == std::string::npos ? m.path.size() : close + 1;
        } else {
          path += m.path[i++];
        }
      }
      auto np = core::normalize_path(path);
      if (!np.ok()) throw TopologyError(t_.source_file + ": workload.mix: bad path " + path);
      r.paths.push_back(std::move(np).value());
      core::Request req;
      req.method = m.method;
      req.path = path;
      req.route = m.path;
      r.requests.push_back(std::move(req));
    }
    cum += m.weight;
    route_cum_.push_back(cum);
    routes_.push_back(std::move(r));
  }
  if (cum <= 0) throw TopologyError(t_.source_file + ": workload.mix: weights sum to 0");
}

void Engine::schedule(core::TimePoint at, EventKind k, std::uint32_t a, std::uint32_t b,
                      std::uint32_t gen) {
  if (!queue_.push(at, k, a, b, gen)) {
    throw std::runtime_error("simulation stopped: more than limits.maxEvents (" +
                             std::to_string(t_.limits.max_events) + ") events queued");
  }
}

SimResult Engine::run() {
  log_.line(now_, "start topology=%s seed=%llu policy=%s instances=%zu", t_.name.c_str(),
            static_cast<unsigned long long>(o_.seed),
            std::string(gw::policy_name(selector_->settings().policy)).c_str(), instances_.size());
  for (std::uint32_t i = 0; i < instances_.size(); ++i) {
    instances_[i].connect_scheduled = true;
    schedule(now_, EventKind::connect, i, 0, instances_[i].incarnation);
  }
  for (std::uint32_t i = 0; i < actions_.size(); ++i)
    schedule(actions_[i].at, EventKind::action, i);
  if (heal_time_) {
    inv_.heal_time_s = secs(heal_time_->time_since_epoch());
    schedule(*heal_time_ + bounds_.recovery, EventKind::liveness_check);
  }
  schedule(now_ + std::chrono::seconds(1), EventKind::second_tick);
  schedule_next_arrival();

  while (!queue_.empty() && !violation_) {
    const Event& top = queue_.top();
    if (top.at > hard_end_) break;
    if (top.at >= end_ && pending_ == 0) break;
    const Event e = queue_.pop();
    now_ = e.at;
    ++events_processed_;
    handle(e);
  }
  if (!violation_ && pending_ != 0) {
    violate("request-lost", std::to_string(pending_) +
                                " request(s) neither answered, timed out nor failed at the end");
  }
  log_.line(now_, "end requests=%llu ok=%llu errors=%llu",
            static_cast<unsigned long long>(arrivals_), static_cast<unsigned long long>(ok_),
            static_cast<unsigned long long>(errors_));
  SimResult r;
  r.violation = violation_;
  r.event_hash = log_.hash();
  r.events_processed = events_processed_;
  r.requests = arrivals_;
  r.report = build_report();
  return r;
}

void Engine::handle(const Event& e) {
  switch (e.kind) {
    case EventKind::arrival:
      return on_arrival(e.b != 0);
    case EventKind::dispatch:
      return on_dispatch(e.a, e.gen);
    case EventKind::deliver:
      return on_deliver(e.a, e.b == 0);
    case EventKind::gateway_timer:
      return on_gateway_timer(e.a, e.at);
    case EventKind::service_timer:
      return on_service_timer(e.a, e.at);
    case EventKind::job_done:
      return on_job_done(e.a, e.b);
    case EventKind::request_timeout:
      return on_timeout_lane(e.a);
    case EventKind::action:
      return on_action(e.a);
    case EventKind::connect:
      return on_connect(e.a, e.gen);
    case EventKind::second_tick:
      return on_second_tick();
    case EventKind::liveness_check:
      return on_liveness_check();
  }
}

}  // namespace detail

SimResult run_simulation(const Topology& topology, const SimOptions& options) {
  detail::Engine engine(topology, options);
  return engine.run();
}

}  // namespace stella::sim
