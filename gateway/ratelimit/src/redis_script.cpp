#include "stella/gateway/ratelimit/redis_script.hpp"

#include <chrono>

namespace stella::gw::ratelimit {

namespace {

// Lua 5.1 as embedded in Redis: numbers are doubles, exact for the integers used here
// (milliseconds since 1970 need 41 bits).
constexpr std::string_view kScript =
    R"lua(-- stella-gw rate limiting (gateway/ratelimit/redis_script.hpp)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function whole(x) return x ~= nil and x == math.floor(x) end
local cost = tonumber(ARGV[1])
local n = (#ARGV - 1) / 3
if #KEYS ~= 1 or not whole(cost) or cost < 1 or n < 1 or n ~= math.floor(n) then
  return redis.error_reply('ERR stella-ratelimit: expected 1 key, cost, rules')
end
local limit, buckets, width, current = {}, {}, {}, {}
local keep = {}  -- bucket_ms -> most buckets a rule of that width keeps
local longest = 0
for i = 1, n do
  local m, w, b = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  if not (whole(m) and whole(w) and whole(b)) or m < 1 or m > 4294967295 or b < 1 or w < b
      or w > 86400000 or w % b ~= 0 then
    return redis.error_reply('ERR stella-ratelimit: bad rule ' .. (i - 1))
  end
  limit[i], width[i], buckets[i], current[i] = m, b, w / b, math.floor(now / b)
  if (keep[b] or 0) < buckets[i] then keep[b] = buckets[i] end
  if w > longest then longest = w end
end

-- Sum each rule's window; collect the fields no window holds any more.
local used, seen, stale = {}, {}, {}
for i = 1, n do used[i], seen[i] = 0, {} end
local fields = redis.call('HGETALL', KEYS[1])
for k = 1, #fields, 2 do
  local f, c = fields[k], tonumber(fields[k + 1])
  local sep = string.find(f, ':', 1, true)
  local b, idx
  if sep then b, idx = tonumber(string.sub(f, 1, sep - 1)), tonumber(string.sub(f, sep + 1)) end
  if b and idx and c and keep[b] and idx > math.floor(now / b) - keep[b] then
    for i = 1, n do
      if width[i] == b and idx > current[i] - buckets[i] then
        used[i] = used[i] + c
        seen[i][#seen[i] + 1] = {idx, c}
      end
    end
  else
    stale[#stale + 1] = f
  end
end
for k = 1, #stale, 256 do
  redis.call('HDEL', KEYS[1], unpack(stale, k, math.min(k + 255, #stale)))
end

-- Milliseconds until rule i's counted requests, oldest bucket first, have freed `need`.
local function wait(i, need)
  local list = seen[i]
  table.sort(list, function(x, y) return x[1] < y[1] end)
  local freed = 0
  for _, e in ipairs(list) do
    freed = freed + e[2]
    if freed >= need then return (e[1] + buckets[i]) * width[i] - now end
  end
  return buckets[i] * width[i]  -- more than the limit asked for: a whole window
end

local allowed = 1
for i = 1, n do
  if used[i] + cost > limit[i] then allowed = 0 end
end
local rule, remaining, reset, retry = 1, 0, 0, 0
if allowed == 1 then
  local done = {}
  for i = 1, n do
    if not done[width[i]] then
      redis.call('HINCRBY', KEYS[1], string.format('%d:%d', width[i], current[i]), cost)
      done[width[i]] = true
    end
    used[i] = used[i] + cost
    seen[i][#seen[i] + 1] = {current[i], cost}
  end
  redis.call('PEXPIRE', KEYS[1], longest)
  remaining = limit[1] - used[1]
  for i = 2, n do
    if limit[i] - used[i] < remaining then rule, remaining = i, limit[i] - used[i] end
  end
  reset = wait(rule, 1)
else
  retry = -1
  for i = 1, n do
    if used[i] + cost > limit[i] then
      local w = wait(i, used[i] + cost - limit[i])
      if w > retry then rule, retry = i, w end
    end
  end
  remaining = math.max(0, limit[rule] - used[rule])
  reset = wait(rule, 1)
end
return {allowed, rule - 1, remaining, reset, retry}
)lua";

// Durations beyond this (about 31 years) are not a rate limit's: the reply is garbage.
constexpr long long kMaxReplyMs = 1'000'000'000'000LL;

void append_rules(std::vector<std::string>& args, std::span<const Rule> rules, std::uint64_t cost) {
  args.push_back(std::to_string(cost));
  for (const Rule& r : rules) {
    const RedisRule rr = redis_rule(r);
    args.push_back(std::to_string(rr.max_requests));
    args.push_back(std::to_string(rr.window_ms));
    args.push_back(std::to_string(rr.bucket_ms));
  }
}

}  // namespace

std::string_view redis_script() noexcept {
  return kScript;
}

RedisRule redis_rule(const Rule& rule) noexcept {
  const std::int64_t b = bucket_count(rule.per);
  const std::int64_t bucket_ms =
      std::chrono::ceil<std::chrono::milliseconds>(bucket_width(rule.per)).count();
  return {rule.max_requests, b * bucket_ms, bucket_ms};
}

std::vector<std::string> redis_script_load_args() {
  return {"SCRIPT", "LOAD", std::string(kScript)};
}

std::vector<std::string> redis_evalsha_args(std::string_view sha1, std::string_view key,
                                            std::span<const Rule> rules, std::uint64_t cost) {
  std::vector<std::string> args{"EVALSHA", std::string(sha1), "1", std::string(key)};
  append_rules(args, rules, cost);
  return args;
}

std::vector<std::string> redis_eval_args(std::string_view key, std::span<const Rule> rules,
                                         std::uint64_t cost) {
  std::vector<std::string> args{"EVAL", std::string(kScript), "1", std::string(key)};
  append_rules(args, rules, cost);
  return args;
}

bool is_noscript_error(std::string_view error_reply) noexcept {
  return error_reply.starts_with("NOSCRIPT");
}

std::optional<Decision> parse_redis_decision(std::span<const long long> reply,
                                             std::span<const Rule> rules) noexcept {
  if (reply.size() != 5) return std::nullopt;
  const long long allowed = reply[0], rule = reply[1], remaining = reply[2], reset_ms = reply[3],
                  retry_ms = reply[4];
  if (allowed != 0 && allowed != 1) return std::nullopt;
  if (rule < 0 || static_cast<unsigned long long>(rule) >= rules.size()) return std::nullopt;
  const Rule& r = rules[static_cast<std::size_t>(rule)];
  if (remaining < 0 || static_cast<unsigned long long>(remaining) > r.max_requests)
    return std::nullopt;
  if (reset_ms < 0 || reset_ms > kMaxReplyMs || retry_ms < 0 || retry_ms > kMaxReplyMs)
    return std::nullopt;
  if (allowed == 1 ? retry_ms != 0 : retry_ms == 0) return std::nullopt;
  Decision d;
  d.allowed = allowed == 1;
  d.rule = static_cast<std::uint32_t>(rule);
  d.limit = r.max_requests;
  d.remaining = static_cast<std::uint64_t>(remaining);
  d.reset = std::chrono::milliseconds(reset_ms);
  d.retry_after = std::chrono::milliseconds(retry_ms);
  return d;
}

}  // namespace stella::gw::ratelimit
