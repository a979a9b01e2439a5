#include "stella/gateway/http_method.hpp"

#include <string_view>

namespace stella::gw {

namespace {

constexpr bool is_tchar(char c) noexcept {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

}  // namespace

bool is_http_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

std::optional<std::string> check_method(std::string_view method, std::size_t max_length) {
  if (method.empty()) return "empty method";
  if (method.size() > max_length) {
    return "method \"" + printable(method) + "\" is longer than " + std::to_string(max_length) +
           " bytes";
  }
  for (std::size_t i = 0; i < method.size(); ++i) {
    if (!is_tchar(method[i])) {
      return "method \"" + printable(method) + "\" is not an HTTP token (bad byte at " +
             std::to_string(i) + ")";
    }
  }
  std::string upper(method);
  bool lower = false;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
      lower = true;
    }
  }
  if (lower) {
    return "method \"" + std::string(method) +
           "\" has lower-case letters; methods are case-sensitive (did you mean \"" + upper +
           "\"?)";
  }
  return std::nullopt;
}

bool is_safe_method(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

}  // namespace stella::gw
