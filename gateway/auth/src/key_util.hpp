// Curve tables and key-building helpers shared by JWK parsing, export and signing (private).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth::detail {

struct EcCurve {
  std::string_view jwk_name;  // "P-256"
  const char* ossl_group;     // "prime256v1"
  std::size_t field_bytes;    // 32: size of x, y, d and of each half of an R||S signature
  Alg alg;                    // the one JWS algorithm of this curve
};

/// The curve named `crv` in a JWK, or nullptr when unsupported.
const EcCurve* ec_curve(std::string_view crv) noexcept;

constexpr std::size_t kEd25519Bytes = 32;
constexpr int kRsaMinBits = 2048;
// OpenSSL's own ceiling (OPENSSL_RSA_MAX_MODULUS_BITS): a larger modulus could never verify.
constexpr int kRsaMaxBits = 16384;

/// Wraps an owned EVP_PKEY (nullptr stays nullptr).
PkeyPtr adopt(EVP_PKEY* raw);

/// The RFC 7638 members of a key (already validated), in the canonical order nlohmann's sorted
/// objects give, and its thumbprint.
nlohmann::json thumbprint_members(std::string_view kty, std::string_view crv,
                                  const nlohmann::json& value);
std::string thumbprint_of(const nlohmann::json& members);

}  // namespace stella::gw::auth::detail
