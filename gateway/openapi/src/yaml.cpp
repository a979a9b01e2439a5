// to_yaml: block-style YAML written here rather than by yaml-cpp, whose emitter (0.7) writes
// U+007F raw (YAML readers refuse the document) and replaces the Unicode non-characters with
// U+FFFD (the YAML would no longer read back as the JSON). A string stays plain only when no
// YAML 1.1 or 1.2 reader can take it for anything but that string; every other one is
// double-quoted with each character a reader might refuse or fold escaped.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>

#include "stella/core/text.hpp"
#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi {

namespace {

using ojson = nlohmann::ordered_json;

// Plain only for [A-Za-z_/][A-Za-z0-9_./-]* that is not a YAML 1.1 boolean or null word
// (y, yes, on, true, null, ... in any case).
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

std::uint32_t decode(std::string_view s, std::size_t i, std::size_t n) {
  const auto b = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + k]));
  };
  if (n == 1) return b(0);
  if (n == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (n == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

// Characters written as they are inside double quotes: what YAML 1.1 and 1.2 readers both
// accept as printable, without the line separators and the non-characters.
bool printable(std::uint32_t c) {
  if (c >= 0x20 && c <= 0x7E) return true;
  if (c < 0xA0) return false;  // C0, DEL, C1
  if (c == 0x2028 || c == 0x2029 || c == 0xFEFF) return false;
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  if (c >= 0xFDD0 && c <= 0xFDEF) return false;
  if ((c & 0xFFFE) == 0xFFFE) return false;  // U+xFFFE, U+xFFFF in every plane
  return c <= 0x10FFFF;
}

void quoted(std::string& out, std::string_view s) {
  out += '"';
  char buf[16];
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = core::utf8_sequence_length(s, i);
    if (n == 0) {  // not UTF-8 (the merge replaces it; the belt to those braces)
      out += "\\uFFFD";
      ++i;
      continue;
    }
    const std::uint32_t c = decode(s, i, n);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (printable(c)) {
      out.append(s.substr(i, n));
    } else if (c <= 0xFF) {
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
      out += buf;
    } else if (c <= 0xFFFF) {
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
      out += buf;
    } else {
      std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(c));
      out += buf;
    }
    i += n;
  }
  out += '"';
}

void scalar_string(std::string& out, std::string_view s) {
  if (plain_is_safe(s)) {
    out.append(s);
  } else {
    quoted(out, s);
  }
}

// A float as nlohmann writes it (shortest round trip), with a '.' and a signed exponent: YAML
// 1.1 readers (PyYAML) take "1e+300" or "1.0e300" for strings.
std::string float_text(double v) {
  std::string t = ojson(v).dump();
  if (t.find_first_of(".eE") == std::string::npos) return t + ".0";
  if (t.find('.') == std::string::npos) t.insert(t.find_first_of("eE"), ".0");
  if (const auto e = t.find_first_of("eE");
      e != std::string::npos && e + 1 < t.size() && t[e + 1] != '+' && t[e + 1] != '-')
    t.insert(e + 1, "+");
  return t;
}

bool is_scalar(const ojson& v) {
  return !(v.is_object() || v.is_array()) || v.empty();
}

void scalar(std::string& out, const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::object:
      out += "{}";
      break;
    case ojson::value_t::array:
      out += "[]";
      break;
    case ojson::value_t::string:
      scalar_string(out, v.get_ref<const std::string&>());
      break;
    case ojson::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case ojson::value_t::number_integer:
    case ojson::value_t::number_unsigned:
      out += v.dump();
      break;
    case ojson::value_t::number_float:
      out += float_text(v.get<double>());
      break;
    default:
      out += "null";
      break;
  }
}

// A non-empty map or sequence whose first line continues the current one (after "key:" it
// starts on a new line; after "- " it starts right there).
void block(std::string& out, const ojson& v, std::size_t indent, bool inline_first) {
  const std::string pad(indent, ' ');
  bool first = true;
  auto line_start = [&] {
    if (first && inline_first) {
      first = false;
      return;
    }
    first = false;
    out += '\n';
    out += pad;
  };
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) {
      line_start();
      std::string key;
      scalar_string(key, k);
      if (key.size() > 1000) {
        // An implicit key is at most 1024 characters: a longer one is written explicitly.
        out += "? " + key + '\n' + pad;
      } else {
        out += key;
      }
      out += ':';
      if (is_scalar(x)) {
        out += ' ';
        scalar(out, x);
      } else {
        block(out, x, indent + 2, false);
      }
    }
  } else {
    for (const auto& x : v) {
      line_start();
      out += "- ";
      if (is_scalar(x)) {
        scalar(out, x);
      } else {
        block(out, x, indent + 2, true);
      }
    }
  }
}

}  // namespace

std::string to_yaml(const ojson& document) {
  std::string out;
  if (is_scalar(document)) {
    scalar(out, document);
  } else {
    block(out, document, 0, true);
  }
  out += '\n';
  return out;
}

}  // namespace stella::gw::openapi
