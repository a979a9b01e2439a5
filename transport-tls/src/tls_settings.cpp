#include "stella/transport/tls/tls_settings.hpp"

#include <algorithm>
#include <cctype>

#include "stella/core/text.hpp"

namespace stella::transport::tls {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<ClientCertificateMode> parse_client_certificate_mode(std::string_view text) {
  if (core::iequals_ascii(text, "NoCertificate") || core::iequals_ascii(text, "none")) {
    return ClientCertificateMode::none;
  }
  if (core::iequals_ascii(text, "AllowCertificate") || core::iequals_ascii(text, "allow")) {
    return ClientCertificateMode::allow;
  }
  if (core::iequals_ascii(text, "RequireCertificate") || core::iequals_ascii(text, "require")) {
    return ClientCertificateMode::require;
  }
  return std::nullopt;
}

std::string_view to_string(ClientCertificateMode mode) noexcept {
  switch (mode) {
    case ClientCertificateMode::none:
      return "NoCertificate";
    case ClientCertificateMode::allow:
      return "AllowCertificate";
    case ClientCertificateMode::require:
      return "RequireCertificate";
  }
  return "?";
}

std::optional<Thumbprint> parse_thumbprint(std::string_view text, std::string& error) {
  Thumbprint out{};
  std::size_t digits = 0;
  for (const char c : text) {
    if (c == ':' || c == ' ') continue;
    const int v = hex_value(c);
    if (v < 0) {
      error = "thumbprint '" + std::string(text) + "': '" + std::string(1, c) +
              "' is not a hex digit (expected 64 hex digits of SHA-256, ':' separators allowed)";
      return std::nullopt;
    }
    if (digits >= 64) {
      error = "thumbprint '" + std::string(text) + "': more than 64 hex digits (SHA-256 expected)";
      return std::nullopt;
    }
    out[digits / 2] = static_cast<std::uint8_t>(out[digits / 2] | (digits % 2 ? v : v << 4));
    ++digits;
  }
  if (digits != 64) {
    error = "thumbprint '" + std::string(text) + "': " + std::to_string(digits) +
            " hex digits, expected 64 (SHA-256; a 40-digit SHA-1 thumbprint is not accepted)";
    return std::nullopt;
  }
  return out;
}

std::string to_hex(const Thumbprint& thumbprint) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (const auto b : thumbprint) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace stella::transport::tls
