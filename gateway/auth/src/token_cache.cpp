// TokenCache: verified access tokens by SHA-256 of the token, sharded, evicting by expiry.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "digest_hash.hpp"
#include "stella/gateway/auth/auth_caches.hpp"

namespace stella::gw::auth {

using detail::DigestHash;

namespace {

constexpr std::size_t kShards = 16;

std::size_t shard_of(const std::string& digest) {
  return detail::digest_shard(digest, kShards);
}

}  // namespace

struct TokenCache::Impl {
  struct Entry {
    std::shared_ptr<const VerifiedToken> token;
    std::multimap<std::int64_t, std::string>::iterator by_exp;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Entry, DigestHash> entries;
    std::multimap<std::int64_t, std::string> by_exp;  // exp → digest: eviction order

    void erase(std::unordered_map<std::string, Entry, DigestHash>::iterator it) {
      by_exp.erase(it->second.by_exp);
      entries.erase(it);
    }
  };

  explicit Impl(std::size_t capacity)
      : per_shard(capacity == 0 ? 0 : std::max<std::size_t>(1, capacity / kShards)) {}

  std::size_t per_shard;
  std::array<Shard, kShards> shards;
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> evictions{0};
};

TokenCache::TokenCache(std::size_t capacity) : impl_(std::make_unique<Impl>(capacity)) {}
TokenCache::~TokenCache() = default;

std::shared_ptr<const VerifiedToken> TokenCache::find(std::string_view token, std::int64_t now_unix,
                                                      std::int64_t skew_s) {
  if (impl_->per_shard == 0) {
    impl_->misses.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const std::string key = sha256(token);  // hashed outside the lock
  auto& shard = impl_->shards[shard_of(key)];
  std::shared_ptr<const VerifiedToken> found;
  {
    const std::lock_guard lock(shard.mu);
    const auto it = shard.entries.find(key);
    if (it != shard.entries.end()) {
      // exp is the token's (attacker-chosen, though signed) value: keep it alone on one side.
      if (it->second.token->exp < now_unix - skew_s)
        shard.erase(it);
      else
        found = it->second.token;
    }
  }
  (found ? impl_->hits : impl_->misses).fetch_add(1, std::memory_order_relaxed);
  return found;
}

void TokenCache::insert(std::string_view token, std::shared_ptr<const VerifiedToken> verified) {
  if (impl_->per_shard == 0 || !verified) return;
  std::string key = sha256(token);
  auto& shard = impl_->shards[shard_of(key)];
  const std::int64_t exp = verified->exp;
  const std::lock_guard lock(shard.mu);
  if (const auto it = shard.entries.find(key); it != shard.entries.end()) shard.erase(it);
  if (shard.entries.size() >= impl_->per_shard) {
    // The entry closest to expiry goes, the new one included: it has the least time left to
    // save a signature check (and an already expired entry goes before any live one).
    impl_->evictions.fetch_add(1, std::memory_order_relaxed);
    const auto victim = shard.by_exp.begin();
    if (exp <= victim->first) return;
    shard.entries.erase(victim->second);
    shard.by_exp.erase(victim);
  }
  const auto pos = shard.by_exp.emplace(exp, key);
  shard.entries.emplace(std::move(key), Impl::Entry{std::move(verified), pos});
}

void TokenCache::clear() {
  for (auto& shard : impl_->shards) {
    const std::lock_guard lock(shard.mu);
    shard.entries.clear();
    shard.by_exp.clear();
  }
}

std::size_t TokenCache::size() const {
  std::size_t n = 0;
  for (auto& shard : impl_->shards) {
    const std::lock_guard lock(shard.mu);
    n += shard.entries.size();
  }
  return n;
}

std::uint64_t TokenCache::hits() const noexcept {
  return impl_->hits.load(std::memory_order_relaxed);
}
std::uint64_t TokenCache::misses() const noexcept {
  return impl_->misses.load(std::memory_order_relaxed);
}
std::uint64_t TokenCache::evictions() const noexcept {
  return impl_->evictions.load(std::memory_order_relaxed);
}

}  // namespace stella::gw::auth
