// "tcp://host:port", "tls://host:port" or "host:port" → scheme, host, port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stella::transport {

struct Address {
  std::string scheme;  // "tcp" or "tls"
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
};

/// Parses an address; nullopt with `error` set when malformed (names what is wrong).
std::optional<Address> parse_address(std::string_view text, std::string& error,
                                     std::string_view default_scheme = "tcp");

}  // namespace stella::transport
