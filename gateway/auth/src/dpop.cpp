// DPoP proof verification (RFC 9449 §4.3) and the htu normalisation both sides go through.
#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "claims_util.hpp"
#include "stella/core/text.hpp"
#include "stella/gateway/auth/auth_caches.hpp"
#include "stella/gateway/auth/token_verifier.hpp"

namespace stella::gw::auth {

using nlohmann::json;

namespace {

using detail::member;
using detail::shown;

constexpr std::size_t kMaxJtiBytes = 256;

Verified<DpopProof> fail(AuthFailure f, std::string detail) {
  Verified<DpopProof> v;
  v.failure = f;
  v.detail = std::move(detail);
  return v;
}

const std::string* string_member(const json& obj, std::string_view name) {
  const json* v = member(obj, name);
  return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

// ASCII only, whatever the process locale.
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
char ascii_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// Copies `in` to `out`, upper-casing the hex digits of percent-encodings; false on a '%' not
// followed by two hex digits.
bool append_pct_normalised(std::string& out, std::string_view in) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    out += in[i];
    if (in[i] != '%') continue;
    if (i + 2 >= in.size() || !is_hex(in[i + 1]) || !is_hex(in[i + 2])) return false;
    out += ascii_upper(in[i + 1]);
    out += ascii_upper(in[i + 2]);
    i += 2;
  }
  return true;
}

// RFC 3986 §3.2.2: a reg-name (unreserved, sub-delims, pct-encoded) or a bracketed IP literal.
bool valid_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    return !host.empty() && std::all_of(host.begin(), host.end(),
                                        [](char c) { return is_hex(c) || c == ':' || c == '.'; });
  }
  constexpr std::string_view kAllowed = "-._~!$&'()*+,;=%";
  return !host.empty() && std::all_of(host.begin(), host.end(), [&](char c) {
    return is_alnum(c) || kAllowed.find(c) != std::string_view::npos;
  });
}

Verified<DpopProof> verify(std::string_view proof, const DpopRequest& request,
                           const DpopPolicy& policy, std::int64_t now) {
  std::string why;
  auto jws = parse_compact(proof, policy.max_proof_bytes, &why);
  if (!jws) return fail(AuthFailure::dpop_malformed, why);
  const json& header = jws->header;
  const json& claims = jws->payload;

  const std::string* typ = string_member(header, "typ");
  if (!typ || !core::iequals_ascii(*typ, "dpop+jwt"))
    return fail(AuthFailure::dpop_bad_type, typ ? "typ " + shown(*typ) : "typ missing");

  // RFC 7515 §4.1.11: no extension is understood here, so any `crit` refuses the proof.
  if (header.contains("crit")) return fail(AuthFailure::dpop_malformed, "crit header present");
  const std::string* alg_text = string_member(header, "alg");
  if (!alg_text) return fail(AuthFailure::dpop_malformed, "alg missing or not a string");
  const auto alg = alg_from_name(*alg_text);
  if (!alg || std::find(policy.algorithms.begin(), policy.algorithms.end(), *alg) ==
                  policy.algorithms.end())
    return fail(AuthFailure::unsupported_alg, "alg " + shown(*alg_text) + " not allowed");

  const json* jwk_json = member(header, "jwk");
  if (!jwk_json || !jwk_json->is_object())
    return fail(AuthFailure::dpop_bad_key, "jwk missing or not an object");
  JwkResult key;
  if (policy.key_cache) {
    JwkErrc error = JwkErrc::invalid_key;
    if (auto cached = policy.key_cache->get(*jwk_json, error)) {
      key.jwk = *cached;
    } else {
      key.error = error;
    }
  } else {
    key = parse_jwk(*jwk_json, /*allow_private=*/false);
  }
  if (!key.jwk)
    return fail(AuthFailure::dpop_bad_key, "jwk " + std::string(jwk_error_name(key.error)));
  if (!key.jwk->usable_with(*alg))
    return fail(AuthFailure::dpop_bad_key, "jwk not usable with alg " + *alg_text);
  // Before the signature: a key the token is not bound to costs no signature check (an RSA key
  // of 16384 bits would cost milliseconds).
  if (!request.expected_jkt.empty() &&
      !constant_time_equal(request.expected_jkt, key.jwk->thumbprint))
    return fail(AuthFailure::dpop_jkt_mismatch, "proof key is not the token's cnf.jkt");
  if (!verify_signature(*alg, *key.jwk, jws->signing_input, jws->signature))
    return fail(AuthFailure::dpop_bad_signature, "signature does not verify");

  const std::string* jti = string_member(claims, "jti");
  const std::string* htm = string_member(claims, "htm");
  const std::string* htu = string_member(claims, "htu");
  const json* iat_json = member(claims, "iat");
  const auto iat_opt =
      iat_json ? detail::numeric_date(*iat_json, detail::Round::down) : std::nullopt;
  if (!jti || jti->empty() || jti->size() > kMaxJtiBytes || !htm || !htu || !iat_opt)
    return fail(AuthFailure::dpop_malformed, "jti, htm, htu or iat missing or malformed");
  // A plain value from here on (GCC 12 at -O3 cannot see that the optional was checked).
  const std::int64_t iat = iat_opt.value_or(0);

  if (*htm != request.method) return fail(AuthFailure::dpop_htm_mismatch, "htm " + shown(*htm));

  const auto proof_url = normalize_htu(*htu);
  const auto request_url = normalize_htu(request.url);
  if (!proof_url || !request_url || *proof_url != *request_url)
    return fail(AuthFailure::dpop_htu_mismatch, "htu " + shown(*htu));

  // now is trusted and the skew small: neither side of these comparisons can overflow.
  if (iat < now - policy.max_clock_skew_s || iat > now + policy.max_clock_skew_s)
    return fail(AuthFailure::dpop_iat_out_of_window,
                "iat " + std::to_string(iat) + ", now " + std::to_string(now));

  if (!request.access_token.empty()) {
    const std::string* ath = string_member(claims, "ath");
    if (!ath || !constant_time_equal(*ath, base64url_encode(sha256(request.access_token))))
      return fail(AuthFailure::dpop_ath_mismatch, ath ? "ath differs" : "ath missing");
  }
  if (!request.nonce.empty()) {
    const std::string* nonce = string_member(claims, "nonce");
    if (!nonce || *nonce != request.nonce)
      return fail(AuthFailure::dpop_nonce_required, nonce ? "nonce stale" : "nonce missing");
  }

  Verified<DpopProof> v;
  v.value = DpopProof{key.jwk->thumbprint, *jti, iat};
  return v;
}

}  // namespace

Verified<DpopProof> verify_dpop_proof(std::string_view proof, const DpopRequest& request,
                                      const DpopPolicy& policy, std::int64_t now_unix) {
  try {
    return verify(proof, request, policy, now_unix);
  } catch (const std::exception&) {
    return fail(AuthFailure::dpop_malformed, "verifier out of memory");
  }
}

std::optional<std::string> normalize_htu(std::string_view url) {
  // Printable ASCII only: a URL as sent on the wire has no spaces, controls or raw UTF-8.
  if (url.empty() ||
      !std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7F; }))
    return std::nullopt;
  const std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) return std::nullopt;
  std::string scheme(url.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), ascii_lower);
  if (scheme != "http" && scheme != "https") return std::nullopt;

  std::string_view rest = url.substr(colon + 3);
  const std::size_t auth_end = std::min(rest.find_first_of("/?#"), rest.size());
  const std::string_view authority = rest.substr(0, auth_end);
  std::string_view path = rest.substr(auth_end);
  path = path.substr(0, std::min(path.find_first_of("?#"), path.size()));
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // userinfo

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // IP literal: [v6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    if (!after.empty()) port = after.substr(1);
  } else if (const std::size_t c = authority.find(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (!valid_host(host)) return std::nullopt;
  // RFC 3986 §3.2.3: an empty port ("host:") is the same as no port.
  std::uint32_t port_number = 0;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return std::nullopt;
    for (const char c : port)
      port_number = port_number * 10 + static_cast<std::uint32_t>(c - '0');
    if (port_number == 0 || port_number > 65535) return std::nullopt;
  }
  const bool default_port = port.empty() || (scheme == "http" && port_number == 80) ||
                            (scheme == "https" && port_number == 443);

  std::string out = scheme + "://";
  std::string lower_host(host);
  std::transform(lower_host.begin(), lower_host.end(), lower_host.begin(), ascii_lower);
  if (!append_pct_normalised(out, lower_host)) return std::nullopt;
  if (!default_port) out += ':' + std::to_string(port_number);
  if (path.empty()) path = "/";
  if (!append_pct_normalised(out, path)) return std::nullopt;
  return out;
}

}  // namespace stella::gw::auth
