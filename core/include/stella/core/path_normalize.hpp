// Request path normalisation: the one place where a raw request path becomes the decoded,
// dot-free segment list that routing matches and that the gateway forwards.
//
// Rules (docs/paths.md has the table of inputs and results), applied in one left-to-right pass:
//  - the input is the path only: the caller splits the request target at the first '?';
//  - it must start with '/'                                         -> Errc::path_not_absolute
//  - raw NUL, or "%00"                                              -> Errc::path_nul
//  - raw control bytes (< 0x20, 0x7F), space, '\', '?', '#'         -> Errc::path_bad_char
//  - '%' not followed by two hex digits                             -> Errc::path_bad_percent
//  - "%2F", "%5C" (any case): an encoded separator                  -> Errc::path_encoded_separator
//  - an escape decoding to a control byte (%01-%1F, %7F)            -> Errc::path_bad_char
//  - every other escape is decoded exactly once (no double decoding); other raw bytes,
//    including UTF-8, are kept as they are (bytes are opaque, not validated as UTF-8);
//  - empty segments are dropped ("//" is "/"), so a path is a list of non-empty segments;
//  - dot segments "." and ".." (also spelled "%2E", "%2e%2E", ...) are resolved like
//    RFC 3986 §5.2.4, on that list: "." is removed, ".." removes the previous segment;
//    ".." with nothing to remove                                    -> Errc::path_escapes_root
//  - one or more trailing '/' (and a final dot segment) are not part of the path; the
//    result records trailing_slash() so a caller can redirect or pass it on;
//  - more than PathLimits::max_length bytes of input, or more than max_segments
//    segments at any time                                           -> Errc::path_too_long
// Matching on the result is byte-exact, hence case-sensitive.
//
// Thread-safety: the functions are reentrant; a NormalizedPath is a plain value (const use from
// several threads is safe, mutation needs exclusive access).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "stella/core/errc.hpp"

namespace stella::core {

struct PathLimits {
  /// Maximum raw path length in bytes (query excluded). 8192: nginx's default header buffer
  /// (8 KiB) cannot hold a longer request line either. Values above 2^32-1 act as 2^32-1.
  std::size_t max_length = 8192;
  /// Maximum number of segments held while resolving (a ".." frees one). Bounds the segment
  /// vector and the matcher's search depth.
  std::size_t max_segments = 128;
};

/// Why a path was refused. `position` is the byte offset in the raw input (<= its size) of the
/// offending byte, escape or segment. `reason` points to a static string (no allocation).
struct PathError {
  Errc code = Errc::ok;
  std::size_t position = 0;
  std::string_view reason;
};

class NormalizeResult;

/// A normalised request path: decoded, without empty or dot segments, without the trailing
/// slash. path() is "/" for the root, else "/" + the segments joined with '/'.
class NormalizedPath {
 public:
  NormalizedPath() = default;

  /// The decoded path. A decoded segment may contain any byte except NUL, '/', '\' and
  /// controls, e.g. '%', '?', ' ' from "%25", "%3F", "%20".
  std::string_view path() const noexcept { return path_; }
  std::size_t segment_count() const noexcept { return segments_.size(); }
  /// The i-th decoded segment (non-empty). Precondition: i < segment_count().
  std::string_view segment(std::size_t i) const noexcept {
    return std::string_view(path_).substr(segments_[i].offset, segments_[i].size);
  }
  /// Segments i.. joined with '/' (a view into path()); empty when i == segment_count().
  std::string_view rest(std::size_t i) const noexcept {
    if (i >= segments_.size()) return {};
    return std::string_view(path_).substr(segments_[i].offset);
  }
  /// True when the input ended in '/' or in a dot segment, and the path is not the root.
  bool trailing_slash() const noexcept { return trailing_slash_; }

  /// The canonical percent-encoded form: pchar bytes (RFC 3986 unreserved, sub-delims, ':',
  /// '@') raw, every other byte as %XX with upper-case hex, plus the trailing slash if any.
  /// normalize_path() of it yields this same path again (the form is a fixed point), so it is
  /// what the gateway forwards. Allocates the returned string.
  std::string encoded() const;
  /// As encoded(), appended to `out` (reuse its capacity to avoid allocation).
  void append_encoded(std::string& out) const;

  friend bool operator==(const NormalizedPath&, const NormalizedPath&) = default;

 private:
  friend std::optional<PathError> normalize_path_into(std::string_view, NormalizedPath&,
                                                      const PathLimits&);
  friend NormalizeResult normalize_path(std::string_view, const PathLimits&);
  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    friend bool operator==(const Span&, const Span&) = default;
  };

  std::string path_ = "/";
  std::vector<Span> segments_;
  bool trailing_slash_ = false;
};

/// Either a NormalizedPath or a PathError.
class [[nodiscard]] NormalizeResult {
 public:
  NormalizeResult(NormalizedPath p) : v_(std::move(p)) {}  // NOLINT: implicit by design
  NormalizeResult(PathError e) : v_(e) {}                  // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  /// Precondition: ok().
  const NormalizedPath& value() const& { return std::get<0>(v_); }
  NormalizedPath&& value() && { return std::get<0>(std::move(v_)); }
  /// Precondition: !ok().
  const PathError& error() const { return std::get<1>(v_); }

 private:
  std::variant<NormalizedPath, PathError> v_;
};

/// Normalises `raw_path` into a fresh NormalizedPath (two allocations: the string and the
/// segment vector). On error returns the PathError; never throws on bad input.
NormalizeResult normalize_path(std::string_view raw_path, const PathLimits& limits = {});

/// Normalises into `out`, reusing its capacity: no allocation once `out` has grown to the
/// sizes seen. Returns std::nullopt on success, else the error; `out` is then reset to the root
/// path (never left half-built).
[[nodiscard]] std::optional<PathError> normalize_path_into(std::string_view raw_path,
                                                           NormalizedPath& out,
                                                           const PathLimits& limits = {});

}  // namespace stella::core
