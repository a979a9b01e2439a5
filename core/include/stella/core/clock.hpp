// Time and randomness behind interfaces, so the simulator and tests drive them.
//
// Nothing outside the implementations in this header reads steady_clock::now(),
// system_clock::now() or std::random_device. State machines take `now` as an argument; the
// I/O shells ask a Clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace stella::core {

/// Monotonic time. The simulator's virtual time is a TimePoint like any other.
using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
};

/// The real monotonic clock. Thread-safe.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
};

/// A clock that moves only when told to. Not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint now() const noexcept override { return now_; }
  void advance(Duration d) noexcept { now_ += d; }
  void set(TimePoint t) noexcept { now_ = t; }

 private:
  TimePoint now_;
};

/// Wall-clock time as RFC 3339 UTC with milliseconds ("2026-11-26T09:17:35.123Z"), for log
/// lines only; never for decisions.
std::string wall_clock_rfc3339();
/// Wall-clock time in nanoseconds since the Unix epoch, for log lines and trace spans only.
std::uint64_t wall_clock_unix_nano();
/// `unix_nano` as RFC 3339 UTC with milliseconds.
std::string rfc3339_of_unix_nano(std::uint64_t unix_nano);

/// 64 bits from the operating system's entropy source, to seed a Random where determinism is
/// not wanted (correlation ids in `serve`). The simulator and tests never call it.
std::uint64_t entropy_seed();

/// Deterministic pseudo-random numbers (SplitMix64). The same seed gives the same sequence on
/// every platform. Not thread-safe; one per subsystem (derive sub-seeds with `fork`).
class Random {
 public:
  explicit Random(std::uint64_t seed) noexcept : state_(seed) {}

  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n); 0 when n == 0. (Multiply-shift: no modulo bias worth noting for n < 2^32.)
  std::uint64_t below(std::uint64_t n) noexcept {
    __extension__ using U128 = unsigned __int128;  // GCC/Clang builtin; -Wpedantic-clean
    return n == 0 ? 0 : static_cast<std::uint64_t>((static_cast<U128>(next()) * n) >> 64);
  }
  /// Uniform in [0, 1).
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// An independent generator for a subsystem, derived from this one's sequence.
  Random fork() noexcept { return Random(next()); }
  /// Fills `n` bytes at `out` from the sequence (each next() gives 8 bytes, low byte first).
  void fill(void* out, std::size_t n) noexcept {
    auto* p = static_cast<unsigned char*>(out);
    for (std::size_t i = 0; i < n; i += 8) {
      std::uint64_t bits = next();
      for (std::size_t j = i; j < n && j < i + 8; ++j, bits >>= 8)
        p[j] = static_cast<unsigned char>(bits);
    }
  }

 private:
  std::uint64_t state_;
};

}  // namespace stella::core
