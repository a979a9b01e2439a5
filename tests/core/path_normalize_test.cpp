#include "stella/core/path_normalize.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace stella::core {
namespace {

std::vector<std::string> segments_of(const NormalizedPath& p) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < p.segment_count(); ++i)
    out.emplace_back(p.segment(i));
  return out;
}

struct OkCase {
  std::string_view input;
  std::string_view path;
  bool trailing;
  std::string_view encoded;
};

// The table of docs/paths.md (successes); keep them in step.
const OkCase kOkCases[] = {
    {"/", "/", false, "/"},
    {"/api/v1/scans/42", "/api/v1/scans/42", false, "/api/v1/scans/42"},
    {"/a/b/", "/a/b", true, "/a/b/"},
    {"/a/b//", "/a/b", true, "/a/b/"},
    {"//a///b", "/a/b", false, "/a/b"},
    {"///", "/", false, "/"},
    {"/a/./b", "/a/b", false, "/a/b"},
    {"/a/b/../c", "/a/c", false, "/a/c"},
    {"/a/b/..", "/a", true, "/a/"},
    {"/a/b/.", "/a/b", true, "/a/b/"},
    {"/a/..", "/", false, "/"},
    {"/.", "/", false, "/"},
    {"/a//../b", "/b", false, "/b"},  // empty segments do not exist, so '..' removes "a"
    {"/a/%2E%2E/b", "/b", false, "/b"},
    {"/a/%2e/b", "/a/b", false, "/a/b"},
    {"/a/.%2E/b", "/b", false, "/b"},
    {"/a/.../b", "/a/.../b", false, "/a/.../b"},
    {"/a/..b/.c", "/a/..b/.c", false, "/a/..b/.c"},
    {"/files/my%20doc.txt", "/files/my doc.txt", false, "/files/my%20doc.txt"},
    {"/%61%62c", "/abc", false, "/abc"},
    {"/q%3Fx%23y", "/q?x#y", false, "/q%3Fx%23y"},
    {"/pct%25", "/pct%", false, "/pct%25"},
    {"/%252F", "/%2F", false, "/%252F"},  // decoded once: no double decoding
    {"/caf\xc3\xa9", "/caf\xc3\xa9", false, "/caf%C3%A9"},
    {"/caf%c3%a9", "/caf\xc3\xa9", false, "/caf%C3%A9"},
    {"/a:b@c;d=e", "/a:b@c;d=e", false, "/a:b@c;d=e"},
    {"/{x}|\"<>^`", "/{x}|\"<>^`", false, "/%7Bx%7D%7C%22%3C%3E%5E%60"},
    {"/Api/V1", "/Api/V1", false, "/Api/V1"},  // case is kept: matching is case-sensitive
};

TEST(NormalizePath, TableOfAcceptedPaths) {
  for (const OkCase& c : kOkCases) {
    const auto r = normalize_path(c.input);
    ASSERT_TRUE(r.ok()) << c.input << ": " << errc_name(r.error().code);
    EXPECT_EQ(r.value().path(), c.path) << c.input;
    EXPECT_EQ(r.value().trailing_slash(), c.trailing) << c.input;
    EXPECT_EQ(r.value().encoded(), c.encoded) << c.input;
  }
}

struct ErrCase {
  std::string_view input;
  Errc code;
  std::size_t position;
};

// The table of docs/paths.md (errors).
const ErrCase kErrCases[] = {
    {"", Errc::path_not_absolute, 0},
    {"a/b", Errc::path_not_absolute, 0},
    {"*", Errc::path_not_absolute, 0},
    {"/a%", Errc::path_bad_percent, 2},
    {"/a%4", Errc::path_bad_percent, 2},
    {"/a%G1", Errc::path_bad_percent, 2},
    {"/a%1G", Errc::path_bad_percent, 2},
    {"/a%%41", Errc::path_bad_percent, 2},
    {"/a%2Fb", Errc::path_encoded_separator, 2},
    {"/a%2fb", Errc::path_encoded_separator, 2},
    {"/a%5Cb", Errc::path_encoded_separator, 2},
    {"/a%5cb", Errc::path_encoded_separator, 2},
    {"/a\\b", Errc::path_bad_char, 2},
    {"/a%00", Errc::path_nul, 2},
    {std::string_view("/a\0b", 4), Errc::path_nul, 2},
    {"/a\x01", Errc::path_bad_char, 2},
    {"/a\x1f", Errc::path_bad_char, 2},
    {"/a\x7f", Errc::path_bad_char, 2},
    {"/a%0D%0A", Errc::path_bad_char, 2},
    {"/a%7F", Errc::path_bad_char, 2},
    {"/a b", Errc::path_bad_char, 2},
    {"/a?b=1", Errc::path_bad_char, 2},
    {"/a#frag", Errc::path_bad_char, 2},
    {"/..", Errc::path_escapes_root, 1},
    {"/a/../..", Errc::path_escapes_root, 6},
    {"/a/../../b", Errc::path_escapes_root, 6},
    {"/%2E%2E/etc/passwd", Errc::path_escapes_root, 1},
    {"/./..", Errc::path_escapes_root, 3},
};

TEST(NormalizePath, TableOfRefusedPaths) {
  for (const ErrCase& c : kErrCases) {
    const auto r = normalize_path(c.input);
    ASSERT_FALSE(r.ok()) << c.input << " was accepted as " << r.value().path();
    EXPECT_EQ(r.error().code, c.code) << c.input << ": got " << errc_name(r.error().code);
    EXPECT_EQ(r.error().position, c.position) << c.input;
    EXPECT_FALSE(r.error().reason.empty());
  }
}

TEST(NormalizePath, SegmentsAreDecodedAndNonEmpty) {
  const auto r = normalize_path("//api/v1//items/a%20b/./c/../d/");
  ASSERT_TRUE(r.ok());
  const NormalizedPath& p = r.value();
  EXPECT_EQ(segments_of(p), (std::vector<std::string>{"api", "v1", "items", "a b", "d"}));
  EXPECT_EQ(p.path(), "/api/v1/items/a b/d");
  EXPECT_TRUE(p.trailing_slash());
  EXPECT_EQ(p.rest(0), "api/v1/items/a b/d");
  EXPECT_EQ(p.rest(3), "a b/d");
  EXPECT_EQ(p.rest(4), "d");
  EXPECT_EQ(p.rest(5), "");
}

TEST(NormalizePath, RootHasNoSegments) {
  const auto r = normalize_path("/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().segment_count(), 0u);
  EXPECT_EQ(r.value().rest(0), "");
  EXPECT_FALSE(r.value().trailing_slash());
}

TEST(NormalizePath, EncodedFormIsAFixedPoint) {
  for (const OkCase& c : kOkCases) {
    const auto first = normalize_path(c.input);
    ASSERT_TRUE(first.ok());
    const auto second = normalize_path(first.value().encoded());
    ASSERT_TRUE(second.ok()) << c.input;
    EXPECT_EQ(second.value(), first.value()) << c.input;
  }
}

TEST(NormalizePath, IntoReusesTheOutputAndResetsItOnError) {
  NormalizedPath p;
  ASSERT_FALSE(normalize_path_into("/a/b/c/", p).has_value());
  EXPECT_EQ(p.path(), "/a/b/c");
  const auto err = normalize_path_into("/x/%zz", p);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, Errc::path_bad_percent);
  EXPECT_EQ(p.path(), "/");
  EXPECT_EQ(p.segment_count(), 0u);
  EXPECT_FALSE(p.trailing_slash());
  ASSERT_FALSE(normalize_path_into("/d", p).has_value());
  EXPECT_EQ(segments_of(p), (std::vector<std::string>{"d"}));
  EXPECT_FALSE(p.trailing_slash());
}

TEST(NormalizePath, LengthLimitAtAndAboveLimit) {
  const PathLimits limits{.max_length = 10, .max_segments = 128};
  EXPECT_TRUE(normalize_path("/123456789", limits).ok());
  const auto r = normalize_path("/1234567890", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::path_too_long);
  EXPECT_EQ(r.error().position, 10u);
}

TEST(NormalizePath, DefaultLengthLimitIs8192) {
  const std::string at = "/" + std::string(8191, 'a');
  EXPECT_TRUE(normalize_path(at).ok());
  EXPECT_EQ(normalize_path(at + "a").error().code, Errc::path_too_long);
}

TEST(NormalizePath, SegmentLimitAtAndAboveLimit) {
  const PathLimits limits{.max_length = 8192, .max_segments = 3};
  EXPECT_TRUE(normalize_path("/a/b/c/", limits).ok());
  // A '..' frees a segment, so the limit bounds what is held, not what was written.
  EXPECT_TRUE(normalize_path("/a/b/c/../d/../e", limits).ok());
  const auto r = normalize_path("/a/b/c/d", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::path_too_long);
  EXPECT_EQ(r.error().position, 7u);
}

TEST(NormalizePath, DefaultSegmentLimitIs128) {
  std::string at;
  for (int i = 0; i < 128; ++i)
    at += "/s";
  EXPECT_TRUE(normalize_path(at).ok());
  EXPECT_EQ(normalize_path(at + "/s").error().code, Errc::path_too_long);
}

TEST(NormalizePath, EveryByteIsClassified) {
  // Each single byte after '/': accepted bytes come back unchanged (or as the root for '/' and
  // '.'); the rest are refused with the documented code.
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string in = std::string("/") + c;
    const auto r = normalize_path(in);
    if (b == 0) {
      EXPECT_EQ(r.error().code, Errc::path_nul);
    } else if (b < 0x20 || b == 0x7F || c == ' ' || c == '\\' || c == '?' || c == '#') {
      EXPECT_EQ(r.error().code, Errc::path_bad_char) << b;
    } else if (c == '%') {
      EXPECT_EQ(r.error().code, Errc::path_bad_percent);
    } else if (c == '/' || c == '.') {
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r.value().path(), "/");
    } else {
      ASSERT_TRUE(r.ok()) << b;
      EXPECT_EQ(r.value().path(), in);
    }
  }
}

}  // namespace
}  // namespace stella::core
