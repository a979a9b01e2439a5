// Service-time distributions of simulated instances (topology key `serviceTime`).
//
// Sampling draws only from the core::Random it is given, so a run is a pure function of its
// seed. Every sample is clamped to [0, 1 h]: a heavy lognormal tail must not overflow the
// virtual clock or hold a concurrency slot for a simulated week.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "stella/core/clock.hpp"

namespace stella::sim {

class Distribution {
 public:
  enum class Kind { fixed, normal, lognormal, percentiles };

  /// Always `value`.
  static Distribution fixed(core::Duration value);
  /// Normal(mean, stddev), truncated at 0 (negative draws become 0).
  static Distribution normal(core::Duration mean, core::Duration stddev);
  /// Lognormal with the given median and shape sigma (of the underlying normal).
  static Distribution lognormal(core::Duration median, double sigma);
  /// Inverse-CDF table: (quantile in [0,1], value) points sorted by quantile; linear
  /// interpolation between points, (0, 0) assumed when the first quantile is above 0.
  static Distribution percentiles(std::vector<std::pair<double, core::Duration>> points);

  /// fixed 1 ms.
  Distribution() = default;

  core::Duration sample(core::Random& rng) const;
  /// The median, for documentation and summaries.
  core::Duration median() const;
  Kind kind() const noexcept { return kind_; }
  /// "fixed 5ms", "lognormal median 5ms sigma 0.5", ... for the summary.
  std::string describe() const;

 private:
  Kind kind_ = Kind::fixed;
  double a_ns_ = 1e6;                             // fixed value / mean / median
  double b_ = 0;                                  // stddev (ns) / sigma
  std::vector<std::pair<double, double>> table_;  // (quantile, ns)
};

}  // namespace stella::sim
