// A tiny consumer of fuzzer bytes (numbers and strings taken from the front), shared by the fuzz
// targets so the same input always builds the same value in libFuzzer and replay builds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace stella::fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const noexcept { return data_.empty(); }

  template <class T>
  T integral() {
    T v{};
    for (std::size_t i = 0; i < sizeof(T) && !data_.empty(); ++i) {
      v = static_cast<T>((static_cast<std::uint64_t>(v) << 8) |
                         static_cast<unsigned char>(data_.front()));
      data_.remove_prefix(1);
    }
    return v;
  }

  /// A value in [0, n) (0 when n == 0).
  std::size_t below(std::size_t n) { return n == 0 ? 0 : integral<std::uint16_t>() % n; }

  /// Up to `max` bytes, length taken from the input first.
  std::string string(std::size_t max = 32) {
    const std::size_t want = below(max + 1);  // consumes input: before data_.size()
    const std::size_t n = std::min(want, data_.size());
    std::string s(data_.substr(0, n));
    data_.remove_prefix(n);
    return s;
  }

  std::string_view rest() {
    std::string_view r = data_;
    data_ = {};
    return r;
  }

 private:
  std::string_view data_;
};

/// Invariant check that survives NDEBUG and reports the failed condition.
#define STELLA_FUZZ_CHECK(cond)                                                          \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

}  // namespace stella::fuzz
