// The completion handler of one Redis command, with its type erased so that the client's FIFO
// can hold commands from any caller (Boost 1.81 has no asio::any_completion_handler).
#pragma once

#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>
#include <memory>

#include "stella/gateway/redis/redis_client.hpp"

namespace stella::gw::redis::detail {

using Strand = boost::asio::strand<boost::asio::any_io_executor>;
using Reply = boost::system::result<RedisReply>;

// Holds work on the caller's executor (so that its io_context keeps running while the command
// is in flight) and completes there, through post: never inline on the strand, never inside
// the initiating call. Called once, on the strand; a Completion destroyed uncalled (its
// io_context destroyed first) destroys the handler without calling it.
class Completion {
 public:
  template <class Handler>
  Completion(Handler handler, const Strand& fallback)
      : impl_(std::make_unique<Model<Handler>>(std::move(handler), fallback)) {}

  void operator()(Reply r) {
    auto impl = std::move(impl_);
    impl->complete(std::move(r));
  }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual void complete(Reply r) = 0;
  };
  template <class Handler>
  struct Model final : Concept {
    Model(Handler h, const Strand& fallback)
        : work(boost::asio::make_work_guard(boost::asio::get_associated_executor(h, fallback))),
          handler(std::move(h)) {}
    void complete(Reply r) override {
      auto ex = work.get_executor();
      boost::asio::post(ex,
                        [h = std::move(handler), r = std::move(r)]() mutable { h(std::move(r)); });
      work.reset();
    }
    boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler, Strand>> work;
    Handler handler;
  };
  std::unique_ptr<Concept> impl_;
};

}  // namespace stella::gw::redis::detail
