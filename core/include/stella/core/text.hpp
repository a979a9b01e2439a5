// Checks on text that comes from peers (service names, instance ids, label values, log
// fields): UTF-8 validity and control characters. Pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace stella::core {

/// Length of the valid UTF-8 sequence that starts at s[i] (1 for ASCII), 0 when the bytes
/// there are not one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no
/// truncated sequence). `i` must be < s.size().
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

/// True when `s` is valid UTF-8 with no control character (C0, DEL, C1): text that can be shown
/// in a log line, a JSON document or a metric label as it is.
bool is_printable_utf8(std::string_view s) noexcept;

/// ASCII case-insensitive equality (header names, tokens, certificate names); other bytes must
/// be equal.
bool iequals_ascii(std::string_view a, std::string_view b) noexcept;

/// `s` made safe to show in a log line: printable UTF-8 stays as it is, every other byte (control
/// characters, invalid UTF-8) becomes \xNN, and a backslash becomes \\ — so a peer cannot
/// forge log lines or terminal escapes. At most `max_bytes` of `s` are rendered ("..." follows).
std::string printable(std::string_view s, std::size_t max_bytes = 512);

/// Appends `s` as the inside of a JSON string: quote, backslash and control characters
/// escaped (\n \r \t, else \u00XX, DEL too), invalid UTF-8 bytes as \ufffd each; valid UTF-8
/// as it is.
void append_json_escaped(std::string& out, std::string_view s);

/// `s` for HTML text and attribute values: < > & " escaped.
std::string html_escape(std::string_view s);

}  // namespace stella::core
