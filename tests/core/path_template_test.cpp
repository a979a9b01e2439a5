#include "stella/core/path_template.hpp"

#include <gtest/gtest.h>

#include <string>

namespace stella::core {
namespace {

PathTemplate parse_ok(std::string_view text, const TemplateLimits& limits = {}) {
  auto r = PathTemplate::parse(text, limits);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return PathTemplate::parse("/").value();
  return std::move(r).value();
}

TemplateError parse_err(std::string_view text, const TemplateLimits& limits = {}) {
  auto r = PathTemplate::parse(text, limits);
  EXPECT_FALSE(r.ok()) << text << " parsed";
  if (r.ok()) return {};
  EXPECT_LE(r.error().position, text.size());
  EXPECT_FALSE(r.error().message.empty());
  return r.error();
}

void expect_error(std::string_view text, Errc code, std::size_t position) {
  const TemplateError e = parse_err(text);
  EXPECT_EQ(e.code, code) << text << ": got " << errc_name(e.code) << " (" << e.message << ")";
  EXPECT_EQ(e.position, position) << text << ": " << e.message;
}

TEST(PathTemplate, ParsesRoot) {
  const PathTemplate t = parse_ok("/");
  EXPECT_TRUE(t.segments().empty());
  EXPECT_EQ(t.to_string(), "/");
  EXPECT_EQ(t.shape(), "/");
  EXPECT_FALSE(t.has_catch_all());
  EXPECT_TRUE(t.param_names().empty());
}

TEST(PathTemplate, ParsesLiteralsParamsAndCatchAll) {
  const PathTemplate t = parse_ok("/api/v1/scans/{id}/files/{*rest}");
  ASSERT_EQ(t.segments().size(), 6u);
  EXPECT_EQ(t.segments()[0], (TemplateSegment{SegmentKind::kLiteral, "api"}));
  EXPECT_EQ(t.segments()[3], (TemplateSegment{SegmentKind::kParam, "id"}));
  EXPECT_EQ(t.segments()[5], (TemplateSegment{SegmentKind::kCatchAll, "rest"}));
  EXPECT_TRUE(t.has_catch_all());
  EXPECT_EQ(t.param_names(), (std::vector<std::string_view>{"id", "rest"}));
  EXPECT_EQ(t.shape(), "/api/v1/scans/{}/files/{*}");
  EXPECT_EQ(t.to_string(), "/api/v1/scans/{id}/files/{*rest}");
}

TEST(PathTemplate, CatchAllAloneAtRoot) {
  const PathTemplate t = parse_ok("/{*all}");
  EXPECT_EQ(t.shape(), "/{*}");
}

TEST(PathTemplate, OneTrailingSlashIsDropped) {
  EXPECT_EQ(parse_ok("/a/b/"), parse_ok("/a/b"));
  EXPECT_EQ(parse_ok("/a/{x}/").to_string(), "/a/{x}");
  EXPECT_EQ(parse_ok("/a/{*r}/").to_string(), "/a/{*r}");
}

TEST(PathTemplate, AcceptsEveryPcharInLiterals) {
  const PathTemplate t = parse_ok("/azAZ09-._~!$&'()*+,;=:@/...");
  EXPECT_EQ(t.segments()[0].text, "azAZ09-._~!$&'()*+,;=:@");
  EXPECT_EQ(t.segments()[1].text, "...");
}

TEST(PathTemplate, ParamNamesFollowIdentifierRules) {
  EXPECT_EQ(parse_ok("/{_}/{a1}/{A_b_9}").param_names(),
            (std::vector<std::string_view>{"_", "a1", "A_b_9"}));
}

TEST(PathTemplate, ToStringReparsesToTheSameTemplate) {
  for (std::string_view text : {"/", "/a", "/a/{b}", "/{*c}", "/x/{y}/z/{*w}", "/a:b@c/{d}/"}) {
    const PathTemplate t = parse_ok(text);
    EXPECT_EQ(parse_ok(t.to_string()), t) << text;
  }
}

TEST(PathTemplate, ShapeIgnoresParamNames) {
  EXPECT_EQ(parse_ok("/a/{x}/{*r}").shape(), parse_ok("/a/{y}/{*s}").shape());
  EXPECT_NE(parse_ok("/a/{x}").shape(), parse_ok("/a/{*x}").shape());
  EXPECT_NE(parse_ok("/a/{x}").shape(), parse_ok("/a/x").shape());
}

TEST(PathTemplate, ErrorEmpty) {
  expect_error("", Errc::template_empty, 0);
}

TEST(PathTemplate, ErrorNotAbsolute) {
  expect_error("api/x", Errc::template_not_absolute, 0);
  expect_error("{id}", Errc::template_not_absolute, 0);
}

TEST(PathTemplate, ErrorEmptySegment) {
  expect_error("//", Errc::template_bad_char, 1);
  expect_error("/a//b", Errc::template_bad_char, 3);
  expect_error("/a//", Errc::template_bad_char, 3);
}

TEST(PathTemplate, ErrorBadLiteralChars) {
  expect_error("/a%2Fb", Errc::template_bad_char, 2);  // escapes are refused, not decoded
  expect_error("/a b", Errc::template_bad_char, 2);
  expect_error("/a\\b", Errc::template_bad_char, 2);
  expect_error("/a?b", Errc::template_bad_char, 2);
  expect_error("/a#b", Errc::template_bad_char, 2);
  expect_error("/a\x01", Errc::template_bad_char, 2);
  expect_error("/a\x7f", Errc::template_bad_char, 2);
  expect_error(std::string_view("/a\0", 3), Errc::template_bad_char, 2);
  expect_error("/caf\xc3\xa9", Errc::template_bad_char, 4);
  expect_error("/a}", Errc::template_bad_char, 2);
  expect_error("/a/\"x\"", Errc::template_bad_char, 3);
}

TEST(PathTemplate, ErrorDotSegments) {
  expect_error("/a/./b", Errc::template_bad_char, 3);
  expect_error("/a/..", Errc::template_bad_char, 3);
}

TEST(PathTemplate, ErrorParamMixedWithLiteral) {
  const TemplateError before = parse_err("/a{id}");
  EXPECT_EQ(before.code, Errc::template_bad_param);
  EXPECT_EQ(before.position, 2u);
  EXPECT_NE(before.message.find("whole segment"), std::string::npos) << before.message;
  const TemplateError after = parse_err("/{id}b");
  EXPECT_EQ(after.code, Errc::template_bad_param);
  EXPECT_EQ(after.position, 5u);
  EXPECT_NE(after.message.find("whole segment"), std::string::npos) << after.message;
  expect_error("/{a}{b}", Errc::template_bad_param, 4);
}

TEST(PathTemplate, ErrorMalformedParams) {
  expect_error("/{}", Errc::template_bad_param, 2);
  expect_error("/{*}", Errc::template_bad_param, 3);
  expect_error("/{", Errc::template_bad_param, 2);
  expect_error("/{id", Errc::template_bad_param, 4);
  expect_error("/{id/x}", Errc::template_bad_param, 4);
  expect_error("/{1id}", Errc::template_bad_param, 2);
  expect_error("/{i-d}", Errc::template_bad_param, 3);
  expect_error("/{**x}", Errc::template_bad_param, 3);
  expect_error("/{ id}", Errc::template_bad_param, 2);
}

TEST(PathTemplate, ErrorConstraintsAreRefusedNotIgnored) {
  const TemplateError e = parse_err("/items/{id:int}");
  EXPECT_EQ(e.code, Errc::template_bad_param);
  EXPECT_EQ(e.position, 10u);
  EXPECT_NE(e.message.find("not supported"), std::string::npos);
  expect_error("/items/{id?}", Errc::template_bad_param, 10);
  expect_error("/items/{id=1}", Errc::template_bad_param, 10);
}

TEST(PathTemplate, ErrorDuplicateParam) {
  expect_error("/{id}/x/{id}", Errc::template_duplicate_param, 9);
  expect_error("/{id}/{*id}", Errc::template_duplicate_param, 8);
  parse_ok("/{id}/{ID}");  // names are case-sensitive
}

TEST(PathTemplate, ErrorCatchAllNotLast) {
  expect_error("/{*rest}/x", Errc::template_catch_all_not_last, 9);
  expect_error("/a/{*rest}/{id}", Errc::template_catch_all_not_last, 11);
}

TEST(PathTemplate, LengthLimitAtAndAboveLimit) {
  const TemplateLimits limits{.max_length = 16, .max_segments = 64};
  const std::string at = "/" + std::string(15, 'a');
  EXPECT_TRUE(PathTemplate::parse(at, limits).ok());
  const std::string above = at + "a";
  const auto r = PathTemplate::parse(above, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::template_too_long);
  EXPECT_EQ(r.error().position, 16u);
}

TEST(PathTemplate, DefaultLengthLimitIs2048) {
  const std::string at = "/" + std::string(2047, 'a');
  EXPECT_TRUE(PathTemplate::parse(at).ok());
  EXPECT_EQ(PathTemplate::parse(at + "a").error().code, Errc::template_too_long);
}

TEST(PathTemplate, SegmentLimitAtAndAboveLimit) {
  const TemplateLimits limits{.max_length = 2048, .max_segments = 3};
  EXPECT_TRUE(PathTemplate::parse("/a/{b}/{*c}", limits).ok());
  EXPECT_TRUE(PathTemplate::parse("/a/b/c/", limits).ok());  // trailing slash is no segment
  const auto r = PathTemplate::parse("/a/b/c/d", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::template_too_long);
  EXPECT_EQ(r.error().position, 7u);
}

TEST(PathTemplate, DefaultSegmentLimitIs64) {
  std::string at;
  for (int i = 0; i < 64; ++i)
    at += "/s";
  EXPECT_TRUE(PathTemplate::parse(at).ok());
  EXPECT_EQ(PathTemplate::parse(at + "/s").error().code, Errc::template_too_long);
}

}  // namespace
}  // namespace stella::core
