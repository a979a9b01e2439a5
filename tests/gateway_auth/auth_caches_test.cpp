// TokenCache (hits, expiry, eviction by expiry, counters) and ReplayCache (fresh, replay, full,
// expiry freeing room). Time is the `now` argument: no sleeps, no clock.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <set>
#include <string>

#include "auth_test_util.hpp"
#include "stella/gateway/auth/auth_caches.hpp"

namespace stella::gw::auth {
namespace {

constexpr std::int64_t kNow = 1'764'500'000;

std::shared_ptr<const VerifiedToken> verified(std::string subject, std::int64_t exp) {
  auto t = std::make_shared<VerifiedToken>();
  t->subject = std::move(subject);
  t->exp = exp;
  return t;
}

TEST(TokenCache, HitAndMiss) {
  TokenCache cache(64);
  EXPECT_EQ(cache.find("t1", kNow, 30), nullptr);
  cache.insert("t1", verified("alice", kNow + 300));
  const auto hit = cache.find("t1", kNow, 30);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->subject, "alice");
  EXPECT_EQ(cache.find("t2", kNow, 30), nullptr);
  EXPECT_EQ(cache.hits(), 1U);
  EXPECT_EQ(cache.misses(), 2U);
  EXPECT_EQ(cache.size(), 1U);
}

TEST(TokenCache, ReinsertReplaces) {
  TokenCache cache(64);
  cache.insert("t", verified("old", kNow + 10));
  cache.insert("t", verified("new", kNow + 20));
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(cache.find("t", kNow, 0)->subject, "new");
  cache.insert("t", nullptr);  // ignored
  EXPECT_EQ(cache.size(), 1U);
}

TEST(TokenCache, EntryNeverOutlivesExpPlusSkew) {
  TokenCache cache(64);
  cache.insert("t", verified("alice", kNow));
  EXPECT_NE(cache.find("t", kNow + 30, 30), nullptr);  // at exp + skew: still good
  EXPECT_EQ(cache.find("t", kNow + 31, 30), nullptr);  // past it: gone, and erased
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.find("t", kNow, 30), nullptr);
  // A token without exp (exp 0) is never served.
  cache.insert("no-exp", verified("bob", 0));
  EXPECT_EQ(cache.find("no-exp", kNow, 30), nullptr);
  // An exp at the end of time does not overflow.
  cache.insert("forever", verified("carol", std::numeric_limits<std::int64_t>::max()));
  EXPECT_NE(cache.find("forever", kNow, 30), nullptr);
}

TEST(TokenCache, FullShardEvictsTheEntryClosestToExpiry) {
  // Capacity 16 over 16 shards: one entry per shard, so every shard is full after one insert.
  TokenCache cache(16);
  int inserted = 0;
  for (int i = 0; i < 200; ++i) {
    cache.insert("token-" + std::to_string(i), verified(std::to_string(i), kNow + 1000 + i));
    ++inserted;
  }
  EXPECT_LE(cache.size(), 16U);
  EXPECT_EQ(cache.evictions(), static_cast<std::uint64_t>(inserted) - cache.size());
  // The last one in was the latest to expire in its shard: it stayed.
  EXPECT_NE(cache.find("token-199", kNow, 0), nullptr);
}

TEST(TokenCache, EvictionKeepsTheLongerLivedEntry) {
  // Find two tokens in one shard by trying: with one entry per shard, a later-expiring token
  // pushes out the earlier one of its shard.
  TokenCache probe(16);
  probe.insert("a", verified("a", kNow + 100));
  std::string same_shard;
  for (int i = 0; i < 1000 && same_shard.empty(); ++i) {
    const std::string t = "b" + std::to_string(i);
    probe.insert(t, verified(t, kNow + 101 + i));
    if (probe.find("a", kNow, 0) == nullptr) same_shard = t;
  }
  ASSERT_FALSE(same_shard.empty());

  TokenCache cache(16);
  cache.insert("a", verified("a", kNow + 5000));
  // The newcomer is the one closest to expiry: it is the one left out.
  cache.insert(same_shard, verified("b", kNow + 10));
  EXPECT_EQ(cache.evictions(), 1U);
  EXPECT_NE(cache.find("a", kNow, 0), nullptr);
  EXPECT_EQ(cache.find(same_shard, kNow, 0), nullptr);
  // A newcomer that outlives "a" replaces it.
  cache.insert(same_shard, verified("b", kNow + 6000));
  EXPECT_EQ(cache.evictions(), 2U);
  EXPECT_EQ(cache.find("a", kNow, 0), nullptr);
  EXPECT_NE(cache.find(same_shard, kNow, 0), nullptr);
  EXPECT_EQ(cache.size(), 1U);
}

TEST(TokenCache, ClearAndDisabled) {
  TokenCache cache(64);
  cache.insert("t", verified("alice", kNow + 300));
  cache.clear();
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.find("t", kNow, 0), nullptr);

  TokenCache off(0);
  off.insert("t", verified("alice", kNow + 300));
  EXPECT_EQ(off.size(), 0U);
  EXPECT_EQ(off.find("t", kNow, 0), nullptr);
  EXPECT_EQ(off.misses(), 1U);
}

TEST(ReplayCache, FreshThenReplay) {
  ReplayCache cache(1024);
  EXPECT_EQ(cache.check_and_insert("jkt:jti-1", kNow + 120, kNow), ReplayVerdict::fresh);
  EXPECT_EQ(cache.check_and_insert("jkt:jti-1", kNow + 120, kNow + 1), ReplayVerdict::replay);
  EXPECT_EQ(cache.check_and_insert("jkt:jti-2", kNow + 120, kNow + 1), ReplayVerdict::fresh);
  EXPECT_EQ(cache.size(), 2U);
  // Still a replay at the last second of its window.
  EXPECT_EQ(cache.check_and_insert("jkt:jti-1", kNow + 120, kNow + 120), ReplayVerdict::replay);
}

TEST(ReplayCache, OneOwnerCannotFillTheCacheForEveryone) {
  ReplayCache cache(1024);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(cache.check_and_insert("m:" + std::to_string(i), kNow + 120, kNow, "mallory", 10),
              ReplayVerdict::fresh);
  EXPECT_EQ(cache.check_and_insert("m:10", kNow + 120, kNow, "mallory", 10),
            ReplayVerdict::over_quota);
  EXPECT_EQ(cache.check_and_insert("a:0", kNow + 120, kNow, "alice", 10), ReplayVerdict::fresh);
  // A replay is still a replay, whatever the quota.
  EXPECT_EQ(cache.check_and_insert("m:3", kNow + 120, kNow, "mallory", 10), ReplayVerdict::replay);
  // Entries that expire give the owner its room back.
  EXPECT_EQ(cache.check_and_insert("m:11", kNow + 300, kNow + 121, "mallory", 10),
            ReplayVerdict::fresh);
}

TEST(ReplayCache, EraseForgetsAnEntryAndItsQuota) {
  ReplayCache cache(1024);
  EXPECT_EQ(cache.check_and_insert("k1", kNow + 120, kNow, "o", 1), ReplayVerdict::fresh);
  EXPECT_EQ(cache.check_and_insert("k2", kNow + 120, kNow, "o", 1), ReplayVerdict::over_quota);
  cache.erase("k1");
  cache.erase("absent");
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.check_and_insert("k1", kNow + 120, kNow, "o", 1), ReplayVerdict::fresh);
}

TEST(ReplayCache, ExpiredEntryIsFreshAgain) {
  ReplayCache cache(1024);
  EXPECT_EQ(cache.check_and_insert("k", kNow + 10, kNow), ReplayVerdict::fresh);
  EXPECT_EQ(cache.check_and_insert("k", kNow + 20, kNow + 11), ReplayVerdict::fresh);
  EXPECT_EQ(cache.size(), 1U);
}

TEST(ReplayCache, FullWhenTheShardHoldsItsShareOfLiveEntries) {
  // Capacity 16: one live entry per shard. Fill until something is refused.
  ReplayCache cache(16);
  std::set<std::string> accepted;
  std::string refused;
  for (int i = 0; i < 1000 && refused.empty(); ++i) {
    const std::string key = "k" + std::to_string(i);
    const auto verdict = cache.check_and_insert(key, kNow + 60, kNow);
    if (verdict == ReplayVerdict::fresh) accepted.insert(key);
    if (verdict == ReplayVerdict::full) refused = key;
  }
  ASSERT_FALSE(refused.empty());
  EXPECT_LE(accepted.size(), 16U);
  EXPECT_EQ(cache.size(), accepted.size());
  // A seen key is a replay even when its shard is full.
  EXPECT_EQ(cache.check_and_insert(*accepted.begin(), kNow + 60, kNow), ReplayVerdict::replay);
  // Still full one second before the entries expire...
  EXPECT_EQ(cache.check_and_insert(refused, kNow + 120, kNow + 60), ReplayVerdict::full);
  // ...and expiry frees the room.
  EXPECT_EQ(cache.check_and_insert(refused, kNow + 120, kNow + 61), ReplayVerdict::fresh);
  EXPECT_EQ(cache.check_and_insert(refused, kNow + 120, kNow + 62), ReplayVerdict::replay);
}

TEST(ReplayCache, ExpiredEntriesAreDroppedAsShardsAreTouched) {
  ReplayCache cache(1600);
  for (int i = 0; i < 500; ++i)
    ASSERT_EQ(cache.check_and_insert("a" + std::to_string(i), kNow + 10, kNow),
              ReplayVerdict::fresh);
  EXPECT_EQ(cache.size(), 500U);
  // Touch every shard after the window: the old entries go.
  for (int i = 0; i < 500; ++i)
    cache.check_and_insert("b" + std::to_string(i), kNow + 100, kNow + 50);
  EXPECT_EQ(cache.size(), 500U);
}

}  // namespace
}  // namespace stella::gw::auth

namespace stella::gw::auth {
namespace {

TEST(ProofKeyCache, AHitIsTheKeyParsingWouldGive) {
  ProofKeyCache cache(64);
  const Jwk a = testing::public_key(testing::private_key(testing::kP256));
  const Jwk b = testing::public_key(testing::private_key(testing::kP256b));
  JwkErrc error = JwkErrc::invalid_key;
  const auto first = cache.get(a.public_json, error);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->thumbprint, a.thumbprint);
  EXPECT_EQ(cache.get(a.public_json, error), first);  // the same parsed key, not a new parse
  const auto other = cache.get(b.public_json, error);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->thumbprint, b.thumbprint);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ProofKeyCache, RefusalsAreNotRemembered) {
  ProofKeyCache cache(64);
  // A private member refuses the key every time (and never poisons the public one's entry).
  nlohmann::json with_d = testing::private_key(testing::kP256).public_json;
  with_d["d"] = "AAAA";
  JwkErrc error = JwkErrc::invalid_key;
  EXPECT_FALSE(cache.get(with_d, error));
  EXPECT_EQ(error, JwkErrc::private_key_given);
  EXPECT_FALSE(cache.get(with_d, error));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ProofKeyCache, StaysWithinItsCapacity) {
  ProofKeyCache cache(16);  // one per shard
  JwkErrc error = JwkErrc::invalid_key;
  for (int i = 0; i < 40; ++i) {
    const Jwk k = generate_key(Alg::ES256);
    ASSERT_TRUE(cache.get(jwk_to_json(k, false), error));
  }
  EXPECT_LE(cache.size(), 16u);
}

}  // namespace
}  // namespace stella::gw::auth
