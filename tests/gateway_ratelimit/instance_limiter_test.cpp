// InstanceLimiter: keys apart, the key table's bounds (max_keys, LRU eviction, idle expiry,
// long keys) at and past each limit, settings validation, and exactness across threads.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "stella/gateway/ratelimit/instance_limiter.hpp"

namespace stella::gw::ratelimit {
namespace {

using namespace std::chrono_literals;

const core::TimePoint kT0 = core::TimePoint(1000s);

InstanceLimiterSettings settings(std::vector<Rule> rules, std::size_t max_keys = 1000,
                                 std::size_t shards = 64) {
  InstanceLimiterSettings s;
  s.rules = std::move(rules);
  s.max_keys = max_keys;
  s.shards = shards;
  s.hash_seed = 42;
  return s;
}

TEST(InstanceLimiter, KeysAreLimitedApart) {
  InstanceLimiter l(settings({{2, 1s}}));
  EXPECT_TRUE(l.check("tenant-a", kT0).allowed);
  EXPECT_TRUE(l.check("tenant-a", kT0).allowed);
  const Decision refused = l.check("tenant-a", kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s);
  EXPECT_TRUE(l.check("tenant-b", kT0).allowed);
  EXPECT_TRUE(l.check("", kT0).allowed);  // any bytes, the empty key included
  EXPECT_TRUE(l.check(std::string("a\0b", 3), kT0).allowed);
  EXPECT_TRUE(l.check(std::string("a\0c", 3), kT0).allowed);
  EXPECT_EQ(l.keys(), 5u);
  EXPECT_TRUE(l.check("tenant-a", kT0 + 1s).allowed);
}

TEST(InstanceLimiter, DecisionIsTheSlidingWindowsOne) {
  InstanceLimiter l(settings({{100, 1s}, {1000, 60s}}));
  const Decision d = l.check("k", kT0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, 0u);
  EXPECT_EQ(d.limit, 100u);
  EXPECT_EQ(d.remaining, 99u);
  EXPECT_EQ(d.reset, 1s);
  EXPECT_EQ(l.window().state_counters(), 70u);
}

TEST(InstanceLimiter, TableStaysWithinMaxKeysAndCountsEvictions) {
  InstanceLimiter l(settings({{5, 1s}}, /*max_keys=*/16, /*shards=*/4));
  EXPECT_EQ(l.capacity(), 16u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(l.check("key-" + std::to_string(i), kT0).allowed);
    ASSERT_LE(l.keys(), 16u);
  }
  EXPECT_EQ(l.keys(), 16u);  // every shard filled up
  EXPECT_EQ(l.evictions() + l.keys(), 1000u);
  EXPECT_EQ(l.expirations(), 0u);  // all live: nothing was idle
}

TEST(InstanceLimiter, CapacityIsRoundedDownToWholeShards) {
  InstanceLimiter l(settings({{5, 1s}}, /*max_keys=*/70, /*shards=*/64));
  EXPECT_EQ(l.capacity(), 64u);
}

TEST(InstanceLimiter, EvictsTheLeastRecentlyUsedKeyOfAFullShard) {
  InstanceLimiter l(settings({{3, 1s}}, /*max_keys=*/3, /*shards=*/1));
  EXPECT_TRUE(l.check("a", kT0).allowed);
  EXPECT_TRUE(l.check("b", kT0).allowed);
  EXPECT_TRUE(l.check("c", kT0).allowed);
  EXPECT_TRUE(l.check("a", kT0).allowed);  // a is now the most recent; b the least
  EXPECT_TRUE(l.check("d", kT0).allowed);  // evicts b
  EXPECT_EQ(l.evictions(), 1u);
  EXPECT_EQ(l.keys(), 3u);
  EXPECT_EQ(l.check("a", kT0).remaining, 0u);  // a kept its two
  EXPECT_EQ(l.evictions(), 1u);
  EXPECT_EQ(l.check("b", kT0).remaining, 2u);  // b starts afresh (and evicts c)
  EXPECT_EQ(l.evictions(), 2u);
}

TEST(InstanceLimiter, FullShardDropsIdleKeysBeforeEvicting) {
  InstanceLimiter l(settings({{3, 1s}}, /*max_keys=*/4, /*shards=*/1));
  EXPECT_EQ(l.idle_expiry(), 1s);  // zero: the longest window
  for (const char* k : {"a", "b", "c", "d"})
    EXPECT_TRUE(l.check(k, kT0).allowed);
  // Idle means no check for *longer* than the expiry.
  EXPECT_TRUE(l.check("e", kT0 + 1s).allowed);
  EXPECT_EQ(l.evictions(), 1u);
  EXPECT_EQ(l.expirations(), 0u);
  EXPECT_TRUE(l.check("f", kT0 + 1s + 1ns).allowed);
  EXPECT_EQ(l.evictions(), 1u);
  EXPECT_EQ(l.expirations(), 3u);  // b, c, d; e is live
  EXPECT_EQ(l.keys(), 2u);
}

TEST(InstanceLimiter, IdleKeysExpireAsChecksGoAndBySweep) {
  auto s = settings({{3, 1s}, {10, 2s}});
  s.idle_expiry = 5s;
  InstanceLimiter l(std::move(s));
  EXPECT_EQ(l.idle_expiry(), 5s);
  // Spread over one shard or many: all idle after 5 s.
  for (int i = 0; i < 50; ++i)
    EXPECT_TRUE(l.check("idle-" + std::to_string(i), kT0).allowed);
  EXPECT_EQ(l.keys(), 50u);
  EXPECT_EQ(l.sweep(kT0 + 5s), 0u);
  EXPECT_EQ(l.sweep(kT0 + 5s + 1ns), 50u);
  EXPECT_EQ(l.keys(), 0u);
  EXPECT_EQ(l.expirations(), 50u);

  // A check drops up to two idle keys of its shard as it goes.
  InstanceLimiter one(settings({{3, 1s}}, 100, /*shards=*/1));
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(one.check("old-" + std::to_string(i), kT0).allowed);
  EXPECT_TRUE(one.check("new", kT0 + 2s).allowed);
  EXPECT_EQ(one.keys(), 4u);  // 5 old + new - 2
  EXPECT_TRUE(one.check("new", kT0 + 2s).allowed);
  EXPECT_EQ(one.keys(), 2u);
  EXPECT_EQ(one.expirations(), 4u);
}

TEST(InstanceLimiter, IdleExpiryIsRaisedToTheLongestWindow) {
  auto s = settings({{3, 1s}, {10, 60s}});
  s.idle_expiry = 1s;
  InstanceLimiter l(std::move(s));
  EXPECT_EQ(l.idle_expiry(), 60s);
  EXPECT_TRUE(l.check("k", kT0).allowed);
  EXPECT_EQ(l.sweep(kT0 + 30s), 0u);
  EXPECT_EQ(l.keys(), 1u);
}

TEST(InstanceLimiter, KeysLongerThanTheLimitAreDigestedButStayApart) {
  auto s = settings({{1, 1s}});
  s.max_key_bytes = 17;
  InstanceLimiter l(std::move(s));
  const std::string at_limit(17, 'x');
  const std::string over_a = std::string(17, 'x') + "a";
  const std::string over_b = std::string(17, 'x') + "b";
  EXPECT_TRUE(l.check(at_limit, kT0).allowed);
  EXPECT_TRUE(l.check(over_a, kT0).allowed);
  EXPECT_TRUE(l.check(over_b, kT0).allowed);
  EXPECT_FALSE(l.check(at_limit, kT0).allowed);
  EXPECT_FALSE(l.check(over_a, kT0).allowed);  // the same long key: the same state
  EXPECT_FALSE(l.check(over_b, kT0).allowed);
  const std::string huge(1 << 20, 'y');
  EXPECT_TRUE(l.check(huge, kT0).allowed);
  EXPECT_FALSE(l.check(huge, kT0).allowed);
  EXPECT_EQ(l.keys(), 4u);
}

TEST(InstanceLimiter, SettingsAreValidatedByName) {
  auto ok = settings({{1, 1s}});
  EXPECT_EQ(validate(ok), std::nullopt);
  auto bad = ok;
  bad.rules.clear();
  EXPECT_EQ(validate(bad), "rules: at least one rule is needed");
  bad = ok;
  bad.shards = 48;
  EXPECT_EQ(validate(bad), "shards: must be a power of two in [1, 4096], got 48");
  bad.shards = 8192;
  EXPECT_EQ(validate(bad), "shards: must be a power of two in [1, 4096], got 8192");
  bad.shards = 0;
  EXPECT_EQ(validate(bad), "shards: must be a power of two in [1, 4096], got 0");
  bad = ok;
  bad.shards = 4096;
  bad.max_keys = 4096;
  EXPECT_EQ(validate(bad), std::nullopt);
  bad.max_keys = 4095;
  EXPECT_EQ(validate(bad), "max_keys: must be at least the number of shards (4096), got 4095");
  bad = ok;
  bad.max_key_bytes = 16;
  EXPECT_EQ(validate(bad), "max_key_bytes: must be in [17, 65536], got 16");
  bad.max_key_bytes = 65537;
  EXPECT_EQ(validate(bad), "max_key_bytes: must be in [17, 65536], got 65537");
  bad = ok;
  bad.idle_expiry = -1ns;
  EXPECT_EQ(validate(bad), "idle_expiry: must not be negative");
  EXPECT_THROW(InstanceLimiter{bad}, std::invalid_argument);
}

// Many distinct keys in any order, with time moving: the table never exceeds its capacity,
// each check adds at most one key (none when the key was the last one checked), and every key
// that left the table was counted as evicted or expired.
RC_GTEST_PROP(InstanceLimiterProp, TableNeverExceedsItsCapacity, ()) {
  const auto shards = *rc::gen::element<std::size_t>(1, 2, 4, 8);
  const auto max_keys = *rc::gen::inRange<std::size_t>(shards, 64);
  InstanceLimiter l(settings({{3, 100ms}}, max_keys, shards));
  const auto ops = *rc::gen::container<std::vector<std::pair<int, int>>>(
      rc::gen::pair(rc::gen::inRange(0, 300), rc::gen::inRange(0, 60'000'000)));
  core::TimePoint now = kT0;
  std::uint64_t added = 0;
  int previous = -1;
  std::set<int> distinct;
  for (const auto& [key, step_ns] : ops) {
    now += core::Duration(step_ns);
    const std::uint64_t before = l.keys() + l.evictions() + l.expirations();
    l.check("k" + std::to_string(key), now);
    const std::uint64_t after = l.keys() + l.evictions() + l.expirations();
    RC_ASSERT(l.keys() <= l.capacity());
    RC_ASSERT(after - before <= 1u);
    if (key == previous) RC_ASSERT(after == before);
    added += after - before;
    previous = key;
    distinct.insert(key);
  }
  RC_ASSERT(added >= distinct.size());
}

// 4 threads hammer one key of a 1000-per-window rule at one frozen instant: exactly 1000 are
// admitted in total, whatever the interleaving.
TEST(InstanceLimiter, ThreadsTogetherAdmitExactlyTheLimit) {
  InstanceLimiter l(settings({{1000, 1s}, {5000, 60s}}));
  std::atomic<std::uint64_t> admitted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!go.load())
        std::this_thread::yield();
      std::uint64_t mine = 0;
      for (int i = 0; i < 2000; ++i)
        if (l.check("hot-key", kT0).allowed) ++mine;
      admitted += mine;
    });
  }
  go = true;
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(admitted.load(), 1000u);
  EXPECT_EQ(l.keys(), 1u);
}

// Threads on many keys at once, with time moving and a table small enough to evict: every
// key is still limited exactly (no key ever gets more than its limit at one instant).
TEST(InstanceLimiter, ThreadsOnManyKeysStayExactPerKey) {
  InstanceLimiter l(settings({{10, 1s}}, /*max_keys=*/4096, /*shards=*/64));
  constexpr int kKeys = 200;
  std::vector<std::atomic<int>> admitted(kKeys);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20 * kKeys; ++i) {
        const int k = (i * 7 + t) % kKeys;
        if (l.check("key-" + std::to_string(k), kT0).allowed) ++admitted[k];
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (int k = 0; k < kKeys; ++k)
    EXPECT_EQ(admitted[k].load(), 10) << "key " << k;
  EXPECT_EQ(l.keys(), static_cast<std::size_t>(kKeys));
}

}  // namespace
}  // namespace stella::gw::ratelimit
