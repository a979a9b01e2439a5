// When the environment level (Redis) is consulted: only while this process has seen more than
// `threshold` requests over the last 5 minutes (the seed's
// rate_limiting.process_back_pressure_when_more_than_per_5min: 5000). Below it the instance
// level alone decides and a quiet gateway never pays a Redis round trip.
//
// Counting: 300 buckets of 1 s; the window is the last 300 buckets, the current one included
// (the sliding window of rule.hpp with these fixed buckets). A `now` earlier than the newest
// bucket seen counts in the newest one. Counters saturate instead of wrapping.
//
// Thread-safety: every method may be called from any thread. record() is called once per
// request from every worker; it takes one small mutex for a few instructions (O(1), or
// O(seconds skipped) ≤ 300 after a quiet spell), which at the seed's 50,000 requests/s keeps
// the lock free almost all of the time.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "stella/core/clock.hpp"

namespace stella::gw::ratelimit {

class ActivationGate {
 public:
  static constexpr core::Duration kWindow = std::chrono::minutes(5);
  static constexpr core::Duration kBucket = std::chrono::seconds(1);
  static constexpr std::size_t kBuckets = 300;  // kWindow / kBucket

  /// `threshold` 0: always active.
  explicit ActivationGate(std::uint64_t threshold) noexcept : threshold_(threshold) {}

  /// Counts one request at `now`; returns whether the environment level applies to it: the
  /// threshold is 0, or the requests of the last 5 minutes, this one included, exceed it.
  bool record(core::TimePoint now) noexcept;
  /// The same question without counting a request.
  bool active(core::TimePoint now) const noexcept;
  /// Requests counted over the 5 minutes up to `now`.
  std::uint64_t count(core::TimePoint now) const noexcept;
  std::uint64_t threshold() const noexcept { return threshold_; }

 private:
  // Moves the window to the bucket of `now`: the buckets it passes are emptied.
  void advance(core::TimePoint now) const noexcept;

  const std::uint64_t threshold_;
  mutable std::mutex mu_;
  // Advancing the window does not change what the gate answers, so const methods may do it.
  mutable std::array<std::uint32_t, kBuckets> counts_{};
  mutable std::uint64_t total_ = 0;
  mutable std::int64_t newest_ = 0;      // bucket index of the newest bucket
  mutable std::size_t newest_slot_ = 0;  // its slot
  mutable bool started_ = false;         // newest_ is set
};

}  // namespace stella::gw::ratelimit
