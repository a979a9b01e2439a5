// The instance level of rate limiting (DESIGN.md §6): every rule of SlidingWindow applied per
// key, exactly, across all worker threads of this process. A 100/1 s rule admits at most 100
// requests of one key in any window of its buckets, however many workers check at once.
//
// Layout: `shards` tables (64 by default), each a hash map key → SlidingWindow::State behind
// its own std::mutex, plus a least-recently-used list for eviction. A key's shard comes from
// SipHash-1-3 keyed with the caller's per-process seed, so clients cannot aim their keys at
// one shard (or one hash chain). A check of an existing key locks one shard, hashes once,
// and allocates nothing; a new key allocates its map node and its counters (for the seed's
// two rules about 400 bytes with the map's overhead, plus the key).
//
// Bounded memory:
//   - at most max_keys keys in all: each shard holds at most floor(max_keys / shards);
//   - a key idle (no check) for longer than idle_expiry (at least the longest window: an idle
//     key counts nothing any more) is dropped: up to two from the LRU end of the shard at each
//     check, all of them when the shard is full, and everywhere by sweep();
//   - when a shard is full of live keys, its least recently used key is evicted (evictions()).
//     An evicted key starts afresh next time, so under a flood of distinct keys limits are
//     forgotten, never wrongly applied: size max_keys for the keys you expect (the seed's
//     tenants and identities) and alert on evictions;
//   - a key longer than max_key_bytes is stored as a 17-byte keyed digest of itself
//     (0xFF, then two 64-bit SipHash values): long keys cost no more memory, and two keys
//     still share state only if both 64-bit hashes collide.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/ratelimit/decision.hpp"
#include "stella/gateway/ratelimit/rule.hpp"
#include "stella/gateway/ratelimit/sliding_window.hpp"

namespace stella::gw::ratelimit {

struct InstanceLimiterSettings {
  /// The rules every key gets (rate_limiting.for_instance.rules; the seed: 100/1 s and
  /// 1000/60 s).
  std::vector<Rule> rules;
  /// Keys held at most, over all shards (rate_limiting.max_keys: 100,000). Must be ≥ shards.
  std::size_t max_keys = 100'000;
  /// A key without a check for longer than this is dropped. Zero (the default) means the
  /// longest window; shorter values are raised to it (dropping sooner would forget counts).
  core::Duration idle_expiry{};
  /// Number of shards: a power of two in [1, 4096]. 64: far more than worker threads, so two
  /// workers rarely meet on one lock, and few enough that the tables stay warm.
  std::size_t shards = 64;
  /// Keys longer than this are stored as a digest (see the header comment); in [17, 65536].
  std::size_t max_key_bytes = 256;
  /// Per-process secret for the key hash. The caller draws it (core::entropy_seed() in
  /// `serve`; a fixed value in tests and the simulator); the library reads no entropy.
  std::uint64_t hash_seed = 0;
};

/// Checks settings; returns a message naming the first bad field, or std::nullopt. Rules as
/// validate_rules; shards a power of two in [1, 4096]; max_keys ≥ shards; max_key_bytes in
/// [17, 65536]; idle_expiry ≥ 0.
std::optional<std::string> validate(const InstanceLimiterSettings& s);

class InstanceLimiter {
 public:
  /// Throws std::invalid_argument with validate's message for invalid settings (startup).
  explicit InstanceLimiter(InstanceLimiterSettings settings);
  ~InstanceLimiter();
  InstanceLimiter(const InstanceLimiter&) = delete;
  InstanceLimiter& operator=(const InstanceLimiter&) = delete;

  /// Checks one request of `key` at `now` against every rule, and counts it in every rule if
  /// all admit it (SlidingWindow::check). A new key is added first, which may drop idle keys
  /// or evict the least recently used one of its shard. Any key is accepted (arbitrary bytes,
  /// empty included). Throws only std::bad_alloc, when adding a key fails.
  Decision check(std::string_view key, core::TimePoint now);

  /// Drops every key idle at `now` (scanning each shard from its LRU end up to the first live
  /// key); returns how many. For a periodic timer; check() already drops some as it goes.
  std::size_t sweep(core::TimePoint now);

  /// Keys held now (a relaxed snapshot).
  std::size_t keys() const noexcept;
  /// Live keys evicted because their shard was full (counter).
  std::uint64_t evictions() const noexcept;
  /// Idle keys dropped (counter).
  std::uint64_t expirations() const noexcept;
  /// The effective cap: shards × floor(max_keys / shards) ≤ max_keys.
  std::size_t capacity() const noexcept;
  /// The effective idle expiry (settings.idle_expiry raised to the longest window).
  core::Duration idle_expiry() const noexcept;
  const SlidingWindow& window() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stella::gw::ratelimit
