// The environment level's Redis side, as data: the Lua script that applies a key's rules
// atomically in Redis (cross-instance), the argument vectors to run it, and the reading of its
// reply. No I/O here: the caller sends the vectors with its Redis client
// (stella::redis::RedisClient), turns the integer array it gets into a vector, and decides.
//
// The script (redis_script()) keeps one hash per limiter key, with one field per bucket,
// named "<bucket_ms>:<bucket index>" and holding the requests counted in it. Rules with the
// same bucket width share fields: every admitted request counts in every rule, so their
// buckets hold the same counts. Per call it
//   - reads the time from the Redis server (TIME), so every gateway agrees on the buckets;
//   - drops the fields outside every window (and fields of bucket widths no rule uses, left
//     behind by an earlier configuration);
//   - admits the request only if every rule has room for `cost` more, and then adds `cost`
//     to the current bucket of each width and sets PEXPIRE to the longest window (refusals
//     write nothing but the dropped fields, so a refused client does not keep its key alive);
//   - answers {allowed (1/0), index of the deciding rule (0-based), remaining, reset_ms,
//     retry_after_ms}, with the meaning of Decision (decision.hpp), in milliseconds.
// A bucket "in the future" (the server's clock stepped back) is counted, not ignored: that
// errs on the side of the limit, and lasts at most the longest window (the key's expiry).
//
// Calling convention: KEYS = {key}; ARGV = {cost, then per rule: max_requests, window_ms,
// bucket_ms} with window_ms a multiple of bucket_ms. Bad arguments give an error reply
// ("ERR stella-ratelimit: ...").
//
// Loading: SCRIPT LOAD once (redis_script_load_args()) and keep the SHA-1 it answers, then
// EVALSHA (redis_evalsha_args()); when Redis answers NOSCRIPT (it restarted, or SCRIPT FLUSH),
// run EVAL once (redis_eval_args(), which also caches the script in Redis) or load it again.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stella/gateway/ratelimit/decision.hpp"
#include "stella/gateway/ratelimit/rule.hpp"

namespace stella::gw::ratelimit {

/// The Lua source (static storage).
std::string_view redis_script() noexcept;

/// A rule as the script counts it: rule.hpp's B buckets, each a whole number of milliseconds
/// (bucket_ms = ceil(w / 1 ms)), and window_ms = B × bucket_ms.
struct RedisRule {
  std::uint64_t max_requests = 0;
  std::int64_t window_ms = 0;
  std::int64_t bucket_ms = 0;
  friend bool operator==(const RedisRule&, const RedisRule&) = default;
};
/// Precondition: the rule passes validate_rules.
RedisRule redis_rule(const Rule& rule) noexcept;

/// {"SCRIPT", "LOAD", <script>}: the reply is the script's SHA-1 (hex) as a bulk string.
std::vector<std::string> redis_script_load_args();
/// {"EVALSHA", sha1, "1", key, cost, max, window_ms, bucket_ms, ...}. Preconditions: `rules`
/// pass validate_rules; cost ≥ 1. The key is used as given (callers prefix it, e.g.
/// "stella:rl:<tenant>").
std::vector<std::string> redis_evalsha_args(std::string_view sha1, std::string_view key,
                                            std::span<const Rule> rules, std::uint64_t cost = 1);
/// The same with EVAL and the script's source.
std::vector<std::string> redis_eval_args(std::string_view key, std::span<const Rule> rules,
                                         std::uint64_t cost = 1);

/// Whether an error reply's text is Redis's NOSCRIPT (the script is not cached: use EVAL).
bool is_noscript_error(std::string_view error_reply) noexcept;

/// The script's reply, its five integers in order, checked against the `rules` it ran with;
/// std::nullopt for anything else (wrong count, allowed not 0/1, rule index out of range,
/// remaining above the rule's limit, negative or absurd durations, a refusal without a
/// positive retry_after, an admission with one). limit is filled in from `rules`.
std::optional<Decision> parse_redis_decision(std::span<const long long> reply,
                                             std::span<const Rule> rules) noexcept;

}  // namespace stella::gw::ratelimit
