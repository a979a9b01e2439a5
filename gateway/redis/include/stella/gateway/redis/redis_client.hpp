// One Redis/Valkey client for the gateway (DPoP replay cache, rate limiting): RESP over an Asio
// TCP socket, commands formatted and replies parsed by hiredis (redisFormatCommandArgv and
// redisReader), so no protocol code of our own. Non-blocking, pipelined (many commands in
// flight on one connection, answered in order), every command bounded by a timeout, and
// reconnecting with capped exponential backoff.
//
// Failure policy: while the connection is down a command fails at once with
// RedisErrc::unavailable (callers decide: fail open or closed). A command that times out breaks
// the connection (a late reply would be matched to the wrong command): every command in flight
// fails with timed_out/unavailable and the client reconnects.
//
// Thread-safety: a RedisClient lives on one strand; async_command may be called from any
// thread and completes on the caller's executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace stella::gw::redis {

enum class RedisErrc : int {
  unavailable = 1,   // not connected (connecting, backing off, or closed)
  timed_out,         // no reply within the command timeout
  protocol_error,    // the server sent something hiredis cannot parse
  too_many_pending,  // more than max_pending commands in flight
  shut_down,         // the client was closed
};
const boost::system::error_category& redis_category() noexcept;
inline boost::system::error_code make_error_code(RedisErrc e) noexcept {
  return {static_cast<int>(e), redis_category()};
}

/// Where and how to connect. parse_redis_address accepts "redis://host:port/db",
/// "redis://:password@host:port/db", "host:port" and "host" (port 6379, db 0).
struct RedisSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  unsigned db = 0;
  std::string password;  // AUTH when non-empty
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{250};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::size_t max_pending = 10000;
};
/// nullopt (with the reason in `error`) for anything else; the config reports it with its key.
std::optional<RedisSettings> parse_redis_address(std::string_view text, std::string* error);

/// A reply, converted from hiredis's redisReply.
struct RedisReply {
  enum class Type : std::uint8_t { string, status, integer, nil, array, error };
  Type type = Type::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<RedisReply> elements;  // array
  bool is_error() const noexcept { return type == Type::error; }
};

class RedisClient {
 public:
  /// Starts connecting at once (in the background) and keeps reconnecting until close().
  RedisClient(boost::asio::any_io_executor ex, RedisSettings settings);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Sends one command (`args[0]` is the command name; arguments are binary-safe) and waits
  /// for its reply. A Redis error reply is a value (RedisReply::Type::error), not an error code.
  boost::asio::awaitable<boost::system::result<RedisReply>> async_command(
      std::vector<std::string> args);

  /// True while a connection is established (and AUTH/SELECT done). Any thread.
  bool connected() const noexcept;
  /// Counters for metrics. Any thread.
  std::uint64_t reconnects() const noexcept;
  std::uint64_t failures() const noexcept;  // commands that ended with an error code

  /// Fails everything pending with shut_down and stops reconnecting. Idempotent.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace stella::gw::redis

template <>
struct boost::system::is_error_code_enum<stella::gw::redis::RedisErrc> : std::true_type {};
