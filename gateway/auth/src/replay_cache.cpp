// ReplayCache: DPoP proof ids seen within their window, sharded, expired entries dropped from
// the front of a per-shard expiry index as shards are touched.
#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "stella/gateway/auth/auth_caches.hpp"

namespace stella::gw::auth {

namespace {
constexpr std::size_t kShards = 16;
}  // namespace

struct ReplayCache::Impl {
  struct Shard {
    std::mutex mu;
    // Ordered maps, not hash tables: the keys carry client-chosen jti values, and a tree has
    // no worst case a client could aim for.
    using Entries = std::map<std::string, std::int64_t, std::less<>>;  // key → expires
    Entries entries;
    std::multimap<std::int64_t, Entries::iterator> by_expiry;

    // Amortised O(log n) per insert: each entry is dropped at most once.
    void drop_expired(std::int64_t now) {
      while (!by_expiry.empty() && by_expiry.begin()->first < now) {
        entries.erase(by_expiry.begin()->second);
        by_expiry.erase(by_expiry.begin());
      }
    }
  };

  explicit Impl(std::size_t capacity) : per_shard(std::max<std::size_t>(1, capacity / kShards)) {}

  std::size_t per_shard;
  std::array<Shard, kShards> shards;
};

ReplayCache::ReplayCache(std::size_t capacity) : impl_(std::make_unique<Impl>(capacity)) {}
ReplayCache::~ReplayCache() = default;

ReplayVerdict ReplayCache::check_and_insert(std::string_view key, std::int64_t expires_unix,
                                            std::int64_t now_unix) {
  auto& shard = impl_->shards[std::hash<std::string_view>{}(key) % kShards];
  const std::lock_guard lock(shard.mu);
  shard.drop_expired(now_unix);
  if (shard.entries.find(key) != shard.entries.end()) return ReplayVerdict::replay;
  if (shard.entries.size() >= impl_->per_shard) return ReplayVerdict::full;
  const auto it = shard.entries.emplace(std::string(key), expires_unix).first;
  shard.by_expiry.emplace(expires_unix, it);
  return ReplayVerdict::fresh;
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
