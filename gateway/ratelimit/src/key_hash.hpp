// Keyed hashing of rate-limit keys: SipHash (Aumasson and Bernstein), a PRF keyed with the
// process's secret, so a client cannot compute which keys collide or land on one shard (a
// plain hash such as std::hash has seed-independent collisions and would let it aim its keys).
// InstanceLimiter uses SipHash-1-3, as Rust's HashMap does: the flooding defence at about half
// the cost of SipHash-2-4; tests check SipHash-2-4 against the paper's test vector.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace stella::gw::ratelimit::detail {

struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

// Reads 8 bytes little-endian (the algorithm's byte order, on any host).
inline std::uint64_t load_le64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

template <int CompressionRounds, int FinalizationRounds>
std::uint64_t siphash(const SipKey& key, std::string_view data) noexcept {
  std::uint64_t v0 = key.k0 ^ 0x736f6d6570736575ULL;
  std::uint64_t v1 = key.k1 ^ 0x646f72616e646f6dULL;
  std::uint64_t v2 = key.k0 ^ 0x6c7967656e657261ULL;
  std::uint64_t v3 = key.k1 ^ 0x7465646279746573ULL;
  auto round = [&] {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  const std::size_t whole = n & ~std::size_t{7};
  for (std::size_t i = 0; i < whole; i += 8) {
    const std::uint64_t m = load_le64(p + i);
    v3 ^= m;
    for (int r = 0; r < CompressionRounds; ++r)
      round();
    v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t i = whole; i < n; ++i)
    last |= static_cast<std::uint64_t>(p[i]) << (8 * (i - whole));
  v3 ^= last;
  for (int r = 0; r < CompressionRounds; ++r)
    round();
  v0 ^= last;
  v2 ^= 0xff;
  for (int r = 0; r < FinalizationRounds; ++r)
    round();
  return v0 ^ v1 ^ v2 ^ v3;
}

inline std::uint64_t siphash13(const SipKey& key, std::string_view data) noexcept {
  return siphash<1, 3>(key, data);
}

}  // namespace stella::gw::ratelimit::detail
