// to_yaml: the document through yaml-cpp's emitter, with the quoting decided here rather than
// by the emitter's guess: a string stays plain only when no YAML 1.1 or 1.2 reader can take it
// for anything but a string; numbers are written so that both read them back as numbers.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi {

namespace {

using ojson = nlohmann::ordered_json;

// Plain only for [A-Za-z_/][A-Za-z0-9_./-]* that is not a YAML 1.1 boolean or null word
// (y, yes, on, true, null, ... in any case). Everything else — digits first ("200", "1.0"),
// '~', '.inf', spaces, ':', '#', '{', non-ASCII — is double-quoted.
bool plain_is_safe(std::string_view s) {
  if (s.empty()) return false;
  const auto first = static_cast<unsigned char>(s.front());
  if (!(std::isalpha(first) || first == '_' || first == '/')) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '.' || c == '/' || c == '-')) return false;
  }
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 11> kWords = {
      "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"};
  return std::find(kWords.begin(), kWords.end(), lower) == kWords.end();
}

void emit_string(YAML::Emitter& out, const std::string& s) {
  if (plain_is_safe(s)) {
    out << s;
  } else {
    out << YAML::DoubleQuoted << s;
  }
}

// A float as nlohmann writes it (shortest round trip), with a '.' before any exponent: YAML 1.1
// readers (PyYAML) take "1e+300" for a string.
std::string float_text(double v) {
  std::string t = ojson(v).dump();
  if (t.find_first_of(".eE") == std::string::npos) return t + ".0";
  if (t.find('.') == std::string::npos) {
    const auto e = t.find_first_of("eE");
    t.insert(e, ".0");
  }
  if (const auto e = t.find_first_of("eE");
      e != std::string::npos && e + 1 < t.size() && t[e + 1] != '+' && t[e + 1] != '-')
    t.insert(e + 1, "+");
  return t;
}

void emit(YAML::Emitter& out, const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, x] : v.items()) {
        out << YAML::Key;
        emit_string(out, k);
        out << YAML::Value;
        emit(out, x);
      }
      out << YAML::EndMap;
      break;
    case ojson::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& x : v)
        emit(out, x);
      out << YAML::EndSeq;
      break;
    case ojson::value_t::string:
      emit_string(out, v.get_ref<const std::string&>());
      break;
    case ojson::value_t::boolean:
      out << v.get<bool>();
      break;
    case ojson::value_t::number_integer:
    case ojson::value_t::number_unsigned:
      out << v.dump();
      break;
    case ojson::value_t::number_float:
      out << float_text(v.get<double>());
      break;
    default:
      out << YAML::Null;
      break;
  }
}

}  // namespace

std::string to_yaml(const ojson& document) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetMapFormat(YAML::Block);
  out.SetSeqFormat(YAML::Block);
  emit(out, document);
  std::string text = out.c_str();
  text += '\n';
  return text;
}

}  // namespace stella::gw::openapi
