// The error category of RedisErrc ("stella.redis").
#include <string>

#include "stella/gateway/redis/redis_client.hpp"

namespace stella::gw::redis {
namespace {

// Boost's error_category has a protected non-virtual destructor by design (categories are
// statics, never deleted through a base pointer), which -Wnon-virtual-dtor cannot tell apart.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class RedisCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "stella.redis"; }
  std::string message(int ev) const override {
    switch (static_cast<RedisErrc>(ev)) {
      case RedisErrc::unavailable:
        return "Redis unavailable (not connected)";
      case RedisErrc::timed_out:
        return "Redis command timed out";
      case RedisErrc::protocol_error:
        return "Redis protocol error";
      case RedisErrc::too_many_pending:
        return "too many Redis commands in flight";
      case RedisErrc::shut_down:
        return "Redis client closed";
    }
    return "unknown Redis client error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

}  // namespace stella::gw::redis
