// Access-token and DPoP verification on arbitrary bytes, against a fixed key set built from a
// constant JWKS (ES256 "es1", RS256 "rsa1", and an unnamed Ed25519 key). Input: a mode byte,
// a 16-bit signed offset from a fixed `now`, a flags byte, then the mode's bytes.
//  0 verify_access_token(rest)          1 verify_dpop_proof(rest)
//  2 parse_compact(rest)                3 base64url round trips
//  4 normalize_htu(rest)
//  5/6 rest = header NUL payload, signed here with the unnamed Ed25519 key (deterministic), then
//      verified as an access token (5) or a DPoP proof (6): reaches the claim checks that a
//      fuzzer could never reach by forging a signature.
// Invariants: nothing throws or crashes; a verified token or proof satisfies every documented
// check (issuer, audience, exp/nbf/iat window, jkt, ath); every failure has a name and a
// detail; a parsed compact JWS re-encodes to exactly its input (strict base64url).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "stella/gateway/auth/jose.hpp"
#include "stella/gateway/auth/token_verifier.hpp"

using namespace stella::gw::auth;

namespace {

constexpr std::int64_t kNow = 1'764'500'000;
constexpr std::string_view kAccessToken = "header.payload.signature";

// Public halves of the keys the seed tokens were signed with.
constexpr std::string_view kJwks =
    R"({"keys":[{"kty":"EC","crv":"P-256","x":"4nN7bK0F8oIyuYP9CHvisIyDIaS-loHiNqbm_9ie_18","y":")"
    R"(yRDrLYWVPuvyTakUAZNTYQCCJ3kjWEk5xdZWQwqoWzg","kid":"es1"},{"kty":"RSA","n":"nP2yWE4i_GA-kw)"
    R"(2M6eRSviTOSYMG9w1fJjBvG-gCwZv6xBS8fOuaEyiY2ODSFKro86Re2ypH_2V-iPcC5O_krTgws0UXZqDVUbeo7wEC)"
    R"(7p4IQr_OwwP8A3zoF9hyVMXrt0_MhQUt1L4a2yIJpOSYMeaQE6m6ZO1Z1is7ouRC9FP0-Zi3PXpwBthFZGDNdkUyRl)"
    R"(MdvjVZiJzUhwW6sk0b0NOP5sIa8VqHxca97QwlLr2K400KdXCqLYBoiCrsnfZ_8N_lPg60EJKg637Rq1ycaZRHcB7U)"
    R"(I3JoSlBhQ0VSLxTqB5Sot67yP-qwPQ1JvYVAemT_d1t6oFKZnDDjfp7vzw","e":"AQAB","kid":"rsa1"},{"kty)"
    R"(":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})";

// RFC 8037 §A.1 (a published test key).
constexpr std::string_view kEd25519Private =
    R"({"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",)"
    R"("x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";

struct Fixture {
  KeySet keys;
  Jwk signer;
  TokenPolicy token_policy;
  DpopPolicy dpop_policy;
  std::string es1_thumbprint;

  Fixture() {
    std::string error;
    auto set = parse_jwks(kJwks, &error);
    STELLA_FUZZ_CHECK(set && set->size() == 3 && set->skipped.empty());
    keys = std::move(*set);
    auto priv = parse_jwk(nlohmann::json::parse(kEd25519Private), /*allow_private=*/true);
    STELLA_FUZZ_CHECK(priv.jwk.has_value());
    signer = std::move(*priv.jwk);
    es1_thumbprint = keys.by_kid.at("es1").thumbprint;
    token_policy.issuer = "https://authority.example";
    token_policy.audiences = {"api"};
    token_policy.algorithms.push_back(Alg::ES512);
    token_policy.max_token_bytes = 4096;
    dpop_policy.max_proof_bytes = 4096;
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

const nlohmann::json* member(const nlohmann::json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

template <class T>
void check_failure(const Verified<T>& v) {
  if (v) return;
  STELLA_FUZZ_CHECK(auth_failure_name(v.failure) != "unknown");
  STELLA_FUZZ_CHECK(!v.detail.empty());
  STELLA_FUZZ_CHECK(v.kid.empty() || v.failure == AuthFailure::unknown_kid);
}

void check_token(std::string_view token, std::int64_t now) {
  const Fixture& f = fixture();
  const auto v = verify_access_token(token, f.keys, f.token_policy, now);
  check_failure(v);
  if (!v) return;
  const VerifiedToken& t = *v.value;
  const std::int64_t skew = f.token_policy.clock_skew_s;
  STELLA_FUZZ_CHECK(t.issuer == f.token_policy.issuer);
  STELLA_FUZZ_CHECK(t.exp >= now - skew);
  STELLA_FUZZ_CHECK(t.claims.is_object());
  const auto* aud = member(t.claims, "aud");
  STELLA_FUZZ_CHECK(aud && (aud->is_string() || aud->is_array()));
  for (const char* name : {"nbf", "iat"})
    if (const auto* d = member(t.claims, name))
      STELLA_FUZZ_CHECK(d->is_number() && d->get<double>() <= static_cast<double>(now + skew) + 1);
  for (const auto& s : t.scopes)
    STELLA_FUZZ_CHECK(!s.empty() && s.find(' ') == std::string::npos);
  // Whatever verified is a well-formed compact JWS within the size limit.
  STELLA_FUZZ_CHECK(parse_compact(token, f.token_policy.max_token_bytes).has_value());
}

void check_proof(std::string_view proof, std::int64_t now, std::uint8_t flags) {
  const Fixture& f = fixture();
  DpopRequest request{"POST", "https://api.example/orders/1", {}, {}, {}};
  if (flags & 1) request.access_token = kAccessToken;
  if (flags & 2) request.expected_jkt = f.es1_thumbprint;
  if (flags & 4) request.nonce = "n-1";
  const auto v = verify_dpop_proof(proof, request, f.dpop_policy, now);
  check_failure(v);
  if (!v) return;
  const DpopProof& p = *v.value;
  STELLA_FUZZ_CHECK(p.jkt.size() == 43);
  STELLA_FUZZ_CHECK(!p.jti.empty() && p.jti.size() <= 256);
  STELLA_FUZZ_CHECK(p.iat >= now - f.dpop_policy.max_clock_skew_s &&
                    p.iat <= now + f.dpop_policy.max_clock_skew_s);
  if (!request.expected_jkt.empty()) STELLA_FUZZ_CHECK(p.jkt == request.expected_jkt);
  const auto jws = parse_compact(proof, f.dpop_policy.max_proof_bytes);
  STELLA_FUZZ_CHECK(jws.has_value());
  const auto* htm = member(jws->payload, "htm");
  STELLA_FUZZ_CHECK(htm && *htm == "POST");
  if (!request.access_token.empty()) {
    const auto* ath = member(jws->payload, "ath");
    STELLA_FUZZ_CHECK(ath && *ath == base64url_encode(sha256(request.access_token)));
  }
  if (!request.nonce.empty()) {
    const auto* nonce = member(jws->payload, "nonce");
    STELLA_FUZZ_CHECK(nonce && *nonce == request.nonce);
  }
}

void check_compact(std::string_view token) {
  const auto jws = parse_compact(token, 4096);
  if (!jws) return;
  STELLA_FUZZ_CHECK(jws->header.is_object() && jws->payload.is_object());
  STELLA_FUZZ_CHECK(token.substr(0, jws->signing_input.size()) == jws->signing_input);
  STELLA_FUZZ_CHECK(std::string(jws->signing_input) + "." + base64url_encode(jws->signature) ==
                    token);
}

void check_base64url(std::string_view bytes) {
  if (const auto decoded = base64url_decode(bytes))
    STELLA_FUZZ_CHECK(base64url_encode(*decoded) == bytes);
  const std::string encoded = base64url_encode(bytes);
  STELLA_FUZZ_CHECK(base64url_decode(encoded) == bytes);
}

void check_htu(std::string_view url) {
  const auto once = normalize_htu(url);
  if (!once) return;
  STELLA_FUZZ_CHECK(normalize_htu(*once) == once);
  STELLA_FUZZ_CHECK(once->find_first_of("?#") == std::string::npos);
  STELLA_FUZZ_CHECK(once->rfind("http://", 0) == 0 || once->rfind("https://", 0) == 0);
}

// header NUL payload → a compact JWS signed by the fixture's Ed25519 key.
std::optional<std::string> self_signed(std::string_view rest) {
  const std::size_t nul = rest.find('\0');
  if (nul == std::string_view::npos) return std::nullopt;
  const std::string input =
      base64url_encode(rest.substr(0, nul)) + "." + base64url_encode(rest.substr(nul + 1));
  const auto sig = sign(Alg::EdDSA, fixture().signer, input);
  STELLA_FUZZ_CHECK(sig.has_value());
  return input + "." + base64url_encode(*sig);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stella::fuzz::Input in(data, size);
  const auto mode = in.integral<std::uint8_t>() % 7;
  const std::int64_t now = kNow + static_cast<std::int16_t>(in.integral<std::uint16_t>());
  const auto flags = in.integral<std::uint8_t>();
  const std::string_view rest = in.rest();
  switch (mode) {
    case 0:
      check_token(rest, now);
      break;
    case 1:
      check_proof(rest, now, flags);
      break;
    case 2:
      check_compact(rest);
      break;
    case 3:
      check_base64url(rest);
      break;
    case 4:
      check_htu(rest);
      break;
    case 5:
      if (const auto token = self_signed(rest)) {
        check_token(*token, now);
        // Signed by the unnamed key: with EdDSA and no kid the signature always verifies.
        const auto jws = parse_compact(*token, fixture().token_policy.max_token_bytes);
        const auto v = verify_access_token(*token, fixture().keys, fixture().token_policy, now);
        if (jws && !jws->header.contains("kid") && member(jws->header, "alg") &&
            *member(jws->header, "alg") == "EdDSA")
          STELLA_FUZZ_CHECK(v.failure != AuthFailure::bad_signature &&
                            v.failure != AuthFailure::unknown_kid);
      }
      break;
    case 6:
      if (const auto proof = self_signed(rest)) check_proof(*proof, now, flags);
      break;
  }
  return 0;
}
