// Durations and sizes as configuration files write them: "30s", "250ms", "1h30m", "100MB".
//
// Pure functions; errors are returned as a message naming what is wrong (the caller adds the
// key and the file).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stella::core {

/// A duration: one or more <number><unit> groups, units ns, us, ms, s, m, h, d ("1h30m",
/// "1.5s", "250ms"; spaces between a number and its unit or between groups are allowed:
/// "1h 30m"). Units are case-sensitive ("m" is minutes, "ms" milliseconds). A bare number is
/// refused (the unit is never guessed) unless `bare_unit` is given, in which case the whole text
/// may be one bare number taken in that unit (keys named ...Seconds). Arithmetic is exact:
/// negative values, empty text, unknown units, fractions finer than 1 ns, more than 18
/// significant decimal places and overflow past ~292 years (int64 nanoseconds) are errors.
/// Returns std::nullopt and sets `error` on failure.
std::optional<std::chrono::nanoseconds> parse_duration(
    std::string_view text, std::string& error,
    std::optional<std::chrono::nanoseconds> bare_unit = std::nullopt);

/// A size in bytes: <number>[unit], units B, KB, MB, GB, TB (powers of 1000) and KiB, MiB,
/// GiB, TiB (powers of 1024), case-insensitive, optional space before the unit, fractions
/// allowed when the result is a whole number of bytes ("1.5KB"; computed exactly). A bare
/// number is bytes. Empty text, negative values, fractions of a byte and overflow of 64 bits
/// are errors.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error);

/// "30s", "250ms", "1h30m": the shortest exact spelling, for logs and `config print`.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace stella::core
