// parse_redis_address: the one place that reads a Redis address written by a user (config file,
// command line). Strict: whatever we would not honour is refused with a reason, never ignored.
#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stella/gateway/redis/redis_client.hpp"

namespace stella::gw::redis {
namespace {

// A host name as the resolver takes it: letters, digits, '-', '.', '_' (some internal DNS
// names use underscores).
bool is_host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// Decimal digits only (no sign, no spaces), at most `max`.
std::optional<unsigned> parse_decimal(std::string_view s, unsigned max) noexcept {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes, so that a password may hold any byte.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

std::optional<RedisSettings> parse_redis_address(std::string_view text, std::string* error) {
  const auto refuse = [error](std::string reason) -> std::optional<RedisSettings> {
    if (error != nullptr) *error = std::move(reason);
    return std::nullopt;
  };
  if (text.empty()) return refuse("empty Redis address");
  RedisSettings out;
  std::string_view rest = text;

  if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
    const std::string scheme = lower(rest.substr(0, sep));
    if (scheme == "rediss") return refuse("TLS to Redis is not supported yet");
    if (scheme != "redis") return refuse("unknown scheme '" + scheme + "://' (expected redis://)");
    rest.remove_prefix(sep + 3);
  }

  // User info ends at the last '@': nothing after it (host, port, database) may hold one, so a
  // password with an unescaped '@' still parses.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos)
      return refuse("user info without ':' (write the password as redis://:password@host)");
    // Redis 6 ACL users are not supported (AUTH takes the password only); "default" is the
    // user a plain password authenticates as.
    const std::string_view user = userinfo.substr(0, colon);
    if (!user.empty() && user != "default")
      return refuse("Redis user names are not supported (write redis://:password@host)");
    auto password = percent_decode(userinfo.substr(colon + 1));
    // The reason never quotes the password.
    if (!password) return refuse("bad %-escape in the password");
    out.password = std::move(*password);
  }

  if (const auto q = rest.find_first_of("?#"); q != std::string_view::npos)
    return refuse("unexpected '" + std::string(rest.substr(q)) +
                  "' after the address (options are not supported)");

  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view db_text =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return refuse("missing ']' after the IPv6 address");
    host = authority.substr(1, close - 1);
    if (host.empty()) return refuse("empty host");
    in6_addr parsed{};
    const std::string host_z(host);
    if (inet_pton(AF_INET6, host_z.c_str(), &parsed) != 1)
      return refuse("bad IPv6 address '" + host_z + "'");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return refuse("unexpected '" + std::string(after) + "' after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos)
      return refuse("an IPv6 address needs brackets, as in [::1]:6379");
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return refuse("empty host");
    if (host.size() > 253) return refuse("host name longer than 253 characters");
    for (char c : host)
      if (!is_host_char(c)) return refuse("bad character in host '" + std::string(host) + "'");
  }

  if (has_port) {
    const auto port = parse_decimal(port_text, 65535);
    if (!port || *port == 0) return refuse("bad port '" + std::string(port_text) + "' (1-65535)");
    out.port = static_cast<std::uint16_t>(*port);
  }
  // "redis://host/" is database 0, as most clients read it.
  if (!db_text.empty()) {
    const auto db = parse_decimal(db_text, 65535);
    if (!db) return refuse("bad database number '" + std::string(db_text) + "' (0-65535)");
    out.db = *db;
  }
  out.host = std::string(host);
  return out;
}

}  // namespace stella::gw::redis
