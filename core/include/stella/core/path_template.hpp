// Route path templates: "/api/v1/scans/{id}", "/files/{*rest}", "/".
//
// Grammar (docs/paths.md has the full rules and the table of errors):
//   template  = "/" [ segment *( "/" segment ) [ "/" ] ]
//   segment   = literal / "{" name "}" / "{*" name "}"      ; catch-all only as the last segment
//   literal   = 1*( unreserved / sub-delims / ":" / "@" )   ; RFC 3986 pchar without '%'
//   name      = ( ALPHA / "_" ) *( ALPHA / DIGIT / "_" )
// A parameter occupies a whole segment. One trailing '/' is accepted and dropped, because
// request matching ignores one trailing slash: "/a/b/" and "/a/b" are the same template.
// Literals are compared byte-exactly (case-sensitive) with *decoded* request segments, so a
// template carries no percent-escapes: it spells the character itself.
//
// Thread-safety: a PathTemplate is an immutable value once parsed; concurrent const use is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "stella/core/errc.hpp"

namespace stella::core {

/// Limits applied by PathTemplate::parse. Templates come from services (HELLO), so they are
/// untrusted input too.
struct TemplateLimits {
  /// Maximum template length in bytes. 2048 is far above any real route and keeps a hostile
  /// HELLO cheap to refuse.
  std::size_t max_length = 2048;
  /// Maximum number of segments (the root "/" has 0). 64 bounds the trie depth per template.
  std::size_t max_segments = 64;
};

/// Why a template was refused. `position` is the byte offset in the template text where the
/// problem was detected (<= text size); `message` is a human-readable reason for HELLO_ACK.
struct TemplateError {
  Errc code = Errc::ok;
  std::size_t position = 0;
  std::string message;
};

enum class SegmentKind : std::uint8_t {
  kLiteral,   // matched byte-exactly against one decoded request segment
  kParam,     // {name}: any one non-empty segment
  kCatchAll,  // {*name}: the rest of the path, zero or more segments (last segment only)
};

struct TemplateSegment {
  SegmentKind kind = SegmentKind::kLiteral;
  std::string text;  // the literal, or the parameter name without braces and '*'

  friend bool operator==(const TemplateSegment&, const TemplateSegment&) = default;
};

class TemplateParseResult;

class PathTemplate {
 public:
  /// Parses `text`. Never throws on bad input: on error the result carries a TemplateError
  /// with one of Errc::template_empty, template_not_absolute, template_bad_char,
  /// template_bad_param, template_duplicate_param, template_catch_all_not_last or
  /// template_too_long. (Allocation failure still throws std::bad_alloc.)
  static TemplateParseResult parse(std::string_view text, const TemplateLimits& limits = {});

  /// Segments in order; empty for the root template "/".
  const std::vector<TemplateSegment>& segments() const noexcept { return segments_; }

  /// Parameter names (catch-all included) in order of appearance; views into this template.
  std::vector<std::string_view> param_names() const;

  /// True when the last segment is a catch-all.
  bool has_catch_all() const noexcept {
    return !segments_.empty() && segments_.back().kind == SegmentKind::kCatchAll;
  }

  /// The canonical shape: parameters as "{}" and catch-alls as "{*}", e.g. "/a/{}/{*}".
  /// Two templates conflict in a matcher iff their shapes are equal.
  std::string shape() const;

  /// The canonical text ("/a/{id}/{*rest}"), without a trailing slash. Parses back to an
  /// equal template.
  std::string to_string() const;

  friend bool operator==(const PathTemplate&, const PathTemplate&) = default;

 private:
  PathTemplate() = default;

  std::vector<TemplateSegment> segments_;
};

/// Either a PathTemplate or a TemplateError.
class [[nodiscard]] TemplateParseResult {
 public:
  TemplateParseResult(PathTemplate t) : v_(std::move(t)) {}   // NOLINT: implicit by design
  TemplateParseResult(TemplateError e) : v_(std::move(e)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  /// Precondition: ok().
  const PathTemplate& value() const& { return std::get<0>(v_); }
  PathTemplate&& value() && { return std::get<0>(std::move(v_)); }
  /// Precondition: !ok().
  const TemplateError& error() const& { return std::get<1>(v_); }

 private:
  std::variant<PathTemplate, TemplateError> v_;
};

}  // namespace stella::core
