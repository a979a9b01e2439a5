// parse_strict_json: duplicate member names, depth and size limits at limit and limit + 1,
// invalid JSON and UTF-8.
#include <gtest/gtest.h>

#include <string>

#include "stella/core/strict_json.hpp"

namespace stella::core {
namespace {

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(StrictJson, ParsesOrdinaryDocuments) {
  const auto v = parse_strict_json(R"({"a":1,"b":[true,null,"x",{"c":-2.5}],"d":{}})", {});
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)["a"], 1);
  EXPECT_EQ((*v)["b"][3]["c"], -2.5);
  EXPECT_TRUE((*v)["d"].is_object());
  EXPECT_EQ(parse_strict_json("\"s\"", {}).value(), "s");
  EXPECT_EQ(parse_strict_json("18446744073709551615", {}).value(), 18446744073709551615ULL);
}

TEST(StrictJson, RefusesDuplicateMemberAtTopLevel) {
  std::string error;
  EXPECT_FALSE(parse_strict_json(R"({"a":1,"a":2})", {}, &error));
  EXPECT_NE(error.find("duplicate"), std::string::npos) << error;
  // Same value twice is still two members.
  EXPECT_FALSE(parse_strict_json(R"({"a":1,"b":0,"a":1})", {}));
}

TEST(StrictJson, RefusesDuplicateMemberNested) {
  EXPECT_FALSE(parse_strict_json(R"({"x":{"a":1,"a":1}})", {}));
  EXPECT_FALSE(parse_strict_json(R"([{"a":1},{"b":1,"b":2}])", {}));
  EXPECT_FALSE(parse_strict_json(R"({"x":[[{"k":{},"k":[]}]]})", {}));
  // Escapes name the same member: "\u0061" is "a".
  EXPECT_FALSE(parse_strict_json(R"({"a":1,"\u0061":2})", {}));
}

TEST(StrictJson, AllowsOneNameAtDifferentLevelsAndInSiblings) {
  EXPECT_TRUE(parse_strict_json(R"({"a":{"a":{"a":1}}})", {}));
  EXPECT_TRUE(parse_strict_json(R"([{"a":1},{"a":2}])", {}));
  EXPECT_TRUE(parse_strict_json(R"({"x":{"a":1},"y":{"a":1}})", {}));
}

TEST(StrictJson, DepthAtLimitAndOver) {
  const JsonLimits limits{1024, 4};
  EXPECT_TRUE(parse_strict_json(nested_arrays(4), limits));
  EXPECT_FALSE(parse_strict_json(nested_arrays(5), limits));
  EXPECT_TRUE(parse_strict_json(R"({"a":{"b":[{"c":1}]}})", limits));
  std::string error;
  EXPECT_FALSE(parse_strict_json(R"({"a":{"b":[{"c":[]}]}})", limits, &error));
  EXPECT_NE(error.find("deep"), std::string::npos) << error;
  // Scalars have depth 0.
  EXPECT_TRUE(parse_strict_json("1", JsonLimits{16, 0}));
  EXPECT_FALSE(parse_strict_json("[]", JsonLimits{16, 0}));
}

TEST(StrictJson, DefaultDepthLimit) {
  EXPECT_TRUE(parse_strict_json(nested_arrays(JsonLimits{}.max_depth), {}));
  EXPECT_FALSE(parse_strict_json(nested_arrays(JsonLimits{}.max_depth + 1), {}));
  // Far deeper than the limit: refused early, not built.
  EXPECT_FALSE(parse_strict_json(nested_arrays(8000), JsonLimits{16000, 16}));
}

TEST(StrictJson, SizeAtLimitAndOver) {
  const std::string at = "\"" + std::string(98, 'x') + "\"";  // 100 bytes
  ASSERT_EQ(at.size(), 100U);
  EXPECT_TRUE(parse_strict_json(at, JsonLimits{100, 4}));
  std::string error;
  EXPECT_FALSE(parse_strict_json(at, JsonLimits{99, 4}, &error));
  EXPECT_NE(error.find("exceeds"), std::string::npos) << error;
}

TEST(StrictJson, RefusesInvalidJson) {
  for (const char* text : {"", "{", "{\"a\"}", "{\"a\":1,}", "[1,]", "{} {}", "{}x", "'a'", "{a:1}",
                           "NaN", "01", "1e400", "\"\\x\"", "/*c*/1"}) {
    std::string error;
    EXPECT_FALSE(parse_strict_json(text, {}, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(StrictJson, RefusesInvalidUtf8AndLoneSurrogates) {
  EXPECT_FALSE(parse_strict_json("\"\xff\"", {}));
  EXPECT_FALSE(parse_strict_json("\"\xc3\"", {}));
  EXPECT_FALSE(parse_strict_json("\"\xc0\xaf\"", {}));  // overlong '/'
  EXPECT_FALSE(parse_strict_json(R"("\ud800")", {}));
  EXPECT_FALSE(parse_strict_json("\"a\x01\"", {}));  // raw control character
  EXPECT_TRUE(parse_strict_json("\"\xc3\xa9\"", {}));
  EXPECT_TRUE(parse_strict_json(R"("\ud83d\ude00")", {}));
}

}  // namespace
}  // namespace stella::core
