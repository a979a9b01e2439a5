#include "stella/sim/distribution.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "stella/core/units.hpp"

namespace stella::sim {
namespace {

constexpr double kMaxNs = 3600e9;  // one hour: see the header

double ns_of(core::Duration d) {
  return static_cast<double>(d.count());
}

core::Duration clamp_ns(double ns) {
  if (!(ns > 0)) return core::Duration::zero();  // also NaN
  return core::Duration(static_cast<core::Duration::rep>(std::min(ns, kMaxNs)));
}

// Standard normal by Box-Muller; two uniforms per draw (the second variate is dropped so a
// draw's cost and rng use do not depend on history).
double standard_normal(core::Random& rng) {
  const double u1 = 1.0 - rng.uniform();  // (0, 1]: log stays finite
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

std::string fmt(double ns) {
  return core::format_duration(std::chrono::nanoseconds(static_cast<std::int64_t>(ns)));
}

}  // namespace

Distribution Distribution::fixed(core::Duration value) {
  Distribution d;
  d.kind_ = Kind::fixed;
  d.a_ns_ = ns_of(value);
  d.table_.clear();
  return d;
}

Distribution Distribution::normal(core::Duration mean, core::Duration stddev) {
  Distribution d = fixed(mean);
  d.kind_ = Kind::normal;
  d.b_ = ns_of(stddev);
  return d;
}

Distribution Distribution::lognormal(core::Duration median, double sigma) {
  Distribution d = fixed(median);
  d.kind_ = Kind::lognormal;
  d.b_ = sigma;
  return d;
}

Distribution Distribution::percentiles(std::vector<std::pair<double, core::Duration>> points) {
  Distribution d = fixed(core::Duration::zero());
  d.kind_ = Kind::percentiles;
  std::sort(points.begin(), points.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  if (points.empty() || points.front().first > 0) d.table_.emplace_back(0.0, 0.0);
  for (const auto& [q, v] : points)
    d.table_.emplace_back(q, ns_of(v));
  return d;
}

core::Duration Distribution::sample(core::Random& rng) const {
  switch (kind_) {
    case Kind::fixed:
      return clamp_ns(a_ns_);
    case Kind::normal:
      return clamp_ns(a_ns_ + b_ * standard_normal(rng));
    case Kind::lognormal:
      return clamp_ns(a_ns_ * std::exp(b_ * standard_normal(rng)));
    case Kind::percentiles: {
      const double u = rng.uniform();
      for (std::size_t i = 1; i < table_.size(); ++i) {
        if (u <= table_[i].first) {
          const auto& [q0, v0] = table_[i - 1];
          const auto& [q1, v1] = table_[i];
          const double f = q1 > q0 ? (u - q0) / (q1 - q0) : 1.0;
          return clamp_ns(v0 + f * (v1 - v0));
        }
      }
      return clamp_ns(table_.back().second);
    }
  }
  return core::Duration::zero();
}

core::Duration Distribution::median() const {
  if (kind_ != Kind::percentiles) return clamp_ns(a_ns_);
  for (std::size_t i = 1; i < table_.size(); ++i) {
    if (0.5 <= table_[i].first) {
      const auto& [q0, v0] = table_[i - 1];
      const auto& [q1, v1] = table_[i];
      return clamp_ns(v0 + (q1 > q0 ? (0.5 - q0) / (q1 - q0) : 1.0) * (v1 - v0));
    }
  }
  return clamp_ns(table_.back().second);
}

std::string Distribution::describe() const {
  switch (kind_) {
    case Kind::fixed:
      return "fixed " + fmt(a_ns_);
    case Kind::normal:
      return "normal mean " + fmt(a_ns_) + " stddev " + fmt(b_);
    case Kind::lognormal: {
      char sigma[32];
      std::snprintf(sigma, sizeof sigma, "%g", b_);
      return "lognormal median " + fmt(a_ns_) + " sigma " + sigma;
    }
    case Kind::percentiles:
      return "percentiles, median " + fmt(ns_of(median()));
  }
  return {};
}

}  // namespace stella::sim
