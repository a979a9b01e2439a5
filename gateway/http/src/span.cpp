#include "stella/gateway/http/span.hpp"

#include <algorithm>

namespace stella::gw::http {
namespace {

constexpr std::size_t kVersion00Size = 55;  // "00-" + 32 + "-" + 16 + "-" + 2

// Lowercase only: the specification makes uppercase hex invalid rather than tolerated, so a
// header that would not survive a strict hop is not passed on either.
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes `text` (exactly two characters per byte of `out`); false on anything else.
bool decode_hex(std::string_view text, std::span<std::uint8_t> out) noexcept {
  if (text.size() != out.size() * 2) return false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

bool all_zero(std::span<const std::uint8_t> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

bool Span::is_root() const noexcept {
  return all_zero(parent_span_id);
}

std::optional<TraceContext> parse_traceparent(std::string_view value) noexcept {
  if (value.size() < kVersion00Size) return std::nullopt;
  std::uint8_t version = 0;
  if (!decode_hex(value.substr(0, 2), std::span(&version, 1))) return std::nullopt;
  if (version == 0xff) return std::nullopt;
  if (version == 0) {
    if (value.size() != kVersion00Size) return std::nullopt;
  } else if (value.size() > kVersion00Size && value[kVersion00Size] != '-') {
    return std::nullopt;
  }
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;

  TraceContext tc;
  std::uint8_t flags = 0;
  if (!decode_hex(value.substr(3, 32), tc.trace_id) ||
      !decode_hex(value.substr(36, 16), tc.parent_id) ||
      !decode_hex(value.substr(53, 2), std::span(&flags, 1)))
    return std::nullopt;
  if (all_zero(tc.trace_id) || all_zero(tc.parent_id)) return std::nullopt;
  tc.flags = flags;
  return tc;
}

std::string format_traceparent(const std::array<std::uint8_t, 16>& trace_id,
                               const std::array<std::uint8_t, 8>& span_id, std::uint8_t flags) {
  std::string out;
  out.reserve(kVersion00Size);
  out += "00-";
  out += to_hex(trace_id);
  out += '-';
  out += to_hex(span_id);
  out += '-';
  out += to_hex(std::span(&flags, 1));
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  return out;
}

}  // namespace stella::gw::http
