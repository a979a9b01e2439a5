#include "stella/core/path_normalize.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace stella::core {
namespace {

// What a raw (undecoded) byte means. One table lookup per byte keeps the scan branch-light.
enum class RawClass : std::uint8_t { kKeep, kSlash, kPercent, kNul, kBad };

constexpr std::array<RawClass, 256> make_raw_classes() {
  std::array<RawClass, 256> t{};
  for (auto& c : t)
    c = RawClass::kKeep;  // printable ASCII and all bytes >= 0x80 (UTF-8)
  for (int b = 0x01; b < 0x20; ++b)
    t[static_cast<std::size_t>(b)] = RawClass::kBad;
  t[0x00] = RawClass::kNul;
  t[0x7F] = RawClass::kBad;
  // A raw space cannot come through a valid request line; '\' is a separator on some backends
  // (Windows, IIS) and a classic traversal vector; '?' and '#' mean the caller did not split
  // the query or sent a fragment. Refusing them is safer than guessing.
  t[' '] = RawClass::kBad;
  t['\\'] = RawClass::kBad;
  t['?'] = RawClass::kBad;
  t['#'] = RawClass::kBad;
  t['/'] = RawClass::kSlash;
  t['%'] = RawClass::kPercent;
  return t;
}
constexpr std::array<RawClass, 256> kRawClasses = make_raw_classes();

// RFC 3986 pchar without pct-encoded: the bytes encoded() writes raw.
constexpr std::array<bool, 256> make_pchar() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=:@"))
    t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kPchar = make_pchar();

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<PathError> normalize_path_into(std::string_view raw_path, NormalizedPath& out,
                                             const PathLimits& limits) {
  std::string& p = out.path_;
  auto& segs = out.segments_;
  p.clear();
  segs.clear();
  out.trailing_slash_ = false;
  // On error the output is reset to the root so it never holds a half-built path.
  auto fail = [&](Errc code, std::size_t position, std::string_view reason) {
    p.assign(1, '/');
    segs.clear();
    return PathError{code, position, reason};
  };

  // Offsets are stored as uint32; a larger limit would be meaningless anyway.
  const std::size_t max_length =
      std::min<std::size_t>(limits.max_length, std::numeric_limits<std::uint32_t>::max());
  if (raw_path.size() > max_length) {
    return fail(Errc::path_too_long, max_length, "path longer than the length limit");
  }
  if (raw_path.empty() || raw_path[0] != '/') {
    return fail(Errc::path_not_absolute, 0, "path must start with '/'");
  }
  p.reserve(raw_path.size());  // decoding never makes a path longer

  const char* const s = raw_path.data();
  const std::size_t n = raw_path.size();
  std::size_t i = 0;
  bool trailing = false;
  for (;;) {
    // Here s[i] == '/' (or i == n): skip the separator run; empty segments do not exist.
    const std::size_t run_start = i;
    while (i < n && s[i] == '/')
      ++i;
    if (i == n) {
      trailing = trailing || i > run_start;
      break;
    }

    const std::size_t seg_raw = i;
    const std::size_t mark = p.size();
    p.push_back('/');
    while (i < n) {
      // Copy the longest run of bytes that need no work in one append.
      std::size_t j = i;
      while (j < n && kRawClasses[static_cast<unsigned char>(s[j])] == RawClass::kKeep)
        ++j;
      p.append(s + i, j - i);
      i = j;
      if (i == n) break;
      const RawClass cls = kRawClasses[static_cast<unsigned char>(s[i])];
      if (cls == RawClass::kSlash) break;
      if (cls == RawClass::kNul) return fail(Errc::path_nul, i, "NUL byte in path");
      if (cls == RawClass::kBad) {
        return fail(Errc::path_bad_char, i, "control byte, space, '\\', '?' or '#' in path");
      }
      // '%': exactly two hex digits follow.
      const int hi = n - i >= 3 ? hex_value(s[i + 1]) : -1;
      const int lo = n - i >= 3 ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return fail(Errc::path_bad_percent, i, "'%' not followed by two hex digits");
      }
      const auto b = static_cast<unsigned char>(hi * 16 + lo);
      if (b == 0) return fail(Errc::path_nul, i, "encoded NUL (%00) in path");
      if (b == '/' || b == '\\') {
        // Decoding them would let one segment turn into two behind the router's back.
        return fail(Errc::path_encoded_separator, i, "encoded separator (%2F or %5C) in path");
      }
      if (b < 0x20 || b == 0x7F) {
        // Decoded controls would reach services as parameter values (CR/LF injection in logs
        // and headers); a gateway has no reason to pass them.
        return fail(Errc::path_bad_char, i, "encoded control byte in path");
      }
      p.push_back(static_cast<char>(b));
      i += 3;
    }

    const std::size_t len = p.size() - mark - 1;
    const char* seg = p.data() + mark + 1;
    if (len == 1 && seg[0] == '.') {
      p.resize(mark);
      trailing = true;
    } else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
      p.resize(mark);
      if (segs.empty()) return fail(Errc::path_escapes_root, seg_raw, "'..' above the root");
      p.resize(segs.back().offset - 1);  // drop the previous segment and its '/'
      segs.pop_back();
      trailing = true;
    } else {
      if (segs.size() >= limits.max_segments) {
        return fail(Errc::path_too_long, seg_raw, "more segments than the segment limit");
      }
      segs.push_back(NormalizedPath::Span{static_cast<std::uint32_t>(mark + 1),
                                          static_cast<std::uint32_t>(len)});
      trailing = false;
    }
  }

  if (p.empty()) {
    p.push_back('/');
  } else {
    out.trailing_slash_ = trailing;
  }
  return std::nullopt;
}

NormalizeResult normalize_path(std::string_view raw_path, const PathLimits& limits) {
  NormalizedPath out;
  // Size the segment vector once: the number of '/' bounds the number of segments.
  const auto slashes = static_cast<std::size_t>(std::count(raw_path.begin(), raw_path.end(), '/'));
  out.segments_.reserve(std::min(slashes, limits.max_segments));
  if (auto err = normalize_path_into(raw_path, out, limits)) return *err;
  return out;
}

void NormalizedPath::append_encoded(std::string& out) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (segments_.empty()) {
    out.push_back('/');
    return;
  }
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    out.push_back('/');
    for (const char c : segment(i)) {
      const auto b = static_cast<unsigned char>(c);
      if (kPchar[b]) {
        out.push_back(c);
      } else {
        out.push_back('%');
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
      }
    }
  }
  if (trailing_slash_) out.push_back('/');
}

std::string NormalizedPath::encoded() const {
  std::string out;
  out.reserve(path_.size() + 1);
  append_encoded(out);
  return out;
}

}  // namespace stella::core
