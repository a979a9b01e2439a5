#include "stella/core/units.hpp"

#include "stella/core/text.hpp"

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>

namespace stella::core {
namespace {

// "'text'". Built by appending: GCC 12 at -O3 reports a false -Wrestrict on
// "'" + std::string(...) (operator+(const char*, string&&)).
std::string quote(std::string_view text) {
  std::string q;
  q.reserve(text.size() + 2);
  q += '\'';
  q.append(text);
  q += '\'';
  return q;
}

// Exact arithmetic: a long double accumulation of "1.001KB" can land a hair below 1001 and be
// refused as "not a whole number of bytes". Numbers are read as integer + decimal fraction and
// scaled in 128-bit integers instead.
__extension__ using U128 = unsigned __int128;  // GCC/Clang builtin; -Wpedantic-clean

// Significant fraction digits kept (after trailing zeros are dropped). 18 digits times the
// largest factor (1 d = 8.64e13 ns, 1 TiB = 2^40 B) stays far inside 128 bits.
constexpr std::size_t kMaxFractionDigits = 18;
// Integer parts above this are too large for any unit (results fit 64 bits), so reading
// stops accumulating and only remembers "too large".
constexpr U128 kIntegerCap = U128{1} << 64;

struct Unit {
  std::string_view name;
  std::uint64_t factor;  // nanoseconds or bytes per unit
};

struct Decimal {
  U128 integer = 0;
  bool too_large = false;
  U128 fraction = 0;                // the fraction digits as an integer ...
  std::size_t fraction_digits = 0;  // ... over 10^fraction_digits
  bool too_precise = false;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

U128 pow10(std::size_t n) {
  U128 v = 1;
  while (n--)
    v *= 10;
  return v;
}

// Reads digits with an optional fraction at `pos`; false when there is no digit.
bool read_decimal(std::string_view text, std::size_t& pos, Decimal& out) {
  out = Decimal{};
  const std::size_t start = pos;
  bool digits = false;
  while (pos < text.size() && is_digit(text[pos])) {
    if (!out.too_large) {
      out.integer = out.integer * 10 + static_cast<unsigned>(text[pos] - '0');
      if (out.integer > kIntegerCap) out.too_large = true;
    }
    ++pos;
    digits = true;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t pending_zeros = 0;  // trailing zeros are dropped, so "1.500" is exact
    while (pos < text.size() && is_digit(text[pos])) {
      const unsigned d = static_cast<unsigned>(text[pos++] - '0');
      digits = true;
      if (d == 0) {
        ++pending_zeros;
        continue;
      }
      if (out.fraction_digits + pending_zeros + 1 > kMaxFractionDigits) {
        out.too_precise = true;
        continue;
      }
      out.fraction = out.fraction * pow10(pending_zeros + 1) + d;
      out.fraction_digits += pending_zeros + 1;
      pending_zeros = 0;
    }
  }
  if (!digits) pos = start;
  return digits;
}

// value × factor as an exact integer; false when the fraction leaves a remainder.
bool scale(const Decimal& v, std::uint64_t factor, U128& out) {
  const U128 frac = v.fraction * factor;
  const U128 denom = pow10(v.fraction_digits);
  if (frac % denom != 0) return false;
  out = v.integer * factor + frac / denom;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

void skip_spaces(std::string_view text, std::size_t& pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'))
    ++pos;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(
    std::string_view text, std::string& error, std::optional<std::chrono::nanoseconds> bare_unit) {
  static constexpr std::array<Unit, 7> kUnits{{{"ns", 1},
                                               {"us", 1'000},
                                               {"ms", 1'000'000},
                                               {"s", 1'000'000'000},
                                               {"m", 60'000'000'000},
                                               {"h", 3'600'000'000'000},
                                               {"d", 86'400'000'000'000}}};
  constexpr U128 kMax = static_cast<U128>(std::numeric_limits<std::int64_t>::max());
  text = trim(text);
  const std::string quoted = quote(text);
  if (text.empty()) {
    error = "empty duration";
    return std::nullopt;
  }
  if (text.front() == '-') {
    error = "negative duration " + quoted;
    return std::nullopt;
  }
  U128 total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t group_start = pos;
    Decimal value;
    if (!read_decimal(text, pos, value)) {
      error = quoted + " is not a duration (expected e.g. \"30s\", \"250ms\", \"1h30m\")";
      return std::nullopt;
    }
    skip_spaces(text, pos);
    const std::size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos])))
      ++pos;
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    std::uint64_t factor = 0;
    if (unit.empty()) {
      // A bare number only as the whole text: "30" with bare_unit, never "1m30".
      if (!bare_unit || group_start != 0 || pos != text.size()) {
        error = "duration " + quoted +
                " has no unit (write e.g. \"30s\"; units ns, us, ms, s, m, h, d)";
        return std::nullopt;
      }
      if (bare_unit->count() <= 0) {
        error = "invalid bare unit for duration " + quoted;
        return std::nullopt;
      }
      factor = static_cast<std::uint64_t>(bare_unit->count());
    } else {
      for (const auto& u : kUnits)
        if (u.name == unit) factor = u.factor;
      if (factor == 0) {
        error = "unknown duration unit '" + std::string(unit) + "' in " + quoted +
                " (units ns, us, ms, s, m, h, d)";
        return std::nullopt;
      }
    }
    if (value.too_precise) {
      error = "duration " + quoted + " has too many decimal places";
      return std::nullopt;
    }
    U128 ns = 0;
    if (!value.too_large && !scale(value, factor, ns)) {
      error = "duration " + quoted + " is not a whole number of nanoseconds";
      return std::nullopt;
    }
    if (value.too_large || ns > kMax || total + ns > kMax) {
      error = "duration " + quoted + " is too large (at most about 292 years)";
      return std::nullopt;
    }
    total += ns;
    skip_spaces(text, pos);
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error) {
  static constexpr std::array<Unit, 9> kUnits{{{"b", 1},
                                               {"kb", 1'000},
                                               {"mb", 1'000'000},
                                               {"gb", 1'000'000'000},
                                               {"tb", 1'000'000'000'000},
                                               {"kib", 1ULL << 10},
                                               {"mib", 1ULL << 20},
                                               {"gib", 1ULL << 30},
                                               {"tib", 1ULL << 40}}};
  text = trim(text);
  const std::string quoted = quote(text);
  if (text.empty()) {
    error = "empty size";
    return std::nullopt;
  }
  if (text.front() == '-') {
    error = "negative size " + quoted;
    return std::nullopt;
  }
  std::size_t pos = 0;
  Decimal value;
  if (!read_decimal(text, pos, value)) {
    error = quoted + " is not a size (expected e.g. \"100MB\", \"64KiB\", \"16384\")";
    return std::nullopt;
  }
  const std::string_view unit = trim(text.substr(pos));
  std::uint64_t factor = 1;
  if (!unit.empty()) {
    factor = 0;
    for (const auto& u : kUnits)
      if (iequals_ascii(u.name, unit)) factor = u.factor;
    if (factor == 0) {
      error = "unknown size unit '" + std::string(unit) + "' in " + quoted +
              " (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
      return std::nullopt;
    }
  }
  if (value.too_precise) {
    error = "size " + quoted + " has too many decimal places";
    return std::nullopt;
  }
  U128 bytes = 0;
  if (!value.too_large && !scale(value, factor, bytes)) {
    error = "size " + quoted + " is not a whole number of bytes";
    return std::nullopt;
  }
  if (value.too_large || bytes > std::numeric_limits<std::uint64_t>::max()) {
    error = "size " + quoted + " is too large (at most 2^64 - 1 bytes)";
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(bytes);
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t count = d.count();
  if (count == 0) return "0s";
  std::string out;
  // The magnitude as unsigned: negating INT64_MIN would overflow.
  std::uint64_t ns = static_cast<std::uint64_t>(count);
  if (count < 0) {
    out = "-";
    ns = ~ns + 1;
  }
  // Sub-second remainders print alone in their finest exact unit ("250ms", "1500us").
  if (ns % 1'000'000'000 != 0) {
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
    return out + std::to_string(ns) + "ns";
  }
  std::uint64_t s = ns / 1'000'000'000;
  const std::uint64_t h = s / 3600;
  s %= 3600;
  const std::uint64_t m = s / 60;
  s %= 60;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s) out += std::to_string(s) + "s";
  return out;
}

}  // namespace stella::core
