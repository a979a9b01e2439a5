// The HTML report: one self-contained page, inline CSS and SVG, no script and no network
// access, so it opens from a file, a CI artifact or an e-mail alike.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "stella/core/text.hpp"
#include "stella/sim/report.hpp"

namespace stella::sim {
namespace {

const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                                "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#2ca02c"};

std::string esc(const std::string& s) {
  return core::html_escape(s);
}

std::string num(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

struct Series {
  std::string name;
  std::vector<double> y;
};

// A round tick step for a range: 1, 2, 2.5 or 5 times a power of ten, giving at most about
// `ticks` ticks.
double nice_step(double range, int ticks) {
  const double raw = range / ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 2.5, 5.0})
    if (raw <= m * magnitude * (1 + 1e-9)) return m * magnitude;
  return 10 * magnitude;
}

// Decimals that show every multiple of `step` exactly (0 for whole steps).
int decimals_for(double step) {
  for (int d = 0; d < 6; ++d) {
    const double scaled = step * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * scaled) return d;
  }
  return 6;
}

// A line chart over the timeline, with failure marks as dashed verticals. Both axes have round
// ticks (0, 10, 20 s; 0, 25, 50, 75, 100 %): the y range is rounded up to a whole number of
// steps.
class Chart {
 public:
  static constexpr double kW = 900, kH = 260, kL = 60, kR = 170, kT = 20, kB = 30;

  Chart(double duration, double ymax, std::string unit)
      : duration_(std::max(duration, 1.0)),
        ystep_(nice_step(ymax > 0 ? ymax : 1, 4)),
        ymax_(std::ceil((ymax > 0 ? ymax : 1) / ystep_ - 1e-9) * ystep_),
        tstep_(std::max(1.0, nice_step(duration_, 10))),
        unit_(std::move(unit)) {}

  double x(double t) const { return kL + (kW - kL - kR) * t / duration_; }
  double y(double v) const { return kT + (kH - kT - kB) * (1 - std::min(v, ymax_) / ymax_); }

  std::string render(const std::vector<double>& ts, const std::vector<Series>& series,
                     const std::vector<FailureMark>& marks) const {
    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH
      << "\" viewBox=\"0 0 " << kW << " " << kH << "\">";
    const int ydec = decimals_for(ystep_);
    for (int i = 0; i * ystep_ <= ymax_ + ystep_ / 2; ++i) {  // grid + y labels
      const double v = i * ystep_;
      o << "<line x1=\"" << kL << "\" x2=\"" << kW - kR << "\" y1=\"" << y(v) << "\" y2=\"" << y(v)
        << "\" stroke=\"#ddd\"/><text x=\"" << kL - 4 << "\" y=\"" << y(v) + 4
        << "\" text-anchor=\"end\" font-size=\"10\">" << num(v, ydec) << "</text>";
    }
    o << "<text x=\"4\" y=\"12\" font-size=\"10\">" << esc(unit_) << "</text>";
    const int tdec = decimals_for(tstep_);
    for (int i = 0; i * tstep_ <= duration_ + 1e-9; ++i) {
      const double t = i * tstep_;
      o << "<text x=\"" << x(t) << "\" y=\"" << kH - 10
        << "\" text-anchor=\"middle\" font-size=\"10\">" << num(t, tdec) << " s</text>";
    }
    for (const FailureMark& m : marks) {
      o << "<line x1=\"" << x(m.t) << "\" x2=\"" << x(m.t) << "\" y1=\"" << kT << "\" y2=\""
        << kH - kB << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"><title>" << esc(m.kind) << " "
        << esc(m.target) << " at " << num(m.t, 1) << " s</title></line>"
        << "<text x=\"" << x(m.t) + 2 << "\" y=\"" << kT + 8 << "\" font-size=\"9\" fill=\"#c00\">"
        << esc(m.kind) << "</text>";
    }
    for (std::size_t s = 0; s < series.size(); ++s) {
      const char* color = kPalette[s % std::size(kPalette)];
      o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
      for (std::size_t i = 0; i < ts.size() && i < series[s].y.size(); ++i)
        o << num(x(ts[i] + 0.5), 1) << "," << num(y(series[s].y[i]), 1) << " ";
      o << "\"><title>" << esc(series[s].name) << "</title></polyline>";
      o << "<rect x=\"" << kW - kR + 10 << "\" y=\"" << kT + 14 * s
        << "\" width=\"10\" height=\"10\" fill=\"" << color << "\"/><text x=\"" << kW - kR + 24
        << "\" y=\"" << kT + 9 + 14 * s << "\" font-size=\"10\">" << esc(series[s].name)
        << "</text>";
    }
    o << "</svg>";
    return o.str();
  }

 private:
  double duration_, ystep_, ymax_, tstep_;
  std::string unit_;
};

std::string health_timeline(const Report& r) {
  const double dur = std::max(r.duration_s, 1.0);
  const std::size_t rows = std::min<std::size_t>(r.instances.size(), 60);
  const double row_h = 14, left = 200, width = 700;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << left + width + 10 << "\" height=\""
    << rows * row_h + 40 << "\">";
  const auto color = [](const std::string& s) {
    if (s == "healthy") return "#59a14f";
    if (s == "degraded") return "#edc948";
    if (s == "unhealthy") return "#e15759";
    if (s == "draining") return "#b07aa1";
    return "#bbb";
  };
  const auto x = [&](double t) { return left + width * std::clamp(t, 0.0, dur) / dur; };
  for (std::size_t i = 0; i < rows; ++i) {
    const InstanceReport& in = r.instances[i];
    const double y = 10 + i * row_h;
    o << "<text x=\"" << left - 6 << "\" y=\"" << y + 10
      << "\" text-anchor=\"end\" font-size=\"10\">" << esc(in.name) << "</text>";
    double from = 0;
    std::string state = "disconnected";
    auto seg = [&](double to) {
      if (to <= from) return;
      o << "<rect x=\"" << num(x(from), 1) << "\" y=\"" << y << "\" width=\""
        << num(std::max(0.5, x(to) - x(from)), 1) << "\" height=\"" << row_h - 3 << "\" fill=\""
        << color(state) << "\"><title>" << esc(in.name) << ": " << state << " " << num(from, 2)
        << "-" << num(to, 2) << " s</title></rect>";
    };
    for (const HealthChange& h : in.health) {
      seg(h.t);
      from = h.t;
      state = h.state;
    }
    seg(dur);
  }
  for (const FailureMark& m : r.failures)
    o << "<line x1=\"" << x(m.t) << "\" x2=\"" << x(m.t) << "\" y1=\"4\" y2=\"" << rows * row_h + 12
      << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>";
  const double ly = rows * row_h + 28;
  double lx = left;
  for (const char* s : {"healthy", "degraded", "unhealthy", "draining", "disconnected"}) {
    o << "<rect x=\"" << lx << "\" y=\"" << ly - 9 << "\" width=\"10\" height=\"10\" fill=\""
      << color(s) << "\"/><text x=\"" << lx + 14 << "\" y=\"" << ly << "\" font-size=\"10\">" << s
      << "</text>";
    lx += 100;
  }
  o << "</svg>";
  if (r.instances.size() > rows)
    o << "<p>(first " << rows << " of " << r.instances.size() << " instances)</p>";
  return o.str();
}

}  // namespace

std::string to_html(const Report& r) {
  std::ostringstream o;
  o << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>stella-gw sim: "
    << esc(r.topology) << " seed " << r.seed << "</title><style>"
    << "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;"
       "margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
       "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.pass{color:#2a7a2a;"
       "font-weight:bold}.fail{color:#c00;font-weight:bold}h2{margin-top:32px}"
    << "</style></head><body>";
  o << "<h1>" << esc(r.topology) << "</h1><p>" << esc(r.description) << "</p>";
  o << "<p>seed <b>" << r.seed << "</b> · policy <b>" << esc(r.policy) << "</b> · "
    << num(r.duration_s, 0) << " s virtual · event hash <code>" << esc(r.event_hash)
    << "</code> · replay: <code>stella-gw sim --topology &lt;file&gt; --seed " << r.seed
    << "</code></p>";
  if (r.invariants.violation) {
    o << "<p class=\"fail\">INVARIANT VIOLATED: " << esc(*r.invariants.violation) << "</p>";
  } else {
    o << "<p class=\"pass\">All invariants held (" << r.invariants.picks_checked
      << " picks checked).</p>";
  }
  o << "<h2>Summary</h2><table><tr><th>requests</th><th>ok</th><th>errors</th><th>error "
       "rate</th><th>route availability</th><th>outside the local region</th><th>of which "
       "spill</th></tr><tr><td>"
    << r.requests << "</td><td>" << r.ok << "</td><td>" << r.errors << "</td><td>"
    << num(100 * r.error_rate, 4) << " %</td><td>" << num(100 * r.availability, 2) << " %</td><td>"
    << num(100 * r.outside_local_share, 2) << " %</td><td>" << num(100 * r.spill_share, 2)
    << " %</td></tr></table>"
    << "<p class=\"note\"><b>Route availability</b>: the share of seconds at whose end every "
       "workload route had a routable instance — whether the gateway could route, not whether "
       "requests succeeded (the error rate says that: a slow instance that stays routable fails "
       "requests at 100 % route availability). <b>Outside the local region</b>: picks of an "
       "instance outside the local tier. <b>Spill</b>: those the overprovisioning rule made while "
       "local instances were still routable; the rest is failover, when no local instance was "
       "routable.</p>";
  if (!r.errors_by_kind.empty()) {
    o << "<table><tr><th>error kind</th><th>count</th></tr>";
    for (const auto& [k, v] : r.errors_by_kind)
      o << "<tr><td>" << esc(k) << "</td><td>" << v << "</td></tr>";
    o << "</table>";
  }
  o << "<h2>SLO</h2><table><tr><th>objective</th><th>target</th><th>actual</th><th>result</th></"
       "tr>";
  for (const SloRow& s : r.slo) {
    const bool ms = s.unit == "ms";
    o << "<tr><td>" << esc(s.name) << "</td><td>&lt; " << num(ms ? s.target : 100 * s.target)
      << (ms ? " ms" : " %") << "</td><td>" << num(ms ? s.actual : 100 * s.actual)
      << (ms ? " ms" : " %") << "</td><td class=\"" << (s.pass ? "pass\">PASS" : "fail\">FAIL")
      << "</td></tr>";
  }
  o << "</table><h2>Latency (ms)</h2><table><tr><th></th><th>p50</th><th>p90</th><th>p99</th>"
       "<th>p99.9</th><th>max</th></tr>";
  for (const auto& [name, l] :
       {std::pair{"gateway overhead", &r.overhead}, std::pair{"end to end", &r.e2e}}) {
    o << "<tr><td>" << name << "</td><td>" << num(l->p50_ms) << "</td><td>" << num(l->p90_ms)
      << "</td><td>" << num(l->p99_ms) << "</td><td>" << num(l->p999_ms) << "</td><td>"
      << num(l->max_ms) << "</td></tr>";
  }
  o << "</table>";

  std::vector<double> ts;
  for (const auto& b : r.timeline)
    ts.push_back(b.t);
  // Selection share by region over time.
  std::vector<Series> regions;
  for (std::size_t i = 0; i < r.regions.size(); ++i) {
    Series s{r.regions[i].name + " (" + r.regions[i].tier + ")", {}};
    for (const auto& b : r.timeline) {
      std::uint64_t sum = 0;
      for (auto v : b.by_region)
        sum += v;
      s.y.push_back(sum ? 100.0 * static_cast<double>(b.by_region[i]) / static_cast<double>(sum)
                        : 0.0);
    }
    regions.push_back(std::move(s));
  }
  o << "<h2>Selection share by region (% of picks per second)</h2>"
    << Chart(r.duration_s, 100, "%").render(ts, regions, r.failures);
  // By instance: the 12 busiest of the tracked ones.
  std::vector<std::size_t> order(r.timeline_instances.size());
  std::vector<std::uint64_t> totals(order.size(), 0);
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
    for (const auto& b : r.timeline)
      totals[i] += b.by_instance[i];
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return totals[a] > totals[b]; });
  order.resize(std::min<std::size_t>(order.size(), 12));
  std::vector<Series> insts;
  for (std::size_t i : order) {
    Series s{r.timeline_instances[i], {}};
    for (const auto& b : r.timeline) {
      std::uint64_t sum = 0;
      for (auto v : b.by_region)
        sum += v;
      s.y.push_back(sum ? 100.0 * static_cast<double>(b.by_instance[i]) / static_cast<double>(sum)
                        : 0.0);
    }
    insts.push_back(std::move(s));
  }
  double imax = 1;
  for (const auto& s : insts)
    for (double v : s.y)
      imax = std::max(imax, v);
  o << "<h2>Selection share by instance (% of picks per second, busiest 12)</h2>"
    << Chart(r.duration_s, std::min(100.0, imax * 1.1), "%").render(ts, insts, r.failures);
  // Latency percentiles over time.
  Series p50{"end-to-end p50", {}}, p99{"end-to-end p99", {}}, ov{"overhead p99", {}};
  double lmax = 0;
  for (const auto& b : r.timeline) {
    p50.y.push_back(b.e2e_p50_ms);
    p99.y.push_back(b.e2e_p99_ms);
    ov.y.push_back(b.overhead_p99_ms);
    lmax = std::max(lmax, b.e2e_p99_ms);
  }
  o << "<h2>Latency percentiles over time</h2>"
    << Chart(r.duration_s, lmax * 1.1, "ms").render(ts, {p50, p99, ov}, r.failures);
  Series rq{"requests/s", {}}, er{"errors/s", {}};
  double rmax = 0;
  for (const auto& b : r.timeline) {
    rq.y.push_back(static_cast<double>(b.requests));
    er.y.push_back(static_cast<double>(b.errors));
    rmax = std::max(rmax, static_cast<double>(b.requests));
  }
  o << "<h2>Requests and errors per second</h2>"
    << Chart(r.duration_s, rmax * 1.1, "per second").render(ts, {rq, er}, r.failures);
  o << "<h2>Health state per instance (as the gateway sees it)</h2>" << health_timeline(r);

  o << "<h2>Regions</h2><table><tr><th>region</th><th>tier</th><th>requests</th><th>share</th>"
       "<th>errors</th></tr>";
  for (const RegionReport& g : r.regions)
    o << "<tr><td>" << esc(g.name) << "</td><td>" << esc(g.tier) << "</td><td>" << g.requests
      << "</td><td>" << num(100 * g.share, 2) << " %</td><td>" << g.errors << "</td></tr>";
  o << "</table><h2>Instances</h2><table><tr><th>instance</th><th>service</th><th>region</th>"
       "<th>requests</th><th>share</th><th>spilled</th><th>errors</th></tr>";
  for (const InstanceReport& in : r.instances)
    o << "<tr><td>" << esc(in.name) << "</td><td>" << esc(in.service) << "</td><td>"
      << esc(in.region) << "</td><td>" << in.requests << "</td><td>" << num(100 * in.share, 2)
      << " %</td><td>" << in.spilled << "</td><td>" << in.errors << "</td></tr>";
  o << "</table><h2>Failure schedule</h2><table><tr><th>t "
       "(s)</th><th>kind</th><th>target</th></tr>";
  for (const FailureMark& m : r.failures)
    o << "<tr><td>" << num(m.t, 3) << "</td><td>" << esc(m.kind) << "</td><td>" << esc(m.target)
      << "</td></tr>";
  o << "</table><h2>Invariants</h2><table><tr><th>check</th><th>value</th></tr>"
    << "<tr><td>picks checked</td><td>" << r.invariants.picks_checked << "</td></tr>"
    << "<tr><td>region checks</td><td>" << r.invariants.region_checks << "</td></tr>"
    << "<tr><td>detection bound</td><td>" << num(r.invariants.detection_bound_s) << " s</td></tr>"
    << "<tr><td>drain bound</td><td>" << num(r.invariants.drain_bound_s) << " s</td></tr>"
    << "<tr><td>recovery bound</td><td>" << num(r.invariants.recovery_bound_s) << " s</td></tr>"
    << "<tr><td>liveness check reached</td><td>" << (r.invariants.liveness_reached ? "yes" : "no")
    << "</td></tr></table>";
  o << "<p style=\"color:#888\">Generated by stella-gw sim. Deterministic: the same seed gives "
       "this page byte for byte.</p></body></html>\n";
  return o.str();
}

}  // namespace stella::sim
