// Rate-limiting micro-benchmarks. The claim to check: a check of an existing key with two
// rules costs under 100 ns single-threaded (hash, shard lock, map lookup, LRU touch, both
// windows); the paths around it (bucket advances, refusals, many keys, new keys evicting old
// ones, two threads, the gate and the breaker) stay in the same order.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stella/gateway/ratelimit/activation_gate.hpp"
#include "stella/gateway/ratelimit/circuit_breaker.hpp"
#include "stella/gateway/ratelimit/instance_limiter.hpp"
#include "stella/gateway/ratelimit/sliding_window.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kHuge = 4'000'000'000;  // never reached: the admit path only

InstanceLimiterSettings settings(std::vector<Rule> rules, std::size_t max_keys = 100'000) {
  InstanceLimiterSettings s;
  s.rules = std::move(rules);
  s.max_keys = max_keys;
  s.hash_seed = 0x5eed;
  return s;
}

std::string key_of(std::size_t i) {
  return "tenant:acme|sub:user-" + std::to_string(100000 + i);  // 26 bytes, like identities
}

// The target: one existing key, two rules, `now` frozen (same bucket), every check admitted.
void BM_CheckExistingKeyTwoRules(benchmark::State& state) {
  InstanceLimiter l(settings({{kHuge, 1s}, {kHuge, 60s}}));
  const std::string key = key_of(1);
  const core::TimePoint now(1000s);
  for (auto _ : state) {
    const Decision d = l.check(key, now);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_CheckExistingKeyTwoRules)->Name("ratelimit/check_existing_key_two_rules");

// The seed's rules (100/1 s, 1000/60 s) with time moving `step` per check: at 1 ms most checks
// are refusals (the retry_after search); at 70 ms most are admitted and buckets advance.
void BM_CheckExistingKeySeedRules(benchmark::State& state) {
  InstanceLimiter l(settings({{100, 1s}, {1000, 60s}}));
  const std::string key = key_of(1);
  const auto step = std::chrono::milliseconds(state.range(0));
  core::TimePoint now(1000s);
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    const Decision d = l.check(key, now);
    admitted += d.allowed;
    now += step;
  }
  state.counters["admitted"] =
      benchmark::Counter(static_cast<double>(admitted), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_CheckExistingKeySeedRules)
    ->Name("ratelimit/check_existing_key_seed_rules_step_ms")
    ->Arg(1)
    ->Arg(70);

// Many existing keys in turn: the tables no longer fit in cache.
void BM_CheckManyKeys(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  InstanceLimiter l(settings({{kHuge, 1s}, {kHuge, 60s}}, 2 * n + 64));
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < n; ++i)
    keys.push_back(key_of(i));
  const core::TimePoint now(1000s);
  for (const auto& k : keys)
    l.check(k, now);
  std::size_t i = 0;
  for (auto _ : state) {
    const Decision d = l.check(keys[i], now);
    benchmark::DoNotOptimize(d);
    if (++i == n) i = 0;
  }
}
BENCHMARK(BM_CheckManyKeys)->Name("ratelimit/check_many_keys")->Arg(1000)->Arg(100'000);

// A flood of new keys into a full table: insert + evict on every check.
void BM_CheckNewKeysEvicting(benchmark::State& state) {
  InstanceLimiter l(settings({{100, 1s}, {1000, 60s}}, 4096));
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < 65536; ++i)
    keys.push_back(key_of(i));
  const core::TimePoint now(1000s);
  std::size_t i = 0;
  for (auto _ : state) {
    const Decision d = l.check(keys[i], now);
    benchmark::DoNotOptimize(d);
    i = (i + 1) & 65535;
  }
  state.counters["evictions"] = static_cast<double>(l.evictions());
}
BENCHMARK(BM_CheckNewKeysEvicting)->Name("ratelimit/check_new_keys_evicting");

// Two threads, one key each (the machine has two cores): shards keep them apart.
void BM_CheckTwoThreads(benchmark::State& state) {
  static InstanceLimiter* shared = nullptr;
  if (state.thread_index() == 0)
    shared = new InstanceLimiter(settings({{kHuge, 1s}, {kHuge, 60s}}));
  const std::string key = key_of(static_cast<std::size_t>(state.thread_index()));
  const core::TimePoint now(1000s);
  for (auto _ : state) {
    const Decision d = shared->check(key, now);
    benchmark::DoNotOptimize(d);
  }
  if (state.thread_index() == 0) {
    delete shared;
    shared = nullptr;
  }
}
BENCHMARK(BM_CheckTwoThreads)->Name("ratelimit/check_two_threads")->Threads(2)->UseRealTime();

// The window arithmetic alone (no hash, lock or map).
void BM_SlidingWindowCheck(benchmark::State& state) {
  const SlidingWindow w({{kHuge, 1s}, {kHuge, 60s}});
  auto s = w.make_state(core::TimePoint(1000s));
  const core::TimePoint now(1000s);
  for (auto _ : state) {
    const Decision d = w.check(s, now);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_SlidingWindowCheck)->Name("ratelimit/sliding_window_check");

void BM_ActivationGateRecord(benchmark::State& state) {
  ActivationGate g(5000);
  core::TimePoint now(1000s);
  for (auto _ : state) {
    benchmark::DoNotOptimize(g.record(now));
    now += 20us;  // 50,000 requests/s
  }
}
BENCHMARK(BM_ActivationGateRecord)->Name("ratelimit/activation_gate_record");

void BM_CircuitBreakerClosedAcquireAndReport(benchmark::State& state) {
  CircuitBreaker b(BreakerSettings{});
  const core::TimePoint now(1000s);
  for (auto _ : state) {
    const auto p = b.try_acquire(now);
    benchmark::DoNotOptimize(b.record_success(p, now));
  }
}
BENCHMARK(BM_CircuitBreakerClosedAcquireAndReport)->Name("ratelimit/breaker_closed_acquire_report");

}  // namespace
}  // namespace stella::gw::ratelimit
