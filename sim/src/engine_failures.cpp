// The failure schedule: expansion into primitive actions, applying them, and the liveness check
// once the last one has healed.
#include <algorithm>

#include "engine.hpp"

namespace stella::sim::detail {

std::vector<std::uint32_t> Engine::targets(const Failure& f, std::size_t index) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < instances_.size(); ++i) {
    const InstanceSim& in = instances_[i];
    if (!f.instance.empty() && in.name != f.instance) continue;
    if (!f.region.empty() && region_names_[in.region] != f.region) continue;
    if (!f.service.empty() && t_.services[in.service].name != f.service) continue;
    out.push_back(i);
  }
  if (out.empty()) {
    throw TopologyError(t_.source_file + ": failures[" + std::to_string(index) +
                        "]: no instance matches (instance '" + f.instance + "', region '" +
                        f.region + "', service '" + f.service + "')");
  }
  return out;
}

void Engine::expand_failures() {
  using Op = Action::Op;
  const auto at = [](core::Duration d) { return core::TimePoint{} + d; };
  for (std::size_t i = 0; i < t_.failures.size(); ++i) {
    const Failure& f = t_.failures[i];
    std::string target = f.instance.empty() ? f.region : f.instance;
    if (!f.service.empty()) target += (target.empty() ? "" : "/") + f.service;
    const std::string label = std::string(failure_kind_name(f.kind)) + " " + target;
    auto push = [&](Op op, core::TimePoint when, Action a) {
      a.op = op;
      a.at = when;
      if (a.label.empty()) a.label = label;
      actions_.push_back(std::move(a));
    };
    Action base;
    switch (f.kind) {
      case FailureKind::crash:
        base.instances = targets(f, i);
        base.silent = f.silent;
        push(Op::crash, at(f.at), base);
        break;
      case FailureKind::restart:
        base.instances = targets(f, i);
        push(Op::restart, at(f.at), base);
        break;
      case FailureKind::drain:
        base.instances = targets(f, i);
        push(Op::drain, at(f.at), base);
        break;
      case FailureKind::pause:
        base.instances = targets(f, i);
        push(Op::pause, at(f.at), base);
        base.label = "resume " + target;
        push(Op::resume, at(f.at + f.duration), base);
        break;
      case FailureKind::slowdown:
        base.instances = targets(f, i);
        base.factor = f.factor;
        base.add = f.add;
        push(Op::slow, at(f.at), base);
        base.label = "end-slowdown " + target;
        push(Op::unslow, at(f.at + f.duration), base);
        break;
      case FailureKind::flap: {
        base.instances = targets(f, i);
        for (core::Duration t = f.at; t < f.until; t += f.down + f.up) {
          base.label = "flap-down " + target;
          push(Op::pause, at(t), base);
          base.label = "flap-up " + target;
          push(Op::resume, at(std::min(t + f.down, f.until)), base);
        }
        break;
      }
      case FailureKind::partition: {
        const std::string& gwr = t_.gateway.region;
        const std::string other = f.regions[0] == gwr ? f.regions[1] : f.regions[0];
        base.label = "partition " + f.regions[0] + "|" + f.regions[1];
        if (f.regions[0] != gwr && f.regions[1] != gwr) {
          base.region = kNone;  // between two other regions: the gateway's links are untouched
        } else {
          base.region = static_cast<std::uint32_t>(
              std::find(region_names_.begin(), region_names_.end(), other) - region_names_.begin());
        }
        push(Op::partition, at(f.at), base);
        base.label = "heal " + f.regions[0] + "|" + f.regions[1];
        push(Op::heal, at(f.at + f.duration), base);
        break;
      }
      case FailureKind::gateway_restart:
        base.duration = f.duration;
        base.label = "gateway-restart";
        push(Op::gw_restart, at(f.at), base);
        if (f.duration > core::Duration::zero()) {
          base.label = "gateway-up";
          push(Op::gw_up, at(f.at + f.duration), base);
        }
        break;
    }
  }
  std::stable_sort(actions_.begin(), actions_.end(),
                   [](const Action& a, const Action& b) { return a.at < b.at; });
  // A slowdown never makes anything unroutable: it does not delay the liveness check.
  for (const Action& a : actions_) {
    if (a.op == Action::Op::slow || a.op == Action::Op::unslow) continue;
    heal_time_ = heal_time_ ? std::max(*heal_time_, a.at) : a.at;
  }
}

void Engine::crash(std::uint32_t idx, bool silent) {
  InstanceSim& in = instances_[idx];
  if (!in.alive) return;  // already dead (or drained and exited)
  in.alive = false;
  in.paused = false;
  in.draining = false;
  ++in.incarnation;  // pending completions and connects of the dead process are ignored
  in.running = 0;
  in.queue.clear();
  in.deferred.clear();
  in.connect_scheduled = false;
  if (in.conn != kNone) {
    Conn& c = *conns_[in.conn];
    const std::uint32_t ci = in.conn;
    if (c.dead_since == kNever) c.dead_since = now_;
    if (c.ss && !c.ss_dead) {
      c.ss_dead = true;
      c.ss.reset();
      c.ss_timer = kNever;
      c.to_service.clear();
      // A killed process: its kernel resets the connection. A lost host: silence.
      if (!silent && !c.gs_dead) send(c, ci, false, {}, true);
    }
  }
  // in.conn keeps naming the dead connection: its detection (silent crash) still belongs to
  // this instance's health timeline, and a restart opens a new one.
}

void Engine::gateway_restart(core::Duration downtime) {
  // Every connection drops at once; the new gateway process starts with an empty registry.
  for (std::uint32_t ci = 0; ci < conns_.size(); ++ci) {
    Conn& c = *conns_[ci];
    if (!c.gs || c.gs_dead) continue;
    close_gateway_side(c, ci, true);
    c.gs.reset();
    c.gs_timer = kNever;
  }
  for (std::uint32_t s = 0; s < reqs_.size(); ++s)
    if (reqs_[s].live) fail(s, ErrorKind::instance_lost);
  gateway_queue_.clear();
  busy_workers_ = 0;
  router_ = std::make_unique<gw::UpstreamRouter>(registry_settings_);
  gateway_down_ = downtime > core::Duration::zero();
}

void Engine::on_action(std::uint32_t index) {
  const Action& a = actions_[index];
  using Op = Action::Op;
  log_.line(now_, "failure %s", a.label.c_str());
  if (a.op != Op::resume && a.op != Op::unslow && a.op != Op::heal && a.op != Op::gw_up) {
    failure_marks_.push_back(FailureMark{
        std::chrono::duration<double>(now_.time_since_epoch()).count(),
        a.label.substr(0, a.label.find(' ')),
        a.label.find(' ') == std::string::npos ? "" : a.label.substr(a.label.find(' ') + 1)});
  }
  switch (a.op) {
    case Op::crash:
      for (auto i : a.instances)
        crash(i, a.silent);
      return;
    case Op::restart:
      for (auto i : a.instances) {
        InstanceSim& in = instances_[i];
        if (in.alive) crash(i, false);  // restarting a running process kills it first
        in.alive = true;
        in.backoff = t_.reconnect.initial_backoff;
        in.slow_factor = 1;
        in.slow_add = core::Duration::zero();
        in.draining = false;
        in.paused = false;
        in.connect_scheduled = true;
        schedule(now_, EventKind::connect, i, 0, in.incarnation);
      }
      return;
    case Op::drain:
      for (auto i : a.instances) {
        InstanceSim& in = instances_[i];
        if (!in.alive || in.draining) continue;
        in.draining = true;
        in.drain_since = now_;
        if (in.conn == kNone || !conns_[in.conn]->ss) {
          in.alive = false;
          continue;
        }
        Conn& c = *conns_[in.conn];
        c.drain_since = now_;
        c.ss->drain(t_.gateway.default_timeout, now_);
        pump_service(in.conn);
      }
      return;
    case Op::pause:
      for (auto i : a.instances) {
        InstanceSim& in = instances_[i];
        if (!in.alive || in.paused) continue;
        in.paused = true;
        in.paused_since = now_;
        if (in.conn != kNone) conns_[in.conn]->to_service.block();
      }
      return;
    case Op::resume:
      for (auto i : a.instances) {
        InstanceSim& in = instances_[i];
        if (!in.paused) continue;
        in.paused = false;
        in.paused_since = kNever;
        if (in.conn == kNone) continue;
        const std::uint32_t ci = in.conn;
        // Held bytes first (they were "in the socket buffer"), then the completions that fell
        // into the pause, then the session's timers.
        unblock(conns_[ci]->to_service, ci, true);
        on_deliver(ci, true);
        std::vector<Job> deferred;
        deferred.swap(in.deferred);
        for (const Job& j : deferred)
          on_job_done(j.conn, j.stream);
        if (in.conn == ci && conns_[ci]->ss) rearm_service(*conns_[ci], ci);
      }
      return;
    case Op::slow:
      for (auto i : a.instances) {
        instances_[i].slow_factor = a.factor;
        instances_[i].slow_add = a.add;
      }
      return;
    case Op::unslow:
      for (auto i : a.instances) {
        instances_[i].slow_factor = 1;
        instances_[i].slow_add = core::Duration::zero();
      }
      return;
    case Op::partition:
    case Op::heal: {
      if (a.region == kNone) return;
      const bool cut = a.op == Op::partition;
      if (cut) {
        if (partition_count_[a.region]++ == 0) partition_since_[a.region] = now_;
      } else if (partition_count_[a.region] > 0 && --partition_count_[a.region] == 0) {
        partition_since_[a.region] = kNever;
      }
      for (std::uint32_t ci = 0; ci < conns_.size(); ++ci) {
        Conn& c = *conns_[ci];
        if (instances_[c.instance].region != a.region) continue;
        if (cut) {
          ++c.partition_blocks;
          c.to_service.block();
          c.to_gateway.block();
        } else if (c.partition_blocks > 0) {
          --c.partition_blocks;
          unblock(c.to_service, ci, true);
          unblock(c.to_gateway, ci, false);
        }
      }
      return;
    }
    case Op::gw_restart:
      return gateway_restart(a.duration);
    case Op::gw_up:
      gateway_down_ = false;
      return;
  }
}

void Engine::on_liveness_check() {
  inv_.liveness_reached = true;
  ++inv_.liveness_checks;
  log_.line(now_, "liveness-check");
  // Every live, reachable instance must be registered and routable again.
  for (const InstanceSim& in : instances_) {
    if (!in.alive || in.draining || in.paused || partitioned(in.region)) continue;
    bool ok = false;
    if (in.conn != kNone) {
      const Conn& c = *conns_[in.conn];
      const gw::HealthTracker* tr = c.registered ? router_->registry().health(c.id) : nullptr;
      ok = tr && gw::is_routable(tr->status());
    }
    if (!ok) {
      return violate("not-recovered",
                     in.name + " is live but not routable " +
                         std::to_string(std::chrono::duration<double>(bounds_.recovery).count()) +
                         " s after the last failure healed");
    }
  }
  // And so must every workload route whose service still has a live instance.
  const auto snap = router_->registry().routes().snapshot();
  for (const RouteW& r : routes_) {
    bool has_live = false;
    for (const InstanceSim& in : instances_)
      if (in.service == r.service && in.alive && !in.draining) has_live = true;
    if (!has_live) continue;
    snap->lookup(r.method, r.paths[0], lookup_);
    bool routable = false;
    if (lookup_.status == gw::LookupStatus::found)
      for (const auto& c : lookup_.route->candidates)
        routable = routable || gw::is_routable(c.state->health());
    if (!routable) return violate("not-recovered", "route " + r.label + " is not routable");
  }
}

}  // namespace stella::sim::detail
