// The request path: arrivals, gateway processing, routing with the invariant checks, deadlines
// and outcomes.
#include <algorithm>
#include <cmath>

#include "engine.hpp"

namespace stella::sim::detail {

namespace {
double secs(core::Duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

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
  // The first route whose cumulative weight exceeds the draw (the last one should rounding
  // leave none), found in the compact copy of the cumulative weights.
  const double w = workload_rng_.uniform() * route_cum_.back();
  const auto ri = std::min<std::size_t>(
      static_cast<std::size_t>(std::upper_bound(route_cum_.begin(), route_cum_.end(), w) -
                               route_cum_.begin()),
      route_cum_.size() - 1);
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
  const auto snap = router_->registry().routes().snapshot();
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

  const std::uint64_t conn_id = pick->instance->connection_id;
  const auto ci = static_cast<std::uint32_t>(conn_id - 1);
  Conn& c = *conns_[ci];
  InstanceSim& in = instances_[c.instance];

  // Invariants on every pick (invariants.hpp).
  ++inv_.picks_checked;
  const gw::HealthTracker* tracker = router_->registry().health(conn_id);
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
  if (!c.gs || router_->start(c.id, *c.gs, req, true, now_, slot, stream) != core::Errc::ok) {
    return fail(slot, ErrorKind::send_failed);
  }
  r.sent = true;
  r.conn = ci;
  r.stream = stream;
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
    if (waiting(e)) timeout_request(e.slot);
  }
  // Requests that ended meanwhile go now, not at their deadlines: the next event is for the
  // oldest one still waiting (without this, one event per request).
  while (!lane.entries.empty() && !waiting(lane.entries.front()))
    lane.entries.pop_front();
  if (!lane.entries.empty()) schedule(lane.entries.front().at, EventKind::request_timeout, li);
}

void Engine::timeout_request(std::uint32_t slot) {
  Req& r = reqs_[slot];
  if (r.sent && r.conn != kNone) {
    Conn& c = *conns_[r.conn];
    router_->finish(c.id, r.stream);
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
  Req& r = reqs_[slot];  // its stream, if it had one, was forgotten by the router (in-flight -1)
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

}  // namespace stella::sim::detail
