// parse_jwks: a JSON Web Key Set into a KeySet, skipping (and naming) the keys it cannot use.
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "claims_util.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {

namespace {

constexpr std::size_t kMaxJwksBytes = 1024 * 1024;
constexpr std::size_t kMaxJwksKeys = 256;
// {"keys":[{"x5c":[...]}]} is three levels; leave room for extension members.
constexpr std::size_t kMaxJwksDepth = 8;

std::string key_label(std::size_t index, const nlohmann::json& key) {
  std::string label = "key #" + std::to_string(index);
  if (const auto* kid = detail::member(key, "kid"); kid && kid->is_string())
    label += " (kid " + detail::shown(kid->get_ref<const std::string&>()) + ")";
  return label;
}

std::optional<KeySet> parse(std::string_view text, std::string* error) {
  auto refuse = [&](std::string why) -> std::optional<KeySet> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  std::string why;
  const auto doc = parse_strict_json(text, JsonLimits{kMaxJwksBytes, kMaxJwksDepth}, &why);
  if (!doc) return refuse("JWKS: " + why);
  const auto* keys = detail::member(*doc, "keys");
  if (!keys || !keys->is_array()) return refuse("JWKS: no \"keys\" array");
  if (keys->size() > kMaxJwksKeys)
    return refuse("JWKS: " + std::to_string(keys->size()) + " keys, at most " +
                  std::to_string(kMaxJwksKeys));

  KeySet set;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const auto& value = (*keys)[i];
    JwkResult r = parse_jwk(value, /*allow_private=*/false);
    if (!r.jwk) {
      set.skipped.push_back(key_label(i, value) + ": " + std::string(jwk_error_name(r.error)));
      continue;
    }
    Jwk& jwk = *r.jwk;
    if (jwk.use == "enc") {
      set.skipped.push_back(key_label(i, value) + ": use enc");
      continue;
    }
    if (jwk.kid.empty()) {
      set.unnamed.push_back(std::move(jwk));
      continue;
    }
    // A second key under one kid would make the lookup depend on document order; keep the
    // first and say so.
    if (set.by_kid.contains(jwk.kid)) {
      set.skipped.push_back(key_label(i, value) + ": duplicate kid");
      continue;
    }
    std::string kid = jwk.kid;
    set.by_kid.emplace(std::move(kid), std::move(jwk));
  }
  return set;
}

}  // namespace

std::optional<KeySet> parse_jwks(std::string_view text, std::string* error) {
  try {
    return parse(text, error);
  } catch (const std::exception&) {
    if (error) *error = "JWKS: out of memory";
    return std::nullopt;
  }
}

}  // namespace stella::gw::auth
