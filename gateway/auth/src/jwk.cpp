// JWK parsing (RFC 7517/7518 §6) into EVP_PKEY through OSSL_PARAM_BLD + EVP_PKEY_fromdata, and
// RFC 7638 thumbprints.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <array>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "claims_util.hpp"
#include "key_util.hpp"
#include "openssl_ptr.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {

using nlohmann::json;

namespace detail {

PkeyPtr adopt(EVP_PKEY* raw) {
  if (!raw) return nullptr;
  return PkeyPtr(raw, PkeyFree{});
}

json thumbprint_members(std::string_view kty, std::string_view crv, const json& value) {
  json m = json::object();
  m["kty"] = kty;
  if (kty == "RSA") {
    m["n"] = value.at("n");
    m["e"] = value.at("e");
  } else {
    m["crv"] = crv;
    m["x"] = value.at("x");
    if (kty == "EC") m["y"] = value.at("y");
  }
  return m;
}

std::string thumbprint_of(const json& members) {
  // Every member is a fixed name or strict base64url, so dump() is the canonical form.
  return base64url_encode(sha256(members.dump()));
}

}  // namespace detail

void PkeyFree::operator()(EVP_PKEY* p) const noexcept {
  EVP_PKEY_free(p);
}

namespace {

using namespace detail;

constexpr std::array<std::string_view, 8> kPrivateMembers{"d",  "p",  "q",   "dp",
                                                          "dq", "qi", "oth", "k"};

// Parsing state: the first refusal wins and every later step is skipped. Errors are values
// here (a DPoP key is parsed on every request, from hostile input).
class KeyParser {
 public:
  KeyParser(const json& value, bool allow_private) : value_(value), allow_private_(allow_private) {}

  std::optional<Jwk> parse();
  JwkErrc error() const noexcept { return error_; }

 private:
  bool refuse(JwkErrc e) {
    if (ok_) error_ = e;
    ok_ = false;
    return false;
  }

  // A strict-base64url member, non-empty. Absent: nullopt, and a refusal unless `optional`.
  std::optional<std::string> b64(std::string_view name, bool optional = false) {
    const json* m = member(value_, name);
    if (!m) {
      if (!optional) refuse(JwkErrc::bad_member);
      return std::nullopt;
    }
    std::optional<std::string> bytes;
    if (m->is_string()) bytes = base64url_decode(m->get_ref<const std::string&>());
    if (!bytes || bytes->empty()) {
      refuse(JwkErrc::bad_member);
      return std::nullopt;
    }
    return bytes;
  }

  std::string text(std::string_view name) {
    const json* m = member(value_, name);
    if (!m) return {};
    if (!m->is_string()) {
      refuse(JwkErrc::bad_member);
      return {};
    }
    return m->get<std::string>();
  }

  template <class Ptr>
  Ptr bn(const std::optional<std::string>& bytes, BIGNUM* (*make)()) {
    if (!ok_ || !bytes) return nullptr;
    Ptr out(make());
    // Zero is never a valid key number (and would export as an empty member).
    if (!out ||
        !BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()),
                   static_cast<int>(bytes->size()), out.get()) ||
        BN_is_zero(out.get())) {
      refuse(JwkErrc::invalid_key);
      return nullptr;
    }
    return out;
  }

  void push(OSSL_PARAM_BLD* bld, const char* key, const BIGNUM* v) {
    if (ok_ && OSSL_PARAM_BLD_push_BN(bld, key, v) != 1) refuse(JwkErrc::invalid_key);
  }
  void push(OSSL_PARAM_BLD* bld, const char* key, const std::string& bytes) {
    if (ok_ && OSSL_PARAM_BLD_push_octet_string(bld, key, bytes.data(), bytes.size()) != 1)
      refuse(JwkErrc::invalid_key);
  }

  PkeyPtr from_params(const char* type, OSSL_PARAM_BLD* bld, bool with_private);
  PkeyPtr rsa_key(bool with_private);
  PkeyPtr ec_key(const EcCurve& curve, bool with_private);
  PkeyPtr ed25519_key(bool with_private);
  bool checked(EVP_PKEY* key, bool with_private, bool public_check);

  const json& value_;
  bool allow_private_;
  bool ok_ = true;
  JwkErrc error_ = JwkErrc::invalid_key;
};

PkeyPtr KeyParser::from_params(const char* type, OSSL_PARAM_BLD* bld, bool with_private) {
  if (!ok_) return nullptr;
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  const int selection = with_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1 || !raw) {
    EVP_PKEY_free(raw);
    refuse(JwkErrc::invalid_key);
    return nullptr;
  }
  return adopt(raw);
}

// EC: the point lies on the curve (fromdata checks it already; this says so). With a private
// key: the public half belongs to it (a key file edited by hand must not sign as someone else).
bool KeyParser::checked(EVP_PKEY* key, bool with_private, bool public_check) {
  if (!ok_ || !key) return false;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || (public_check && EVP_PKEY_public_check_quick(ctx.get()) != 1) ||
      (with_private && EVP_PKEY_pairwise_check(ctx.get()) != 1))
    return refuse(JwkErrc::invalid_key);
  return true;
}

PkeyPtr KeyParser::rsa_key(bool with_private) {
  const auto n_bytes = b64("n");
  const auto e_bytes = b64("e");
  const auto n = bn<BnPtr>(n_bytes, BN_new);
  const auto e = bn<BnPtr>(e_bytes, BN_new);
  if (!ok_) return nullptr;
  const int bits = BN_num_bits(n.get());
  if (bits < kRsaMinBits) {
    refuse(JwkErrc::weak_key);
    return nullptr;
  }
  // Shape checks instead of EVP_PKEY_public_check, which runs a primality test on n (costly
  // for a DPoP key parsed on every request) and refuses e = 3. A public exponent above 64 bits
  // would make every verification as slow as a private-key operation.
  if (bits > kRsaMaxBits || !BN_is_odd(n.get()) || !BN_is_odd(e.get()) || BN_is_one(e.get()) ||
      BN_num_bits(e.get()) > 64) {
    refuse(JwkErrc::invalid_key);
    return nullptr;
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) refuse(JwkErrc::invalid_key);
  push(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  push(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  SecureBnPtr d, p, q, dp, dq, qi;
  if (with_private) {
    d = bn<SecureBnPtr>(b64("d"), BN_secure_new);
    push(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get());
    // The CRT members make signing faster; used only when all five are there and there are
    // no additional primes (`oth`), which this loader does not handle.
    const auto pb = b64("p", true), qb = b64("q", true), dpb = b64("dp", true),
               dqb = b64("dq", true), qib = b64("qi", true);
    if (pb && qb && dpb && dqb && qib && !value_.contains("oth")) {
      p = bn<SecureBnPtr>(pb, BN_secure_new);
      q = bn<SecureBnPtr>(qb, BN_secure_new);
      dp = bn<SecureBnPtr>(dpb, BN_secure_new);
      dq = bn<SecureBnPtr>(dqb, BN_secure_new);
      qi = bn<SecureBnPtr>(qib, BN_secure_new);
      push(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p.get());
      push(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q.get());
      push(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get());
      push(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get());
      push(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qi.get());
    }
  }
  // No pairwise check for RSA: OpenSSL's needs the factors and runs primality tests on them.
  return from_params("RSA", bld.get(), with_private);
}

PkeyPtr KeyParser::ec_key(const EcCurve& curve, bool with_private) {
  const auto x = b64("x");
  const auto y = b64("y");
  if (!ok_) return nullptr;
  // RFC 7518 §6.2.1.2/3: x and y are the full field size, never shortened.
  if (x->size() != curve.field_bytes || y->size() != curve.field_bytes) {
    refuse(JwkErrc::bad_member);
    return nullptr;
  }
  const std::string point = '\x04' + *x + *y;  // uncompressed SEC1 point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                              curve.ossl_group, 0) != 1) {
    refuse(JwkErrc::invalid_key);
    return nullptr;
  }
  push(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point);
  SecureBnPtr d;
  if (with_private) {
    const auto d_bytes = b64("d");
    if (d_bytes && d_bytes->size() != curve.field_bytes) refuse(JwkErrc::bad_member);
    d = bn<SecureBnPtr>(d_bytes, BN_secure_new);
    push(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get());
  }
  PkeyPtr key = from_params("EC", bld.get(), with_private);
  return checked(key.get(), with_private, true) ? key : nullptr;
}

PkeyPtr KeyParser::ed25519_key(bool with_private) {
  const auto x = b64("x");
  if (!ok_) return nullptr;
  if (x->size() != kEd25519Bytes) {
    refuse(JwkErrc::bad_member);
    return nullptr;
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) refuse(JwkErrc::invalid_key);
  push(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, *x);
  std::optional<std::string> d;
  if (with_private) {
    d = b64("d");
    if (d && d->size() != kEd25519Bytes) refuse(JwkErrc::bad_member);
    if (d) push(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, *d);
  }
  PkeyPtr key = from_params("ED25519", bld.get(), with_private);
  if (d) OPENSSL_cleanse(d->data(), d->size());
  return checked(key.get(), with_private, false) ? key : nullptr;
}

std::optional<Jwk> KeyParser::parse() {
  if (!value_.is_object()) {
    refuse(JwkErrc::not_an_object);
    return std::nullopt;
  }
  Jwk jwk;
  const json* kty = member(value_, "kty");
  if (!kty || !kty->is_string()) {
    refuse(JwkErrc::bad_member);
    return std::nullopt;
  }
  jwk.kty = kty->get<std::string>();
  if (jwk.kty != "RSA" && jwk.kty != "EC" && jwk.kty != "OKP") {
    refuse(JwkErrc::unsupported_kty);
    return std::nullopt;
  }
  for (const auto name : kPrivateMembers)
    if (value_.contains(name)) {
      if (!allow_private_) {
        refuse(JwkErrc::private_key_given);
        return std::nullopt;
      }
      jwk.has_private = true;
    }
  jwk.kid = text("kid");
  jwk.alg = text("alg");
  jwk.use = text("use");
  if (jwk.kty != "RSA") {
    jwk.crv = text("crv");
    if (!value_.contains("crv")) refuse(JwkErrc::bad_member);
  }
  if (!ok_) return std::nullopt;

  if (jwk.kty == "RSA") {
    jwk.key = rsa_key(jwk.has_private);
  } else if (jwk.kty == "EC") {
    const EcCurve* curve = ec_curve(jwk.crv);
    if (!curve) refuse(JwkErrc::unsupported_curve);
    if (curve) jwk.key = ec_key(*curve, jwk.has_private);
  } else {
    if (jwk.crv != "Ed25519") refuse(JwkErrc::unsupported_curve);
    if (ok_) jwk.key = ed25519_key(jwk.has_private);
  }
  if (!ok_ || !jwk.key) {
    refuse(JwkErrc::invalid_key);
    return std::nullopt;
  }

  const json members = thumbprint_members(jwk.kty, jwk.crv, value_);
  jwk.thumbprint = thumbprint_of(members);
  jwk.public_json = members;
  if (!jwk.kid.empty()) jwk.public_json["kid"] = jwk.kid;
  if (!jwk.alg.empty()) jwk.public_json["alg"] = jwk.alg;
  if (!jwk.use.empty()) jwk.public_json["use"] = jwk.use;
  return jwk;
}

}  // namespace

JwkResult parse_jwk(const nlohmann::json& value, bool allow_private) {
  const ErrorMark mark;
  try {
    KeyParser parser(value, allow_private);
    auto jwk = parser.parse();
    return JwkResult{std::move(jwk), parser.error()};
  } catch (const std::exception&) {
    // Allocation failure only: every member's type is checked before it is read.
    return JwkResult{std::nullopt, JwkErrc::invalid_key};
  }
}

}  // namespace stella::gw::auth
