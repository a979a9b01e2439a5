// Latency histogram with bounded relative error, for percentiles over millions of samples
// without storing them (HdrHistogram's idea, reduced): values in nanoseconds fall into
// 2^kSubBits buckets per power of two, so a reported percentile is within ~1/2^kSubBits of the
// true value. Fixed memory; deterministic (integer arithmetic only).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <vector>

namespace stella::sim {

template <unsigned kSubBits>
class BasicHistogram {
 public:
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

  BasicHistogram() : counts_(kBuckets, 0) {}

  void record(std::uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
  }
  void merge(const BasicHistogram& o) {
    for (unsigned i = 0; i < kBuckets; ++i)
      counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }
  void clear() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    max_ = 0;
  }
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  /// The value at quantile q in [0, 1] (the midpoint of its bucket, capped at the maximum);
  /// 0 when empty.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    std::uint64_t rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen > rank) {
        const std::uint64_t lo = lower(i), hi = lower(i + 1);
        const std::uint64_t mid = lo + (hi - lo) / 2;
        return mid < max_ ? mid : max_;
      }
    }
    return max_;
  }

 private:
  static unsigned index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<unsigned>(v);
    const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));
    const unsigned shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<unsigned>((v >> shift) - kSub);
  }
  static std::uint64_t lower(unsigned i) noexcept {
    if (i < kSub) return i;
    const unsigned shift = i / kSub - 1;
    return (static_cast<std::uint64_t>(kSub + i % kSub)) << shift;
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

/// Whole-run percentiles: ~0.8 % relative error.
using Histogram = BasicHistogram<7>;
/// Per-second timeline percentiles: ~6 % relative error, 12x smaller to clear every second.
using CoarseHistogram = BasicHistogram<4>;

}  // namespace stella::sim
