// The environment level's Lua script against a real redis-server (tests/redis/redis_server.hpp)
// through the project's RedisClient, plus its argument vectors and reply parsing on their own.
//
// No fixed sleeps and no timing assertions: the one test about time (the window slides) polls
// with a deadline and asserts what happens, never how long it took. The other tests use
// windows of a minute, so that the server's clock cannot slide them while they run.
#include <gtest/gtest.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../redis/redis_server.hpp"
#include "stella/gateway/ratelimit/redis_script.hpp"
#include "stella/gateway/redis/redis_client.hpp"

namespace stella::gw::ratelimit {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using redis::RedisClient;
using redis::RedisReply;
using redis::RedisSettings;
using test::RedisServer;
using Result = boost::system::result<RedisReply>;

// ---- arguments and replies, without a server ----

TEST(RedisScriptArgs, RulesBecomeWholeMillisecondBuckets) {
  EXPECT_EQ(redis_rule({100, 1s}), (RedisRule{100, 1000, 100}));
  EXPECT_EQ(redis_rule({1000, 60s}), (RedisRule{1000, 60000, 1000}));
  EXPECT_EQ(redis_rule({5, 500ms}), (RedisRule{5, 500, 50}));
  EXPECT_EQ(redis_rule({5, 10ms}), (RedisRule{5, 10, 1}));
  // 11 buckets of 95.45 ms: rounded up to 96 ms, so the window is 1056 ms.
  EXPECT_EQ(redis_rule({5, 1050ms}), (RedisRule{5, 1056, 96}));
}

TEST(RedisScriptArgs, EvalAndEvalshaVectors) {
  const std::vector<Rule> rules{{100, 1s}, {1000, 60s}};
  const std::vector<std::string> sha = {"EVALSHA", "abc", "1",    "rl:k",  "1",   "100",
                                        "1000",    "100", "1000", "60000", "1000"};
  EXPECT_EQ(redis_evalsha_args("abc", "rl:k", rules), sha);
  const auto eval = redis_eval_args("rl:k", rules, 3);
  ASSERT_EQ(eval.size(), 11u);
  EXPECT_EQ(eval[0], "EVAL");
  EXPECT_EQ(eval[1], redis_script());
  EXPECT_EQ(eval[4], "3");
  const auto load = redis_script_load_args();
  EXPECT_EQ(load, (std::vector<std::string>{"SCRIPT", "LOAD", std::string(redis_script())}));
  EXPECT_TRUE(is_noscript_error("NOSCRIPT No matching script. Please use EVAL."));
  EXPECT_FALSE(is_noscript_error("ERR unknown command"));
}

TEST(RedisScriptReply, WellFormedRepliesParse) {
  const std::vector<Rule> rules{{100, 1s}, {1000, 60s}};
  const auto ok = parse_redis_decision(std::vector<long long>{1, 1, 997, 59400, 0}, rules);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (Decision{.allowed = true,
                           .rule = 1,
                           .limit = 1000,
                           .remaining = 997,
                           .reset = 59400ms,
                           .retry_after = 0ms}));
  const auto refused = parse_redis_decision(std::vector<long long>{0, 0, 0, 250, 250}, rules);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->limit, 100u);
  EXPECT_EQ(refused->retry_after, 250ms);
}

TEST(RedisScriptReply, MalformedRepliesAreRefused) {
  const std::vector<Rule> rules{{100, 1s}, {1000, 60s}};
  using V = std::vector<long long>;
  for (const V& bad : {V{}, V{1, 0, 5, 10}, V{1, 0, 5, 10, 0, 0},             // count
                       V{2, 0, 5, 10, 0}, V{-1, 0, 5, 10, 0},                 // allowed
                       V{1, 2, 5, 10, 0}, V{1, -1, 5, 10, 0},                 // rule index
                       V{1, 0, 101, 10, 0}, V{1, 0, -1, 10, 0},               // remaining
                       V{1, 0, 5, -1, 0}, V{1, 0, 5, 10'000'000'000'000, 0},  // reset
                       V{0, 0, 0, 10, 0}, V{0, 0, 0, 10, -5},                 // refused, no retry
                       V{1, 0, 5, 10, 7}})                                    // admitted with one
    EXPECT_EQ(parse_redis_decision(bad, rules), std::nullopt) << testing::PrintToString(bad);
  EXPECT_TRUE(parse_redis_decision(V{1, 0, 100, 0, 0}, rules));  // at the edges
}

// ---- against redis-server ----

constexpr auto kHangGuard = 120s;

RedisSettings settings_for(std::uint16_t port) {
  RedisSettings s;
  s.port = port;
  s.connect_timeout = 30s;  // sanitizer builds on a shared machine
  s.command_timeout = 30s;
  s.backoff_min = 10ms;
  s.backoff_max = 100ms;
  return s;
}

// Runs `body` on a fresh io_context with a client of `redis`; closes the client after.
template <class Body>
void with_client(RedisServer& redis, Body body) {
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  bool done = false;
  asio::co_spawn(io, body(client), [&](std::exception_ptr e) {
    done = true;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "coroutine threw: " << ex.what();
      }
    }
    client.close();
  });
  io.run_for(kHangGuard);
  EXPECT_TRUE(done) << "the test coroutine did not finish";
}

// ASSERT_* returns, which a coroutine cannot: this fails the test and leaves the coroutine.
#define STELLA_CO_ASSERT(cond, message)                  \
  if (!(cond)) {                                         \
    ADD_FAILURE() << "failed: " #cond ": " << (message); \
    co_return;                                           \
  }

// Every awaitable is bound to a local and then awaited (`auto op = f(...); co_await
// std::move(op);`), as in tests/redis: GCC 12 mishandles temporaries in co_await expressions.

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<bool> connected(RedisClient& c) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!c.connected()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    auto wait = pause(5ms);
    co_await std::move(wait);
  }
  co_return true;
}

std::string describe(const Result& r) {
  if (!r) return "error code " + r.error().message();
  std::string out = "type " + std::to_string(static_cast<int>(r->type)) + " \"" + r->str + "\"";
  for (const auto& e : r->elements)
    out += " " + std::to_string(e.integer) + "/" + e.str;
  return out;
}

// The script's reply as a Decision; nullopt (and a test failure) for anything else.
std::optional<Decision> decision_of(const Result& r, std::span<const Rule> rules) {
  if (!r || r->type != RedisReply::Type::array) {
    ADD_FAILURE() << "not an array: " << describe(r);
    return std::nullopt;
  }
  std::vector<long long> ints;
  for (const auto& e : r->elements) {
    if (e.type != RedisReply::Type::integer) {
      ADD_FAILURE() << "not an integer array: " << describe(r);
      return std::nullopt;
    }
    ints.push_back(e.integer);
  }
  auto d = parse_redis_decision(ints, rules);
  if (!d) ADD_FAILURE() << "malformed decision: " << describe(r);
  return d;
}

// One EVAL of the script for `key`.
asio::awaitable<std::optional<Decision>> eval(RedisClient& c, std::string key,
                                              std::vector<Rule> rules, std::uint64_t cost = 1) {
  auto op = c.async_command(redis_eval_args(key, rules, cost));
  const Result r = co_await std::move(op);
  co_return decision_of(r, rules);
}

TEST(RedisScript, AdmitsExactlyTheLimitThenRefusesWithRetryAfter) {
  RedisServer redis;
  with_client(redis, [](RedisClient& c) -> asio::awaitable<void> {
    auto up = connected(c);
    const bool up_ok = co_await std::move(up);
    STELLA_CO_ASSERT(up_ok, "not connected");
    const std::vector<Rule> rules{{5, 60s}};
    for (std::uint64_t i = 0; i < 5; ++i) {
      auto op = eval(c, "rl:exact", rules);
      const auto d = co_await std::move(op);
      STELLA_CO_ASSERT(d, i);
      EXPECT_TRUE(d->allowed) << i;
      EXPECT_EQ(d->remaining, 4 - i);
      EXPECT_GT(d->reset, 0ms);
      EXPECT_LE(d->reset, 60s);
    }
    for (int i = 0; i < 3; ++i) {
      auto op = eval(c, "rl:exact", rules);
      const auto d = co_await std::move(op);
      STELLA_CO_ASSERT(d, i);
      EXPECT_FALSE(d->allowed);
      EXPECT_EQ(d->rule, 0u);
      EXPECT_EQ(d->remaining, 0u);
      EXPECT_GT(d->retry_after, 0ms);
      EXPECT_LE(d->retry_after, 60s);
    }
    // Fields named "<bucket_ms>:<index>", the counts adding up to what was admitted; expiry
    // at most the window.
    auto get = c.async_command({"HGETALL", "rl:exact"});
    const Result fields = co_await std::move(get);
    STELLA_CO_ASSERT(fields && fields->type == RedisReply::Type::array && !fields->elements.empty(),
                     describe(fields));
    long long sum = 0;
    for (std::size_t i = 1; i < fields->elements.size(); i += 2)
      sum += std::stoll(fields->elements[i].str);
    EXPECT_EQ(sum, 5);
    EXPECT_TRUE(fields->elements[0].str.starts_with("1000:")) << fields->elements[0].str;
    auto pttl = c.async_command({"PTTL", "rl:exact"});
    const Result ttl = co_await std::move(pttl);
    EXPECT_TRUE(ttl && ttl->integer > 0 && ttl->integer <= 60000) << describe(ttl);
    // Another key is limited apart.
    auto op = eval(c, "rl:other", rules);
    const auto other = co_await std::move(op);
    EXPECT_TRUE(other && other->allowed && other->remaining == 4u);
  });
}

TEST(RedisScript, TwoRulesCompose) {
  RedisServer redis;
  with_client(redis, [](RedisClient& c) -> asio::awaitable<void> {
    auto up = connected(c);
    const bool up_ok = co_await std::move(up);
    STELLA_CO_ASSERT(up_ok, "not connected");
    const std::vector<Rule> rules{{3, 60s}, {2, 20s}};  // the second is stricter
    auto op1 = eval(c, "rl:two", rules);
    auto d = co_await std::move(op1);
    EXPECT_TRUE(d && d->allowed && d->rule == 1u && d->remaining == 1u && d->limit == 2u);
    auto op2 = eval(c, "rl:two", rules);
    d = co_await std::move(op2);
    EXPECT_TRUE(d && d->allowed && d->rule == 1u && d->remaining == 0u);
    auto op3 = eval(c, "rl:two", rules);
    d = co_await std::move(op3);
    // At most the window, which is a whole number of millisecond-rounded buckets (20 s in 60
    // buckets of 334 ms is 20.04 s).
    EXPECT_TRUE(d && !d->allowed && d->rule == 1u && d->retry_after > 0ms &&
                d->retry_after <= 20s + 60 * 1ms)
        << (d ? "allowed=" + std::to_string(d->allowed) + " rule=" + std::to_string(d->rule) +
                    " remaining=" + std::to_string(d->remaining) +
                    " retry_ms=" + std::to_string(d->retry_after.count())
              : std::string("no decision"));

    // A refusal counts in no rule: the looser rule alone still has its third place.
    const std::vector<Rule> loose{{3, 60s}};
    auto op4 = eval(c, "rl:two", loose);
    d = co_await std::move(op4);
    EXPECT_TRUE(d && d->allowed && d->remaining == 0u);

    // Both refuse: the longer wait decides.
    const std::vector<Rule> both{{1, 20s}, {1, 60s}};
    auto op5 = eval(c, "rl:both", both);
    d = co_await std::move(op5);
    EXPECT_TRUE(d && d->allowed);
    auto op6 = eval(c, "rl:both", both);
    d = co_await std::move(op6);
    EXPECT_TRUE(d && !d->allowed && d->rule == 1u && d->retry_after > 20s);

    // Cost: 2 of 3 fits, 2 more do not.
    const std::vector<Rule> three{{3, 60s}};
    auto op7 = eval(c, "rl:cost", three, 2);
    d = co_await std::move(op7);
    EXPECT_TRUE(d && d->allowed && d->remaining == 1u);
    auto op8 = eval(c, "rl:cost", three, 2);
    d = co_await std::move(op8);
    EXPECT_TRUE(d && !d->allowed && d->remaining == 1u);
  });
}

TEST(RedisScript, TwoGatewaysShareOneLimit) {
  RedisServer redis;
  asio::io_context io;
  RedisClient a(io.get_executor(), settings_for(redis.port()));
  RedisClient b(io.get_executor(), settings_for(redis.port()));
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto up_a = connected(a);
        const bool up_a_ok = co_await std::move(up_a);
        STELLA_CO_ASSERT(up_a_ok, "a not connected");
        auto up_b = connected(b);
        const bool up_b_ok = co_await std::move(up_b);
        STELLA_CO_ASSERT(up_b_ok, "b not connected");
        const std::vector<Rule> rules{{7, 60s}};
        int admitted = 0;
        for (int i = 0; i < 20; ++i) {
          auto op = eval(i % 2 == 0 ? a : b, "rl:shared", rules);
          const auto d = co_await std::move(op);
          if (d && d->allowed) ++admitted;
        }
        EXPECT_EQ(admitted, 7);
      },
      [&](std::exception_ptr e) {
        done = true;
        EXPECT_FALSE(e);
        a.close();
        b.close();
      });
  io.run_for(kHangGuard);
  EXPECT_TRUE(done);
}

TEST(RedisScript, EvalshaAfterScriptLoadAndNoscriptAfterFlush) {
  RedisServer redis;
  with_client(redis, [](RedisClient& c) -> asio::awaitable<void> {
    auto up = connected(c);
    const bool up_ok = co_await std::move(up);
    STELLA_CO_ASSERT(up_ok, "not connected");
    const std::vector<Rule> rules{{2, 60s}};
    auto load = c.async_command(redis_script_load_args());
    const Result loaded = co_await std::move(load);
    STELLA_CO_ASSERT(loaded && loaded->type == RedisReply::Type::string, describe(loaded));
    const std::string sha = loaded->str;
    EXPECT_EQ(sha.size(), 40u);
    auto first = c.async_command(redis_evalsha_args(sha, "rl:sha", rules));
    const Result first_r = co_await std::move(first);
    auto d = decision_of(first_r, rules);
    EXPECT_TRUE(d && d->allowed && d->remaining == 1u);

    auto flush = c.async_command({"SCRIPT", "FLUSH"});
    const Result flushed = co_await std::move(flush);
    EXPECT_TRUE(flushed && flushed->str == "OK") << describe(flushed);
    auto again = c.async_command(redis_evalsha_args(sha, "rl:sha", rules));
    const Result missing = co_await std::move(again);
    STELLA_CO_ASSERT(missing && missing->is_error(), describe(missing));
    EXPECT_TRUE(is_noscript_error(missing->str)) << missing->str;

    // The fallback: EVAL (which caches the script again), then EVALSHA works again.
    auto fallback = eval(c, "rl:sha", rules);
    d = co_await std::move(fallback);
    EXPECT_TRUE(d && d->allowed && d->remaining == 0u);
    auto cached = c.async_command(redis_evalsha_args(sha, "rl:sha", rules));
    const Result cached_r = co_await std::move(cached);
    d = decision_of(cached_r, rules);
    EXPECT_TRUE(d && !d->allowed);
  });
}

TEST(RedisScript, BadArgumentsAreAnErrorReply) {
  RedisServer redis;
  with_client(redis, [](RedisClient& c) -> asio::awaitable<void> {
    auto up = connected(c);
    const bool up_ok = co_await std::move(up);
    STELLA_CO_ASSERT(up_ok, "not connected");
    const std::string script(redis_script());
    const std::vector<std::vector<std::string>> bad{
        {"EVAL", script, "1", "k", "1"},                          // no rule
        {"EVAL", script, "1", "k", "1", "10", "1000"},            // half a rule
        {"EVAL", script, "1", "k", "0", "10", "1000", "100"},     // cost 0
        {"EVAL", script, "1", "k", "1", "0", "1000", "100"},      // max 0
        {"EVAL", script, "1", "k", "1", "10", "1000", "300"},     // not a multiple
        {"EVAL", script, "1", "k", "1", "10", "abc", "100"},      // not a number
        {"EVAL", script, "1", "k", "1.5", "10", "1000", "100"},   // not whole
        {"EVAL", script, "1", "k", "1", "1e400", "1000", "100"},  // infinite
        {"EVAL", script, "1", "k", "1", "10", "86400001", "1"},   // beyond a day
        {"EVAL", script, "0", "1", "10", "1000", "100"},          // no key
    };
    for (const auto& args : bad) {
      auto op = c.async_command(args);
      const Result r = co_await std::move(op);
      EXPECT_TRUE(r && r->is_error() && r->str.find("stella-ratelimit") != std::string::npos)
          << describe(r);
    }
    auto exists = c.async_command({"EXISTS", "k"});
    const Result none = co_await std::move(exists);
    EXPECT_TRUE(none && none->integer == 0) << describe(none);
  });
}

// A 3-per-500-ms rule (10 buckets of 50 ms): refused at the limit, admitted again once the
// window has slid past the first requests, and the old buckets are dropped from the hash.
TEST(RedisScript, TheWindowSlides) {
  RedisServer redis;
  with_client(redis, [](RedisClient& c) -> asio::awaitable<void> {
    auto up = connected(c);
    const bool up_ok = co_await std::move(up);
    STELLA_CO_ASSERT(up_ok, "not connected");
    const std::vector<Rule> rules{{3, 500ms}};
    std::optional<Decision> d;
    // Until refused: three admissions, and then (however slow the machine, each call is
    // checked against the server's own clock) a refusal before too many rounds.
    int admitted = 0;
    bool refused = false;
    for (int i = 0; i < 1000 && !refused; ++i) {
      auto op = eval(c, "rl:slide", rules);
      d = co_await std::move(op);
      STELLA_CO_ASSERT(d, i);
      if (d->allowed) ++admitted;
      refused = !d->allowed;
    }
    STELLA_CO_ASSERT(refused, "never refused");
    EXPECT_GE(admitted, 3);
    EXPECT_GT(d->retry_after, 0ms);
    EXPECT_LE(d->retry_after, 500ms);

    // Poll until admitted again.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool again = false;
    while (!again && std::chrono::steady_clock::now() < deadline) {
      auto wait = pause(10ms);
      co_await std::move(wait);
      auto op = eval(c, "rl:slide", rules);
      d = co_await std::move(op);
      STELLA_CO_ASSERT(d, "poll");
      again = d->allowed;
    }
    EXPECT_TRUE(again);

    // At least a window later (by the test's clock; not a timing assertion), the next call
    // drops every old bucket: its own is the one field left.
    auto wait = pause(600ms);
    co_await std::move(wait);
    auto op = eval(c, "rl:slide", rules);
    d = co_await std::move(op);
    EXPECT_TRUE(d && d->allowed && d->remaining == 2u);
    auto hlen = c.async_command({"HLEN", "rl:slide"});
    const Result len = co_await std::move(hlen);
    EXPECT_TRUE(len && len->integer == 1) << describe(len);
  });
}

// Fields of a bucket width no rule uses (an older configuration) and garbage fields are
// dropped, not counted.
TEST(RedisScript, ForeignFieldsAreDropped) {
  RedisServer redis;
  with_client(redis, [](RedisClient& c) -> asio::awaitable<void> {
    auto up = connected(c);
    const bool up_ok = co_await std::move(up);
    STELLA_CO_ASSERT(up_ok, "not connected");
    auto hset = c.async_command({"HSET", "rl:old", "250:1", "99", "junk", "5", "1000:x", "7"});
    const Result set = co_await std::move(hset);
    EXPECT_TRUE(set && set->integer == 3) << describe(set);
    const std::vector<Rule> rules{{2, 60s}};
    auto op = eval(c, "rl:old", rules);
    const auto d = co_await std::move(op);
    EXPECT_TRUE(d && d->allowed && d->remaining == 1u);
    auto hlen = c.async_command({"HLEN", "rl:old"});
    const Result len = co_await std::move(hlen);
    EXPECT_TRUE(len && len->integer == 1) << describe(len);
  });
}

}  // namespace
}  // namespace stella::gw::ratelimit
