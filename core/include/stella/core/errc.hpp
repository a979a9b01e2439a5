// Error codes of stella::core: the frame codec and the path rules.
//
// Every error the core can report has a name here; the data path returns these as values
// (boost-free: std::error_code with stella::core::core_category()), never throws them.
#pragma once

#include <string_view>
#include <system_error>

namespace stella::core {

enum class Errc : int {
  ok = 0,

  // ---- frame header -------------------------------------------------------------------
  bad_magic = 1,        // the first two bytes are not 'S' 'G'
  unsupported_version,  // header version byte is not one this decoder speaks
  payload_too_large,    // header payload length exceeds the configured limit
  invalid_stream_id,    // stream id 0 where one is required, or non-zero where forbidden
  reserved_bits_set,    // the reserved header field is not zero

  // ---- frame payload ------------------------------------------------------------------
  truncated_field,         // a field header or value runs past the end of its container
  invalid_field_length,    // a fixed-width field (u8/u16/u32/u64) has the wrong length
  missing_field,           // a required field is absent
  duplicate_field,         // a non-repeated field occurs twice
  invalid_value,           // a value outside its domain (bool not 0/1, status not 100-999)
  string_too_long,         // a string or bytes field exceeds its limit
  too_many_items,          // headers, endpoints, claims, scopes ... exceed their count limit
  header_block_too_large,  // the header block exceeds the configured byte limit
  trailing_bytes,          // bytes left over inside a fixed structure (header block)

  // ---- protocol sessions (both ends) -------------------------------------------------------
  unexpected_frame = 60,  // a frame the peer may not send, or not in this state
  unknown_stream,         // a frame for a stream id never opened on this connection
  duplicate_stream,       // REQUEST for a stream id already in flight
  too_many_streams,       // in-flight streams at the configured limit
  output_overflow,        // outbound queue at its byte limit: the peer is not reading
  hello_timeout,          // no HELLO (gateway) or HELLO_ACK (service) in time
  peer_silent,            // nothing received for longer than the liveness timeout
  version_mismatch,       // HELLO's version range and ours do not overlap
  session_not_ready,      // command before the handshake completed, or while draining
  session_closed,         // command after the session closed
  peer_closed,            // the peer sent DRAIN with an error code, or the transport closed
  window_exhausted,       // STREAM_DATA on a stream whose CREDIT window is used up

  // ---- path templates and request paths -----------------------------------------------
  template_empty = 100,         // empty template text
  template_not_absolute,        // template does not start with '/'
  template_bad_char,            // a character not allowed in a template literal
  template_bad_param,           // malformed {param}: empty, unclosed, bad name, mixed with literal
  template_duplicate_param,     // the same parameter name twice in one template
  template_catch_all_not_last,  // {*rest} is not the final segment
  template_too_long,            // template exceeds the length or segment-count limit
  template_conflict,            // same shape as an already registered template
  path_not_absolute = 120,      // request path does not start with '/'
  path_bad_percent,             // '%' not followed by two hex digits
  path_encoded_separator,       // %2F or %5C (encoded '/' or '\')
  path_nul,                     // NUL, raw or as %00
  path_bad_char,                // control character, raw '\', or byte not allowed in a path
  path_escapes_root,            // '..' would climb above '/'
  path_too_long,                // path exceeds the length or segment-count limit
};

/// The category of stella::core::Errc. Thread-safe (a function-local static).
const std::error_category& core_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), core_category()};
}

/// Stable snake_case name of an error ("bad_magic"); "unknown" for values not listed.
std::string_view errc_name(Errc e) noexcept;

}  // namespace stella::core

template <>
struct std::is_error_code_enum<stella::core::Errc> : std::true_type {};
