// Sliding windows with sub-second buckets for one key and several rules: the arithmetic of the
// instance level, free of maps, locks and clocks (rule.hpp says how windows are bucketed).
//
// A SlidingWindow holds the rules and their geometry (immutable, shareable); a State holds one
// key's counts: per rule a ring of B 32-bit counters, the bucket index of the newest bucket and
// the running sum, so a check touches O(1) counters while time moves by less than a bucket
// and O(B) when it jumps. A State allocates once (its rings) when made and never afterwards.
//
// Time: `now` comes in as an argument. Buckets are numbered floor(now / w) from the clock's
// epoch. A `now` earlier than the newest bucket a state has seen (callers on other threads
// read the clock a moment apart) counts in that newest bucket: later, never earlier, so the
// guarantee of rule.hpp holds for any order of calls.
//
// Thread-safety: a SlidingWindow is immutable after construction (const methods, any thread);
// a State is not thread-safe (the caller locks; InstanceLimiter does).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/ratelimit/decision.hpp"
#include "stella/gateway/ratelimit/rule.hpp"

namespace stella::gw::ratelimit {

class SlidingWindow {
 public:
  /// One key's counts for every rule of the SlidingWindow that made it (make_state). Movable,
  /// not copyable; use it only with that SlidingWindow (or one with identical rules). A
  /// default-constructed State holds nothing: check() needs one from make_state().
  class State {
   public:
    State() = default;

   private:
    friend class SlidingWindow;
    std::array<std::int64_t, kMaxRules> newest_{};        // bucket index of the newest bucket
    std::array<std::uint32_t, kMaxRules> newest_slot_{};  // its slot in the ring
    std::array<std::uint32_t, kMaxRules> total_{};        // sum of the ring = count in window
    std::unique_ptr<std::uint32_t[]> counts_;             // the rings, rule after rule
  };

  /// Throws std::invalid_argument with validate_rules' message for invalid rules (config and
  /// startup only: the config layer validates first).
  explicit SlidingWindow(std::vector<Rule> rules);

  /// A fresh state (nothing counted) whose newest bucket is the one of `now`. Allocates
  /// 4 × state_counters() bytes; throws std::bad_alloc when that fails.
  State make_state(core::TimePoint now) const;

  /// Admits one request at `now` if every rule has room for it (its window counts fewer than
  /// max_requests), and then counts it in every rule; a refused request counts nowhere. Never
  /// allocates. See Decision for the fields.
  Decision check(State& state, core::TimePoint now) const noexcept;

  /// What rule `rule` counts in its window at `now`, without changing the state (tests,
  /// metrics). O(B). 0 for a rule index out of range.
  std::uint64_t count(const State& state, std::size_t rule, core::TimePoint now) const noexcept;

  const std::vector<Rule>& rules() const noexcept { return rules_; }
  /// B and w of rule `rule` (precondition: rule < rules().size()).
  std::uint32_t buckets(std::size_t rule) const noexcept { return geo_[rule].buckets; }
  core::Duration width(std::size_t rule) const noexcept { return geo_[rule].width; }
  /// B × w of rule `rule`: the span its window covers.
  core::Duration window(std::size_t rule) const noexcept {
    return geo_[rule].width * geo_[rule].buckets;
  }
  /// The longest window over all rules: a key idle for longer counts nothing.
  core::Duration longest_window() const noexcept { return longest_; }
  /// Counters in one State (the sum of B over the rules).
  std::size_t state_counters() const noexcept { return counters_; }

 private:
  struct Geometry {
    core::Duration width{};
    std::uint32_t buckets = 0;
    std::uint32_t offset = 0;  // of this rule's ring in State::counts_
    std::uint64_t max = 0;
  };

  void advance(State& s, std::size_t r, std::int64_t bucket) const noexcept;
  // Time from `now` until the counted requests of rule r, oldest first, have freed `need`
  // (≥ 1) places: until the bucket that frees the last of them leaves the window.
  core::Duration wait_for(const State& s, std::size_t r, std::uint64_t need,
                          core::TimePoint now) const noexcept;

  std::vector<Rule> rules_;
  std::array<Geometry, kMaxRules> geo_{};
  core::Duration longest_{};
  std::size_t counters_ = 0;
};

}  // namespace stella::gw::ratelimit
