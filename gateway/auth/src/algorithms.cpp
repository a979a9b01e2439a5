// The JWS algorithms: names, the curves behind ES*, and which key may make which signature.
#include <array>
#include <optional>
#include <string_view>

#include "key_util.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {

namespace detail {

namespace {
constexpr std::array<EcCurve, 3> kCurves{{
    {"P-256", "prime256v1", 32, Alg::ES256},
    {"P-384", "secp384r1", 48, Alg::ES384},
    {"P-521", "secp521r1", 66, Alg::ES512},
}};
}  // namespace

const EcCurve* ec_curve(std::string_view crv) noexcept {
  for (const auto& c : kCurves)
    if (c.jwk_name == crv) return &c;
  return nullptr;
}

}  // namespace detail

namespace {
// Indexed by Alg.
constexpr std::array<std::string_view, 10> kAlgNames{"ES256", "ES384", "ES512", "RS256", "RS384",
                                                     "RS512", "PS256", "PS384", "PS512", "EdDSA"};
}  // namespace

std::optional<Alg> alg_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kAlgNames.size(); ++i)
    if (kAlgNames[i] == name) return static_cast<Alg>(i);
  return std::nullopt;
}

std::string_view alg_name(Alg alg) noexcept {
  const auto i = static_cast<std::size_t>(alg);
  return i < kAlgNames.size() ? kAlgNames[i] : std::string_view("unknown");
}

std::string_view jwk_error_name(JwkErrc e) noexcept {
  switch (e) {
    case JwkErrc::not_an_object:
      return "not_an_object";
    case JwkErrc::unsupported_kty:
      return "unsupported_kty";
    case JwkErrc::unsupported_curve:
      return "unsupported_curve";
    case JwkErrc::bad_member:
      return "bad_member";
    case JwkErrc::private_key_given:
      return "private_key_given";
    case JwkErrc::weak_key:
      return "weak_key";
    case JwkErrc::invalid_key:
      return "invalid_key";
  }
  return "unknown";
}

bool Jwk::usable_with(Alg a) const noexcept {
  if (!key) return false;
  if (!alg.empty() && alg != alg_name(a)) return false;
  switch (a) {
    case Alg::ES256:
    case Alg::ES384:
    case Alg::ES512: {
      const detail::EcCurve* curve = kty == "EC" ? detail::ec_curve(crv) : nullptr;
      return curve && curve->alg == a;
    }
    case Alg::RS256:
    case Alg::RS384:
    case Alg::RS512:
    case Alg::PS256:
    case Alg::PS384:
    case Alg::PS512:
      return kty == "RSA";
    case Alg::EdDSA:
      return kty == "OKP" && crv == "Ed25519";
  }
  return false;
}

}  // namespace stella::gw::auth
