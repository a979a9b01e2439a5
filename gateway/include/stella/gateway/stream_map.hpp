// Stream id -> call handle, per connection: open addressing with linear probing and
// backward-shift deletion. The gateway session hands out stream ids; the upstream router needs
// the call behind a RESPONSE without a node allocation per request (std::unordered_map would
// allocate one). Grows by doubling; the number of live entries is bounded by the session's
// max_in_flight.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace stella::gw {

class StreamMap {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  StreamMap() : keys_(16, 0), vals_(16, kNone) {}

  void insert(std::uint32_t stream, std::uint32_t slot) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    place(stream, slot);
    ++size_;
  }
  /// The slot, or kNone.
  std::uint32_t find(std::uint32_t stream) const noexcept {
    const std::size_t mask = keys_.size() - 1;
    for (std::size_t i = hash(stream) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == stream) return vals_[i];
      if (keys_[i] == 0) return kNone;
    }
  }
  /// Removes and returns the slot, or kNone.
  std::uint32_t erase(std::uint32_t stream) noexcept {
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = hash(stream) & mask;
    while (keys_[i] != stream) {
      if (keys_[i] == 0) return kNone;
      i = (i + 1) & mask;
    }
    const std::uint32_t v = vals_[i];
    // Backward shift: pull later members of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; keys_[j] != 0; j = (j + 1) & mask) {
      const std::size_t home = hash(keys_[j]) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys_[hole] = keys_[j];
        vals_[hole] = vals_[j];
        hole = j;
      }
    }
    keys_[hole] = 0;
    vals_[hole] = kNone;
    --size_;
    return v;
  }
  std::size_t size() const noexcept { return size_; }
  /// Every (stream, slot), in table order (callers sort when order matters).
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] != 0) f(keys_[i], vals_[i]);
  }
  void clear() {
    std::fill(keys_.begin(), keys_.end(), 0);
    std::fill(vals_.begin(), vals_.end(), kNone);
    size_ = 0;
  }

 private:
  static std::size_t hash(std::uint32_t k) noexcept {
    return static_cast<std::size_t>((k * 0x9E3779B1u) ^ (k >> 16));
  }
  void place(std::uint32_t k, std::uint32_t v) {
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = hash(k) & mask;
    while (keys_[i] != 0)
      i = (i + 1) & mask;
    keys_[i] = k;
    vals_[i] = v;
  }
  void grow() {
    std::vector<std::uint32_t> k(keys_.size() * 2, 0), v(keys_.size() * 2, kNone);
    k.swap(keys_);
    v.swap(vals_);
    for (std::size_t i = 0; i < k.size(); ++i)
      if (k[i] != 0) place(k[i], v[i]);
  }

  std::vector<std::uint32_t> keys_;  // 0 = empty (stream id 0 is never a request stream)
  std::vector<std::uint32_t> vals_;
  std::size_t size_ = 0;
};

}  // namespace stella::gw
