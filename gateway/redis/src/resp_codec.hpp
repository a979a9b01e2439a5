// RESP without I/O: commands formatted and replies parsed by hiredis (redisFormatCommandArgv and
// redisReader), converted to and from our own types so that hiredis stays out of every header
// outside this directory. The client's coroutine shell moves the bytes.
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stella/gateway/redis/redis_client.hpp"

struct redisReader;

namespace stella::gw::redis::detail {

/// A command larger than this is refused before formatting: hiredis counts the length in an
/// int, and Redis itself refuses bulk strings over 512 MiB (proto-max-bulk-len).
inline constexpr std::size_t kMaxCommandBytes = std::size_t{256} << 20;

/// Unconsumed reply bytes the reader may hold while a reply is incomplete. The gateway stores
/// small values (replay-cache markers, rate-limit counters); a larger reply is a misbehaving
/// or wrongly shared server, and is treated as a protocol error instead of growing without end.
inline constexpr std::size_t kMaxBufferedReplyBytes = std::size_t{64} << 20;

/// The RESP bytes of one command (`args[0]` is the command name). Errors:
/// errc::invalid_argument for no arguments (Redis would send no reply and the FIFO would shift)
/// or more than kMaxCommandBytes of arguments; errc::not_enough_memory if hiredis cannot
/// allocate.
boost::system::result<std::string> format_command(const std::vector<std::string>& args);

/// Incremental reply parser: bytes in, whole replies out, in order. Not thread-safe.
class ReplyReader {
 public:
  enum class Outcome { reply, need_more, error };

  ReplyReader();  // throws std::bad_alloc when hiredis cannot allocate its reader
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  /// Appends bytes. False (and every later call fails) when hiredis refuses them or when more
  /// than kMaxBufferedReplyBytes would be waiting for the rest of a reply.
  bool feed(std::string_view bytes);
  /// The next whole reply into `out` (reply), none yet (need_more), or a protocol error (error;
  /// the stream cannot be resynchronised, the connection must be dropped).
  Outcome next(RedisReply& out);

 private:
  redisReader* reader_;
  bool failed_ = false;
};

}  // namespace stella::gw::redis::detail
