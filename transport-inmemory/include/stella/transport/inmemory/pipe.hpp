// An in-process duplex byte stream with the Asio AsyncReadStream/AsyncWriteStream interface, so
// the SessionRunner, the gateway listener (adopt) and the SDK run over it unchanged. Two ends
// share one state; everything happens on one executor (no locks).
//
// Fault hooks, per end:
//   fail_operation = N  — the Nth read/write operation on this end fails with connection_reset
//                         (and the pipe closes), like a peer reset mid-stream;
//   partition(true)     — bytes this end writes are held, not delivered, until partition(false)
//                         (a network partition: the writer does not notice, as with TCP);
//   close()             — both ends see end-of-stream.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace stella::transport::inmemory {

namespace asio = boost::asio;
using Handler = asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

namespace detail {

struct End {
  std::string inbox;  // bytes written by the other end, not yet read
  std::string held;   // bytes this end wrote during a partition
  std::optional<Handler> reader;
  asio::mutable_buffer read_buffer;
  std::uint64_t operations = 0;
  std::uint64_t fail_operation = 0;
  bool partitioned = false;
};

struct State {
  explicit State(asio::any_io_executor ex) : executor(std::move(ex)) {}
  asio::any_io_executor executor;
  End ends[2];
  bool closed = false;

  void complete(Handler h, boost::system::error_code ec, std::size_t n) {
    asio::post(executor, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); });
  }
  // Hands waiting readers what they can have now.
  void deliver(int side) {
    End& e = ends[side];
    if (!e.reader) return;
    if (!e.inbox.empty()) {
      const std::size_t n = asio::buffer_copy(e.read_buffer, asio::buffer(e.inbox));
      e.inbox.erase(0, n);
      auto h = std::move(*e.reader);
      e.reader.reset();
      complete(std::move(h), {}, n);
    } else if (closed) {
      auto h = std::move(*e.reader);
      e.reader.reset();
      complete(std::move(h), asio::error::eof, 0);
    }
  }
  void close() {
    closed = true;
    deliver(0);
    deliver(1);
  }
};

}  // namespace detail

class MemoryStream {
 public:
  using executor_type = asio::any_io_executor;

  MemoryStream(std::shared_ptr<detail::State> state, int side)
      : state_(std::move(state)), side_(side) {}

  executor_type get_executor() const { return state_->executor; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          detail::End& me = state_->ends[side_];
          if (fails_now()) {
            return state_->complete(Handler(std::move(handler)), asio::error::connection_reset, 0);
          }
          me.read_buffer = *asio::buffer_sequence_begin(b);
          me.reader.emplace(std::move(handler));
          if (slot.is_connected()) {
            slot.assign([state = state_, side = side_](asio::cancellation_type) {
              detail::End& e = state->ends[side];
              if (!e.reader) return;
              auto h = std::move(*e.reader);
              e.reader.reset();
              state->complete(std::move(h), asio::error::operation_aborted, 0);
            });
          }
          state_->deliver(side_);
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (fails_now()) {
            return state_->complete(Handler(std::move(handler)), asio::error::connection_reset, 0);
          }
          if (state_->closed) {
            return state_->complete(Handler(std::move(handler)), asio::error::broken_pipe, 0);
          }
          detail::End& me = state_->ends[side_];
          std::string& target = me.partitioned ? me.held : state_->ends[1 - side_].inbox;
          const std::size_t n = asio::buffer_size(b);
          const std::size_t at = target.size();
          target.resize(at + n);
          asio::buffer_copy(asio::buffer(target.data() + at, n), b);
          state_->deliver(1 - side_);
          state_->complete(Handler(std::move(handler)), {}, n);
        },
        token, buffers);
  }

  /// Both ends see end-of-stream; pending reads complete with eof.
  void close() { state_->close(); }
  void close(boost::system::error_code& ec) {
    ec = {};
    close();
  }
  /// Like a socket's: the pipe is its own lowest layer.
  MemoryStream& lowest_layer() noexcept { return *this; }
  bool is_open() const noexcept { return !state_->closed; }

  /// The Nth read/write on this end (counting from now, 1-based) fails with connection_reset.
  void fail_operation(std::uint64_t n) {
    auto& e = state_->ends[side_];
    e.fail_operation = e.operations + n;
  }
  /// Holds (true) or releases (false) what this end writes.
  void partition(bool on) {
    auto& e = state_->ends[side_];
    e.partitioned = on;
    if (!on && !e.held.empty()) {
      state_->ends[1 - side_].inbox += e.held;
      e.held.clear();
      state_->deliver(1 - side_);
    }
  }

 private:
  bool fails_now() {
    auto& e = state_->ends[side_];
    ++e.operations;
    if (e.fail_operation != 0 && e.operations == e.fail_operation) {
      state_->close();
      return true;
    }
    return false;
  }

  std::shared_ptr<detail::State> state_;
  int side_;
};

/// Two connected ends on `executor`.
inline std::pair<MemoryStream, MemoryStream> make_pipe(asio::any_io_executor executor) {
  auto state = std::make_shared<detail::State>(std::move(executor));
  return {MemoryStream(state, 0), MemoryStream(state, 1)};
}

}  // namespace stella::transport::inmemory
