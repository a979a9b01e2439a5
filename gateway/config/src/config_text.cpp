// ${ENV} substitution and the edit distance behind "did you mean": text helpers of the loader.
#include <algorithm>
#include <cctype>
#include <vector>

#include "config_reader.hpp"

namespace stella::gw::config::detail {
namespace {

std::string quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

bool valid_env_name(std::string_view name) {
  if (name.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

std::optional<std::string> substitute_env(std::string_view text, EnvLookup env,
                                          std::string& error) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c != '$') {
      out += c;
      ++i;
    } else if (next == '$') {
      out += '$';
      i += 2;
    } else if (next == '{') {
      const auto close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        error = "unterminated '${' in " + quote(text) + " (write ${NAME} or ${NAME:-default})";
        return std::nullopt;
      }
      const std::string_view inner = text.substr(i + 2, close - i - 2);
      const auto sep = inner.find(":-");
      const std::string name(inner.substr(0, sep));
      if (!valid_env_name(name)) {
        error = "invalid variable " + quote("${" + std::string(inner) + "}") +
                " (names are letters, digits and '_'; a default is written ${NAME:-default}; "
                "$$ is a literal $)";
        return std::nullopt;
      }
      const std::optional<std::string> value = env ? env(name.c_str()) : std::nullopt;
      if (sep != std::string_view::npos) {
        out += value && !value->empty() ? *value : std::string(inner.substr(sep + 2));
      } else if (value) {
        out += *value;
      } else {
        error = "environment variable " + name + " is not set (give a default with ${" + name +
                ":-default})";
        return std::nullopt;
      }
      i = close + 1;
    } else if (std::isalpha(static_cast<unsigned char>(next)) || next == '_') {
      // "$NAME" is almost always a forgotten pair of braces: refuse rather than keep it literally.
      error = quote(text) + ": write ${NAME} for a variable, or $$ for a literal $";
      return std::nullopt;
    } else {
      out += '$';  // a lone '$' ("US$ 5", "a$") is literal
      ++i;
    }
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  auto norm = [](std::string_view s) {
    std::string out;
    for (char c : s)
      if (c != '_' && c != '-')
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string x = norm(a);
  const std::string y = norm(b);
  std::vector<std::size_t> row(y.size() + 1);
  for (std::size_t j = 0; j <= y.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= x.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= y.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (x[i - 1] == y[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[y.size()];
}

}  // namespace stella::gw::config::detail
