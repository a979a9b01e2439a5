#include "resp_codec.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <boost/system/errc.hpp>
#include <new>

namespace stella::gw::redis::detail {
namespace {

// hiredis bounds nesting (its reader keeps a fixed stack of 9 tasks), so this recursion is
// bounded too.
RedisReply convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i)
        out.elements.push_back(r.element[i] != nullptr ? convert(*r.element[i]) : RedisReply{});
      break;
    default:  // REDIS_REPLY_NIL, and "*-1" (a nil array)
      out.type = RedisReply::Type::nil;
      break;
  }
  return out;
}

}  // namespace

boost::system::result<std::string> format_command(const std::vector<std::string>& args) {
  using boost::system::errc::make_error_code;
  if (args.empty()) return make_error_code(boost::system::errc::invalid_argument);
  std::size_t total = 0;
  std::vector<const char*> argv;
  std::vector<std::size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const auto& a : args) {
    total += a.size();
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  if (total > kMaxCommandBytes || args.size() > kMaxCommandBytes)
    return make_error_code(boost::system::errc::invalid_argument);
  char* cmd = nullptr;
  const int len =
      redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), argvlen.data());
  if (len < 0 || cmd == nullptr) return make_error_code(boost::system::errc::not_enough_memory);
  std::string bytes(cmd, static_cast<std::size_t>(len));
  redisFreeCommand(cmd);
  return bytes;
}

ReplyReader::ReplyReader() : reader_(redisReaderCreate()) {
  if (reader_ == nullptr) throw std::bad_alloc();
}

ReplyReader::~ReplyReader() {
  redisReaderFree(reader_);
}

bool ReplyReader::feed(std::string_view bytes) {
  if (failed_) return false;
  const std::size_t waiting = reader_->len - reader_->pos;
  if (waiting + bytes.size() > kMaxBufferedReplyBytes ||
      redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) {
    failed_ = true;
    return false;
  }
  return true;
}

ReplyReader::Outcome ReplyReader::next(RedisReply& out) {
  if (failed_) return Outcome::error;
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    failed_ = true;
    return Outcome::error;
  }
  if (raw == nullptr) return Outcome::need_more;
  // Owned from here, so that an allocation failure while converting does not leak it.
  const std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(static_cast<redisReply*>(raw),
                                                                      &freeReplyObject);
  out = convert(*reply);
  return Outcome::reply;
}

}  // namespace stella::gw::redis::detail
