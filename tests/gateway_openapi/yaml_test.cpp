// to_yaml: strings that a YAML reader would take for another type are quoted; numbers,
// booleans and null stay typed. (The e2e suite reads /openapi.yaml back with PyYAML.)
#include <gtest/gtest.h>

#include <string>

#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi {
namespace {

TEST(OpenApiYaml, QuotesStringsThatLookLikeOtherTypes) {
  nlohmann::ordered_json doc = {{"200", "on"},
                                {"v", "1.0"},
                                {"nu", "null"},
                                {"t", "~"},
                                {"ye", "Yes"},
                                {"plain", "demo"},
                                {"path", "/api/v1/x"},
                                {"tmpl", "/a/{id}"},
                                {"colon", "a: b"},
                                {"hash", "a #b"},
                                {"u", "ünï"},
                                {"empty", ""},
                                {"infinity", ".inf"},
                                {"time", "12:30"},
                                {"n", 1}};
  const auto y = to_yaml(doc);
  for (const char* quoted :
       {"\"200\": \"on\"", "v: \"1.0\"", "nu: \"null\"", "t: \"~\"", "ye: \"Yes\"",
        "tmpl: \"/a/{id}\"", "colon: \"a: b\"", "hash: \"a #b\"", "empty: \"\"",
        "infinity: \".inf\"", "\"n\": 1", "time: \"12:30\""})
    EXPECT_NE(y.find(quoted), std::string::npos) << quoted << "\n" << y;
  EXPECT_NE(y.find("plain: demo\n"), std::string::npos) << y;
  EXPECT_NE(y.find("path: /api/v1/x\n"), std::string::npos) << y;
}

TEST(OpenApiYaml, KeepsNumbersBooleansAndNullTyped) {
  nlohmann::ordered_json doc = {
      {"i", 42},      {"neg", -7},        {"f", 1.5},
      {"big", 1e300}, {"whole", 2.0},     {"b", true},
      {"z", nullptr}, {"list", {1, "2"}}, {"obj", nlohmann::ordered_json::object()}};
  const auto y = to_yaml(doc);
  for (const char* typed : {"i: 42\n", "neg: -7\n", "f: 1.5\n", "big: 1.0e+300\n", "whole: 2.0\n",
                            "b: true\n", "z: ~\n", "- 1\n", "- \"2\"\n", "obj:\n  {}\n"})
    EXPECT_NE(y.find(typed), std::string::npos) << typed << "\n" << y;
}

}  // namespace
}  // namespace stella::gw::openapi
