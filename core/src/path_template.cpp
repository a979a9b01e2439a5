#include "stella/core/path_template.hpp"

namespace stella::core {
namespace {

// RFC 3986 pchar minus pct-encoded: unreserved / sub-delims / ":" / "@". '%' is excluded
// on purpose: literals are compared with decoded request segments, so an escape in a template
// would have to be decoded here too, and "%2F" in a literal could never match anyway.
constexpr bool is_literal_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kOthers =
      "-._~"         // unreserved besides ALPHA / DIGIT
      "!$&'()*+,;="  // sub-delims
      ":@";          // the rest of pchar
  return kOthers.find(c) != std::string_view::npos;
}

constexpr bool is_name_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

constexpr bool is_name_char(char c) noexcept {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

TemplateError fail(Errc code, std::size_t position, std::string message) {
  return TemplateError{code, position, std::move(message)};
}

std::string describe_byte(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b >= 0x21 && b < 0x7F) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[b >> 4] + kHex[b & 0xF];
}

}  // namespace

TemplateParseResult PathTemplate::parse(std::string_view text, const TemplateLimits& limits) {
  if (text.empty()) return fail(Errc::template_empty, 0, "empty template");
  if (text.size() > limits.max_length) {
    return fail(Errc::template_too_long, limits.max_length,
                "template longer than " + std::to_string(limits.max_length) + " bytes");
  }
  if (text[0] != '/') return fail(Errc::template_not_absolute, 0, "template must start with '/'");

  PathTemplate out;
  const std::size_t n = text.size();
  std::size_t i = 1;  // just past a '/'
  while (i < n) {
    const std::size_t seg_start = i;
    if (text[i] == '/') {
      return fail(Errc::template_bad_char, i, "empty segment ('//'); segments must be non-empty");
    }
    if (out.has_catch_all()) {
      return fail(Errc::template_catch_all_not_last, seg_start,
                  "catch-all {*" + out.segments_.back().text + "} must be the last segment");
    }
    if (out.segments_.size() == limits.max_segments) {
      return fail(Errc::template_too_long, seg_start,
                  "more than " + std::to_string(limits.max_segments) + " segments");
    }

    TemplateSegment seg;
    if (text[i] == '{') {
      std::size_t j = i + 1;
      seg.kind = SegmentKind::kParam;
      if (j < n && text[j] == '*') {
        seg.kind = SegmentKind::kCatchAll;
        ++j;
      }
      const std::size_t name_start = j;
      if (j == n || text[j] == '}') {
        return fail(Errc::template_bad_param, j, "empty parameter name");
      }
      if (!is_name_start(text[j])) {
        return fail(
            Errc::template_bad_param, j,
            "parameter name must start with a letter or '_', found " + describe_byte(text[j]));
      }
      while (j < n && is_name_char(text[j]))
        ++j;
      if (j == n) {
        return fail(Errc::template_bad_param, j,
                    "unclosed '{' (parameter opened at " + std::to_string(i) + ")");
      }
      if (text[j] != '}') {
        const char c = text[j];
        if (c == ':' || c == '?' || c == '=') {
          // ASP.NET-style constraints, optional parameters and defaults: refused rather than
          // ignored, so a service never believes a constraint is enforced when it is not.
          return fail(Errc::template_bad_param, j,
                      std::string("parameter constraints, optional parameters and defaults ('") +
                          c + "') are not supported");
        }
        if (c == '/') {
          return fail(Errc::template_bad_param, j,
                      "unclosed '{' (parameter opened at " + std::to_string(i) + ")");
        }
        return fail(Errc::template_bad_param, j,
                    "parameter names are [A-Za-z_][A-Za-z0-9_]*, found " + describe_byte(c));
      }
      seg.text.assign(text.substr(name_start, j - name_start));
      ++j;  // past '}'
      if (j < n && text[j] != '/') {
        return fail(Errc::template_bad_param, j,
                    "a parameter must occupy a whole segment (no text after '}')");
      }
      for (const TemplateSegment& prev : out.segments_) {
        if (prev.kind != SegmentKind::kLiteral && prev.text == seg.text) {
          return fail(Errc::template_duplicate_param, name_start,
                      "duplicate parameter name '" + seg.text + "'");
        }
      }
      i = j;
    } else {
      std::size_t j = i;
      while (j < n && text[j] != '/') {
        const char c = text[j];
        if (c == '{') {
          return fail(Errc::template_bad_param, j,
                      "a parameter must occupy a whole segment (no text before '{')");
        }
        if (c == '}') return fail(Errc::template_bad_char, j, "'}' outside a parameter");
        if (c == '%') {
          return fail(Errc::template_bad_char, j,
                      "percent-escapes are not allowed in templates; literals match decoded "
                      "segments, write the character itself");
        }
        if (!is_literal_char(c)) {
          return fail(Errc::template_bad_char, j,
                      describe_byte(c) + " is not allowed in a template literal");
        }
        ++j;
      }
      seg.text.assign(text.substr(i, j - i));
      if (seg.text == "." || seg.text == "..") {
        // Request normalisation removes dot segments, so such a literal could never match.
        return fail(Errc::template_bad_char, seg_start,
                    "dot segment '" + seg.text + "' can never match a normalised path");
      }
      i = j;
    }
    out.segments_.push_back(std::move(seg));
    // Here i == n or text[i] == '/'. Stepping past the '/' to i == n means one trailing slash,
    // which the loop condition then drops.
    if (i < n) ++i;
  }
  return out;
}

std::vector<std::string_view> PathTemplate::param_names() const {
  std::vector<std::string_view> names;
  for (const TemplateSegment& s : segments_) {
    if (s.kind != SegmentKind::kLiteral) names.emplace_back(s.text);
  }
  return names;
}

std::string PathTemplate::shape() const {
  if (segments_.empty()) return "/";
  std::string out;
  for (const TemplateSegment& s : segments_) {
    out += '/';
    switch (s.kind) {
      case SegmentKind::kLiteral:
        out += s.text;
        break;
      case SegmentKind::kParam:
        out += "{}";
        break;
      case SegmentKind::kCatchAll:
        out += "{*}";
        break;
    }
  }
  return out;
}

std::string PathTemplate::to_string() const {
  if (segments_.empty()) return "/";
  std::string out;
  for (const TemplateSegment& s : segments_) {
    out += '/';
    switch (s.kind) {
      case SegmentKind::kLiteral:
        out += s.text;
        break;
      case SegmentKind::kParam:
        out += '{' + s.text + '}';
        break;
      case SegmentKind::kCatchAll:
        out += "{*" + s.text + '}';
        break;
    }
  }
  return out;
}

}  // namespace stella::core
