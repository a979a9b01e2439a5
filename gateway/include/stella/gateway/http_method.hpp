// Validation of the HTTP methods services declare in HELLO, and which methods are safe.
//
// A method is an RFC 9110 token (1*tchar) without lower-case letters. Methods are
// case-sensitive, so "get" would be a different method from "GET" that no client sends: it is
// refused as a likely mistake rather than registered as a dead route. Extension methods
// (PROPFIND, PURGE, ...) are fine.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace stella::gw {

/// True when `s` is a non-empty RFC 9110 token.
bool is_http_token(std::string_view s) noexcept;

/// GET, HEAD, OPTIONS and TRACE: the methods RFC 9110 §9.2.1 defines as safe (read-only). An
/// intermediary may forward pipelined requests concurrently only while all of them are safe
/// (RFC 9112 §9.3.2).
bool is_safe_method(std::string_view method) noexcept;

/// std::nullopt when `method` is acceptable; otherwise the reason, for HELLO_ACK and logs.
std::optional<std::string> check_method(std::string_view method, std::size_t max_length);

}  // namespace stella::gw
