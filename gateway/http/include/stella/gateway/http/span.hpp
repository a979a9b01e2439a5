// Trace spans as plain data, and the W3C `traceparent` header that carries a trace across
// processes (https://www.w3.org/TR/trace-context/).
//
// No I/O and no clock here: whoever records a span fills in its own timestamps and ids (from the
// injected clock and random generator), and the exporter only ships what it is given.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace stella::gw::http {

struct SpanAttribute {
  std::string key;
  std::variant<std::string, std::int64_t, bool, double> value;
};

/// One finished operation. The names the gateway records are "gateway.route" (the whole
/// request, kind server), "gateway.auth.validate" and "gateway.transport.send" (kind client),
/// the latter two children of the first.
struct Span {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};
  std::array<std::uint8_t, 8> parent_span_id{};  // all zero: a root span
  std::string name;
  // Values as in OTLP's Span.SpanKind, so they are written to the wire unchanged.
  enum class Kind : std::uint8_t { internal = 1, server = 2, client = 3 } kind = Kind::internal;
  std::uint64_t start_unix_nano = 0;  // wall-clock time, nanoseconds since the Unix epoch
  std::uint64_t end_unix_nano = 0;
  // Values as in OTLP's Status.StatusCode.
  enum class Status : std::uint8_t { unset = 0, ok = 1, error = 2 } status = Status::unset;
  std::string status_message;  // only meaningful with Status::error
  std::vector<SpanAttribute> attributes;

  bool is_root() const noexcept;
};

/// What a valid `traceparent` header carries.
struct TraceContext {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> parent_id{};
  std::uint8_t flags = 0;  // bit 0: sampled
};

/// Parses a `traceparent` value: "<version>-<trace-id>-<parent-id>-<flags>", all lowercase hex.
/// Version 00 must be exactly 55 characters. A higher version is parsed by the version-00
/// layout when it is at least 55 characters long and the 56th character, if any, is '-' (the
/// fields a future version appends are ignored), as the specification asks of a version-00
/// parser. nullopt (the caller then starts a new trace) for: uppercase or other non-hex
/// characters, wrong lengths or separators, version ff, an all-zero trace id or parent id.
std::optional<TraceContext> parse_traceparent(std::string_view value) noexcept;

/// "00-<32 hex>-<16 hex>-<2 hex>", lowercase: the header sent on to the services.
std::string format_traceparent(const std::array<std::uint8_t, 16>& trace_id,
                               const std::array<std::uint8_t, 8>& span_id, std::uint8_t flags);
/// As format_traceparent, appended to `out` (no allocation when it has room).
void append_traceparent(std::string& out, const std::array<std::uint8_t, 16>& trace_id,
                        const std::array<std::uint8_t, 8>& span_id, std::uint8_t flags);

/// Lowercase hex, two characters per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace stella::gw::http
