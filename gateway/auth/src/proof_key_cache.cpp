// ProofKeyCache: parsed DPoP proof keys by SHA-256 of their JSON, sharded, oldest out first.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "digest_hash.hpp"
#include "stella/gateway/auth/auth_caches.hpp"

namespace stella::gw::auth {

using detail::DigestHash;

namespace {

constexpr std::size_t kShards = 16;

}  // namespace

struct ProofKeyCache::Impl {
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const Jwk>, DigestHash> keys;
    std::deque<std::string> order;  // insertion order: the oldest goes first
  };
  explicit Impl(std::size_t capacity)
      : per_shard(capacity == 0 ? 0 : std::max<std::size_t>(1, capacity / kShards)) {}
  std::size_t per_shard;
  std::array<Shard, kShards> shards;
};

ProofKeyCache::ProofKeyCache(std::size_t capacity) : impl_(std::make_unique<Impl>(capacity)) {}
ProofKeyCache::~ProofKeyCache() = default;

std::shared_ptr<const Jwk> ProofKeyCache::get(const nlohmann::json& jwk, JwkErrc& error) {
  if (impl_->per_shard == 0) {
    auto r = parse_jwk(jwk, false);
    if (!r.jwk) {
      error = r.error;
      return nullptr;
    }
    return std::make_shared<const Jwk>(std::move(*r.jwk));
  }
  // dump() of a parsed object is canonical (members sorted, one spelling per value): equal
  // text means equal members, and parsing is a function of the members.
  const std::string digest = sha256(jwk.dump());
  Impl::Shard& shard = impl_->shards[detail::digest_shard(digest, kShards)];
  {
    std::lock_guard lock(shard.mu);
    if (auto it = shard.keys.find(digest); it != shard.keys.end()) return it->second;
  }
  auto r = parse_jwk(jwk, false);  // outside the lock: the expensive part
  if (!r.jwk) {
    error = r.error;
    return nullptr;
  }
  auto key = std::make_shared<const Jwk>(std::move(*r.jwk));
  std::lock_guard lock(shard.mu);
  if (shard.keys.emplace(digest, key).second) {
    shard.order.push_back(digest);
    while (shard.keys.size() > impl_->per_shard) {
      shard.keys.erase(shard.order.front());
      shard.order.pop_front();
    }
  }
  return key;
}

std::size_t ProofKeyCache::size() const {
  std::size_t n = 0;
  for (auto& s : impl_->shards) {
    std::lock_guard lock(s.mu);
    n += s.keys.size();
  }
  return n;
}

}  // namespace stella::gw::auth
