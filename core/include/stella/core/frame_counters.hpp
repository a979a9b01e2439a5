// Frames counted by type and direction, for gateway_transport_frames_total{type,direction}.
//
// A session writes through a pointer its owner gives it (nullptr: not counted). Thread-safety:
// relaxed atomics; one writer thread per counter set (the gateway keeps one per worker and sums
// them), any thread may read.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace stella::core {

class FrameCounters {
 public:
  /// Type codes 0x01..0x09 have their own slot; every other code counts as "unknown" (slot 0).
  static constexpr std::size_t kSlots = 10;
  enum Direction : std::uint8_t { in = 0, out = 1 };

  void count(Direction d, std::uint8_t type_code) noexcept {
    auto& c = counts_[d][slot(type_code)];
    // One writer: a load and a store, no locked read-modify-write.
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  /// Frames of `type_code` (0 = every unknown code) seen in direction `d`.
  std::uint64_t get(Direction d, std::uint8_t type_code) const noexcept {
    return counts_[d][slot(type_code)].load(std::memory_order_relaxed);
  }
  static constexpr std::size_t slot(std::uint8_t type_code) noexcept {
    return type_code >= 1 && type_code < kSlots ? type_code : 0;
  }

 private:
  std::array<std::array<std::atomic<std::uint64_t>, kSlots>, 2> counts_{};
};

}  // namespace stella::core
