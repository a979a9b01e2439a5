#include "stella/gateway/ratelimit/activation_gate.hpp"

#include <algorithm>
#include <limits>

namespace stella::gw::ratelimit {

static_assert(ActivationGate::kWindow / ActivationGate::kBucket == ActivationGate::kBuckets);

void ActivationGate::advance(core::TimePoint now) const noexcept {
  const core::Duration t = now.time_since_epoch();
  std::int64_t bucket = t / kBucket;
  if (t % kBucket < core::Duration::zero()) --bucket;
  if (!started_) {
    started_ = true;
    newest_ = bucket;
    return;
  }
  const std::int64_t steps = bucket - newest_;
  if (steps <= 0) return;
  if (steps >= static_cast<std::int64_t>(kBuckets)) {
    counts_.fill(0);
    total_ = 0;
  } else {
    for (std::int64_t k = 0; k < steps; ++k) {
      if (++newest_slot_ == kBuckets) newest_slot_ = 0;
      total_ -= counts_[newest_slot_];
      counts_[newest_slot_] = 0;
    }
  }
  newest_ = bucket;
}

bool ActivationGate::record(core::TimePoint now) noexcept {
  std::lock_guard lock(mu_);
  advance(now);
  std::uint32_t& c = counts_[newest_slot_];
  if (c != std::numeric_limits<std::uint32_t>::max()) {
    ++c;
    ++total_;
  }
  return threshold_ == 0 || total_ > threshold_;
}

bool ActivationGate::active(core::TimePoint now) const noexcept {
  return threshold_ == 0 || count(now) > threshold_;
}

std::uint64_t ActivationGate::count(core::TimePoint now) const noexcept {
  std::lock_guard lock(mu_);
  advance(now);
  return total_;
}

}  // namespace stella::gw::ratelimit
