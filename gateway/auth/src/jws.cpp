// JWS signatures (RFC 7518 §3) with EVP_DigestSign/EVP_DigestVerify, and the compact
// serialisation (RFC 7515 §7.1).
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "key_util.hpp"
#include "openssl_ptr.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {

namespace {

using namespace detail;

const EVP_MD* digest_for(Alg alg) noexcept {
  switch (alg) {
    case Alg::ES256:
    case Alg::RS256:
    case Alg::PS256:
      return EVP_sha256();
    case Alg::ES384:
    case Alg::RS384:
    case Alg::PS384:
      return EVP_sha384();
    case Alg::ES512:
    case Alg::RS512:
    case Alg::PS512:
      return EVP_sha512();
    case Alg::EdDSA:
      return nullptr;  // Ed25519 hashes internally (PureEdDSA)
  }
  return nullptr;
}

bool is_ecdsa(Alg alg) noexcept {
  return alg == Alg::ES256 || alg == Alg::ES384 || alg == Alg::ES512;
}

bool is_pss(Alg alg) noexcept {
  return alg == Alg::PS256 || alg == Alg::PS384 || alg == Alg::PS512;
}

// RS*: PKCS#1 v1.5. PS*: PSS with MGF1 over the same hash and a salt as long as the hash
// (RFC 7518 §3.5); on verification RSA_PSS_SALTLEN_DIGEST also refuses any other salt length.
bool set_padding(Alg alg, EVP_PKEY_CTX* pctx) noexcept {
  if (is_pss(alg))
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest_for(alg)) == 1;
  if (alg == Alg::RS256 || alg == Alg::RS384 || alg == Alg::RS512)
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  return true;
}

// R||S (each `half` bytes, as JWS carries it) → DER ECDSA-Sig-Value (as OpenSSL wants it).
std::optional<std::string> rs_to_der(std::string_view rs, std::size_t half) {
  if (rs.size() != 2 * half) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(rs.data());
  BnPtr r(BN_bin2bn(p, static_cast<int>(half), nullptr));
  BnPtr s(BN_bin2bn(p + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

std::optional<std::string> der_to_rs(std::string_view der, std::size_t half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string rs(2 * half, '\0');
  auto* out = reinterpret_cast<unsigned char*>(rs.data());
  if (BN_bn2binpad(r, out, static_cast<int>(half)) < 0 ||
      BN_bn2binpad(s, out + half, static_cast<int>(half)) < 0)
    return std::nullopt;
  return rs;
}

bool verify(Alg alg, const Jwk& key, std::string_view input, std::string_view signature) {
  if (!key.usable_with(alg)) return false;
  EVP_PKEY* pkey = key.key.get();
  std::string der;
  if (is_ecdsa(alg)) {
    const EcCurve* curve = ec_curve(key.crv);
    auto converted = curve ? rs_to_der(signature, curve->field_bytes) : std::nullopt;
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  } else if (alg == Alg::EdDSA) {
    if (signature.size() != 64) return false;
  } else if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey))) {
    return false;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(alg), nullptr, pkey) != 1 ||
      !set_padding(alg, pctx))
    return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

std::optional<std::string> sign_raw(Alg alg, const Jwk& key, std::string_view input) {
  if (!key.has_private || !key.usable_with(alg)) return std::nullopt;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, digest_for(alg), nullptr, key.key.get()) != 1 ||
      !set_padding(alg, pctx))
    return std::nullopt;
  const auto* tbs = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, tbs, input.size()) != 1) return std::nullopt;
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, tbs,
                     input.size()) != 1)
    return std::nullopt;
  sig.resize(len);
  if (!is_ecdsa(alg)) return sig;
  const EcCurve* curve = ec_curve(key.crv);
  return curve ? der_to_rs(sig, curve->field_bytes) : std::nullopt;
}

}  // namespace

bool verify_signature(Alg alg, const Jwk& key, std::string_view signing_input,
                      std::string_view signature) noexcept {
  const ErrorMark mark;
  try {
    return verify(alg, key, signing_input, signature);
  } catch (const std::exception&) {
    return false;  // allocation failure
  }
}

std::optional<std::string> sign(Alg alg, const Jwk& private_key, std::string_view signing_input) {
  const ErrorMark mark;
  return sign_raw(alg, private_key, signing_input);
}

std::optional<std::string> sign_compact(const nlohmann::json& header, const nlohmann::json& payload,
                                        Alg alg, const Jwk& private_key) {
  if (!header.is_object()) return std::nullopt;
  try {
    // A missing alg is filled in; one given is kept as it is, so tests can make tokens whose
    // header disagrees with the key.
    nlohmann::json h = header;
    if (!h.contains("alg")) h["alg"] = alg_name(alg);
    std::string token = base64url_encode(h.dump()) + '.' + base64url_encode(payload.dump());
    const auto sig = sign(alg, private_key, token);
    if (!sig) return std::nullopt;
    token += '.';
    token += base64url_encode(*sig);
    return token;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a string member that is not valid UTF-8
  }
}

std::optional<CompactJws> parse_compact(std::string_view token, std::size_t max_bytes,
                                        std::string* error) {
  auto refuse = [&](std::string why) -> std::optional<CompactJws> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (token.size() > max_bytes)
    return refuse("token of " + std::to_string(token.size()) + " bytes exceeds " +
                  std::to_string(max_bytes));
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return refuse("not three dot-separated parts");
  const auto header = base64url_decode(token.substr(0, dot1));
  const auto payload = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header || !payload || !signature) return refuse("bad base64url");

  const JsonLimits limits{max_bytes, JsonLimits{}.max_depth};
  std::string why;
  CompactJws jws;
  auto h = parse_strict_json(*header, limits, &why);
  if (!h) return refuse("header: " + why);
  if (!h->is_object()) return refuse("header: not an object");
  auto p = parse_strict_json(*payload, limits, &why);
  if (!p) return refuse("payload: " + why);
  if (!p->is_object()) return refuse("payload: not an object");
  jws.header = std::move(*h);
  jws.payload = std::move(*p);
  jws.signing_input = token.substr(0, dot2);
  jws.signature = std::move(*signature);
  return jws;
}

}  // namespace stella::gw::auth
