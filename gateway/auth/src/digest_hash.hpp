// Hashing for tables keyed by a SHA-256 digest (the token cache, the proof-key cache).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

namespace stella::gw::auth::detail {

/// A SHA-256 digest is already uniformly spread (and cannot be steered by a client into one
/// bucket or shard), so its first bytes serve as the hash as they are.
struct DigestHash {
  std::size_t operator()(const std::string& digest) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, digest.data(), std::min(sizeof h, digest.size()));
    return h;
  }
};

/// The shard of a digest among `shards`: a byte the hash above does not use.
inline std::size_t digest_shard(const std::string& digest, std::size_t shards) noexcept {
  return digest.size() > sizeof(std::size_t)
             ? static_cast<unsigned char>(digest[sizeof(std::size_t)]) % shards
             : 0;
}

}  // namespace stella::gw::auth::detail
