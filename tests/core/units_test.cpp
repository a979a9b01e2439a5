// Durations and sizes as configuration files write them (core/units.hpp).
#include "stella/core/units.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

namespace {

using namespace std::chrono_literals;
using stella::core::format_duration;
using stella::core::parse_duration;
using stella::core::parse_size;

std::optional<std::chrono::nanoseconds> dur(std::string_view text,
                                            std::optional<std::chrono::nanoseconds> bare = {}) {
  std::string error;
  auto d = parse_duration(text, error, bare);
  if (d) {
    EXPECT_TRUE(error.empty()) << text;
  }
  return d;
}

// The error message for text that must be refused (fails the test when it is accepted).
std::string dur_error(std::string_view text, std::optional<std::chrono::nanoseconds> bare = {}) {
  std::string error;
  auto d = parse_duration(text, error, bare);
  EXPECT_FALSE(d) << text << " parsed as " << (d ? d->count() : 0) << "ns";
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

std::optional<std::uint64_t> bytes(std::string_view text) {
  std::string error;
  return parse_size(text, error);
}

std::string size_error(std::string_view text) {
  std::string error;
  auto s = parse_size(text, error);
  EXPECT_FALSE(s) << text << " parsed as " << (s ? *s : 0);
  EXPECT_FALSE(error.empty()) << text;
  return error;
}

TEST(UnitsDuration, EveryUnit) {
  EXPECT_EQ(dur("7ns"), 7ns);
  EXPECT_EQ(dur("7us"), 7us);
  EXPECT_EQ(dur("250ms"), 250ms);
  EXPECT_EQ(dur("30s"), 30s);
  EXPECT_EQ(dur("5m"), 5min);
  EXPECT_EQ(dur("2h"), 2h);
  EXPECT_EQ(dur("1d"), 24h);
  EXPECT_EQ(dur("0s"), 0s);
}

TEST(UnitsDuration, GroupsFractionsAndSpaces) {
  EXPECT_EQ(dur("1h30m"), 90min);
  EXPECT_EQ(dur("1m30s500ms"), 90500ms);
  EXPECT_EQ(dur("1.5s"), 1500ms);
  EXPECT_EQ(dur(".5s"), 500ms);
  EXPECT_EQ(dur("1.500s"), 1500ms);
  EXPECT_EQ(dur("0.001ms"), 1us);
  EXPECT_EQ(dur("1.000000001s"), 1'000'000'001ns);
  EXPECT_EQ(dur("  30s "), 30s);
  EXPECT_EQ(dur("1h 30m"), 90min);
  EXPECT_EQ(dur("30 s"), 30s);
}

TEST(UnitsDuration, BareNumbersOnlyWithABareUnit) {
  EXPECT_NE(dur_error("30").find("no unit"), std::string::npos);
  EXPECT_EQ(dur("30", 1s), 30s);
  EXPECT_EQ(dur("0", 1s), 0s);
  EXPECT_EQ(dur("2.5", 1s), 2500ms);
  EXPECT_EQ(dur("250", 1ms), 250ms);
  // A unit still works where a bare number would.
  EXPECT_EQ(dur("2m", 1s), 2min);
  // The bare number must be the whole text.
  dur_error("1m30", 1s);
  dur_error("0s30", 1s);
  dur_error("30 5", 1s);
}

TEST(UnitsDuration, Errors) {
  EXPECT_NE(dur_error("").find("empty"), std::string::npos);
  EXPECT_NE(dur_error("   ").find("empty"), std::string::npos);
  EXPECT_NE(dur_error("-5s").find("negative"), std::string::npos);
  EXPECT_NE(dur_error("-5", 1s).find("negative"), std::string::npos);
  EXPECT_NE(dur_error("5x").find("unknown duration unit 'x'"), std::string::npos);
  EXPECT_NE(dur_error("5S").find("unknown duration unit 'S'"), std::string::npos);  // case
  EXPECT_NE(dur_error("5sec").find("unknown"), std::string::npos);
  EXPECT_NE(dur_error("s").find("not a duration"), std::string::npos);
  EXPECT_NE(dur_error(".s").find("not a duration"), std::string::npos);
  EXPECT_NE(dur_error("+5s").find("not a duration"), std::string::npos);
  EXPECT_NE(dur_error("5s!").find("not a duration"), std::string::npos);
  EXPECT_NE(dur_error("0.5ns").find("whole number of nanoseconds"), std::string::npos);
  EXPECT_NE(dur_error("1.0000000000000000001s").find("decimal places"), std::string::npos);
  EXPECT_NE(dur_error("1e3s").find("unknown duration unit 'e'"), std::string::npos);
}

TEST(UnitsDuration, LimitsAndOverflow) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(dur(std::to_string(kMax) + "ns"), std::chrono::nanoseconds(kMax));
  EXPECT_NE(dur_error("9223372036854775808ns").find("too large"), std::string::npos);
  EXPECT_EQ(dur("106751d"), std::chrono::hours(106751 * 24));
  EXPECT_NE(dur_error("106752d").find("too large"), std::string::npos);
  // The sum of groups overflows although each group fits.
  EXPECT_NE(dur_error("106751d106751d").find("too large"), std::string::npos);
  EXPECT_NE(dur_error("99999999999999999999999999999999999999999h").find("too large"),
            std::string::npos);
  EXPECT_NE(dur_error(std::to_string(kMax), 1s).find("too large"), std::string::npos);
}

TEST(UnitsSize, UnitsAndBareNumbers) {
  EXPECT_EQ(bytes("0"), 0u);
  EXPECT_EQ(bytes("16384"), 16384u);
  EXPECT_EQ(bytes("10B"), 10u);
  EXPECT_EQ(bytes("1KB"), 1000u);
  EXPECT_EQ(bytes("100MB"), 100'000'000u);
  EXPECT_EQ(bytes("2GB"), 2'000'000'000u);
  EXPECT_EQ(bytes("3TB"), 3'000'000'000'000u);
  EXPECT_EQ(bytes("64KiB"), 65536u);
  EXPECT_EQ(bytes("1MiB"), 1048576u);
  EXPECT_EQ(bytes("1GiB"), 1073741824u);
  EXPECT_EQ(bytes("1TiB"), 1099511627776u);
  EXPECT_EQ(bytes("100mb"), 100'000'000u);  // case-insensitive
  EXPECT_EQ(bytes("64kib"), 65536u);
  EXPECT_EQ(bytes("100 MB"), 100'000'000u);
  EXPECT_EQ(bytes(" 1KB "), 1000u);
}

TEST(UnitsSize, FractionsMustBeWholeBytes) {
  EXPECT_EQ(bytes("1.5KB"), 1500u);
  EXPECT_EQ(bytes("1.001KB"), 1001u);
  // Exact arithmetic: a long double product lands just below 1 and was refused.
  EXPECT_EQ(bytes("0.001KB"), 1u);
  EXPECT_EQ(bytes("0.006KB"), 6u);
  EXPECT_EQ(bytes("0.000007MB"), 7u);
  EXPECT_EQ(bytes("0.5KiB"), 512u);
  EXPECT_EQ(bytes("1.0"), 1u);
  EXPECT_EQ(bytes("0.3KB"), 300u);
  EXPECT_EQ(bytes("1.25MB"), 1'250'000u);
  EXPECT_NE(size_error("1.5").find("whole number of bytes"), std::string::npos);
  EXPECT_NE(size_error("1.0001KB").find("whole number of bytes"), std::string::npos);
  EXPECT_NE(size_error("0.1KiB").find("whole number of bytes"), std::string::npos);
}

TEST(UnitsSize, Errors) {
  EXPECT_NE(size_error("").find("empty"), std::string::npos);
  EXPECT_NE(size_error("-1").find("negative"), std::string::npos);
  EXPECT_NE(size_error("-1MB").find("negative"), std::string::npos);
  EXPECT_NE(size_error("MB").find("not a size"), std::string::npos);
  EXPECT_NE(size_error("10XB").find("unknown size unit 'XB'"), std::string::npos);
  EXPECT_NE(size_error("10 MB extra").find("unknown size unit"), std::string::npos);
  EXPECT_NE(size_error("0x10").find("unknown size unit"), std::string::npos);
}

TEST(UnitsSize, LimitsAndOverflow) {
  EXPECT_EQ(bytes("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_NE(size_error("18446744073709551616").find("too large"), std::string::npos);
  EXPECT_EQ(bytes("16777215TiB"), 16777215ULL << 40);
  EXPECT_NE(size_error("16777216TiB").find("too large"), std::string::npos);
  EXPECT_NE(size_error("99999999999999999999999999999999999999999999").find("too large"),
            std::string::npos);
}

TEST(UnitsFormat, ShortestExactSpelling) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(3601s), "1h1s");
  EXPECT_EQ(format_duration(48h), "48h");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(100us), "100us");
  EXPECT_EQ(format_duration(7ns), "7ns");
  EXPECT_EQ(format_duration(-30s), "-30s");
  EXPECT_EQ(format_duration(std::chrono::nanoseconds::min()), "-9223372036854775808ns");
}

RC_GTEST_PROP(UnitsFormat, NonNegativeDurationsRoundTrip, (std::int64_t raw)) {
  const auto d = std::chrono::nanoseconds(raw < 0 ? -(raw + 1) : raw);
  std::string error;
  const auto back = parse_duration(format_duration(d), error);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == d);
}

RC_GTEST_PROP(UnitsFormat, WholeSecondsRoundTrip, (std::uint32_t seconds)) {
  const auto d = std::chrono::seconds(seconds);
  std::string error;
  RC_ASSERT(parse_duration(format_duration(d), error) == std::chrono::nanoseconds(d));
}

RC_GTEST_PROP(UnitsSize, DecimalFractionsAreExact, (std::uint32_t n)) {
  // n bytes written in KB and MB with every decimal place: "12.345KB", "0.012345MB".
  const std::uint64_t small = n % 1'000'000;
  RC_ASSERT(bytes(std::to_string(small / 1000) + "." +
                  std::to_string(1000 + small % 1000).substr(1) + "KB") == small);
  RC_ASSERT(bytes("0." + std::to_string(1'000'000 + small).substr(1) + "MB") == small);
}

RC_GTEST_PROP(UnitsDuration, DecimalSecondsAreExact, (std::uint32_t n)) {
  std::string frac = std::to_string(1'000'000'000 + n % 1'000'000'000).substr(1);
  const std::string text = std::to_string(n / 1'000'000'000) + "." + frac + "s";
  std::string error;
  RC_ASSERT(parse_duration(text, error) == std::chrono::nanoseconds(n));
}

RC_GTEST_PROP(UnitsSize, BareNumbersAreBytes, (std::uint64_t n)) {
  RC_ASSERT(bytes(std::to_string(n)) == n);
}

}  // namespace
