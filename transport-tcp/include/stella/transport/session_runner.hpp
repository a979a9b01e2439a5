// Runs a sans-I/O session (core::GatewaySession or core::ServiceSession) over any Asio stream:
// TCP sockets, TLS streams, in-memory pipes. It is the whole of the I/O: read → on_bytes → events,
// timer → on_timer → events, and one writer that sends everything the session queued in one
// gathered write per wake-up. Everything runs on the stream's executor (one strand per
// connection); commands issued on the session from event handlers or other coroutines on that
// executor must be followed by wake().
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <string>
#include <vector>

#include "stella/core/clock.hpp"

namespace stella::transport {

namespace asio = boost::asio;

template <class Stream, class Session, class Event>
class SessionRunner {
 public:
  using EventHandler = std::function<void(Event&)>;

  /// `close_stream` shuts the transport (so a blocked read ends) after a write failure.
  /// `write_timeout`: a write that makes no progress for that long means the peer stopped
  /// reading; the session is closed (reason "write timeout") rather than held forever.
  SessionRunner(Stream& stream, Session& session, const core::Clock& clock, EventHandler on_event,
                std::function<void()> close_stream, std::size_t read_buffer = 64 * 1024,
                core::Duration write_timeout = std::chrono::seconds(30))
      : stream_(stream),
        session_(session),
        clock_(clock),
        on_event_(std::move(on_event)),
        close_stream_(std::move(close_stream)),
        buffer_(read_buffer),
        wake_(stream.get_executor()),
        drained_(stream.get_executor()),
        timer_(stream.get_executor()),
        write_timer_(stream.get_executor()),
        write_timeout_(write_timeout) {}

  /// Runs until the session is closed and its last bytes are written, or the transport fails.
  /// Never throws for I/O errors: they become session.on_closed().
  asio::awaitable<void> run() {
    using namespace asio::experimental::awaitable_operators;
    dispatch();
    co_await ((read_loop() || timer_loop()) && write_loop());
    if (!session_.closed()) {
      session_.on_closed(clock_.now());
      dispatch();
    }
  }

  /// Call after a command on the session (same executor): writes what it queued, re-arms the
  /// timer for a possibly earlier deadline.
  void wake() { dispatch(); }

  /// Reading pauses while the session has more than `bytes` queued for the peer (a peer that
  /// asks faster than it reads the answers); it resumes as writes drain the queue. Default: never.
  void pause_reads_above(std::size_t bytes) noexcept { pause_reads_above_ = bytes; }
  /// Called (on the executor) after each completed write: queue space came free.
  void on_written(std::function<void()> f) { on_written_ = std::move(f); }

 private:
  static constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

  // Not reentrant: an event handler that commands the session and calls wake() (a coroutine
  // spawned from the handler and run inline, say) only asks for another pass. Reentering would
  // deliver the next event (a CANCEL for the very request being started) to code in the middle
  // of handling the previous one, and nest without bound.
  void dispatch() {
    if (dispatching_) {
      again_ = true;
      return;
    }
    dispatching_ = true;
    struct Reset {  // also when a handler throws
      bool& flag;
      ~Reset() { flag = false; }
    } reset{dispatching_};
    do {
      again_ = false;
      Event e;
      while (session_.poll_event(e))
        on_event_(e);
    } while (again_);
    wake_.cancel();
    // A command or an input may have moved the deadline earlier (HELLO accepted: heartbeats
    // start; drain: a drain deadline): re-arm only then, not on every read. A session that
    // closed (a drain with nothing in flight closes at once) ends the timer's wait too: the
    // connection then lingers at most kCloseLinger for the peer to hang up (timer_loop), not
    // until the session's next heartbeat.
    const auto deadline = session_.next_deadline().value_or(core::TimePoint::max());
    if (deadline < armed_ || (session_.closed() && !lingering_)) timer_.cancel();
  }

  // Plain TCP: after a read that filled the buffer, the reader goes on reading in the same turn
  // until the socket would block (at most kDrainReads more reads), instead of one read per
  // event-loop turn: a link that carries many requests is otherwise read behind every client
  // socket of its loop, and its responses queue in the kernel (docs/architecture.md).
  static constexpr int kDrainReads = 16;
  static constexpr bool kPlainTcp = std::is_same_v<Stream, asio::ip::tcp::socket>;

  asio::awaitable<void> read_loop() {
    bool drain = false;  // the drain reads need non-blocking mode (else they could block)
    if constexpr (kPlainTcp) {
      boost::system::error_code ec;
      stream_.non_blocking(true, ec);  // async reads are unaffected
      drain = !ec;
    }
    while (!session_.closed()) {
      while (session_.pending_output() > pause_reads_above_ && !session_.closed()) {
        drained_.expires_at(core::TimePoint::max());
        co_await drained_.async_wait(kTuple);  // ended by a completed write, or by the close
      }
      if (session_.closed()) break;
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer_), kTuple);
      for (int more = 0;; ++more) {
        if (ec) {
          // A plain end of stream says nothing; anything else (reset, a TLS alert such as
          // "certificate required") is the reason the peer is gone.
          const bool plain_eof = ec == asio::error::eof;
          session_.on_closed(clock_.now(), plain_eof ? std::string() : ec.message());
          dispatch();
          co_return;
        }
        session_.on_bytes(std::string_view(buffer_.data(), n), clock_.now());
        dispatch();
        if constexpr (kPlainTcp) {
          if (!drain || n < buffer_.size() || more == kDrainReads || session_.closed() ||
              session_.pending_output() > pause_reads_above_)
            break;
          n = stream_.read_some(asio::buffer(buffer_), ec);
          if (ec == asio::error::would_block || ec == asio::error::try_again) break;
        } else {
          break;
        }
      }
    }
  }

  /// How long a closed session's connection waits for the peer to hang up (or send anything,
  /// which ends the reader) before it is closed from here: its last frames (a DRAIN, a refused
  /// HELLO's reason) are read by then, and the peer's last bytes are read rather than answered
  /// with a reset.
  static constexpr auto kCloseLinger = std::chrono::seconds(1);

  asio::awaitable<void> timer_loop() {
    while (!session_.closed()) {
      armed_ = session_.next_deadline().value_or(core::TimePoint::max());
      timer_.expires_at(armed_);
      co_await timer_.async_wait(kTuple);
      armed_ = core::TimePoint::max();
      // The wait ends early when dispatch() moved the deadline earlier (re-arm), or when the
      // session closed (the loop condition then ends it).
      if (session_.closed()) break;
      session_.on_timer(clock_.now());
      dispatch();
    }
    lingering_ = true;
    timer_.expires_after(kCloseLinger);
    co_await timer_.async_wait(kTuple);
  }

  // Ends when the session is closed and everything it queued is written, or on a write error.
  asio::awaitable<void> write_loop() {
    for (;;) {
      session_.take_output(out_);
      if (out_.empty()) {
        if (session_.closed()) {
          drained_.cancel();
          co_return;
        }
        wake_.expires_at(core::TimePoint::max());
        co_await wake_.async_wait(kTuple);
        continue;
      }
      // A deadline on the write: a peer that stops reading cannot hold this connection, and
      // what was queued for it, forever. The timer's handler closes the session (with the
      // reason, before the reader sees its read cancelled) and the stream, which ends the write
      // with an error. (A plain handler rather than racing two awaitables: that would spawn two
      // coroutine frames per write.) It touches `this` only when it fired: a cancelled or
      // destroyed timer completes with operation_aborted.
      write_timed_out_ = false;
      write_timer_.expires_after(write_timeout_);
      write_timer_.async_wait([this](const boost::system::error_code& wec) {
        if (wec) return;
        write_timed_out_ = true;
        session_.on_closed(clock_.now(), "write timeout: the peer stopped reading");
        dispatch();
        close_stream_();
      });
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kTuple);
      write_timer_.cancel();
      if (write_timed_out_) {
        timer_.cancel();
        drained_.cancel();
        co_return;
      }
      if (ec) {
        // The reader will see the failure too (or already has); make sure it stops.
        session_.on_closed(clock_.now(), ec.message());
        dispatch();
        close_stream_();
        timer_.cancel();
        drained_.cancel();
        co_return;
      }
      drained_.cancel();
      if (on_written_) on_written_();
    }
  }

  Stream& stream_;
  Session& session_;
  const core::Clock& clock_;
  EventHandler on_event_;
  std::function<void()> close_stream_;
  std::vector<char> buffer_;
  std::string out_;
  asio::steady_timer wake_;
  asio::steady_timer drained_;  // a paused reader waits on it
  asio::steady_timer timer_;
  asio::steady_timer write_timer_;
  core::Duration write_timeout_;
  bool write_timed_out_ = false;  // the write deadline fired and closed the stream
  bool lingering_ = false;        // the session closed; the timer now bounds the wait for the peer
  core::TimePoint armed_ = core::TimePoint::max();  // what timer_ waits for
  std::size_t pause_reads_above_ = static_cast<std::size_t>(-1);
  bool dispatching_ = false;
  bool again_ = false;
  std::function<void()> on_written_;
};

}  // namespace stella::transport
