#include <charconv>

#include "stella/transport/address.hpp"

namespace stella::transport {

std::string Address::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Address> parse_address(std::string_view text, std::string& error,
                                     std::string_view default_scheme) {
  Address a;
  a.scheme = std::string(default_scheme);
  if (auto p = text.find("://"); p != std::string_view::npos) {
    a.scheme = std::string(text.substr(0, p));
    text.remove_prefix(p + 3);
    if (a.scheme != "tcp" && a.scheme != "tls") {
      error = "unknown scheme '" + a.scheme + "' (expected tcp:// or tls://)";
      return std::nullopt;
    }
  }
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "malformed IPv6 address (expected [addr]:port)";
      return std::nullopt;
    }
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "missing ':port'";
      return std::nullopt;
    }
    a.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (a.host.empty()) {
    error = "missing host";
    return std::nullopt;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    error = "invalid port '" + std::string(port) + "'";
    return std::nullopt;
  }
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

}  // namespace stella::transport
