// RedisClient against a real redis-server (redis_server.hpp): replies of every type,
// pipelining, callers on other threads, and each failure the header promises (server down at
// start, killed, stopped, client closed, wrong password, malformed reply).
//
// No fixed sleeps and no timing assertions: conditions are polled with a deadline, and the
// only wall-clock bound is a hang guard that fails a test instead of blocking ctest.
#include <gtest/gtest.h>

#include <utility>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.hpp"
#include "stella/gateway/redis/redis_client.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using stella::gw::redis::parse_redis_address;
using stella::gw::redis::RedisClient;
using stella::gw::redis::RedisErrc;
using stella::gw::redis::RedisReply;
using stella::gw::redis::RedisSettings;
using stella::test::RedisServer;
using Result = boost::system::result<RedisReply>;
using Type = RedisReply::Type;

// ASSERT_* returns, which a coroutine cannot: this fails the test and leaves the coroutine.
#define STELLA_CO_ASSERT(cond, message)                  \
  if (!(cond)) {                                         \
    ADD_FAILURE() << "failed: " #cond ": " << (message); \
    co_return;                                           \
  }

// Bounds a whole test so that a hang fails it instead of blocking ctest. Not a timing claim.
constexpr auto kHangGuard = 120s;
// Timeouts for the tests that are not about timeouts: sanitizer builds on a shared machine.
constexpr std::chrono::milliseconds kRelaxed = 30s;

RedisSettings settings_for(std::uint16_t port) {
  RedisSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  s.connect_timeout = kRelaxed;
  s.command_timeout = kRelaxed;
  s.backoff_min = 10ms;
  s.backoff_max = 100ms;
  return s;
}

template <class... A>
std::vector<std::string> argv(A&&... a) {
  return {std::string(std::forward<A>(a))...};
}

std::string describe(const RedisReply& v) {
  switch (v.type) {
    case Type::string:
      return "string \"" + v.str + "\"";
    case Type::status:
      return "status " + v.str;
    case Type::error:
      return "error reply " + v.str;
    case Type::integer:
      return "integer " + std::to_string(v.integer);
    case Type::nil:
      return "nil";
    case Type::array: {
      std::string out = "[";
      for (const auto& e : v.elements)
        out += describe(e) + ", ";
      return out + "]";
    }
  }
  return "?";
}
std::string describe(const Result& r) {
  return r ? describe(*r) : "error code " + r.error().message();
}

bool is_status(const Result& r, std::string_view s) {
  return r && r->type == Type::status && r->str == s;
}
bool is_string(const Result& r, std::string_view s) {
  return r && r->type == Type::string && r->str == s;
}
bool is_integer(const Result& r, long long n) {
  return r && r->type == Type::integer && r->integer == n;
}
bool is_nil(const Result& r) {
  return r && r->type == Type::nil;
}
bool failed_with(const Result& r, RedisErrc e) {
  return !r && r.error() == e;
}

void expect_no_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    ADD_FAILURE() << "coroutine threw: " << ex.what();
  }
}

// Runs `body` on `io`. When it ends, closes `clients` (a client keeps its io_context busy
// until closed) and lets `io` run dry: a client whose loop does not stop fails the test.
template <class Body>
void run(asio::io_context& io, std::vector<RedisClient*> clients, Body body) {
  bool done = false;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    done = true;
    expect_no_exception(e);
    for (auto* c : clients)
      c->close();
  });
  io.run_for(kHangGuard);
  EXPECT_TRUE(done) << "the test coroutine did not finish";
  EXPECT_TRUE(io.stopped()) << "work left after close(): the client did not stop";
}

// Polls `cond` until it holds or `limit` passes.
asio::awaitable<bool> eventually(std::function<bool()> cond,
                                 std::chrono::milliseconds limit = 30s) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    timer.expires_after(5ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return true;
}

asio::awaitable<bool> connected(RedisClient& c) {
  auto wait = eventually([&c] { return c.connected(); });
  co_return co_await std::move(wait);
}

// PINGs until one is answered (the client may need to reconnect first).
asio::awaitable<bool> answers_ping(RedisClient& c, std::chrono::milliseconds limit = 30s) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto op = c.async_command(argv("PING"));
    const Result r = co_await std::move(op);
    if (is_status(r, "PONG")) co_return true;
    timer.expires_after(5ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return false;
}

// Lets everything already started on this executor run up to its first suspension (the
// commands spawned before are then on the client's strand, ahead of anything posted later).
asio::awaitable<void> yield_a_few() {
  auto ex = co_await asio::this_coro::executor;
  for (int i = 0; i < 10; ++i)
    co_await asio::post(ex, asio::use_awaitable);
}

// Commands started without waiting for them; results in start order.
struct InFlight {
  std::vector<std::optional<Result>> results;
  std::size_t done = 0;
};

void start_command(asio::io_context& io, RedisClient& c, std::vector<std::string> args,
                   const std::shared_ptr<InFlight>& out) {
  const std::size_t i = out->results.size();
  out->results.emplace_back();
  // `c` is used only to start the command; the operation itself may outlive the client.
  auto op = c.async_command(std::move(args));
  asio::co_spawn(
      io,
      [op = std::move(op), out, i]() mutable -> asio::awaitable<void> {
        const Result r = co_await std::move(op);
        out->results[i] = r;
        ++out->done;
      },
      expect_no_exception);
}

asio::awaitable<bool> all_done(std::shared_ptr<InFlight> out) {
  auto wait = eventually([out] { return out->done == out->results.size(); });
  co_return co_await std::move(wait);
}

// "name:count=N" out of INFO errorstats; 0 when absent.
long errorstat(const Result& info, const std::string& name) {
  if (!info || info->type != Type::string) return -1;
  const auto at = info->str.find("errorstat_" + name + ":count=");
  if (at == std::string::npos) return 0;
  return std::stol(info->str.substr(at + name.size() + 17));
}

TEST(RedisClient, PingSetGetRoundTrip) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto ping = client.async_command(argv("PING"));
    const Result pong = co_await std::move(ping);
    EXPECT_TRUE(is_status(pong, "PONG")) << describe(pong);
    auto set = client.async_command(argv("SET", "greeting", "hello"));
    const Result ok = co_await std::move(set);
    EXPECT_TRUE(is_status(ok, "OK")) << describe(ok);
    auto get = client.async_command(argv("GET", "greeting"));
    const Result value = co_await std::move(get);
    EXPECT_TRUE(is_string(value, "hello")) << describe(value);
    auto get_missing = client.async_command(argv("GET", "no-such-key"));
    const Result missing = co_await std::move(get_missing);
    EXPECT_TRUE(is_nil(missing)) << describe(missing);
    auto incr = client.async_command(argv("INCRBY", "counter", "41"));
    const Result n = co_await std::move(incr);
    EXPECT_TRUE(is_integer(n, 41)) << describe(n);
    EXPECT_EQ(client.failures(), 0u);
    EXPECT_EQ(client.reconnects(), 0u);
  });
}

// The DPoP replay cache: the first SET NX wins, a replay within the window gets nil.
TEST(RedisClient, SetNxPxAcceptsOnceThenReturnsNil) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto first = client.async_command(argv("SET", "jti:abc", "1", "NX", "PX", "1000"));
    const Result fresh = co_await std::move(first);
    EXPECT_TRUE(is_status(fresh, "OK")) << describe(fresh);
    auto second = client.async_command(argv("SET", "jti:abc", "1", "NX", "PX", "1000"));
    const Result replay = co_await std::move(second);
    EXPECT_TRUE(is_nil(replay)) << describe(replay);
    auto pttl = client.async_command(argv("PTTL", "jti:abc"));
    const Result ttl = co_await std::move(pttl);
    EXPECT_TRUE(ttl && ttl->type == Type::integer && ttl->integer > 0 && ttl->integer <= 1000)
        << describe(ttl);
  });
}

TEST(RedisClient, ValuesAreBinarySafe) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  std::string every_byte;
  for (int b = 0; b < 256; ++b)
    every_byte += static_cast<char>(b);
  const std::string key("key\0with\r\nbreaks", 16);
  const std::string value = std::string("\0\r\n$3\r\n*-1\r\n", 12) + every_byte;
  // Larger than one read: the reply arrives in pieces.
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 7919 % 251);
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto set = client.async_command(argv("SET", key, value));
    const Result ok = co_await std::move(set);
    EXPECT_TRUE(is_status(ok, "OK")) << describe(ok);
    auto get = client.async_command(argv("GET", key));
    const Result got = co_await std::move(get);
    EXPECT_TRUE(is_string(got, value));
    auto set_empty = client.async_command(argv("SET", "empty", ""));
    const Result ok_empty = co_await std::move(set_empty);
    EXPECT_TRUE(is_status(ok_empty, "OK")) << describe(ok_empty);
    auto get_empty = client.async_command(argv("GET", "empty"));
    const Result empty = co_await std::move(get_empty);
    EXPECT_TRUE(is_string(empty, "")) << describe(empty);  // an empty string, not nil
    auto set_big = client.async_command(argv("SET", "big", big));
    const Result ok_big = co_await std::move(set_big);
    EXPECT_TRUE(is_status(ok_big, "OK")) << describe(ok_big);
    auto get_big = client.async_command(argv("GET", "big"));
    const Result got_big = co_await std::move(get_big);
    EXPECT_TRUE(is_string(got_big, big));
  });
}

// A Redis error reply is an answer: the command did not fail, and the connection goes on.
TEST(RedisClient, ErrorReplyIsAValueNotAFailure) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto set = client.async_command(argv("SET", "word", "abc"));
    const Result ok = co_await std::move(set);
    EXPECT_TRUE(is_status(ok, "OK")) << describe(ok);
    auto incr = client.async_command(argv("INCR", "word"));
    const Result err = co_await std::move(incr);
    STELLA_CO_ASSERT(err.has_value(), describe(err));
    EXPECT_TRUE(err->is_error());
    EXPECT_EQ(err->type, Type::error);
    EXPECT_EQ(err->str.rfind("ERR", 0), 0u) << err->str;
    auto unknown = client.async_command(argv("NO-SUCH-COMMAND", "x"));
    const Result err2 = co_await std::move(unknown);
    EXPECT_TRUE(err2 && err2->is_error()) << describe(err2);
    auto ping = client.async_command(argv("PING"));
    const Result pong = co_await std::move(ping);
    EXPECT_TRUE(is_status(pong, "PONG")) << describe(pong);
    EXPECT_EQ(client.failures(), 0u);
    EXPECT_TRUE(client.connected());
  });
}

// The rate limiter runs Lua: EVAL and EVALSHA, with nested arrays, nil, status and integers.
TEST(RedisClient, EvalAndEvalshaReturnNestedArrays) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto eval = client.async_command(argv(
        "EVAL", "return {1, 'two', {3, false}, redis.status_reply('fine'), ARGV[1]}", "0", "arg"));
    const Result r = co_await std::move(eval);
    STELLA_CO_ASSERT(r && r->type == Type::array && r->elements.size() == 5, describe(r));
    EXPECT_EQ(r->elements[0].type, Type::integer);
    EXPECT_EQ(r->elements[0].integer, 1);
    EXPECT_EQ(r->elements[1].type, Type::string);
    EXPECT_EQ(r->elements[1].str, "two");
    STELLA_CO_ASSERT(r->elements[2].type == Type::array && r->elements[2].elements.size() == 2,
                     describe(r));
    EXPECT_EQ(r->elements[2].elements[0].integer, 3);
    EXPECT_EQ(r->elements[2].elements[1].type, Type::nil);  // Lua false
    EXPECT_EQ(r->elements[3].type, Type::status);
    EXPECT_EQ(r->elements[3].str, "fine");
    EXPECT_EQ(r->elements[4].str, "arg");

    auto load = client.async_command(
        argv("SCRIPT", "LOAD", "return redis.call('INCRBY', KEYS[1], ARGV[1])"));
    const Result sha = co_await std::move(load);
    STELLA_CO_ASSERT(sha && sha->type == Type::string && sha->str.size() == 40, describe(sha));
    auto first = client.async_command(argv("EVALSHA", sha->str, "1", "bucket", "5"));
    const Result five = co_await std::move(first);
    EXPECT_TRUE(is_integer(five, 5)) << describe(five);
    auto second = client.async_command(argv("EVALSHA", sha->str, "1", "bucket", "5"));
    const Result ten = co_await std::move(second);
    EXPECT_TRUE(is_integer(ten, 10)) << describe(ten);
    auto unknown = client.async_command(argv("EVALSHA", std::string(40, '0'), "0"));
    const Result noscript = co_await std::move(unknown);
    EXPECT_TRUE(noscript && noscript->is_error() && noscript->str.rfind("NOSCRIPT", 0) == 0)
        << describe(noscript);
  });
}

// An empty command would get no reply from Redis and shift every later reply by one.
TEST(RedisClient, EmptyCommandIsRefusedAndTheConnectionStaysInStep) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto empty = client.async_command({});
    const Result refused = co_await std::move(empty);
    EXPECT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error(), boost::system::errc::invalid_argument);
    EXPECT_EQ(client.failures(), 1u);
    auto echo = client.async_command(argv("ECHO", "still in step"));
    const Result r = co_await std::move(echo);
    EXPECT_TRUE(is_string(r, "still in step")) << describe(r);
  });
}

// 1,000 commands in flight at once from as many coroutines, plus ten coroutines each counting
// on its own key: every reply goes to the command that asked for it.
TEST(RedisClient, PipelinedCommandsEachGetTheirOwnReply) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  static constexpr int kEchoes = 1000;
  static constexpr int kCounters = 10;
  static constexpr int kIncrements = 100;
  const auto payload = [](int i) {
    return "payload-" + std::to_string(i) + "-" +
           std::string(static_cast<std::size_t>(i % 97), 'x');
  };
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto echoes = std::make_shared<InFlight>();
    for (int i = 0; i < kEchoes; ++i)
      start_command(io, client, argv("ECHO", payload(i)), echoes);
    auto counters_done = std::make_shared<int>(0);
    for (int k = 0; k < kCounters; ++k) {
      asio::co_spawn(
          io,
          [&client, k, counters_done]() -> asio::awaitable<void> {
            const std::string key = "counter:" + std::to_string(k);
            for (int n = 1; n <= kIncrements; ++n) {
              auto incr = client.async_command(argv("INCR", key));
              const Result r = co_await std::move(incr);
              EXPECT_TRUE(is_integer(r, n)) << key << ": " << describe(r);
            }
            ++*counters_done;
          },
          expect_no_exception);
    }
    auto echoes_done = all_done(echoes);
    const bool finished = co_await std::move(echoes_done);
    EXPECT_TRUE(finished);
    auto incr_done = eventually([counters_done] { return *counters_done == kCounters; });
    const bool counted = co_await std::move(incr_done);
    EXPECT_TRUE(counted);
    for (int i = 0; i < kEchoes; ++i) {
      const auto& r = echoes->results[static_cast<std::size_t>(i)];
      STELLA_CO_ASSERT(r.has_value(), i);
      EXPECT_TRUE(is_string(*r, payload(i))) << i << ": " << describe(*r);
    }
    EXPECT_EQ(client.failures(), 0u);
  });
}

// Callers on two other io_contexts, each on its own thread: every reply comes back on the
// caller's own thread, and matches its request.
TEST(RedisClient, CallersOnOtherThreadsCompleteOnTheirOwnExecutor) {
  RedisServer redis;
  asio::io_context client_io;
  RedisClient client(client_io.get_executor(), settings_for(redis.port()));
  std::thread client_thread([&] { client_io.run_for(kHangGuard); });

  static constexpr int kPerCaller = 300;
  std::atomic<int> matched{0};
  std::atomic<int> wrong_thread{0};
  std::atomic<int> failed{0};
  asio::io_context io_a;
  asio::io_context io_b;
  for (auto* io : {&io_a, &io_b}) {
    for (int i = 0; i < kPerCaller; ++i) {
      asio::co_spawn(
          *io,
          [&, io, i]() -> asio::awaitable<void> {
            // Waits for the connection from this thread (connected() is any-thread).
            auto wait = eventually([&client] { return client.connected(); });
            const bool up = co_await std::move(wait);
            if (!up) {
              ++failed;
              co_return;
            }
            const std::string payload =
                std::to_string(reinterpret_cast<std::uintptr_t>(io)) + "/" + std::to_string(i);
            auto echo = client.async_command(argv("ECHO", payload));
            const Result r = co_await std::move(echo);
            if (!io->get_executor().running_in_this_thread()) ++wrong_thread;
            if (is_string(r, payload))
              ++matched;
            else
              ++failed;
          },
          expect_no_exception);
    }
  }
  std::thread thread_a([&] { io_a.run_for(kHangGuard); });
  std::thread thread_b([&] { io_b.run_for(kHangGuard); });
  thread_a.join();
  thread_b.join();
  client.close();
  client_thread.join();
  EXPECT_EQ(matched.load(), 2 * kPerCaller);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong_thread.load(), 0);
  EXPECT_TRUE(client_io.stopped());
}

// No server yet: commands fail at once (never queued); the server comes up on that port and
// the client connects by itself.
TEST(RedisClient, ServerDownAtStartFailsFastThenConnectsWhenItComesUp) {
  const std::uint16_t port = RedisServer::free_port();
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(port));
  std::optional<RedisServer> redis;
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    EXPECT_FALSE(client.connected());
    auto early = client.async_command(argv("PING"));
    const Result r = co_await std::move(early);
    EXPECT_TRUE(failed_with(r, RedisErrc::unavailable)) << describe(r);
    EXPECT_EQ(client.failures(), 1u);

    RedisServer::Options options;
    options.port = port;
    redis.emplace(options);
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto ping = client.async_command(argv("PING"));
    const Result pong = co_await std::move(ping);
    EXPECT_TRUE(is_status(pong, "PONG")) << describe(pong);
    EXPECT_EQ(client.reconnects(), 0u);  // the first connection is not a reconnect
  });
}

// SIGKILL while commands are in flight: each ends (answered, unavailable or timed out), none
// hangs; after a restart the client reconnects on its own.
TEST(RedisClient, ServerKilledFailsCommandsAndReconnectsAfterRestart) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto flight = std::make_shared<InFlight>();
    for (int i = 0; i < 50; ++i)
      start_command(io, client, argv("ECHO", std::to_string(i)), flight);
    co_await yield_a_few();
    redis.kill();
    auto ended = all_done(flight);
    const bool all_ended = co_await std::move(ended);
    EXPECT_TRUE(all_ended);
    for (std::size_t i = 0; i < flight->results.size(); ++i) {
      const auto& r = *flight->results[i];
      EXPECT_TRUE(is_string(r, std::to_string(i)) || failed_with(r, RedisErrc::unavailable) ||
                  failed_with(r, RedisErrc::timed_out))
          << i << ": " << describe(r);
    }
    auto down = eventually([&client] { return !client.connected(); });
    const bool noticed = co_await std::move(down);
    EXPECT_TRUE(noticed);
    auto while_down = client.async_command(argv("PING"));
    const Result refused = co_await std::move(while_down);
    EXPECT_TRUE(failed_with(refused, RedisErrc::unavailable)) << describe(refused);

    redis.start();
    const bool back = co_await connected(client);
    EXPECT_TRUE(back);
    const bool pong = co_await answers_ping(client);
    EXPECT_TRUE(pong);
    EXPECT_GE(client.reconnects(), 1u);
  });
}

// SIGSTOP: the connection stays open but nothing answers. The first command pending ends with
// timed_out, the others behind it with unavailable (the connection is dropped so that a late
// reply cannot be matched to the wrong command); while stopped, the client does not count as
// connected; after SIGCONT it recovers.
TEST(RedisClient, StoppedServerTimesOutTheCommandThenRecovers) {
  RedisServer redis;
  asio::io_context io;
  auto settings = settings_for(redis.port());
  settings.command_timeout = 200ms;
  settings.connect_timeout = 1s;
  RedisClient client(io.get_executor(), settings);
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool warm = co_await answers_ping(client);
    EXPECT_TRUE(warm);
    redis.pause();
    auto flight = std::make_shared<InFlight>();
    start_command(io, client, argv("GET", "a"), flight);
    start_command(io, client, argv("GET", "b"), flight);
    start_command(io, client, argv("GET", "c"), flight);
    auto ended = all_done(flight);
    const bool all_ended = co_await std::move(ended);
    EXPECT_TRUE(all_ended);
    EXPECT_TRUE(failed_with(*flight->results[0], RedisErrc::timed_out))
        << describe(*flight->results[0]);
    EXPECT_TRUE(failed_with(*flight->results[1], RedisErrc::unavailable))
        << describe(*flight->results[1]);
    EXPECT_TRUE(failed_with(*flight->results[2], RedisErrc::unavailable))
        << describe(*flight->results[2]);
    EXPECT_GE(client.failures(), 3u);

    // Reconnecting to a stopped server: TCP connects (the kernel accepts), the handshake's
    // PING is never answered, so the client stays disconnected and fails commands at once.
    EXPECT_FALSE(client.connected());
    auto while_stopped = client.async_command(argv("PING"));
    const Result refused = co_await std::move(while_stopped);
    EXPECT_TRUE(failed_with(refused, RedisErrc::unavailable)) << describe(refused);

    redis.resume();
    const bool recovered = co_await answers_ping(client);
    EXPECT_TRUE(recovered);
    EXPECT_GE(client.reconnects(), 1u);
  });
}

// max_pending = 4: four commands in flight are admitted, the fifth is refused at once.
TEST(RedisClient, MaxPendingAdmitsTheLimitAndRefusesOneMore) {
  RedisServer redis;
  asio::io_context io;
  auto settings = settings_for(redis.port());
  settings.max_pending = 4;
  RedisClient client(io.get_executor(), settings);
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    redis.pause();  // nothing is answered, so all four stay in flight
    auto flight = std::make_shared<InFlight>();
    for (int i = 0; i < 5; ++i)
      start_command(io, client, argv("ECHO", std::to_string(i)), flight);
    auto refused = eventually([flight] { return flight->done >= 1; });
    const bool one_done = co_await std::move(refused);
    EXPECT_TRUE(one_done);
    EXPECT_EQ(flight->done, 1u);
    STELLA_CO_ASSERT(flight->results[4].has_value(), "the fifth command did not end");
    EXPECT_TRUE(failed_with(*flight->results[4], RedisErrc::too_many_pending))
        << describe(*flight->results[4]);
    EXPECT_EQ(client.failures(), 1u);

    redis.resume();
    auto answered = all_done(flight);
    const bool all_answered = co_await std::move(answered);
    EXPECT_TRUE(all_answered);
    for (std::size_t i = 0; i < 4; ++i)
      EXPECT_TRUE(is_string(*flight->results[i], std::to_string(i)))
          << i << ": " << describe(*flight->results[i]);
  });
}

// close() ends what is in flight with shut_down, later commands fail, close() again is fine.
TEST(RedisClient, CloseFailsPendingWithShutDown) {
  RedisServer redis;
  asio::io_context io;
  RedisClient client(io.get_executor(), settings_for(redis.port()));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    redis.pause();  // keeps the commands in flight until close()
    auto flight = std::make_shared<InFlight>();
    for (int i = 0; i < 3; ++i)
      start_command(io, client, argv("ECHO", std::to_string(i)), flight);
    co_await yield_a_few();
    client.close();
    auto ended = all_done(flight);
    const bool all_ended = co_await std::move(ended);
    EXPECT_TRUE(all_ended);
    for (const auto& r : flight->results)
      EXPECT_TRUE(failed_with(*r, RedisErrc::shut_down)) << describe(*r);
    EXPECT_FALSE(client.connected());

    auto later = client.async_command(argv("PING"));
    const Result after = co_await std::move(later);
    EXPECT_TRUE(failed_with(after, RedisErrc::unavailable) ||
                failed_with(after, RedisErrc::shut_down))
        << describe(after);
    client.close();  // idempotent
    redis.resume();
  });
}

// Destroying the client closes it; commands still in flight end with shut_down (the
// operations keep the client's state alive, not the RedisClient object).
TEST(RedisClient, DestructorClosesAndInFlightCommandsEnd) {
  RedisServer redis;
  asio::io_context io;
  std::optional<RedisClient> client;
  client.emplace(io.get_executor(), settings_for(redis.port()));
  run(io, {}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(*client);
    EXPECT_TRUE(up);
    redis.pause();
    auto flight = std::make_shared<InFlight>();
    for (int i = 0; i < 2; ++i)
      start_command(io, *client, argv("ECHO", std::to_string(i)), flight);
    co_await yield_a_few();
    client.reset();
    auto ended = all_done(flight);
    const bool all_ended = co_await std::move(ended);
    EXPECT_TRUE(all_ended);
    for (const auto& r : flight->results)
      EXPECT_TRUE(failed_with(*r, RedisErrc::shut_down)) << describe(*r);
    redis.resume();
  });
}

// redis://:password@host:port/2 from parse_redis_address: AUTH and SELECT happen before the
// client counts as connected; a key set through it is in database 2, not 0.
TEST(RedisClient, PasswordAndDatabaseFromTheAddress) {
  RedisServer::Options options;
  options.password = "s3cret";
  RedisServer redis(options);
  std::string error;
  const auto parsed = parse_redis_address(
      "redis://:s3cret@127.0.0.1:" + std::to_string(redis.port()) + "/2", &error);
  ASSERT_TRUE(parsed.has_value()) << error;
  auto in_db2 = settings_for(parsed->port);
  in_db2.host = parsed->host;
  in_db2.password = parsed->password;
  in_db2.db = parsed->db;
  auto in_db0 = in_db2;
  in_db0.db = 0;
  asio::io_context io;
  RedisClient client2(io.get_executor(), in_db2);
  RedisClient client0(io.get_executor(), in_db0);
  run(io, {&client2, &client0}, [&]() -> asio::awaitable<void> {
    const bool up2 = co_await connected(client2);
    const bool up0 = co_await connected(client0);
    EXPECT_TRUE(up2 && up0);
    auto info = client2.async_command(argv("CLIENT", "INFO"));
    const Result me = co_await std::move(info);
    EXPECT_TRUE(me && me->str.find(" db=2 ") != std::string::npos) << describe(me);
    auto set = client2.async_command(argv("SET", "where", "two"));
    const Result ok = co_await std::move(set);
    EXPECT_TRUE(is_status(ok, "OK")) << describe(ok);
    auto get0 = client0.async_command(argv("GET", "where"));
    const Result absent = co_await std::move(get0);
    EXPECT_TRUE(is_nil(absent)) << describe(absent);
    auto get2 = client2.async_command(argv("GET", "where"));
    const Result present = co_await std::move(get2);
    EXPECT_TRUE(is_string(present, "two")) << describe(present);
  });
}

// A wrong password, or none where one is required, never counts as connected: the server
// refuses the handshake (WRONGPASS / NOAUTH, seen in its error stats), the client backs off
// and tries again, and commands fail with unavailable meanwhile.
TEST(RedisClient, RefusedHandshakeNeverCountsAsConnected) {
  RedisServer::Options options;
  options.password = "right";
  RedisServer redis(options);
  auto good_settings = settings_for(redis.port());
  good_settings.password = "right";
  auto wrong_settings = good_settings;
  wrong_settings.password = "wrong";
  auto none_settings = good_settings;
  none_settings.password.clear();
  asio::io_context io;
  RedisClient good(io.get_executor(), good_settings);
  RedisClient wrong(io.get_executor(), wrong_settings);
  RedisClient none(io.get_executor(), none_settings);
  run(io, {&good, &wrong, &none}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(good);
    EXPECT_TRUE(up);
    // Two refusals each: the first attempt, and one after the backoff.
    Result stats;
    auto refused_twice = [&]() -> asio::awaitable<bool> {
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (std::chrono::steady_clock::now() < deadline) {
        auto info = good.async_command(argv("INFO", "errorstats"));
        stats = co_await std::move(info);
        if (errorstat(stats, "WRONGPASS") >= 2 && errorstat(stats, "NOAUTH") >= 2) co_return true;
        timer.expires_after(5ms);
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_return false;
    };
    auto wait = refused_twice();
    const bool refused = co_await std::move(wait);
    EXPECT_TRUE(refused) << describe(stats);
    EXPECT_FALSE(wrong.connected());
    EXPECT_FALSE(none.connected());
    auto via_wrong = wrong.async_command(argv("PING"));
    const Result r1 = co_await std::move(via_wrong);
    EXPECT_TRUE(failed_with(r1, RedisErrc::unavailable)) << describe(r1);
    auto via_none = none.async_command(argv("PING"));
    const Result r2 = co_await std::move(via_none);
    EXPECT_TRUE(failed_with(r2, RedisErrc::unavailable)) << describe(r2);
  });
}

// A host name goes through the resolver ("localhost" may list ::1 first; the server listens on
// 127.0.0.1 only, so the client must try the next address).
TEST(RedisClient, HostNameIsResolved) {
  RedisServer redis;
  asio::io_context io;
  auto settings = settings_for(redis.port());
  settings.host = "localhost";
  RedisClient client(io.get_executor(), settings);
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool pong = co_await answers_ping(client);
    EXPECT_TRUE(pong);
  });
}

// The one test without redis-server: a peer that speaks the handshake and then sends bytes
// that are not RESP. The command fails with protocol_error and the client reconnects.
TEST(RedisClient, MalformedReplyIsAProtocolErrorAndTheClientReconnects) {
  using tcp = asio::ip::tcp;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto port = acceptor.local_endpoint().port();
  auto peer = [](tcp::socket s) -> asio::awaitable<void> {
    asio::streambuf in;
    // The handshake: "*1\r\n$4\r\nPING\r\n".
    auto ping = asio::async_read_until(s, in, "PING\r\n", asio::use_awaitable);
    co_await std::move(ping);
    in.consume(in.size());
    auto pong =
        asio::async_write(s, asio::buffer(std::string_view("+PONG\r\n")), asio::use_awaitable);
    co_await std::move(pong);
    // The first command, answered with a type byte RESP does not have.
    auto cmd = asio::async_read_until(s, in, "GET\r\n", asio::use_awaitable);
    co_await std::move(cmd);
    auto garbage =
        asio::async_write(s, asio::buffer(std::string_view("?what\r\n")), asio::use_awaitable);
    co_await std::move(garbage);
    char byte;
    auto until_closed = s.async_read_some(asio::buffer(&byte, 1), asio::use_awaitable);
    co_await std::move(until_closed);
  };
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto accepting = acceptor.async_accept(asio::use_awaitable);
          tcp::socket s = co_await std::move(accepting);
          asio::co_spawn(io, peer(std::move(s)), [](std::exception_ptr) {
            // Ends with an exception by design: the client closes the connection.
          });
        }
      },
      [](std::exception_ptr) {
        // Ends with operation_aborted by design, when the acceptor is closed.
      });
  RedisClient client(io.get_executor(), settings_for(port));
  run(io, {&client}, [&]() -> asio::awaitable<void> {
    const bool up = co_await connected(client);
    EXPECT_TRUE(up);
    auto get = client.async_command(argv("GET", "x"));
    const Result r = co_await std::move(get);
    EXPECT_TRUE(failed_with(r, RedisErrc::protocol_error)) << describe(r);
    auto again = eventually([&client] { return client.reconnects() >= 1 && client.connected(); });
    const bool reconnected = co_await std::move(again);
    EXPECT_TRUE(reconnected);
    EXPECT_EQ(client.failures(), 1u);
    acceptor.close();
  });
}

}  // namespace
