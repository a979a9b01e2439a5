// Connections: the two real protocol ends (GatewaySession, ServiceSession) joined by two
// virtual-time links, and the fake services that answer requests.
#include <algorithm>
#include <stdexcept>

#include "engine.hpp"

namespace stella::sim::detail {

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

void Engine::schedule_reconnect(InstanceSim& in, std::uint32_t idx) {
  if (in.connect_scheduled) return;
  // Exponential backoff with full jitter in [b, 2b): services that lost the gateway together
  // do not all come back in the same instant.
  const core::Duration b = in.backoff;
  const core::Duration wait = b + core::Duration(static_cast<core::Duration::rep>(
                                      in.net_rng.below(static_cast<std::uint64_t>(b.count()))));
  in.backoff = std::min(2 * b, core::Duration(t_.reconnect.max_backoff));
  in.connect_scheduled = true;
  schedule(now_ + wait, EventKind::connect, idx, 0, in.incarnation);
}

void Engine::on_connect(std::uint32_t idx, std::uint32_t incarnation) {
  InstanceSim& in = instances_[idx];
  if (in.incarnation != incarnation) return;
  in.connect_scheduled = false;
  if (!in.alive || in.draining) return;
  if (in.conn != kNone && !conns_[in.conn]->ss_dead && conns_[in.conn]->ss) return;
  if (gateway_down_ || partitioned(in.region)) {
    log_.line(now_, "connect-failed %s %s", in.name.c_str(),
              gateway_down_ ? "gateway-down" : "partition");
    return schedule_reconnect(in, idx);
  }
  if (conns_.size() >= t_.limits.max_connections) {
    throw std::runtime_error("simulation stopped: more than limits.maxConnections (" +
                             std::to_string(t_.limits.max_connections) + ") connections");
  }
  const auto ci = static_cast<std::uint32_t>(conns_.size());
  conns_.push_back(std::make_unique<Conn>());
  Conn& c = *conns_.back();
  c.id = ci + 1ULL;
  c.instance = idx;
  c.incarnation = in.incarnation;
  in.conn = ci;

  core::ServiceSessionConfig sc;
  const Service& svc = t_.services[in.service];
  sc.hello.service = svc.name;
  sc.hello.service_version = svc.version;
  sc.hello.instance_id = in.name;
  sc.hello.region = region_names_[in.region];
  sc.hello.max_in_flight = in.cfg->concurrency + in.cfg->queue_limit;
  for (const Endpoint& e : svc.endpoints) {
    core::EndpointDescriptor d;
    d.method = e.method;
    d.path = e.path;
    d.timeout_ms = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(e.timeout).count());
    sc.hello.endpoints.push_back(std::move(d));
  }
  c.ss = std::make_unique<core::ServiceSession>(std::move(sc), now_);
  c.gs = std::make_unique<core::GatewaySession>(gs_config_, now_);
  log_.line(now_, "connect %s conn=%llu", in.name.c_str(), static_cast<unsigned long long>(c.id));
  pump_service(ci);
  pump_gateway(ci);
}

void Engine::send(Conn& c, std::uint32_t ci, bool to_service, std::string_view bytes, bool fin) {
  const InstanceSim& in = instances_[c.instance];
  core::Duration lat = in.base_latency;
  if (t_.network.jitter > core::Duration::zero()) {
    lat += core::Duration(static_cast<core::Duration::rep>(
        net_rng_.below(static_cast<std::uint64_t>(t_.network.jitter.count()))));
  }
  Link& l = to_service ? c.to_service : c.to_gateway;
  const core::TimePoint due = l.send(bytes, fin, now_ + lat);
  schedule(due, EventKind::deliver, ci, to_service ? 0 : 1);
}

void Engine::unblock(Link& l, std::uint32_t ci, bool to_service) {
  l.unblock();
  if (!l.blocked() && !l.empty()) schedule(now_, EventKind::deliver, ci, to_service ? 0 : 1);
}

void Engine::on_deliver(std::uint32_t ci, bool to_service) {
  Conn& c = *conns_[ci];
  Link& l = to_service ? c.to_service : c.to_gateway;
  std::string_view bytes;
  bool fin = false;
  while (l.pop_due(now_, bytes, fin)) {
    if (to_service) {
      if (!c.ss || c.ss_dead) continue;  // the process is gone: bytes fall on the floor
      if (!bytes.empty()) c.ss->on_bytes(bytes, now_);
      if (fin) c.ss->on_closed(now_, "reset by the gateway");
      pump_service(ci);
    } else {
      if (!c.gs || c.gs_dead) continue;
      if (!bytes.empty()) c.gs->on_bytes(bytes, now_);
      if (fin) c.gs->on_closed(now_, "reset by the service");
      pump_gateway(ci);
    }
  }
}

void Engine::pump_gateway(std::uint32_t ci) {
  Conn& c = *conns_[ci];
  if (!c.gs) return;
  core::GatewayEvent ev;
  for (;;) {
    c.gs->take_output(out_);
    if (!out_.empty() && !c.ss_dead) send(c, ci, true, out_, false);
    if (!c.gs->poll_event(ev)) break;
    handle_gateway_event(c, ci, ev);
  }
  if (c.gs_dead) {
    c.gs.reset();
    c.gs_timer = kNever;
    return;
  }
  rearm_gateway(c, ci);
}

void Engine::pump_service(std::uint32_t ci) {
  Conn& c = *conns_[ci];
  if (!c.ss) return;
  core::ServiceEvent ev;
  for (;;) {
    c.ss->take_output(out_);
    if (!out_.empty() && !c.gs_dead) send(c, ci, false, out_, false);
    if (!c.ss->poll_event(ev)) break;
    handle_service_event(c, ci, ev);
  }
  if (c.ss_dead) {
    c.ss.reset();
    c.ss_timer = kNever;
    return;
  }
  rearm_service(c, ci);
}

// Each session's deadlines change only when that session is driven (bytes, a timer, a call),
// and every such call is followed by its own pump: a pump re-arms its session alone.
void Engine::rearm_gateway(Conn& c, std::uint32_t ci) {
  if (c.gs && !c.gs_dead) arm(c.gs->next_deadline(), c.gs_timer, EventKind::gateway_timer, ci);
}

void Engine::rearm_service(Conn& c, std::uint32_t ci) {
  if (c.ss && !c.ss_dead && !instances_[c.instance].paused)
    arm(c.ss->next_deadline(), c.ss_timer, EventKind::service_timer, ci);
}

// `timer` is the time of the agenda event that stands for a session's timer (kNever: none).
// A deadline that moves later keeps that event: when it fires it finds the deadline not yet
// due and arms again (the service session's liveness deadline moves with every read, and one
// event per read would fill the agenda with events that fire for nothing). One that moves
// earlier gets an earlier event; the later one is then superseded and ignored.
void Engine::arm(std::optional<core::TimePoint> deadline, core::TimePoint& timer, EventKind kind,
                 std::uint32_t ci) {
  if (!deadline) return;  // nothing due: a pending event finds that out when it fires
  const core::TimePoint at = std::max(*deadline, now_);
  if (timer <= at) return;
  timer = at;
  schedule(at, kind, ci);
}

void Engine::on_gateway_timer(std::uint32_t ci, core::TimePoint at) {
  Conn& c = *conns_[ci];
  if (!c.gs || c.gs_timer != at) return;  // superseded
  c.gs_timer = kNever;
  if (const auto due = c.gs->next_deadline(); !due || *due > now_) return rearm_gateway(c, ci);
  c.gs->on_timer(now_);
  pump_gateway(ci);
}

void Engine::on_service_timer(std::uint32_t ci, core::TimePoint at) {
  Conn& c = *conns_[ci];
  if (!c.ss || c.ss_timer != at) return;  // superseded
  c.ss_timer = kNever;
  if (instances_[c.instance].paused) return;  // re-armed on resume
  if (const auto due = c.ss->next_deadline(); !due || *due > now_) return rearm_service(c, ci);
  c.ss->on_timer(now_);
  pump_service(ci);
}

void Engine::record_health(InstanceSim& in, const char* state, const char* reason) {
  if (++health_events_ > t_.limits.max_health_events) {
    ++health_dropped_;
    return;
  }
  in.health.push_back(
      HealthChange{std::chrono::duration<double>(now_.time_since_epoch()).count(), state, reason});
}

void Engine::health_change(Conn& c, std::optional<gw::HealthTransition> t) {
  if (!t) return;
  InstanceSim& in = instances_[c.instance];
  const auto to = std::string(gw::health_status_name(t->to));
  const auto why = std::string(gw::health_reason_name(t->reason));
  log_.line(now_, "health %s conn=%llu %s->%s %s", in.name.c_str(),
            static_cast<unsigned long long>(c.id),
            std::string(gw::health_status_name(t->from)).c_str(), to.c_str(), why.c_str());
  if (in.conn == c.id - 1) {  // transitions of an old connection are not the instance's
    in.gw_state = t->to;
    record_health(in, to.c_str(), why.c_str());
  }
}

void Engine::handle_gateway_event(Conn& c, std::uint32_t ci, core::GatewayEvent& ev) {
  std::visit(
      Overloaded{
          [&](core::gw_event::HelloReceived& h) {
            const gw::HelloOutcome out = router_->on_hello(c.id, h.hello, now_);
            InstanceSim& in = instances_[c.instance];
            if (!out.registered) {
              log_.line(now_, "hello-refused %s: %s", in.name.c_str(), out.reason.c_str());
              c.gs->reject_hello(core::DrainCode::hello_rejected, out.reason);
              return;
            }
            c.registered = true;
            c.state = router_->registry().routes().instance_state(c.id);
            log_.line(now_, "registered %s conn=%llu accepted=%zu rejected=%zu", in.name.c_str(),
                      static_cast<unsigned long long>(c.id), out.ack.accepted.size(),
                      out.ack.rejected.size());
            if (in.conn == ci) {
              in.gw_state = core::HealthStatus::healthy;
              record_health(in, "healthy", "registered");
            }
            c.gs->accept_hello(out.ack, now_);
          },
          [&](core::gw_event::HeartbeatSent&) {
            health_change(c, router_->on_lifecycle(c.id, ev, now_));
          },
          [&](core::gw_event::HeartbeatAck&) {
            health_change(c, router_->on_lifecycle(c.id, ev, now_));
          },
          [&](core::gw_event::HeartbeatMissed&) {},
          [&](core::gw_event::PeerDraining&) {
            health_change(c, router_->on_lifecycle(c.id, ev, now_));
          },
          [&](core::gw_event::ResponseHead& r) {
            const std::uint32_t slot = router_->on_stream_event(c.id, ev);
            if (slot != gw::UpstreamRouter::kNoCall) complete(slot, r.response->status);
          },
          [&](core::gw_event::ResponseData&) {},   // simulated responses are whole
          [&](core::gw_event::RequestCredit&) {},  // simulated requests carry no streamed body
          [&](core::gw_event::StreamFailed&) {
            const std::uint32_t slot = router_->on_stream_event(c.id, ev);
            if (slot != gw::UpstreamRouter::kNoCall) fail(slot, ErrorKind::instance_lost);
          },
          [&](core::gw_event::Closed& cl) {
            log_.line(now_, "gateway-closed %s conn=%llu %s", instances_[c.instance].name.c_str(),
                      static_cast<unsigned long long>(c.id), cl.info.message.c_str());
            close_gateway_side(c, ci, true);
          },
      },
      ev);
}

void Engine::close_gateway_side(Conn& c, std::uint32_t ci, bool send_fin) {
  if (c.gs_dead) return;
  // Requests still mapped to this connection (the session failed them already, or a gateway
  // restart drops the session): fail them in slot order, so the order is deterministic.
  const std::vector<std::uint32_t> slots = router_->take_calls(c.id);
  if (c.registered) router_->on_closed(c.id, now_);
  c.registered = false;
  c.gs_dead = true;
  for (std::uint32_t s : slots)
    fail(s, ErrorKind::instance_lost);
  InstanceSim& in = instances_[c.instance];
  if (in.conn == ci) {
    in.gw_state = core::HealthStatus::unknown;
    record_health(in, "disconnected", "closed");
  }
  c.to_gateway.clear();
  if (send_fin && c.ss && !c.ss_dead) send(c, ci, true, {}, true);
}

void Engine::handle_service_event(Conn& c, std::uint32_t ci, core::ServiceEvent& ev) {
  InstanceSim& in = instances_[c.instance];
  std::visit(Overloaded{
                 [&](core::svc_event::Registered&) { in.backoff = t_.reconnect.initial_backoff; },
                 [&](core::svc_event::RequestStarted& r) {
                   if (in.running < in.cfg->concurrency) {
                     ++in.running;
                     schedule(now_ + service_time(in), EventKind::job_done, ci, r.stream);
                   } else if (in.queue.size() < in.cfg->queue_limit) {
                     in.queue.push_back(Job{ci, r.stream});
                   } else {
                     respond(c, ci, r.stream, 503);  // overloaded: the gateway counts an error
                   }
                 },
                 [&](core::svc_event::RequestData&) {},
                 [&](core::svc_event::Cancelled& x) {
                   auto it = std::find_if(in.queue.begin(), in.queue.end(), [&](const Job& j) {
                     return j.conn == ci && j.stream == x.stream;
                   });
                   if (it != in.queue.end()) in.queue.erase(it);
                 },
                 [&](core::svc_event::GatewayDraining&) {},
                 [&](core::svc_event::CreditGranted&) {},
                 [&](core::svc_event::Closed& cl) {
                   log_.line(now_, "service-closed %s conn=%llu %s", in.name.c_str(),
                             static_cast<unsigned long long>(c.id), cl.info.message.c_str());
                   c.ss_dead = true;
                   c.to_service.clear();
                   if (!c.gs_dead) send(c, ci, false, {}, true);
                   if (in.conn != ci) return;
                   if (in.draining) {
                     in.alive = false;  // drained: the process exits
                     log_.line(now_, "stopped %s (drained)", in.name.c_str());
                     return;
                   }
                   if (in.alive) schedule_reconnect(in, c.instance);
                 },
             },
             ev);
}

void Engine::respond(Conn& c, std::uint32_t ci, std::uint32_t stream, std::uint16_t status) {
  if (!c.ss || c.ss_dead) return;
  ok_response_.status = status;
  (void)c.ss->send_response(stream, ok_response_, true);  // unknown_stream: cancelled meanwhile
  pump_service(ci);
}

void Engine::on_job_done(std::uint32_t ci, std::uint32_t stream) {
  Conn& c = *conns_[ci];
  InstanceSim& in = instances_[c.instance];
  if (c.incarnation != in.incarnation) return;  // the process crashed meanwhile
  if (in.paused) {
    in.deferred.push_back(Job{ci, stream});
    return;
  }
  if (in.running > 0) --in.running;
  const bool error = in.cfg->error_rate > 0 && in.rng.uniform() < in.cfg->error_rate;
  respond(c, ci, stream, error ? 500 : 200);
  start_jobs(in);
}

core::Duration Engine::service_time(InstanceSim& in) {
  core::Duration st = in.cfg->service_time.sample(in.rng);
  if (in.slow_factor != 1) {
    st = core::Duration(
        static_cast<core::Duration::rep>(static_cast<double>(st.count()) * in.slow_factor));
  }
  return st + in.slow_add;
}

void Engine::start_jobs(InstanceSim& in) {
  while (in.running < in.cfg->concurrency && !in.queue.empty()) {
    const Job j = in.queue.front();
    in.queue.pop_front();
    ++in.running;
    schedule(now_ + service_time(in), EventKind::job_done, j.conn, j.stream);
  }
}

}  // namespace stella::sim::detail
