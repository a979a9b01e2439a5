// JWK, JWKS and strict-JSON parsing on arbitrary bytes. Input: a mode byte, then the text.
//  0 parse_strict_json: an accepted document is within the limits, the lenient parser reads
//    the same value (so no duplicate was let through), and its dump parses back to it.
//  1 parse_jwks: every kept key is usable (an EVP_PKEY, a 43-character thumbprint, no private
//    part), filed under its own kid, and its public JSON parses back to the same thumbprint.
//  2/3 parse_jwk of the text's JSON without/with private keys allowed: an accepted key's
//    public JSON re-parses to the same thumbprint; export with private parts re-parses too.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "stella/gateway/auth/jose.hpp"

using namespace stella::gw::auth;

namespace {

constexpr JsonLimits kLimits{2048, 8};

std::size_t depth_of(const nlohmann::json& v) {
  if (!v.is_structured()) return 0;
  std::size_t deepest = 0;
  for (const auto& e : v)
    deepest = std::max(deepest, depth_of(e));
  return deepest + 1;
}

void check_json(std::string_view text) {
  std::string error;
  const auto v = parse_strict_json(text, kLimits, &error);
  if (!v) {
    STELLA_FUZZ_CHECK(!error.empty());
    return;
  }
  STELLA_FUZZ_CHECK(text.size() <= kLimits.max_bytes);
  STELLA_FUZZ_CHECK(depth_of(*v) <= kLimits.max_depth);
  const auto lenient = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  STELLA_FUZZ_CHECK(!lenient.is_discarded());
  STELLA_FUZZ_CHECK(lenient == *v);
  const auto again = parse_strict_json(v->dump(), JsonLimits{1 << 20, kLimits.max_depth});
  STELLA_FUZZ_CHECK(again && *again == *v);
}

void check_key(const Jwk& k, bool allow_private) {
  STELLA_FUZZ_CHECK(k.key != nullptr);
  STELLA_FUZZ_CHECK(k.thumbprint.size() == 43);
  STELLA_FUZZ_CHECK(allow_private || !k.has_private);
  STELLA_FUZZ_CHECK(k.kty == "RSA" || k.kty == "EC" || k.kty == "OKP");
  const JwkResult pub = parse_jwk(k.public_json);
  STELLA_FUZZ_CHECK(pub.jwk && pub.jwk->thumbprint == k.thumbprint && !pub.jwk->has_private);
  STELLA_FUZZ_CHECK(!k.public_json.contains("d"));
  if (k.has_private) {
    const JwkResult priv = parse_jwk(jwk_to_json(k, true), true);
    STELLA_FUZZ_CHECK(priv.jwk && priv.jwk->thumbprint == k.thumbprint);
  }
}

void check_jwks(std::string_view text) {
  std::string error;
  const auto set = parse_jwks(text, &error);
  if (!set) {
    STELLA_FUZZ_CHECK(!error.empty());
    return;
  }
  STELLA_FUZZ_CHECK(set->size() + set->skipped.size() <= 256);
  for (const auto& [kid, k] : set->by_kid) {
    STELLA_FUZZ_CHECK(kid == k.kid && !kid.empty());
    STELLA_FUZZ_CHECK(k.use != "enc");
    check_key(k, false);
  }
  for (const auto& k : set->unnamed) {
    STELLA_FUZZ_CHECK(k.kid.empty());
    check_key(k, false);
  }
}

void check_jwk(std::string_view text, bool allow_private) {
  const auto value = parse_strict_json(text, kLimits);
  if (!value) return;
  const JwkResult r = parse_jwk(*value, allow_private);
  if (!r.jwk) {
    STELLA_FUZZ_CHECK(jwk_error_name(r.error) != "unknown");
    return;
  }
  check_key(*r.jwk, allow_private);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stella::fuzz::Input in(data, size);
  const auto mode = in.integral<std::uint8_t>() % 4;
  const std::string_view text = in.rest();
  switch (mode) {
    case 0:
      check_json(text);
      break;
    case 1:
      check_jwks(text);
      break;
    case 2:
      check_jwk(text, false);
      break;
    case 3:
      check_jwk(text, true);
      break;
  }
  return 0;
}
