// The run's event log: a running 64-bit FNV-1a hash of every logged line, optionally written
// out. Two runs are identical when their hashes are (the determinism test compares them).
//
// Control-plane events (connections, HELLO, health transitions, failures, violations, the
// per-second summary) are logged as text lines. Each request's outcome is folded into the hash
// as a compact binary record instead of a line: formatting a line per request would cost more
// than simulating it, and the hash still covers every routing decision.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string_view>

#include "stella/core/clock.hpp"

namespace stella::sim {

class EventLog {
 public:
  static constexpr std::uint64_t kOffset = 0xcbf29ce484222325ULL;
  static constexpr std::uint64_t kPrime = 0x100000001b3ULL;

  /// `out` (optional, not owned) receives the lines.
  explicit EventLog(std::ostream* out = nullptr) : out_(out) {}

  /// Logs "<seconds.nanoseconds> <text>\n".
  __attribute__((format(printf, 3, 4))) void line(core::TimePoint at, const char* fmt, ...) {
    char buf[512];
    const auto ns = at.time_since_epoch().count();
    int n = std::snprintf(buf, sizeof buf, "%lld.%09lld ", static_cast<long long>(ns / 1000000000),
                          static_cast<long long>(ns % 1000000000));
    va_list ap;
    va_start(ap, fmt);
    const int m = std::vsnprintf(buf + n, sizeof buf - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    n += m < 0 ? 0 : m;
    if (n > static_cast<int>(sizeof buf) - 2) n = static_cast<int>(sizeof buf) - 2;
    buf[n++] = '\n';
    mix(std::string_view(buf, static_cast<std::size_t>(n)));
    ++lines_;
    if (out_) out_->write(buf, n);
  }

  /// Folds a request outcome into the hash (no line).
  void fold(std::uint64_t a, std::uint64_t b) noexcept {
    mix_u64(a);
    mix_u64(b);
  }

  std::uint64_t hash() const noexcept { return hash_; }
  std::uint64_t lines() const noexcept { return lines_; }

 private:
  void mix(std::string_view s) noexcept {
    for (unsigned char c : s) {
      hash_ ^= c;
      hash_ *= kPrime;
    }
  }
  void mix_u64(std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (v >> (8 * i)) & 0xff;
      hash_ *= kPrime;
    }
  }

  std::ostream* out_;
  std::uint64_t hash_ = kOffset;
  std::uint64_t lines_ = 0;
};

}  // namespace stella::sim
