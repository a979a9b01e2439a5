// The receiving side of a CREDIT window (docs/protocol.md §8.2), one per stream: what the
// receiver consumed gathers until half the window is due, then it is granted in one CREDIT, so
// a stream of small chunks does not cost a CREDIT frame each. The gateway uses it for response
// bodies (what the client took), the SDK for request bodies (what the handler took).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "stella/core/frame.hpp"

namespace stella::core {

class CreditBatcher {
 public:
  explicit CreditBatcher(std::uint32_t window = 0) noexcept : window_(window) {}
  void reset(std::uint32_t window) noexcept {
    window_ = window;
    ungranted_ = 0;
  }
  /// One chunk of `bytes` payload was consumed (it cost its size plus kCreditPerChunk). The
  /// increment to grant now, or 0 when the batch is not due yet (or the window is 0: no credit).
  std::uint32_t consumed_chunk(std::size_t bytes) noexcept {
    return consumed(bytes + kCreditPerChunk);
  }
  /// `cost` more of the window was consumed; as consumed_chunk().
  std::uint32_t consumed(std::size_t cost) noexcept {
    if (window_ == 0) return 0;
    ungranted_ += cost;
    if (ungranted_ < window_ / 2) return 0;
    const auto grant = static_cast<std::uint32_t>(std::min<std::size_t>(ungranted_, UINT32_MAX));
    ungranted_ -= grant;
    return grant;
  }

 private:
  std::uint32_t window_;
  std::size_t ungranted_ = 0;
};

}  // namespace stella::core
