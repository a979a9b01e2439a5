// The two caches of the authentication stage, shared by every worker:
//
// - TokenCache: verified access tokens keyed by SHA-256 of the token, so a client that reuses
//   its token pays one hash per request instead of one signature check. Bounded; an entry never
//   outlives the token's exp.
// - ReplayCache: DPoP proof ids (jti, with the proof key's thumbprint) seen within the proof
//   window, so a captured proof cannot be sent twice to this gateway.
//
// Both are sharded with one mutex per shard (workers rarely meet on one shard), take `now` as
// an argument (no clock inside) and are bounded by construction.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stella/gateway/auth/token_verifier.hpp"

namespace stella::gw::auth {

class TokenCache {
 public:
  /// `capacity` entries in all (at least one per shard); 0 disables the cache.
  explicit TokenCache(std::size_t capacity);
  ~TokenCache();
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  /// The verified token cached for `token`, when present and now_unix ≤ its exp + skew_s (an
  /// expired entry is erased; a token without exp, exp 0, is therefore never served).
  std::shared_ptr<const VerifiedToken> find(std::string_view token, std::int64_t now_unix,
                                            std::int64_t skew_s);
  /// Remembers a verified token (nullptr is ignored; the same token again replaces). When the
  /// shard is full, the entry closest to expiry goes, the newcomer included: a new token that
  /// expires before every cached one is not stored (either way counted in evictions()).
  void insert(std::string_view token, std::shared_ptr<const VerifiedToken> verified);
  /// Forgets everything (the key set changed: a removed key must stop working at once).
  void clear();

  std::size_t size() const;
  std::uint64_t hits() const noexcept;
  std::uint64_t misses() const noexcept;
  std::uint64_t evictions() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class ReplayVerdict : std::uint8_t {
  fresh,       // first sight: recorded
  replay,      // seen within its window: refuse
  full,        // the cache is full of live entries: refuse (fail closed, counted)
  over_quota,  // `owner` already holds max_per_owner live entries: refuse this owner only
};

class ReplayCache {
 public:
  /// At most `capacity` live proof ids (at least one per shard); each is kept until
  /// `expires_unix` (live while now_unix ≤ expires_unix).
  explicit ReplayCache(std::size_t capacity);
  ~ReplayCache();
  ReplayCache(const ReplayCache&) = delete;
  ReplayCache& operator=(const ReplayCache&) = delete;

  /// Records `key` (the caller builds it from jkt and jti) until expires_unix, unless it is
  /// already there and live. Expired entries are dropped as shards are touched. `full` means
  /// the key's shard holds capacity/16 live entries. With an `owner` (the proof key's
  /// thumbprint) and a non-zero `max_per_owner`, an owner already holding that many live
  /// entries gets over_quota: one key flooding proofs cannot fill the cache for everyone.
  ReplayVerdict check_and_insert(std::string_view key, std::int64_t expires_unix,
                                 std::int64_t now_unix, std::string_view owner = {},
                                 std::size_t max_per_owner = 0);
  /// Forgets `key` (a proof whose request was then refused for a reason of the gateway's own,
  /// so the client may send it again).
  void erase(std::string_view key);
  std::size_t size() const;

 private:
  ReplayVerdict insert_once(std::string_view key, std::int64_t expires_unix, std::int64_t now_unix,
                            std::string_view owner, std::size_t max_per_owner);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parsed public keys of DPoP proofs, keyed by the SHA-256 of the `jwk` header's JSON (the
/// same members give the same key, so a hit is exactly what parsing would give). Only keys that
/// parsed are kept; when a shard is full its oldest entry goes.
class ProofKeyCache {
 public:
  /// `capacity` keys in all (at least one per shard); 0 disables it.
  explicit ProofKeyCache(std::size_t capacity);
  ~ProofKeyCache();
  ProofKeyCache(const ProofKeyCache&) = delete;
  ProofKeyCache& operator=(const ProofKeyCache&) = delete;

  /// The public key `jwk` parses to (parse_jwk with no private members allowed): from the cache,
  /// or parsed and remembered. On a refusal the result holds the error, as parse_jwk's does.
  std::shared_ptr<const Jwk> get(const nlohmann::json& jwk, JwkErrc& error);
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stella::gw::auth
