// to_yaml: strings that a YAML reader would take for another type are quoted; numbers,
// booleans and null stay typed. (The e2e suite reads /openapi.yaml back with PyYAML.)
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

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
                            "b: true\n", "z: null\n", "- 1\n", "- \"2\"\n", "obj: {}\n"})
    EXPECT_NE(y.find(typed), std::string::npos) << typed << "\n" << y;
}

// Random documents with hostile strings (controls, DEL, C1, line separators, non-characters,
// astral characters, YAML indicators, long keys), written as JSON and as YAML, then read back
// by PyYAML (a YAML 1.1 reader) and compared with the JSON in one python3 process.
TEST(OpenApiYaml, ReadsBackAsTheJsonWithPyYaml) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-yaml-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  int n = 0;
  const auto gen_text = rc::gen::exec([] {
    static const std::vector<std::string> pieces = {"a",          "Z",      " ",
                                                    ": ",         " #",     "#",
                                                    "-",          "?",      "[",
                                                    "{",          "}",      ",",
                                                    "&",          "*",      "!",
                                                    "|",          ">",      "'",
                                                    "\"",         "\\",     "%",
                                                    "@",          "`",      "\n",
                                                    "\t",         "\r",     "\x01",
                                                    "\x7f",       "\u0085", "\u00a0",
                                                    "\u2028",     "\ufeff", "\ufdd0",
                                                    "\ufffe",     "\uffff", "\U0001F600",
                                                    "\U0001FFFE", "é",      "200",
                                                    "1.0",        "on",     "No",
                                                    "null",       "~",      "1e5",
                                                    "0x1F",       "12:30",  ".inf",
                                                    "<<",         "=",      std::string(1100, 'k')};
    std::string s;
    const int k = *rc::gen::inRange(0, 5);
    for (int i = 0; i < k; ++i)
      s += *rc::gen::elementOf(pieces);
    return s;
  });
  const auto ok = rc::check("YAML reads back as the JSON", [&] {
    nlohmann::ordered_json doc = nlohmann::ordered_json::object();
    const int members = *rc::gen::inRange(1, 8);
    for (int i = 0; i < members; ++i) {
      nlohmann::ordered_json v;
      switch (*rc::gen::inRange(0, 7)) {
        case 0:
          v = *gen_text;
          break;
        case 1:
          v = *rc::gen::arbitrary<std::int64_t>();
          break;
        case 2:
          v = *rc::gen::element(0.5, -1e300, 1e-7, 2.0, 123456.789);
          break;
        case 3:
          v = *rc::gen::arbitrary<bool>();
          break;
        case 4:
          v = nullptr;
          break;
        case 5:
          v = nlohmann::ordered_json::array(
              {*gen_text, {{*gen_text, *gen_text}}, nlohmann::ordered_json::array()});
          break;
        default:
          v = {{*gen_text, {{"x", *gen_text}}}, {"e", nlohmann::ordered_json::object()}};
          break;
      }
      doc[*gen_text] = v;
    }
    const auto base = dir / std::to_string(n++);
    std::ofstream(base.string() + ".json") << doc.dump();
    std::ofstream(base.string() + ".yaml") << to_yaml(doc);
  });
  ASSERT_TRUE(ok);
  const std::string script =
      "import json,sys,yaml,glob\n"
      "bad=0\n"
      "for j in sorted(glob.glob(sys.argv[1]+'/*.json')):\n"
      "  y=j[:-5]+'.yaml'\n"
      "  try:\n"
      "    same = yaml.safe_load(open(y,encoding='utf-8')) == json.load(open(j,encoding='utf-8'))\n"
      "  except Exception as e:\n"
      "    same = False; print(y, e)\n"
      "  if not same: bad+=1; print('DIFFERS', y)\n"
      "print('checked', len(glob.glob(sys.argv[1]+'/*.json')), 'bad', bad)\n"
      "sys.exit(1 if bad else 0)\n";
  std::ofstream(dir / "check.py") << script;
  const std::string cmd = "/usr/bin/python3 '" + (dir / "check.py").string() + "' '" +
                          dir.string() + "' > '" + (dir / "out.txt").string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(dir / "out.txt");
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out.substr(0, 4000);
  EXPECT_NE(out.find("checked " + std::to_string(n) + " bad 0"), std::string::npos)
      << out.substr(0, 4000);
  if (rc == 0) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stella::gw::openapi
