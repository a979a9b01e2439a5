// Key generation and JWK export (CLI, development Authority, tests): the other direction of
// jwk.cpp, reading key material back out of an EVP_PKEY with EVP_PKEY_get_*_param.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <optional>
#include <string>
#include <utility>

#include "key_util.hpp"
#include "openssl_ptr.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {

using nlohmann::json;

namespace {

using namespace detail;

// base64url of a BIGNUM parameter: minimal big-endian (RFC 7518 Base64urlUInt) or, with `pad`,
// exactly `pad` bytes (EC coordinates and private keys). nullopt when the key lacks it.
std::optional<std::string> bn_param(const EVP_PKEY* key, const char* name, std::size_t pad = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1 || !raw) return std::nullopt;
  const SecureBnPtr bn(raw);
  const std::size_t size = pad ? pad : static_cast<std::size_t>(BN_num_bytes(bn.get()));
  std::string bytes(size, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()),
                   static_cast<int>(size)) < 0)
    return std::nullopt;
  std::string out = base64url_encode(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

std::optional<std::string> raw_key(const EVP_PKEY* key, bool private_part) {
  std::string bytes(kEd25519Bytes, '\0');
  std::size_t len = bytes.size();
  auto* out = reinterpret_cast<unsigned char*>(bytes.data());
  const int rc = private_part ? EVP_PKEY_get_raw_private_key(key, out, &len)
                              : EVP_PKEY_get_raw_public_key(key, out, &len);
  if (rc != 1 || len != kEd25519Bytes) return std::nullopt;
  std::string encoded = base64url_encode(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return encoded;
}

// The public members of a freshly generated key, in JWK form.
std::optional<json> public_members(const EVP_PKEY* key, std::string_view kty,
                                   std::string_view crv) {
  json m = json::object();
  m["kty"] = kty;
  if (kty == "RSA") {
    const auto n = bn_param(key, OSSL_PKEY_PARAM_RSA_N);
    const auto e = bn_param(key, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) return std::nullopt;
    m["n"] = *n;
    m["e"] = *e;
    return m;
  }
  m["crv"] = crv;
  if (kty == "EC") {
    const EcCurve* curve = ec_curve(crv);
    if (!curve) return std::nullopt;
    const auto x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, curve->field_bytes);
    const auto y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, curve->field_bytes);
    if (!x || !y) return std::nullopt;
    m["x"] = *x;
    m["y"] = *y;
    return m;
  }
  const auto x = raw_key(key, false);
  if (!x) return std::nullopt;
  m["x"] = *x;
  return m;
}

void set_or_erase(json& obj, const char* name, const std::string& value) {
  if (value.empty())
    obj.erase(name);
  else
    obj[name] = value;
}

}  // namespace

Jwk generate_key(Alg alg) {
  const ErrorMark mark;
  Jwk jwk;
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::ES256:
    case Alg::ES384:
    case Alg::ES512: {
      const char* crv = alg == Alg::ES256 ? "P-256" : alg == Alg::ES384 ? "P-384" : "P-521";
      jwk.kty = "EC";
      jwk.crv = crv;
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", ec_curve(crv)->ossl_group);
      break;
    }
    case Alg::EdDSA:
      jwk.kty = "OKP";
      jwk.crv = "Ed25519";
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    default:
      jwk.kty = "RSA";
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(3072));
      break;
  }
  PkeyPtr key = adopt(raw);
  if (!key) return jwk;
  const auto members = public_members(key.get(), jwk.kty, jwk.crv);
  if (!members) return jwk;
  jwk.key = std::move(key);
  jwk.has_private = true;
  jwk.thumbprint = thumbprint_of(*members);
  jwk.kid = jwk.thumbprint;
  jwk.public_json = *members;
  jwk.public_json["kid"] = jwk.kid;
  return jwk;
}

json jwk_to_json(const Jwk& key, bool include_private) {
  const ErrorMark mark;
  json out = key.public_json.is_object() ? key.public_json : json::object();
  // The struct's fields win over the stored JSON: a caller may have set kid after parsing.
  set_or_erase(out, "kid", key.kid);
  set_or_erase(out, "alg", key.alg);
  set_or_erase(out, "use", key.use);
  if (!include_private || !key.has_private || !key.key) return out;

  const EVP_PKEY* pkey = key.key.get();
  if (key.kty == "RSA") {
    static constexpr std::array<std::pair<const char*, const char*>, 6> kMembers{{
        {"d", OSSL_PKEY_PARAM_RSA_D},
        {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
        {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
    }};
    for (const auto& [name, param] : kMembers)
      if (auto v = bn_param(pkey, param)) out[name] = std::move(*v);
  } else if (key.kty == "EC") {
    if (const EcCurve* curve = ec_curve(key.crv))
      if (auto d = bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, curve->field_bytes))
        out["d"] = std::move(*d);
  } else if (auto d = raw_key(pkey, true)) {
    out["d"] = std::move(*d);
  }
  return out;
}

}  // namespace stella::gw::auth
