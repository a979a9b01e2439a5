// JOSE building blocks (RFC 7515 JWS, RFC 7517 JWK, RFC 7518 algorithms, RFC 7638 thumbprints)
// on OpenSSL 3 EVP only: no hand-made cryptography (DESIGN.md §5).
//
// Everything here is sans-I/O and free of Asio: bytes in, values or a typed failure out. The
// token and DPoP checks (token_verifier.hpp) and the CLI's `token` commands are built on it;
// the fuzzers link it alone.
//
// Thread-safety: free functions are thread-safe. Jwk and KeySet are immutable after parsing
// and may be shared between threads (EVP_PKEY verification is thread-safe in OpenSSL 3).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/strict_json.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace stella::gw::auth {

// ---- base64url (RFC 7515 §2, RFC 4648 §5) ---------------------------------------------------

/// Strict: the URL-safe alphabet only, no padding, no whitespace, a length that is not 1 mod 4,
/// and zero bits after the last full byte (so every value has exactly one encoding). nullopt
/// on anything else.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view bytes);

// ---- JSON ------------------------------------------------------------------------------------

// parse_strict_json and JsonLimits live in core (core/strict_json.hpp): tokens, keys and
// OpenAPI fragments are parsed by the same strict reader.
using core::JsonLimits;
using core::parse_strict_json;

// ---- hashes and comparisons ------------------------------------------------------------------

/// SHA-256 of `bytes`, raw (32 bytes).
std::string sha256(std::string_view bytes);
/// Constant-time equality (CRYPTO_memcmp); sizes are compared first (they are not secret).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// ---- algorithms ------------------------------------------------------------------------------

/// The asymmetric JWS algorithms. `none` and HMAC (HS*) do not exist here on purpose: a token
/// naming them never gets as far as a key lookup.
enum class Alg : std::uint8_t {
  ES256,
  ES384,
  ES512,
  RS256,
  RS384,
  RS512,
  PS256,
  PS384,
  PS512,
  EdDSA
};

/// "ES256" → Alg::ES256; nullopt for anything else (including "none", "HS256", "es256").
std::optional<Alg> alg_from_name(std::string_view name) noexcept;
std::string_view alg_name(Alg alg) noexcept;

// ---- keys (RFC 7517) -------------------------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept;
};
using PkeyPtr = std::shared_ptr<EVP_PKEY>;  // shared: Jwk copies share the OpenSSL key

/// A parsed public (or, for the CLI, private) key. Supported: RSA (n, e; modulus ≥ 2048 bits),
/// EC P-256/P-384/P-521 (crv, x, y; point on the curve), OKP Ed25519 (crv, x).
struct Jwk {
  std::string kty;  // "RSA", "EC", "OKP"
  std::string crv;  // "P-256", "P-384", "P-521", "Ed25519"; empty for RSA
  std::string kid;  // may be empty
  std::string alg;  // the key's "alg" member when present (restricts its use), else empty
  std::string use;  // "sig", "enc" or empty
  bool has_private = false;
  PkeyPtr key;
  /// RFC 7638 thumbprint: base64url(SHA-256(canonical JSON of the required public members)).
  std::string thumbprint;
  /// The public members only, as JSON (for JWKS documents and DPoP `jwk` headers).
  nlohmann::json public_json;

  /// True when a signature with `alg` may be made with this key: the key type and curve match
  /// the algorithm (ES256 only with P-256, EdDSA only with Ed25519, RS*/PS* only with RSA) and
  /// the key's own `alg`, when set, is `alg`.
  bool usable_with(Alg alg) const noexcept;
};

/// Why a JWK was refused.
enum class JwkErrc : std::uint8_t {
  not_an_object,
  unsupported_kty,    // kty other than RSA, EC, OKP (e.g. "oct": symmetric keys never verify)
  unsupported_curve,  // EC crv other than P-256/384/521, OKP crv other than Ed25519
  bad_member,         // a required member missing, not a string, or not strict base64url
  private_key_given,  // `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth` or `k` present where not allowed
  weak_key,           // RSA modulus under 2048 bits
  invalid_key,        // OpenSSL refused it (EC point not on the curve, bad RSA numbers)
};
std::string_view jwk_error_name(JwkErrc e) noexcept;

struct JwkResult {
  std::optional<Jwk> jwk;
  JwkErrc error = JwkErrc::invalid_key;  // meaningful when !jwk
};

/// Parses one JWK. With `allow_private` false (verification, DPoP headers) any private member
/// refuses the key; with true (the CLI's own key files) `d` is loaded as the private key (with
/// the RSA CRT members when all five are present), and an EC or Ed25519 `d` must match the
/// public key (invalid_key otherwise).
/// RSA shape checks instead of OpenSSL's full public-key check (a primality test on n, too
/// slow for a DPoP key parsed per request): n odd, 2048–16384 bits; e odd, > 1, at most 64
/// bits (a larger e makes each verification as slow as signing). A leading zero octet in n is
/// tolerated; the thumbprint uses the members as written. Never throws.
JwkResult parse_jwk(const nlohmann::json& value, bool allow_private = false);

/// A JSON Web Key Set, by kid. Keys without `kid` are kept in `unnamed` (tried when a token
/// names no kid). Immutable once built.
struct KeySet {
  std::map<std::string, Jwk, std::less<>> by_kid;
  std::vector<Jwk> unnamed;
  /// Keys the set held that were skipped (unsupported type, `use: enc`, invalid), with why:
  /// logged by the loader; a set with some bad keys still serves the good ones.
  std::vector<std::string> skipped;
  std::size_t size() const noexcept { return by_kid.size() + unnamed.size(); }
};

/// Parses a JWKS document ({"keys": [...]}, at most 1 MiB, at most 256 keys). nullopt (reason
/// in `error`) when the document itself is not a JWKS; individual bad keys are skipped: keys
/// parse_jwk refuses (including any with private members), `use: enc` keys, and a second key
/// under a kid already seen (the first stays, so lookups never depend on document order).
std::optional<KeySet> parse_jwks(std::string_view text, std::string* error = nullptr);

// ---- signatures --------------------------------------------------------------------------------

/// Verifies a JWS signature over `signing_input` (ASCII "b64url(header).b64url(payload)").
/// `signature` is raw bytes as carried in a JWS: for ES* the fixed-size R||S (converted to DER
/// for OpenSSL; a wrong size is a failure), for RS*/PS* the PKCS#1 block, for EdDSA 64 bytes.
/// False when the key is not usable_with(alg) or the signature does not verify.
bool verify_signature(Alg alg, const Jwk& key, std::string_view signing_input,
                      std::string_view signature) noexcept;

/// Signs `signing_input` with a private key (CLI, development Authority, tests). Returns the raw
/// JWS signature bytes (R||S for ES*), or nullopt when the key cannot sign with `alg`.
std::optional<std::string> sign(Alg alg, const Jwk& private_key, std::string_view signing_input);

/// A fresh private key for `alg` (P-256 for ES256, P-384 for ES384, P-521 for ES512, RSA 3072
/// for RS*/PS*, Ed25519 for EdDSA) with `kid` set to its thumbprint. `alg` is left empty (an
/// RSA key serves RS* and PS*). `key` is null only when OpenSSL fails (out of memory).
Jwk generate_key(Alg alg);

/// The key as a JWK JSON object: public members, plus `d` (and the RSA CRT members) when
/// `include_private` and the key has them. `kid`, `alg` and `use` are written when set (the
/// struct's fields win over `public_json`, so a kid set after parsing is the one written).
nlohmann::json jwk_to_json(const Jwk& key, bool include_private);

/// "header.payload.signature" with the header and payload serialised compactly. A header
/// without `alg` gets alg_name(alg); an `alg` already there is kept as given (tests use that to
/// make tokens whose header disagrees with the key). nullopt when the header is not an object,
/// a string is not valid UTF-8, or the key cannot sign with `alg`.
std::optional<std::string> sign_compact(const nlohmann::json& header, const nlohmann::json& payload,
                                        Alg alg, const Jwk& private_key);

// ---- compact serialisation
// -----------------------------------------------------------------------

/// A compact JWS split and decoded but not yet verified.
struct CompactJws {
  nlohmann::json header;
  nlohmann::json payload;
  std::string_view signing_input;  // a view into the token given to parse_compact
  std::string signature;           // raw bytes
};

/// Splits "h.p.s" (exactly two dots), decodes each part with strict base64url and parses the
/// header and payload with parse_strict_json (each must be an object). nullopt on any failure,
/// with a short reason in `error`. `max_bytes` bounds the whole token before anything else.
/// An empty signature part parses (an `alg: none` token is refused later, by name).
std::optional<CompactJws> parse_compact(std::string_view token, std::size_t max_bytes,
                                        std::string* error = nullptr);

}  // namespace stella::gw::auth
