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

  registry_settings_.health.heartbeat_interval = t.gateway.heartbeat_interval;
  registry_settings_.health.heartbeat_timeout = t.gateway.heartbeat_timeout;
  registry_settings_.health.unhealthy_threshold = t.gateway.unhealthy_threshold;
  registry_settings_.health.healthy_threshold = t.gateway.healthy_threshold;
  if (auto err = gw::validate(registry_settings_.health))
    throw TopologyError(t.source_file + ": gateway: " + *err);
  registry_ = std::make_unique<gw::ServiceRegistry>(registry_settings_);

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
    r.cum_weight = cum;
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
    case EventKind::gateway_up:
      gateway_down_ = false;
      log_.line(now_, "gateway up");
      return;
    case EventKind::second_tick:
      return on_second_tick();
    case EventKind::liveness_check:
      return on_liveness_check();
  }
}

// ---- workload -----------------------------------------------------------------------------

void Engine::schedule_next_arrival() {
  // Poisson arrivals at the rate of the current phase. Crossing into the next phase re-draws
  // from its start (exponential gaps are memoryless, so this is exact).
  const auto& phases = t_.workload.rate;
  double rate = 0;
  core::TimePoint next_phase = kNever;
  for (const RatePhase& p : phases) {
    const core::TimePoint from = core::TimePoint{} + p.from;
    if (from <= now_) {
      rate = p.rps * o_.rate_scale;
    } else {
      next_phase = from;
      break;
    }
  }
  core::TimePoint at = kNever;
  bool redraw = false;
  if (rate > 0) {
    const double gap_s = -std::log(1.0 - workload_rng_.uniform()) / rate;
    at = now_ + std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(gap_s));
    if (at <= now_) at = now_ + core::Duration(1);
  }
  if (next_phase < at) at = next_phase, redraw = true;
  if (at >= end_) return;
  schedule(at, EventKind::arrival, 0, redraw ? 1 : 0);
}

void Engine::on_arrival(bool redraw) {
  schedule_next_arrival();
  if (redraw) return;
  ++arrivals_;
  ++sec_requests_;
  if (gateway_down_) return count_error(ErrorKind::gateway_down, kNone);
  if (pending_ >= t_.limits.max_pending) return count_error(ErrorKind::gateway_overload, kNone);
  std::uint32_t slot;
  if (!free_reqs_.empty()) {
    slot = free_reqs_.back();
    free_reqs_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(reqs_.size());
    reqs_.emplace_back();
  }
  Req& r = reqs_[slot];
  r.live = true;
  r.sent = false;
  r.conn = kNone;
  r.instance = kNone;
  r.arrived = now_;
  const double w = workload_rng_.uniform() * routes_.back().cum_weight;
  std::size_t ri = 0;
  while (ri + 1 < routes_.size() && routes_[ri].cum_weight <= w)
    ++ri;
  r.route = static_cast<std::uint16_t>(ri);
  r.variant = static_cast<std::uint16_t>(workload_rng_.below(routes_[ri].paths.size()));
  ++pending_;
  if (t_.gateway.workers == 0 || busy_workers_ < t_.gateway.workers) {
    start_processing(slot);
  } else if (gateway_queue_.size() < t_.gateway.worker_queue_limit) {
    gateway_queue_.push_back(slot);
  } else {
    fail(slot, ErrorKind::gateway_overload);
  }
}

void Engine::start_processing(std::uint32_t slot) {
  ++busy_workers_;
  schedule(now_ + t_.gateway.processing.sample(gateway_rng_), EventKind::dispatch, slot, 0,
           reqs_[slot].gen);
}

void Engine::on_dispatch(std::uint32_t slot, std::uint32_t gen) {
  if (busy_workers_ > 0) --busy_workers_;
  while (!gateway_queue_.empty() &&
         (t_.gateway.workers == 0 || busy_workers_ < t_.gateway.workers)) {
    const std::uint32_t next = gateway_queue_.front();
    gateway_queue_.pop_front();
    if (reqs_[next].live) start_processing(next);
  }
  if (reqs_[slot].gen != gen || !reqs_[slot].live) return;  // failed by a gateway restart
  route_request(slot);
}

core::TimePoint Engine::down_since(const Conn& c, core::Duration& bound) const {
  const InstanceSim& in = instances_[c.instance];
  core::TimePoint since = c.dead_since;
  bound = bounds_.detection;
  if (in.paused && c.incarnation == in.incarnation) since = std::min(since, in.paused_since);
  if (partitioned(in.region)) since = std::min(since, partition_since_[in.region]);
  if (c.drain_since != kNever && c.drain_since + bounds_.drain < since + bounds_.detection) {
    since = c.drain_since;
    bound = bounds_.drain;
  }
  return since;
}

void Engine::route_request(std::uint32_t slot) {
  Req& r = reqs_[slot];
  const RouteW& rw = routes_[r.route];
  overhead_.record(static_cast<std::uint64_t>((now_ - r.arrived).count()));
  sec_overhead_.record(static_cast<std::uint64_t>((now_ - r.arrived).count()));
  const auto snap = registry_->routes().snapshot();
  snap->lookup(rw.method, rw.paths[r.variant], lookup_);
  if (lookup_.status != gw::LookupStatus::found) return fail(slot, ErrorKind::no_route);
  const gw::Route& route = *lookup_.route;

  std::optional<gw::Pick> pick;
  if (o_.fault_ignore_health) {
    if (!route.candidates.empty()) {
      const auto& c = route.candidates[ignore_health_rr_++ % route.candidates.size()];
      gw::Selection sel;
      sel.tier = selector_->tier_of(c.info->region);
      pick = gw::Pick{&c, sel};
    }
  } else {
    pick = gw::pick_instance(route, *selector_, select_rng_, scratch_);
  }
  if (!pick) return fail(slot, ErrorKind::no_instance);

  const std::uint64_t conn_id = pick->instance->info->connection_id;
  const auto ci = static_cast<std::uint32_t>(conn_id - 1);
  Conn& c = *conns_[ci];
  InstanceSim& in = instances_[c.instance];

  // Invariants on every pick (invariants.hpp).
  ++inv_.picks_checked;
  const gw::HealthTracker* tracker = registry_->health(conn_id);
  const core::HealthStatus st = tracker ? tracker->status() : core::HealthStatus::unknown;
  if (!gw::is_routable(st)) {
    return violate("routed-to-unroutable", "picked " + in.name + " (connection " +
                                               std::to_string(conn_id) + ") whose tracker says " +
                                               std::string(gw::health_status_name(st)));
  }
  core::Duration bound{};
  const core::TimePoint since = down_since(c, bound);
  if (since != kNever && now_ - since > bound) {
    return violate("routed-to-down", "picked " + in.name + ", truly unavailable since t=" +
                                         std::to_string(secs(since.time_since_epoch())) +
                                         " s, longer than the " + std::to_string(secs(bound)) +
                                         " s bound");
  }
  if (pick->selection.tier != gw::Tier::local && !pick->selection.spilled) {
    if (route.candidates.size() > selector_->settings().max_candidates) {
      ++inv_.region_checks_skipped;
    } else {
      ++inv_.region_checks;
      for (const gw::RouteCandidate& rc : route.candidates) {
        if (rc.info->region == t_.gateway.region && gw::is_routable(rc.state->health())) {
          return violate("left-local-region", "picked " + in.name + " in " +
                                                  region_names_[in.region] +
                                                  " (not a spill) while local " +
                                                  rc.info->instance_id + " was routable");
        }
      }
    }
  }

  ++picks_;
  ++in.requests;
  ++in.sec_picks;
  ++region_picks_[in.region];
  ++sec_region_picks_[in.region];
  if (pick->selection.spilled) ++spills_, ++in.spilled;
  r.instance = c.instance;

  const core::Request& req = rw.requests[r.variant];
  const std::uint32_t timeout_ms = pick->instance->endpoint->timeout_ms;
  const core::Duration timeout = timeout_ms > 0
                                     ? core::Duration(std::chrono::milliseconds(timeout_ms))
                                     : core::Duration(t_.gateway.default_timeout);
  std::uint32_t stream = 0;
  if (!c.gs || c.gs->send_request(req, true, now_, stream) != core::Errc::ok) {
    return fail(slot, ErrorKind::send_failed);
  }
  r.sent = true;
  r.conn = ci;
  r.stream = stream;
  c.streams.insert(stream, slot);
  if (c.state) c.state->begin_request();
  arm_timeout(slot, timeout);
  pump_gateway(ci);
}

void Engine::arm_timeout(std::uint32_t slot, core::Duration timeout) {
  std::uint32_t li = 0;
  while (li < lanes_.size() && lanes_[li].timeout != timeout)
    ++li;
  if (li == lanes_.size()) lanes_.push_back(TimeoutLane{timeout, {}});
  TimeoutLane& lane = lanes_[li];
  const bool was_empty = lane.entries.empty();
  lane.entries.push_back({now_ + timeout, slot, reqs_[slot].gen});
  if (was_empty) schedule(now_ + timeout, EventKind::request_timeout, li);
}

void Engine::on_timeout_lane(std::uint32_t li) {
  TimeoutLane& lane = lanes_[li];
  while (!lane.entries.empty() && lane.entries.front().at <= now_) {
    const TimeoutLane::Entry e = lane.entries.front();
    lane.entries.pop_front();
    if (reqs_[e.slot].gen == e.gen && reqs_[e.slot].live) timeout_request(e.slot);
  }
  if (!lane.entries.empty()) schedule(lane.entries.front().at, EventKind::request_timeout, li);
}

void Engine::timeout_request(std::uint32_t slot) {
  Req& r = reqs_[slot];
  if (r.sent && r.conn != kNone) {
    Conn& c = *conns_[r.conn];
    c.streams.erase(r.stream);
    if (c.gs && !c.gs_dead) {
      c.gs->cancel(r.stream, core::CancelReason::timeout, "deadline");
      fail(slot, ErrorKind::timeout);
      return pump_gateway(r.conn);
    }
  }
  fail(slot, ErrorKind::timeout);
}

void Engine::complete(std::uint32_t slot, std::uint16_t status) {
  Req& r = reqs_[slot];
  if (!r.live) return;
  const auto e2e = static_cast<std::uint64_t>((now_ - r.arrived).count());
  e2e_.record(e2e);
  sec_e2e_.record(e2e);
  if (status >= 500) {
    return fail(slot, status == 503 ? ErrorKind::service_unavailable : ErrorKind::service_error);
  }
  ++ok_;
  InstanceSim& in = instances_[r.instance];
  ++in.ok;
  ++region_ok_[in.region];
  log_.fold(static_cast<std::uint64_t>(now_.time_since_epoch().count()),
            (static_cast<std::uint64_t>(r.instance) << 16) | status);
  free_slot(slot);
}

void Engine::fail(std::uint32_t slot, ErrorKind kind) {
  Req& r = reqs_[slot];
  if (!r.live) return;
  count_error(kind, r.instance);
  free_slot(slot);
}

void Engine::count_error(ErrorKind kind, std::uint32_t instance) {
  ++errors_;
  ++sec_errors_;
  ++errors_by_kind_[static_cast<int>(kind)];
  if (instance != kNone) {
    ++instances_[instance].errors;
    ++region_errors_[instances_[instance].region];
  }
  log_.fold(static_cast<std::uint64_t>(now_.time_since_epoch().count()),
            (static_cast<std::uint64_t>(instance) << 16) | (0x8000u + static_cast<unsigned>(kind)));
}

void Engine::free_slot(std::uint32_t slot) {
  Req& r = reqs_[slot];
  if (r.sent && r.conn != kNone) {
    Conn& c = *conns_[r.conn];
    if (c.state) c.state->end_request();
  }
  r.live = false;
  r.sent = false;
  ++r.gen;
  --pending_;
  free_reqs_.push_back(slot);
}

void Engine::violate(std::string invariant, std::string detail) {
  if (violation_) return;
  violation_ = Violation{std::move(invariant), std::move(detail), now_};
  log_.line(now_, "VIOLATION %s: %s", violation_->invariant.c_str(), violation_->detail.c_str());
  inv_.violation = violation_->invariant + ": " + violation_->detail;
}

}  // namespace detail

SimResult run_simulation(const Topology& topology, const SimOptions& options) {
  detail::Engine engine(topology, options);
  return engine.run();
}

}  // namespace stella::sim
