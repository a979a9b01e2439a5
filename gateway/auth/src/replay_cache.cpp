// ReplayCache: DPoP proof ids seen within their window, sharded, expired entries dropped from
// the front of a per-shard expiry index as shards are touched.
#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "stella/gateway/auth/auth_caches.hpp"

namespace stella::gw::auth {

namespace {
constexpr std::size_t kShards = 16;
}  // namespace

struct ReplayCache::Impl {
  // Live entries per owner (a proof key's thumbprint): the quota that keeps one key from
  // filling the cache for everyone. One lock for all shards; taken after a shard's.
  struct Owners {
    std::mutex mu;
    std::unordered_map<std::string, std::size_t> live;
    void release(const std::string& owner) {
      if (owner.empty()) return;
      const std::lock_guard lock(mu);
      if (auto it = live.find(owner); it != live.end() && --it->second == 0) live.erase(it);
    }
  };
  struct Entry {
    std::int64_t expires = 0;
    std::string owner;
  };
  struct Shard {
    std::mutex mu;
    // Ordered maps, not hash tables: the keys carry client-chosen jti values, and a tree has
    // no worst case a client could aim for.
    using Entries = std::map<std::string, Entry, std::less<>>;
    Entries entries;
    std::multimap<std::int64_t, Entries::iterator> by_expiry;

    // Amortised O(log n) per insert: each entry is dropped at most once.
    void drop_expired(std::int64_t now, Owners& owner_counts) {
      while (!by_expiry.empty() && by_expiry.begin()->first < now) {
        owner_counts.release(by_expiry.begin()->second->second.owner);
        entries.erase(by_expiry.begin()->second);
        by_expiry.erase(by_expiry.begin());
      }
    }
  };

  explicit Impl(std::size_t capacity) : per_shard(std::max<std::size_t>(1, capacity / kShards)) {}

  std::size_t per_shard;
  std::array<Shard, kShards> shards;
  Owners owners;
};

ReplayCache::ReplayCache(std::size_t capacity) : impl_(std::make_unique<Impl>(capacity)) {}
ReplayCache::~ReplayCache() = default;

ReplayVerdict ReplayCache::check_and_insert(std::string_view key, std::int64_t expires_unix,
                                            std::int64_t now_unix, std::string_view owner,
                                            std::size_t max_per_owner) {
  const ReplayVerdict v = insert_once(key, expires_unix, now_unix, owner, max_per_owner);
  if (v != ReplayVerdict::over_quota) return v;
  // The owner's count may include entries that expired in shards nobody touched since: drop
  // them everywhere (one shard lock at a time) and look again. Rare: only at the quota.
  for (auto& shard : impl_->shards) {
    const std::lock_guard lock(shard.mu);
    shard.drop_expired(now_unix, impl_->owners);
  }
  return insert_once(key, expires_unix, now_unix, owner, max_per_owner);
}

ReplayVerdict ReplayCache::insert_once(std::string_view key, std::int64_t expires_unix,
                                       std::int64_t now_unix, std::string_view owner,
                                       std::size_t max_per_owner) {
  auto& shard = impl_->shards[std::hash<std::string_view>{}(key) % kShards];
  const std::lock_guard lock(shard.mu);
  shard.drop_expired(now_unix, impl_->owners);
  if (shard.entries.find(key) != shard.entries.end()) return ReplayVerdict::replay;
  if (shard.entries.size() >= impl_->per_shard) return ReplayVerdict::full;
  if (!owner.empty()) {
    const std::lock_guard owners_lock(impl_->owners.mu);
    std::size_t& live = impl_->owners.live[std::string(owner)];
    if (max_per_owner != 0 && live >= max_per_owner) {
      if (live == 0) impl_->owners.live.erase(std::string(owner));
      return ReplayVerdict::over_quota;
    }
    ++live;
  }
  const auto it =
      shard.entries.emplace(std::string(key), Impl::Entry{expires_unix, std::string(owner)}).first;
  shard.by_expiry.emplace(expires_unix, it);
  return ReplayVerdict::fresh;
}

void ReplayCache::erase(std::string_view key) {
  auto& shard = impl_->shards[std::hash<std::string_view>{}(key) % kShards];
  const std::lock_guard lock(shard.mu);
  const auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return;
  auto [from, to] = shard.by_expiry.equal_range(it->second.expires);
  for (; from != to; ++from)
    if (from->second == it) {
      shard.by_expiry.erase(from);
      break;
    }
  impl_->owners.release(it->second.owner);
  shard.entries.erase(it);
}

std::size_t ReplayCache::size() const {
  std::size_t n = 0;
  for (auto& shard : impl_->shards) {
    const std::lock_guard lock(shard.mu);
    n += shard.entries.size();
  }
  return n;
}

}  // namespace stella::gw::auth
