// Access-token verification (RFC 9068 profile of RFC 7519) and the failure names.
#include <algorithm>
#include <array>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "claims_util.hpp"
#include "stella/core/text.hpp"
#include "stella/gateway/auth/token_verifier.hpp"

namespace stella::gw::auth {

using nlohmann::json;

namespace {

using detail::member;
using detail::numeric_date;
using detail::Round;
using detail::shown;

constexpr std::array<std::string_view, kAuthFailureCount> kFailureNames{
    "missing_token",
    "malformed_token",
    "unsupported_alg",
    "crit_unsupported",
    "bad_token_type",
    "unknown_kid",
    "bad_signature",
    "bad_issuer",
    "bad_audience",
    "expired",
    "not_yet_valid",
    "bad_claims",
    "dpop_missing",
    "dpop_multiple",
    "dpop_malformed",
    "dpop_bad_type",
    "dpop_bad_key",
    "dpop_bad_signature",
    "dpop_htm_mismatch",
    "dpop_htu_mismatch",
    "dpop_iat_out_of_window",
    "dpop_ath_mismatch",
    "dpop_jkt_mismatch",
    "dpop_replay",
    "dpop_key_over_quota",
    "dpop_nonce_required",
    "bound_token_as_bearer",
    "mtls_certificate_missing",
    "mtls_certificate_mismatch",
    "insufficient_scope",
    "tenant_mismatch",
    "tenant_required",
    "authority_unavailable",
    "replay_cache_unavailable",
};

Verified<VerifiedToken> fail(AuthFailure f, std::string detail) {
  Verified<VerifiedToken> v;
  v.failure = f;
  v.detail = std::move(detail);
  return v;
}

bool is_string_or_string_array(const json* v) {
  if (!v || v->is_string()) return true;
  return v->is_array() &&
         std::all_of(v->begin(), v->end(), [](const json& e) { return e.is_string(); });
}

void add_unique(std::vector<std::string>& out, std::string value) {
  if (!value.empty() && std::find(out.begin(), out.end(), value) == out.end())
    out.push_back(std::move(value));
}

// "a b  c" → a, b, c; an array adds its elements as they are.
void add_words(std::vector<std::string>& out, const json* v) {
  if (!v) return;
  if (v->is_array()) {
    for (const auto& e : *v)
      add_unique(out, e.get<std::string>());
    return;
  }
  const std::string_view s = v->get_ref<const std::string&>();
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t end = std::min(s.find(' ', i), s.size());
    add_unique(out, std::string(s.substr(i, end - i)));
    i = end + 1;
  }
}

// Registered and profile claims must have their JSON types before anything reads them:
// a wrong type is bad_claims, never a thrown type_error.
std::optional<std::string> claim_type_error(const json& p) {
  for (const char* name : {"iss", "sub", "tid", "client_id", "azp", "jti", "scope"})
    if (const json* v = member(p, name); v && !v->is_string()) return std::string(name);
  for (const char* name : {"exp", "nbf", "iat"})
    if (const json* v = member(p, name); v && !v->is_number()) return std::string(name);
  for (const char* name : {"aud", "scp", "roles", "role"})
    if (!is_string_or_string_array(member(p, name))) return std::string(name);
  // RFC 7800 §3.1: a confirmation method the gateway does not enforce must refuse the token,
  // never let it pass as a plain bearer token. Known: jkt (DPoP) and x5t#S256 (RFC 8705), each
  // a non-empty string; at least one of them.
  if (const json* cnf = member(p, "cnf")) {
    if (!cnf->is_object() || cnf->empty()) return std::string("cnf");
    for (const auto& [name, v] : cnf->items()) {
      if (name != "jkt" && name != "x5t#S256") return "cnf." + name;
      if (!v.is_string() || v.get_ref<const std::string&>().empty()) return "cnf." + name;
    }
  }
  return std::nullopt;
}

std::string string_claim(const json& p, std::string_view name) {
  const json* v = member(p, name);
  return v ? v->get<std::string>() : std::string();
}

bool typ_allowed(std::string_view typ) {
  if (typ.size() > 12 && core::iequals_ascii(typ.substr(0, 12), "application/"))
    typ.remove_prefix(12);
  return core::iequals_ascii(typ, "at+jwt") || core::iequals_ascii(typ, "jwt");
}

Verified<VerifiedToken> verify(std::string_view token, const KeySet& keys,
                               const TokenPolicy& policy, std::int64_t now) {
  if (token.empty()) return fail(AuthFailure::missing_token, "empty token");
  std::string why;
  auto jws = parse_compact(token, policy.max_token_bytes, &why);
  if (!jws) return fail(AuthFailure::malformed_token, why);
  const json& header = jws->header;
  const json& claims = jws->payload;

  const json* alg_member = member(header, "alg");
  if (!alg_member || !alg_member->is_string())
    return fail(AuthFailure::malformed_token, "header alg missing or not a string");
  const std::string& alg_text = alg_member->get_ref<const std::string&>();
  const auto alg = alg_from_name(alg_text);
  if (!alg || std::find(policy.algorithms.begin(), policy.algorithms.end(), *alg) ==
                  policy.algorithms.end())
    return fail(AuthFailure::unsupported_alg, "alg " + shown(alg_text) + " not allowed");
  if (header.contains("crit")) return fail(AuthFailure::crit_unsupported, "crit header present");
  if (const json* typ = member(header, "typ");
      typ && (!typ->is_string() || !typ_allowed(typ->get_ref<const std::string&>())))
    return fail(AuthFailure::bad_token_type,
                "typ " + shown(typ->is_string() ? typ->get<std::string>() : typ->dump()));

  // The keys to try. A named kid must exist and suit alg. Without a kid: the set's unnamed
  // keys, and also the one named key of a single-key set (issuers with one key often leave kid
  // out); none of those suiting alg is unknown_kid, as a refresh may bring one.
  std::vector<const Jwk*> candidates;
  if (const json* kid = member(header, "kid")) {
    if (!kid->is_string()) return fail(AuthFailure::malformed_token, "kid not a string");
    const auto it = keys.by_kid.find(kid->get_ref<const std::string&>());
    if (it == keys.by_kid.end()) {
      auto v = fail(AuthFailure::unknown_kid, "kid " + shown(kid->get<std::string>()));
      v.kid = kid->get<std::string>();
      return v;
    }
    if (!it->second.usable_with(*alg))
      return fail(AuthFailure::unsupported_alg,
                  "key " + shown(it->first) + " not usable with alg " + alg_text);
    candidates.push_back(&it->second);
  } else {
    for (const auto& k : keys.unnamed)
      if (k.usable_with(*alg)) candidates.push_back(&k);
    if (keys.size() == 1 && keys.unnamed.empty() && keys.by_kid.begin()->second.usable_with(*alg))
      candidates.push_back(&keys.by_kid.begin()->second);
    if (candidates.empty())
      return fail(AuthFailure::unknown_kid, "no kid, and no key without one suits " + alg_text);
  }
  const bool signed_ok = std::any_of(candidates.begin(), candidates.end(), [&](const Jwk* k) {
    return verify_signature(*alg, *k, jws->signing_input, jws->signature);
  });
  if (!signed_ok) return fail(AuthFailure::bad_signature, "signature does not verify");

  if (auto bad = claim_type_error(claims))
    return fail(AuthFailure::bad_claims, "claim " + *bad + " has the wrong type");

  const std::string iss = string_claim(claims, "iss");
  if (!policy.issuer.empty() && iss != policy.issuer)
    return fail(AuthFailure::bad_issuer, "iss " + shown(iss));

  if (!policy.audiences.empty()) {
    const json* aud = member(claims, "aud");
    auto wanted = [&](const json& a) {
      return std::find(policy.audiences.begin(), policy.audiences.end(),
                       a.get_ref<const std::string&>()) != policy.audiences.end();
    };
    const bool ok =
        aud && (aud->is_string() ? wanted(*aud) : std::any_of(aud->begin(), aud->end(), wanted));
    if (!ok) return fail(AuthFailure::bad_audience, "aud holds no configured audience");
  }

  // Attacker-controlled dates stay alone on one side of each comparison: `exp + skew` could
  // overflow, `now - skew` cannot.
  const std::int64_t skew = policy.clock_skew_s;
  std::int64_t exp = 0;
  if (const json* v = member(claims, "exp")) {
    exp = numeric_date(*v, Round::down).value_or(0);
    if (exp < now - skew)
      return fail(AuthFailure::expired,
                  "exp " + std::to_string(exp) + " < now " + std::to_string(now));
  } else if (policy.require_exp) {
    return fail(AuthFailure::expired, "exp missing");
  }
  for (const char* name : {"nbf", "iat"})
    if (const json* v = member(claims, name)) {
      const std::int64_t t = numeric_date(*v, Round::up).value_or(0);
      if (t > now + skew)
        return fail(AuthFailure::not_yet_valid,
                    std::string(name) + " " + std::to_string(t) + " > now " + std::to_string(now));
    }

  VerifiedToken out;
  out.subject = string_claim(claims, "sub");
  out.tenant = string_claim(claims, "tid");
  out.client_id = string_claim(claims, "client_id");
  if (out.client_id.empty()) out.client_id = string_claim(claims, "azp");
  add_words(out.scopes, member(claims, "scope"));
  add_words(out.scopes, member(claims, "scp"));
  for (const char* name : {"roles", "role"}) {
    const json* v = member(claims, name);
    if (v && v->is_string())
      add_unique(out.roles, v->get<std::string>());  // one role, spaces and all
    else
      add_words(out.roles, v);
  }
  if (const json* cnf = member(claims, "cnf")) {
    out.cnf_jkt = string_claim(*cnf, "jkt");
    out.cnf_x5t_s256 = string_claim(*cnf, "x5t#S256");
  }
  out.exp = exp;
  out.issuer = iss;
  out.claims = std::move(jws->payload);

  Verified<VerifiedToken> v;
  v.value = std::move(out);
  return v;
}

}  // namespace

std::string_view auth_failure_name(AuthFailure f) noexcept {
  const auto i = static_cast<std::size_t>(f);
  return i < kFailureNames.size() ? kFailureNames[i] : std::string_view("unknown");
}

bool VerifiedToken::has_claim(std::string_view type, std::string_view value) const {
  auto in = [&](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  if (type == "scope" || type == "scp") return in(scopes);
  if (type == "role" || type == "roles") return in(roles);
  const json* v = member(claims, type);
  if (!v) return false;
  auto matches = [&](const json& e) {
    if (e.is_string()) return e.get_ref<const std::string&>() == value;
    // Booleans and numbers compare by their JSON text ("true", "42").
    return (e.is_boolean() || e.is_number_integer() || e.is_number_unsigned()) && e.dump() == value;
  };
  return v->is_array() ? std::any_of(v->begin(), v->end(), matches) : matches(*v);
}

Verified<VerifiedToken> verify_access_token(std::string_view token, const KeySet& keys,
                                            const TokenPolicy& policy, std::int64_t now_unix) {
  try {
    return verify(token, keys, policy, now_unix);
  } catch (const std::exception&) {
    // Allocation failure only: every claim's type is checked before it is read.
    return fail(AuthFailure::malformed_token, "verifier out of memory");
  }
}

std::string x5t_s256(std::string_view der) {
  return base64url_encode(sha256(der));
}

}  // namespace stella::gw::auth
