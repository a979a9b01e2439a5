// Properties of SlidingWindow against a brute-force oracle that keeps every admitted request
// (no rings, no running sums): every decision, field by field, over random rules and random
// times (jumps, bursts in one instant, and times slightly out of order as several workers
// produce them). From the oracle's agreement follow the properties DESIGN.md §6 names: a key
// under its limits is never refused, rules compose (every rule must admit; the strictest
// decides), and retry_after is exact. Two are also checked directly: no B consecutive buckets
// ever hold more than max_requests, and after waiting exactly retry_after (never 0) the next
// request is admitted while one nanosecond earlier it is not.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

#include "stella/gateway/ratelimit/sliding_window.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

std::int64_t floor_div(core::Duration t, core::Duration w) {
  std::int64_t q = t / w;
  if (t % w < core::Duration::zero()) --q;
  return q;
}

// Every admitted request, as the bucket it counts in per rule.
class Oracle {
 public:
  Oracle(std::vector<Rule> rules, core::TimePoint start) : rules_(std::move(rules)) {
    for (const Rule& r : rules_) {
      width_.push_back(bucket_width(r.per));
      buckets_.push_back(bucket_count(r.per));
      newest_.push_back(floor_div(start.time_since_epoch(), width_.back()));
      admitted_.emplace_back();
    }
  }

  Decision check(core::TimePoint now) {
    const std::size_t n = rules_.size();
    std::vector<std::uint64_t> count(n);
    bool allowed = true;
    for (std::size_t r = 0; r < n; ++r) {
      // A time before the newest bucket seen counts in the newest (sliding_window.hpp).
      newest_[r] = std::max(newest_[r], floor_div(now.time_since_epoch(), width_[r]));
      count[r] = in_window(r).size();
      if (count[r] >= rules_[r].max_requests) allowed = false;
    }
    Decision d;
    d.allowed = allowed;
    if (allowed) {
      std::uint64_t fewest = std::numeric_limits<std::uint64_t>::max();
      for (std::size_t r = 0; r < n; ++r) {
        admitted_[r].push_back(newest_[r]);
        const std::uint64_t left = rules_[r].max_requests - count[r] - 1;
        if (left < fewest) {
          fewest = left;
          d.rule = static_cast<std::uint32_t>(r);
        }
      }
      d.remaining = fewest;
    } else {
      core::Duration longest = core::Duration::min();
      for (std::size_t r = 0; r < n; ++r) {
        if (count[r] < rules_[r].max_requests) continue;
        const core::Duration w = wait(r, count[r] + 1 - rules_[r].max_requests, now);
        if (w > longest) {
          longest = w;
          d.rule = static_cast<std::uint32_t>(r);
        }
      }
      d.retry_after = longest;
    }
    d.limit = rules_[d.rule].max_requests;
    d.reset = wait(d.rule, 1, now);
    return d;
  }

  // No B consecutive buckets of any rule hold more than max_requests.
  bool no_window_over_admits() const {
    for (std::size_t r = 0; r < rules_.size(); ++r) {
      for (const std::int64_t first : admitted_[r]) {
        const auto in = std::count_if(admitted_[r].begin(), admitted_[r].end(), [&](auto b) {
          return b >= first && b < first + buckets_[r];
        });
        if (static_cast<std::uint64_t>(in) > rules_[r].max_requests) return false;
      }
    }
    return true;
  }

 private:
  std::vector<std::int64_t> in_window(std::size_t r) const {
    std::vector<std::int64_t> in;
    for (const std::int64_t b : admitted_[r])
      if (b > newest_[r] - buckets_[r]) in.push_back(b);
    std::sort(in.begin(), in.end());
    return in;
  }
  // Until `need` of rule r's counted requests, oldest first, have left its window.
  core::Duration wait(std::size_t r, std::uint64_t need, core::TimePoint now) const {
    const auto in = in_window(r);
    if (need == 0 || need > in.size()) return core::Duration::zero();
    return width_[r] * (in[need - 1] + buckets_[r]) - now.time_since_epoch();
  }

  std::vector<Rule> rules_;
  std::vector<core::Duration> width_;
  std::vector<std::int64_t> buckets_;
  std::vector<std::int64_t> newest_;
  std::vector<std::vector<std::int64_t>> admitted_;
};

// 1 to kMaxRules rules with small limits (so that limits are reached) and windows from the
// shortest allowed to a minute, uneven bucket widths (1.05 s) included.
std::vector<Rule> any_rules() {
  const std::vector<core::Duration> pers{10ms, 50ms, 100ms, 330ms, 1s, 1050ms, 2s, 15s, 60s};
  const auto n = *rc::gen::inRange<std::size_t>(1, kMaxRules + 1);
  return *rc::gen::container<std::vector<Rule>>(
      n, rc::gen::apply(
             [](std::uint64_t max, core::Duration per) {
               return Rule{max, per};
             },
             rc::gen::inRange<std::uint64_t>(1, 9), rc::gen::elementOf(pers)));
}

// Time steps: bursts at one instant, small moves within a bucket or two, jumps over whole
// windows, and small steps back (a worker that read the clock a moment before another).
rc::Gen<std::vector<std::int64_t>> gen_steps_ns() {
  return rc::gen::container<std::vector<std::int64_t>>(rc::gen::weightedOneOf<std::int64_t>({
      {4, rc::gen::just<std::int64_t>(0)},
      {6, rc::gen::inRange<std::int64_t>(1, 150'000'000)},
      {1, rc::gen::inRange<std::int64_t>(0, 70'000'000'000)},
      {1, rc::gen::inRange<std::int64_t>(-30'000'000, 0)},
  }));
}

struct Harness {
  SlidingWindow window;
  Oracle oracle;
  SlidingWindow::State state;
  Harness(const std::vector<Rule>& rules, core::TimePoint start)
      : window(rules), oracle(rules, start), state(window.make_state(start)) {}

  Decision step(core::TimePoint now) {
    const Decision got = window.check(state, now);
    const Decision want = oracle.check(now);
    RC_ASSERT(got == want);
    if (!got.allowed) RC_ASSERT(got.retry_after > core::Duration::zero());
    if (got.allowed) RC_ASSERT(got.reset > core::Duration::zero());
    return got;
  }
};

RC_GTEST_PROP(SlidingWindowProp, EveryDecisionMatchesTheOracle, ()) {
  const auto rules = any_rules();
  const auto start = core::TimePoint(
      core::Duration(*rc::gen::inRange<std::int64_t>(-10'000'000'000, 10'000'000'000)));
  Harness h(rules, start);
  core::TimePoint now = start;
  for (const std::int64_t step : *gen_steps_ns()) {
    now += core::Duration(step);
    h.step(now);
  }
  RC_ASSERT(h.oracle.no_window_over_admits());
}

RC_GTEST_PROP(SlidingWindowProp, RetryAfterIsExactAtTheWindowEdge, ()) {
  const auto rules = any_rules();
  const auto start =
      core::TimePoint(core::Duration(*rc::gen::inRange<std::int64_t>(0, 100'000'000'000)));
  Harness h(rules, start);
  core::TimePoint now = start;
  for (const std::int64_t step : *gen_steps_ns()) {
    now += core::Duration(std::max<std::int64_t>(step, 0));
    h.step(now);
  }
  // Fill up at `now` until refused: at most the smallest limit's worth of admissions.
  Decision d = h.step(now);
  for (int i = 0; i < 10 && d.allowed; ++i)
    d = h.step(now);
  RC_ASSERT(!d.allowed);
  RC_ASSERT(d.retry_after > core::Duration::zero());
  // One nanosecond early is still too early; exactly on time is admitted.
  RC_ASSERT(!h.step(now + d.retry_after - 1ns).allowed);
  RC_ASSERT(h.step(now + d.retry_after).allowed);
  RC_ASSERT(h.oracle.no_window_over_admits());
}

// Under every limit, nothing is refused: spaced requests of a 1-per-window rule are all
// admitted when each comes at least a full window after the previous one.
RC_GTEST_PROP(SlidingWindowProp, AKeyUnderItsLimitIsNeverRefused, ()) {
  const auto rules = any_rules();
  const SlidingWindow w(rules);
  // A request every `gap`, where gap × max ≥ window for every rule: each window holds at most
  // max requests, admitted ones included.
  core::Duration gap{};
  for (std::size_t r = 0; r < rules.size(); ++r)
    gap =
        std::max(gap, w.window(r) / static_cast<std::int64_t>(rules[r].max_requests) + w.width(r));
  core::TimePoint now{};
  auto s = w.make_state(now);
  const int n = *rc::gen::inRange(1, 200);
  for (int i = 0; i < n; ++i) {
    RC_ASSERT(w.check(s, now).allowed);
    now += gap;
  }
}

}  // namespace
}  // namespace stella::gw::ratelimit
