#include "stella/gateway/ratelimit/sliding_window.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

namespace stella::gw::ratelimit {

namespace {

// floor(now / w): bucket indices keep counting down before the clock's epoch.
std::int64_t bucket_of(core::TimePoint now, core::Duration w) noexcept {
  const core::Duration t = now.time_since_epoch();
  std::int64_t q = t / w;
  if (t % w < core::Duration::zero()) --q;
  return q;
}

}  // namespace

SlidingWindow::SlidingWindow(std::vector<Rule> rules) : rules_(std::move(rules)) {
  if (auto error = validate_rules(rules_)) throw std::invalid_argument(*error);
  std::uint32_t offset = 0;
  for (std::size_t r = 0; r < rules_.size(); ++r) {
    Geometry& g = geo_[r];
    g.width = bucket_width(rules_[r].per);
    g.buckets = bucket_count(rules_[r].per);
    g.offset = offset;
    g.max = rules_[r].max_requests;
    offset += g.buckets;
    longest_ = std::max(longest_, window(r));
  }
  counters_ = offset;
}

SlidingWindow::State SlidingWindow::make_state(core::TimePoint now) const {
  State s;
  s.counts_ = std::make_unique<std::uint32_t[]>(counters_);  // zeroed
  for (std::size_t r = 0; r < rules_.size(); ++r)
    s.newest_[r] = bucket_of(now, geo_[r].width);
  return s;
}

void SlidingWindow::advance(State& s, std::size_t r, std::int64_t bucket) const noexcept {
  const std::int64_t steps = bucket - s.newest_[r];
  if (steps <= 0) return;  // same bucket, or a `now` from a moment ago: count in the newest
  const Geometry& g = geo_[r];
  std::uint32_t* ring = s.counts_.get() + g.offset;
  if (steps >= g.buckets) {
    std::fill(ring, ring + g.buckets, 0U);
    s.total_[r] = 0;
  } else {
    // The buckets between the old newest and the new one leave the window (their slots are
    // reused for the buckets that enter it).
    std::uint32_t slot = s.newest_slot_[r];
    for (std::int64_t k = 0; k < steps; ++k) {
      if (++slot == g.buckets) slot = 0;
      s.total_[r] -= ring[slot];
      ring[slot] = 0;
    }
    s.newest_slot_[r] = slot;
  }
  s.newest_[r] = bucket;
}

core::Duration SlidingWindow::wait_for(const State& s, std::size_t r, std::uint64_t need,
                                       core::TimePoint now) const noexcept {
  const Geometry& g = geo_[r];
  const std::uint32_t* ring = s.counts_.get() + g.offset;
  std::uint64_t freed = 0;
  std::uint32_t slot = s.newest_slot_[r];
  // k = 1 is the oldest bucket of the window (index newest - B + 1); bucket `newest - B + k`
  // leaves the window when bucket `newest + k` begins.
  for (std::uint32_t k = 1; k <= g.buckets; ++k) {
    if (++slot == g.buckets) slot = 0;
    freed += ring[slot];
    if (freed >= need) return g.width * (s.newest_[r] + k) - now.time_since_epoch();
  }
  return core::Duration::zero();  // fewer than `need` counted: nothing to wait for
}

Decision SlidingWindow::check(State& state, core::TimePoint now) const noexcept {
  const std::size_t n = rules_.size();
  bool allowed = true;
  for (std::size_t r = 0; r < n; ++r) {
    advance(state, r, bucket_of(now, geo_[r].width));
    if (state.total_[r] >= geo_[r].max) allowed = false;
  }
  Decision d;
  if (allowed) {
    d.allowed = true;
    std::uint64_t fewest = std::numeric_limits<std::uint64_t>::max();
    for (std::size_t r = 0; r < n; ++r) {
      ++state.counts_[geo_[r].offset + state.newest_slot_[r]];
      const std::uint64_t left = geo_[r].max - ++state.total_[r];
      if (left < fewest) {
        fewest = left;
        d.rule = static_cast<std::uint32_t>(r);
      }
    }
    d.limit = geo_[d.rule].max;
    d.remaining = fewest;
    d.reset = wait_for(state, d.rule, 1, now);
    return d;
  }
  core::Duration longest = core::Duration::min();
  for (std::size_t r = 0; r < n; ++r) {
    if (state.total_[r] < geo_[r].max) continue;
    const std::uint64_t need = std::uint64_t{state.total_[r]} + 1 - geo_[r].max;
    const core::Duration wait = wait_for(state, r, need, now);
    if (wait > longest) {
      longest = wait;
      d.rule = static_cast<std::uint32_t>(r);
    }
  }
  d.limit = geo_[d.rule].max;
  d.remaining = 0;
  d.retry_after = longest;
  d.reset = wait_for(state, d.rule, 1, now);
  return d;
}

std::uint64_t SlidingWindow::count(const State& state, std::size_t rule,
                                   core::TimePoint now) const noexcept {
  if (rule >= rules_.size() || !state.counts_) return 0;
  const Geometry& g = geo_[rule];
  const std::uint32_t* ring = state.counts_.get() + g.offset;
  const std::int64_t newest = state.newest_[rule];
  const std::int64_t current = std::max(bucket_of(now, g.width), newest);
  std::uint64_t sum = 0;
  std::uint32_t slot = state.newest_slot_[rule];
  // Slot `newest_slot - j` holds bucket `newest - j`; it is in the window while
  // newest - j > current - B.
  for (std::uint32_t j = 0; j < g.buckets && newest - j > current - g.buckets; ++j) {
    sum += ring[slot];
    slot = slot == 0 ? g.buckets - 1 : slot - 1;
  }
  return sum;
}

}  // namespace stella::gw::ratelimit
