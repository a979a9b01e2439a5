// Integer id -> 32-bit handle: open addressing with linear probing and backward-shift deletion.
// The upstream router needs the call behind a RESPONSE (stream id -> call, per connection) and
// the calls of a connection (connection id -> its entry) without a node allocation per request
// or a division per lookup, as std::unordered_map would cost. Any key is allowed; a slot is
// empty when its value is kNone, which is therefore not a storable value. Grows by doubling; the
// number of live entries is bounded by the caller (the session's max_in_flight, the live
// connections).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace stella::gw {

template <class Key>
class IdMap {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  IdMap() : keys_(16, Key{}), vals_(16, kNone) {}

  /// `key` must not be present; `value` must not be kNone.
  void insert(Key key, std::uint32_t value) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    place(key, value);
    ++size_;
  }
  /// The value, or kNone.
  std::uint32_t find(Key key) const noexcept {
    const std::size_t mask = keys_.size() - 1;
    for (std::size_t i = hash(key) & mask;; i = (i + 1) & mask) {
      if (vals_[i] == kNone) return kNone;  // at most half full: every probe ends
      if (keys_[i] == key) return vals_[i];
    }
  }
  /// Removes and returns the value, or kNone.
  std::uint32_t erase(Key key) noexcept {
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = hash(key) & mask;
    for (;; i = (i + 1) & mask) {
      if (vals_[i] == kNone) return kNone;
      if (keys_[i] == key) break;
    }
    const std::uint32_t v = vals_[i];
    // Backward shift: pull later members of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; vals_[j] != kNone; j = (j + 1) & mask) {
      const std::size_t home = hash(keys_[j]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys_[hole] = keys_[j];
        vals_[hole] = vals_[j];
        hole = j;
      }
    }
    keys_[hole] = Key{};
    vals_[hole] = kNone;
    --size_;
    return v;
  }
  std::size_t size() const noexcept { return size_; }
  /// Every (key, value), in table order (callers sort when order matters).
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < keys_.size(); ++i)
      if (vals_[i] != kNone) f(keys_[i], vals_[i]);
  }
  void clear() {
    std::fill(keys_.begin(), keys_.end(), Key{});
    std::fill(vals_.begin(), vals_.end(), kNone);
    size_ = 0;
  }

 private:
  static std::size_t hash(Key k) noexcept {
    const std::uint64_t h = static_cast<std::uint64_t>(k) * 0x9E3779B97F4A7C15ULL;
    return static_cast<std::size_t>(h ^ (h >> 32));
  }
  void place(Key k, std::uint32_t v) {
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = hash(k) & mask;
    while (vals_[i] != kNone)
      i = (i + 1) & mask;
    keys_[i] = k;
    vals_[i] = v;
  }
  void grow() {
    std::vector<Key> k(keys_.size() * 2, Key{});
    std::vector<std::uint32_t> v(keys_.size() * 2, kNone);
    k.swap(keys_);
    v.swap(vals_);
    for (std::size_t i = 0; i < k.size(); ++i)
      if (v[i] != kNone) place(k[i], v[i]);
  }

  std::vector<Key> keys_;
  std::vector<std::uint32_t> vals_;  // kNone = empty slot
  std::size_t size_ = 0;
};

/// Stream id -> call handle, per connection.
using StreamMap = IdMap<std::uint32_t>;

}  // namespace stella::gw
