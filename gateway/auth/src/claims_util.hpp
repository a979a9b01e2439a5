// Helpers shared by the access-token and DPoP checks (private).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "stella/core/text.hpp"

namespace stella::gw::auth::detail {

enum class Round : std::uint8_t { down, up };

/// A NumericDate (RFC 7519 §2) as whole seconds, or nullopt when `v` is not a number. Values
/// beyond int64 saturate (a cast would be undefined behaviour). Fractions round the way that
/// keeps `now > exp` and `nbf > now` exact for integer `now`: exp down, nbf/iat up.
inline std::optional<std::int64_t> numeric_date(const nlohmann::json& v, Round round) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(kMax) ? kMax : static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (!v.is_number_float()) return std::nullopt;
  const double d = round == Round::down ? std::floor(v.get<double>()) : std::ceil(v.get<double>());
  if (std::isnan(d)) return std::nullopt;
  // 2^63 is exactly representable; anything at or above it does not fit.
  if (d >= 9223372036854775808.0) return kMax;
  if (d < -9223372036854775808.0) return kMin;
  return static_cast<std::int64_t>(d);
}

/// The member `name` of object `obj`, or nullptr (never inserts, never throws on a const json).
inline const nlohmann::json* member(const nlohmann::json& obj, std::string_view name) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

/// Attacker-supplied text made safe and short for a `detail` string.
inline std::string shown(std::string_view s) {
  return core::printable(s, 64);
}

}  // namespace stella::gw::auth::detail
