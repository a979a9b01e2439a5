#include "stella/gateway/ratelimit/instance_limiter.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "key_hash.hpp"

namespace stella::gw::ratelimit {

namespace {

constexpr std::size_t kMaxShards = 4096;
constexpr std::size_t kMinKeyBytes = 17;  // the digest's size: a shorter cap could grow keys
constexpr std::size_t kMaxKeyBytes = 65536;
constexpr unsigned char kDigestMarker = 0xFF;
// Idle keys dropped from the LRU end per check: enough to drain a table faster than one
// check adds a key, small enough to keep a check's cost flat.
constexpr int kIdleDropsPerCheck = 2;

// The map's key carries its hash, so a lookup hashes once (for the shard and the bucket).
struct StoredKey {
  std::string text;
  std::uint64_t hash = 0;
};
struct LookupKey {
  std::string_view text;
  std::uint64_t hash = 0;
};
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(const StoredKey& k) const noexcept { return k.hash; }
  std::size_t operator()(const LookupKey& k) const noexcept { return k.hash; }
};
struct KeyEq {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return a.hash == b.hash && std::string_view(a.text) == std::string_view(b.text);
  }
};

struct Entry {
  SlidingWindow::State state;
  core::TimePoint last_seen;
  Entry* newer = nullptr;  // towards the most recently used
  Entry* older = nullptr;  // towards the least recently used
  const StoredKey* key = nullptr;
};

using Table = std::unordered_map<StoredKey, Entry, KeyHash, KeyEq>;

}  // namespace

struct InstanceLimiter::Impl {
  // alignas: each shard's mutex on its own cache lines, so workers on different shards do
  // not contend through false sharing.
  struct alignas(64) Shard {
    std::mutex mu;
    Table table;
    Entry* mru = nullptr;
    Entry* lru = nullptr;
  };

  explicit Impl(InstanceLimiterSettings s)
      : settings(std::move(s)),
        window(settings.rules),
        shards(std::make_unique<Shard[]>(settings.shards)),
        shard_shift(64 - std::countr_zero(settings.shards)),
        per_shard(settings.max_keys / settings.shards),
        idle(std::max(settings.idle_expiry, window.longest_window())) {
    core::Random seeds(settings.hash_seed);
    hash_key = {seeds.next(), seeds.next()};
    digest_key = {seeds.next(), seeds.next()};
    for (std::size_t i = 0; i < settings.shards; ++i)
      shards[i].table.reserve(per_shard);  // no rehash while requests run
  }

  std::size_t shard_of(std::uint64_t hash) const noexcept {
    // Top bits pick the shard (shift 64 for one shard: avoid the undefined shift).
    return shard_shift >= 64 ? 0 : static_cast<std::size_t>(hash >> shard_shift);
  }

  static void unlink(Shard& sh, Entry* e) noexcept {
    (e->newer ? e->newer->older : sh.mru) = e->older;
    (e->older ? e->older->newer : sh.lru) = e->newer;
    e->newer = e->older = nullptr;
  }
  static void push_mru(Shard& sh, Entry* e) noexcept {
    e->older = sh.mru;
    e->newer = nullptr;
    (sh.mru ? sh.mru->newer : sh.lru) = e;
    sh.mru = e;
  }
  void erase(Shard& sh, Entry* e) {
    unlink(sh, e);
    const StoredKey* k = e->key;
    sh.table.erase(sh.table.find(LookupKey{k->text, k->hash}));
    keys.fetch_sub(1, std::memory_order_relaxed);
  }
  bool idle_at(const Entry* e, core::TimePoint now) const noexcept {
    return now - e->last_seen > idle;
  }
  // Drops idle keys from the LRU end, at most `limit`, never `keep`.
  std::size_t drop_idle(Shard& sh, core::TimePoint now, std::size_t limit, const Entry* keep) {
    std::size_t dropped = 0;
    while (dropped < limit && sh.lru != nullptr && sh.lru != keep && idle_at(sh.lru, now)) {
      erase(sh, sh.lru);
      ++dropped;
    }
    if (dropped > 0) expired.fetch_add(dropped, std::memory_order_relaxed);
    return dropped;
  }

  InstanceLimiterSettings settings;
  SlidingWindow window;
  std::unique_ptr<Shard[]> shards;
  int shard_shift;
  std::size_t per_shard;
  core::Duration idle;
  detail::SipKey hash_key;
  detail::SipKey digest_key;
  std::atomic<std::size_t> keys{0};
  std::atomic<std::uint64_t> evicted{0};
  std::atomic<std::uint64_t> expired{0};
};

std::optional<std::string> validate(const InstanceLimiterSettings& s) {
  if (auto error = validate_rules(s.rules)) return error;
  if (s.shards == 0 || s.shards > kMaxShards || !std::has_single_bit(s.shards))
    return "shards: must be a power of two in [1, 4096], got " + std::to_string(s.shards);
  if (s.max_keys < s.shards)
    return "max_keys: must be at least the number of shards (" + std::to_string(s.shards) +
           "), got " + std::to_string(s.max_keys);
  if (s.max_key_bytes < kMinKeyBytes || s.max_key_bytes > kMaxKeyBytes)
    return "max_key_bytes: must be in [17, 65536], got " + std::to_string(s.max_key_bytes);
  if (s.idle_expiry < core::Duration::zero()) return "idle_expiry: must not be negative";
  return std::nullopt;
}

namespace {
InstanceLimiterSettings validated(InstanceLimiterSettings s) {
  if (auto error = validate(s)) throw std::invalid_argument(*error);
  return s;
}
}  // namespace

InstanceLimiter::InstanceLimiter(InstanceLimiterSettings settings)
    : impl_(std::make_unique<Impl>(validated(std::move(settings)))) {}

InstanceLimiter::~InstanceLimiter() = default;

Decision InstanceLimiter::check(std::string_view key, core::TimePoint now) {
  Impl& m = *impl_;
  const std::uint64_t hash = detail::siphash13(m.hash_key, key);
  std::array<char, kMinKeyBytes> digest;
  if (key.size() > m.settings.max_key_bytes) {
    const std::uint64_t second = detail::siphash13(m.digest_key, key);
    digest[0] = static_cast<char>(kDigestMarker);
    std::memcpy(digest.data() + 1, &hash, 8);
    std::memcpy(digest.data() + 9, &second, 8);
    key = std::string_view(digest.data(), digest.size());
  }
  Impl::Shard& sh = m.shards[m.shard_of(hash)];
  std::lock_guard lock(sh.mu);
  Entry* e = nullptr;
  if (auto it = sh.table.find(LookupKey{key, hash}); it != sh.table.end()) {
    e = &it->second;
    if (sh.mru != e) {
      Impl::unlink(sh, e);
      Impl::push_mru(sh, e);
    }
  } else {
    if (sh.table.size() >= m.per_shard) {
      m.drop_idle(sh, now, sh.table.size(), nullptr);
      if (sh.table.size() >= m.per_shard) {
        m.erase(sh, sh.lru);
        m.evicted.fetch_add(1, std::memory_order_relaxed);
      }
    }
    SlidingWindow::State state = m.window.make_state(now);
    auto added = sh.table.try_emplace(StoredKey{std::string(key), hash}).first;
    e = &added->second;
    e->state = std::move(state);
    e->key = &added->first;
    e->last_seen = now;
    Impl::push_mru(sh, e);
    m.keys.fetch_add(1, std::memory_order_relaxed);
  }
  // A `now` from a moment ago (another worker read the clock first) must not make the key
  // look idle sooner.
  e->last_seen = std::max(e->last_seen, now);
  m.drop_idle(sh, now, kIdleDropsPerCheck, e);
  return m.window.check(e->state, now);
}

std::size_t InstanceLimiter::sweep(core::TimePoint now) {
  Impl& m = *impl_;
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < m.settings.shards; ++i) {
    Impl::Shard& sh = m.shards[i];
    std::lock_guard lock(sh.mu);
    dropped += m.drop_idle(sh, now, sh.table.size(), nullptr);
  }
  return dropped;
}

std::size_t InstanceLimiter::keys() const noexcept {
  return impl_->keys.load(std::memory_order_relaxed);
}
std::uint64_t InstanceLimiter::evictions() const noexcept {
  return impl_->evicted.load(std::memory_order_relaxed);
}
std::uint64_t InstanceLimiter::expirations() const noexcept {
  return impl_->expired.load(std::memory_order_relaxed);
}
std::size_t InstanceLimiter::capacity() const noexcept {
  return impl_->per_shard * impl_->settings.shards;
}
core::Duration InstanceLimiter::idle_expiry() const noexcept {
  return impl_->idle;
}
const SlidingWindow& InstanceLimiter::window() const noexcept {
  return impl_->window;
}

}  // namespace stella::gw::ratelimit
