// A strict JSON reader for text that comes from peers (tokens, key sets, OpenAPI fragments):
// bounded size and depth, no duplicate member names, valid UTF-8. Pure function.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace stella::core {

struct JsonLimits {
  std::size_t max_bytes = 16 * 1024;
  std::size_t max_depth = 16;
};

/// Parses `text` as one JSON value. Refuses (nullopt, with a short reason in `error` when
/// given): invalid JSON or UTF-8, more than `limits.max_bytes` bytes, nesting deeper than
/// `limits.max_depth`, and any object holding the same member name twice (RFC 7515 §5.2
/// allows refusing; an attacker could otherwise make two parsers see two different documents).
/// Depth counts containers: a scalar is depth 0, `{}` depth 1, `[{}]` depth 2. The parse stops
/// at the first offence (a hostile document is never built in full).
std::optional<nlohmann::json> parse_strict_json(std::string_view text, const JsonLimits& limits,
                                                std::string* error = nullptr);

}  // namespace stella::core
