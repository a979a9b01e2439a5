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

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
// Writes two lower-case hex digits per byte at `at`; returns the position after them.
char* put_hex(char* at, std::span<const std::uint8_t> bytes) noexcept {
  for (const std::uint8_t b : bytes) {
    *at++ = kHexDigits[b >> 4];
    *at++ = kHexDigits[b & 0x0f];
  }
  return at;
}
}  // namespace

void append_traceparent(std::string& out, const std::array<std::uint8_t, 16>& trace_id,
                        const std::array<std::uint8_t, 8>& span_id, std::uint8_t flags) {
  // The digits go straight into `out`.
  const std::size_t start = out.size();
  out.resize(start + kVersion00Size, '-');
  char* at = out.data() + start;
  *at++ = '0';
  *at++ = '0';
  at = put_hex(at + 1, trace_id);
  at = put_hex(at + 1, span_id);
  put_hex(at + 1, std::span(&flags, 1));
}

std::string format_traceparent(const std::array<std::uint8_t, 16>& trace_id,
                               const std::array<std::uint8_t, 8>& span_id, std::uint8_t flags) {
  std::string out;
  append_traceparent(out, trace_id, span_id, flags);
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out(bytes.size() * 2, '\0');
  put_hex(out.data(), bytes);
  return out;
}

}  // namespace stella::gw::http
