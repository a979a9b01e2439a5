// The per-second timeline and the final report of a run.
#include <algorithm>
#include <cstdio>

#include "engine.hpp"

namespace stella::sim::detail {

namespace {
double ms(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}
double secs(core::TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

template <class H>
LatencySummary summarize(const H& h) {
  LatencySummary s;
  s.count = h.count();
  s.p50_ms = ms(h.quantile(0.50));
  s.p90_ms = ms(h.quantile(0.90));
  s.p99_ms = ms(h.quantile(0.99));
  s.p999_ms = ms(h.quantile(0.999));
  s.max_ms = ms(h.max());
  return s;
}
}  // namespace

bool Engine::all_routes_routable() const {
  if (gateway_down_) return false;
  const auto snap = router_->registry().routes().snapshot();
  gw::LookupResult lr;
  for (const RouteW& r : routes_) {
    snap->lookup(r.method, r.paths[0], lr);
    if (lr.status != gw::LookupStatus::found) return false;
    bool any = false;
    for (const auto& c : lr.route->candidates)
      any = any || gw::is_routable(c.state->health());
    if (!any) return false;
  }
  return true;
}

void Engine::on_second_tick() {
  TimelineBucket b;
  b.t = secs(now_) - 1;
  b.requests = sec_requests_;
  b.errors = sec_errors_;
  b.e2e_p50_ms = ms(sec_e2e_.quantile(0.5));
  b.e2e_p99_ms = ms(sec_e2e_.quantile(0.99));
  b.overhead_p99_ms = ms(sec_overhead_.quantile(0.99));
  b.by_region = sec_region_picks_;
  for (std::uint32_t i : timeline_instances_)
    b.by_instance.push_back(instances_[i].sec_picks);
  b.all_routable = all_routes_routable();
  ++seconds_;
  if (b.all_routable) ++routable_seconds_;
  log_.line(now_, "tick requests=%llu errors=%llu routable=%d",
            static_cast<unsigned long long>(sec_requests_),
            static_cast<unsigned long long>(sec_errors_), b.all_routable ? 1 : 0);
  timeline_.push_back(std::move(b));
  sec_requests_ = sec_errors_ = 0;
  sec_e2e_.clear();
  sec_overhead_.clear();
  std::fill(sec_region_picks_.begin(), sec_region_picks_.end(), 0);
  for (InstanceSim& in : instances_)
    in.sec_picks = 0;
  if (o_.progress) o_.progress(std::min(1.0, secs(now_) / secs(end_)));
  if (now_ + std::chrono::seconds(1) <= end_) {
    schedule(now_ + std::chrono::seconds(1), EventKind::second_tick);
  }
}

Report Engine::build_report() const {
  Report r;
  r.topology = t_.name;
  r.description = t_.description;
  r.seed = o_.seed;
  r.policy = std::string(gw::policy_name(selector_->settings().policy));
  r.duration_s = secs(end_);
  r.fault_ignore_health = o_.fault_ignore_health;
  r.requests = arrivals_;
  r.ok = ok_;
  r.errors = errors_;
  for (int k = 0; k < static_cast<int>(ErrorKind::count_); ++k)
    if (errors_by_kind_[k] > 0)
      r.errors_by_kind[error_kind_name(static_cast<ErrorKind>(k))] = errors_by_kind_[k];
  r.error_rate = arrivals_ ? static_cast<double>(errors_) / static_cast<double>(arrivals_) : 0;
  r.availability =
      seconds_ ? static_cast<double>(routable_seconds_) / static_cast<double>(seconds_) : 0;
  r.spill_share = picks_ ? static_cast<double>(spills_) / static_cast<double>(picks_) : 0;
  r.overhead = summarize(overhead_);
  r.e2e = summarize(e2e_);

  for (std::size_t i = 0; i < region_names_.size(); ++i) {
    RegionReport rr;
    rr.name = region_names_[i];
    rr.tier = std::string(gw::tier_name(selector_->tier_of(rr.name)));
    rr.requests = region_picks_[i];
    rr.ok = region_ok_[i];
    rr.errors = region_errors_[i];
    rr.share = picks_ ? static_cast<double>(rr.requests) / static_cast<double>(picks_) : 0;
    if (rr.tier != gw::tier_name(gw::Tier::local)) r.outside_local_share += rr.share;
    r.regions.push_back(std::move(rr));
  }
  for (const InstanceSim& in : instances_) {
    InstanceReport ir;
    ir.name = in.name;
    ir.service = t_.services[in.service].name;
    ir.region = region_names_[in.region];
    ir.requests = in.requests;
    ir.ok = in.ok;
    ir.errors = in.errors;
    ir.spilled = in.spilled;
    ir.share = picks_ ? static_cast<double>(in.requests) / static_cast<double>(picks_) : 0;
    ir.health = in.health;
    r.instances.push_back(std::move(ir));
  }

  const auto ms_of = [](core::Duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  r.slo.push_back({"routing overhead p50", "ms", ms_of(t_.slo.overhead_p50), r.overhead.p50_ms,
                   r.overhead.p50_ms < ms_of(t_.slo.overhead_p50)});
  r.slo.push_back({"routing overhead p99", "ms", ms_of(t_.slo.overhead_p99), r.overhead.p99_ms,
                   r.overhead.p99_ms < ms_of(t_.slo.overhead_p99)});
  r.slo.push_back({"end-to-end p99", "ms", ms_of(t_.slo.e2e_p99), r.e2e.p99_ms,
                   r.e2e.p99_ms < ms_of(t_.slo.e2e_p99)});
  r.slo.push_back(
      {"error rate", "ratio", t_.slo.error_rate, r.error_rate, r.error_rate < t_.slo.error_rate});
  r.slo_pass = std::all_of(r.slo.begin(), r.slo.end(), [](const SloRow& s) { return s.pass; });

  for (std::uint32_t i : timeline_instances_)
    r.timeline_instances.push_back(instances_[i].name);
  r.timeline = timeline_;
  r.failures = failure_marks_;
  r.invariants = inv_;
  r.invariants.detection_bound_s = std::chrono::duration<double>(bounds_.detection).count();
  r.invariants.drain_bound_s = std::chrono::duration<double>(bounds_.drain).count();
  r.invariants.recovery_bound_s = std::chrono::duration<double>(bounds_.recovery).count();

  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(log_.hash()));
  r.event_hash = hash;
  r.event_lines = log_.lines();
  r.events_processed = events_processed_;
  r.connections_opened = conns_.size();
  r.health_events_dropped = health_dropped_;
  return r;
}

}  // namespace stella::sim::detail
