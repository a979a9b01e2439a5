// Access-token (JWT, RFC 9068 / RFC 7519) and DPoP proof (RFC 9449) verification, sans-I/O:
// the token, the key set, the policy and the current time in; the verified identity or one
// typed failure out. The gateway's authentication stage calls these; so do the fuzzers.
//
// Thread-safety: the functions are thread-safe; KeySet and the policies are read only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {

/// Every reason a request's credentials are refused: a fixed set, used as the metric label of
/// gateway_auth_failures_total{reason} and in the log line (docs/security.md lists them).
enum class AuthFailure : std::uint8_t {
  missing_token,           // no Authorization header (or not Bearer/DPoP)
  malformed_token,         // not a compact JWS, bad base64url, bad JSON, duplicate member, too big
  unsupported_alg,         // alg not on the allow-list (none, HS*, or not configured)
  crit_unsupported,        // a `crit` header is present
  bad_token_type,          // typ other than at+jwt / JWT (case-insensitive, optional application/)
  unknown_kid,             // no key with this kid (a refresh may help: see needs_refresh)
  bad_signature,           // the signature does not verify with the named key
  bad_issuer,              // iss missing or not the configured issuer
  bad_audience,            // aud (string or array) holds none of the configured audiences
  expired,                 // exp missing or now > exp + skew
  not_yet_valid,           // nbf > now + skew, or iat > now + skew
  bad_claims,              // a registered claim of the wrong JSON type (exp not a number, ...)
  dpop_missing,            // a DPoP-bound token (cnf.jkt) or `Authorization: DPoP` without proof
  dpop_multiple,           // more than one DPoP header
  dpop_malformed,          // the proof is not a well-formed JWS / required member missing
  dpop_bad_type,           // proof typ is not dpop+jwt
  dpop_bad_key,            // jwk missing, private, unsupported, or not usable with alg
  dpop_bad_signature,      // the proof's signature does not verify with its jwk
  dpop_htm_mismatch,       // htm differs from the request method
  dpop_htu_mismatch,       // htu differs from the request URL (after normalisation)
  dpop_iat_out_of_window,  // iat further than dpopMaxClockSkew from now
  dpop_ath_mismatch,       // ath missing or not base64url(SHA-256(access token))
  dpop_jkt_mismatch,       // the token's cnf.jkt is not the proof key's thumbprint
  dpop_replay,             // the proof's jti was seen before (replay cache)
  dpop_key_over_quota,     // this proof key holds replayCache.maxPerKey live proofs (429)
  dpop_nonce_required,     // a server nonce is configured and the proof lacks it / is stale
  bound_token_as_bearer,   // a token with cnf.jkt sent as `Bearer`
  mtls_certificate_missing,   // cnf.x5t#S256 and no client certificate on the connection
  mtls_certificate_mismatch,  // cnf.x5t#S256 differs from the certificate's thumbprint
  insufficient_scope,         // a required claim is missing (403)
  tenant_mismatch,            // the route's {tenant} differs from the token's tid (403)
  tenant_required,            // the service requires a tenant and the token has no tid (403)
  authority_unavailable,      // no keys loaded yet (503)
  replay_cache_unavailable,  // the shared replay cache cannot be reached and policy is closed (503)
};
inline constexpr std::size_t kAuthFailureCount =
    static_cast<std::size_t>(AuthFailure::replay_cache_unavailable) + 1;

/// "missing_token", "dpop_replay", ... (stable: metric label values).
std::string_view auth_failure_name(AuthFailure f) noexcept;

/// What to check an access token against. Built once from config; shared read-only.
struct TokenPolicy {
  std::string issuer;                  // exact match; empty: iss not checked (jwksFile setups)
  std::vector<std::string> audiences;  // any one must appear in aud; empty: aud not checked
  std::vector<Alg> algorithms{Alg::ES256, Alg::ES384, Alg::RS256, Alg::PS256, Alg::EdDSA};
  std::int64_t clock_skew_s = 30;      // leeway for exp, nbf, iat
  std::size_t max_token_bytes = 8192;  // a longer token is malformed_token before decoding
  bool require_exp = true;
};

/// The verified identity, from claims only.
struct VerifiedToken {
  std::string subject;              // sub
  std::string tenant;               // tid
  std::string client_id;            // client_id, else azp
  std::vector<std::string> scopes;  // scope (space-separated string) or scp (array or string)
  std::vector<std::string> roles;   // roles (array or string)
  std::string cnf_jkt;              // cnf.jkt: the token is DPoP-bound to this key
  std::string cnf_x5t_s256;         // cnf.x5t#S256: bound to this client certificate
  std::int64_t exp = 0;             // seconds since the Unix epoch; 0 when absent
  std::string issuer;
  nlohmann::json claims;  // the whole payload (for required-claim checks)

  /// True when the token grants `type` = `value`: "scope"/"scp" look in scopes, "role"/"roles"
  /// in roles, any other type compares a string claim or looks in an array claim.
  bool has_claim(std::string_view type, std::string_view value) const;
};

template <typename T>
struct Verified {
  std::optional<T> value;
  AuthFailure failure = AuthFailure::malformed_token;  // meaningful when !value
  /// unknown_kid only: the kid the token named (to ask for a rate-limited JWKS refresh).
  std::string kid;
  /// A short human reason for logs (never the token itself): "exp 1764500000 < now 1764500100".
  std::string detail;
  explicit operator bool() const noexcept { return value.has_value(); }
};

/// Verifies an access token: parse_compact, `alg` on the allow-list and usable with the key,
/// no `crit`, `typ` at+jwt/JWT when present, kid lookup (no kid: the unnamed keys are tried),
/// signature, then iss, aud, exp, nbf, iat against `now_unix` ± clock_skew_s.
///
/// Choices this implementation makes:
/// - `alg` or `kid` missing or not a string: malformed_token. A named key that cannot be used
///   with `alg` (wrong type or curve, or its own `alg` differs): unsupported_alg.
/// - No kid: the unnamed keys usable with `alg` are tried, plus the one named key of a set
///   holding exactly one key (issuers with a single key often leave kid out). None usable:
///   unknown_kid with an empty `kid` (a refresh may bring one).
/// - Types are checked before any claim is read: iss, sub, tid, client_id, azp, jti, scope
///   strings; exp, nbf, iat numbers; aud, scp, roles, role a string or an array of strings;
///   cnf an object whose jkt and x5t#S256 are strings. Anything else is bad_claims.
/// - Dates may be fractional or huge: exp rounds down, nbf/iat up, out-of-range values
///   saturate (an exp of 1e300 never expires, it does not overflow).
/// - `scope` and a string `scp` split on spaces; `roles`/`role` strings are one role each.
/// Never throws (allocation failure becomes malformed_token).
Verified<VerifiedToken> verify_access_token(std::string_view token, const KeySet& keys,
                                            const TokenPolicy& policy, std::int64_t now_unix);

/// What the gateway knows about the request a DPoP proof must match.
struct DpopRequest {
  std::string_view method;        // "GET"
  std::string_view url;           // scheme://host[:port]/path as the client addressed it
  std::string_view access_token;  // for `ath`; empty: no ath check (token endpoint use)
  std::string_view expected_jkt;  // the token's cnf.jkt; empty: not bound
  std::string_view nonce;         // the server nonce expected; empty: nonces off
};

class ProofKeyCache;

struct DpopPolicy {
  std::vector<Alg> algorithms{Alg::ES256, Alg::ES384, Alg::RS256, Alg::PS256, Alg::EdDSA};
  /// Parsed proof keys by their JSON (auth_caches.hpp); null: every proof's jwk is parsed. A
  /// client signs all its proofs with one key, and parsing it (an EC point check) costs about
  /// half of a signature check.
  ProofKeyCache* key_cache = nullptr;
  std::int64_t max_clock_skew_s = 60;  // |now - iat| ≤ this
  std::size_t max_proof_bytes = 8192;
};

struct DpopProof {
  std::string jkt;  // RFC 7638 thumbprint of the proof's jwk
  std::string jti;
  std::int64_t iat = 0;
};

/// Verifies a DPoP proof (RFC 9449 §4.3) except jti uniqueness, which needs the replay cache
/// and must be recorded only after every other check passed (the caller's job). Checks, in
/// order: compact JWS, typ dpop+jwt, alg on the list, jwk present and public, jkt when expected
/// (before the signature, so a key the token is not bound to costs no signature check),
/// signature by the jwk, jti present (1–256 bytes), htm = method, htu = url (normalize_htu on
/// both), iat within max_clock_skew_s, ath when an access token is given, nonce when expected.
/// A `crit` header, or `alg` missing or not a string, is dpop_malformed (after the typ check);
/// a name off the list (none, HS256, ...) is unsupported_alg. A jwk the alg cannot use is
/// dpop_bad_key. The request URL failing normalize_htu is dpop_htu_mismatch. `jkt` and `ath`
/// compare in constant time. Never throws.
Verified<DpopProof> verify_dpop_proof(std::string_view proof, const DpopRequest& request,
                                      const DpopPolicy& policy, std::int64_t now_unix);

/// RFC 9449 §4.3 step 9 / RFC 3986 §6: lower-case scheme and host, default port removed
/// (:80 for http, :443 for https), empty path as "/", query and fragment dropped, percent-
/// encoding hex upper-cased. nullopt when `url` is not an absolute http(s) URL: other schemes,
/// userinfo, an empty or ill-formed host (reg-name characters or a bracketed IPv6 literal),
/// a port that is not 1–65535 (an empty port, "host:", counts as none), a bad
/// percent-encoding, or any byte outside printable ASCII.
/// Deliberately not done (stricter, never a false match): dot-segment removal, decoding of
/// percent-encoded unreserved characters, trailing-slash folding ("/a/" ≠ "/a").
std::optional<std::string> normalize_htu(std::string_view url);

/// base64url(SHA-256(DER)) of a certificate: RFC 8705's x5t#S256.
std::string x5t_s256(std::string_view der);

}  // namespace stella::gw::auth
