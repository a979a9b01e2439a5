// The client connection: the socket (plain or TLS), the read buffer and the background reader
// that fills it, one watchdog timer for every deadline, and writes. It knows nothing of HTTP
// semantics: ExchangeLoop (exchange_loop.hpp) parses and answers, UpstreamForwarder
// (upstream_forwarder.hpp) talks to services.
//
// Lives on its worker's event loop from accept to close; nothing of it is touched from another
// thread.
#pragma once

#include <sys/socket.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "stella/gateway/http/worker_context.hpp"
#include "stella/transport/tls/tls_stream.hpp"

namespace stella::gw::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = transport::tls::TlsStream;
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
/// How long a TLS connection the server ends waits for the client's close_notify.
inline constexpr core::Duration kCloseNotifyWait = std::chrono::seconds(1);

enum class Deadline : std::uint8_t { none, idle, header, body, response, write };

/// What the connection reports to its owner (the exchange loop), on the worker's thread.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  /// The client closed or reset the connection (the reader saw EOF or an error).
  virtual void on_peer_closed() = 0;
  /// The response deadline passed while an answer was awaited.
  virtual void on_response_deadline() = 0;
  /// The connection is closing (close() ran): cancel whatever is pending.
  virtual void on_closing() = 0;
};

/// A co_spawn completion handler that logs what escaped a coroutine.
inline auto log_failure(WorkerContext& w, const char* what) {
  return [&w, what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      w.shared.log(std::string(what) + ": " + ex.what());
    }
  };
}

template <class Stream>
tcp::socket& lowest_layer(Stream& s) {
  if constexpr (std::is_same_v<Stream, tcp::socket>)
    return s;
  else
    return s.next_layer();
}

template <class Stream>
class ClientConnection {
 public:
  static constexpr std::size_t kReadChunk = kClientReadChunk;
  static constexpr bool kPlain = std::is_same_v<Stream, tcp::socket>;

  /// `read_ahead_limit`: bytes held unparsed; `max_pipelined`: reading pauses while this many
  /// complete request heads wait in the buffer (http.maxPipelinedRequests; 0 counts as 1: the
  /// head being parsed). One read may bring more, within the byte bound.
  ClientConnection(WorkerContext& w, Stream stream, std::size_t read_ahead_limit,
                   std::size_t max_pipelined)
      : w_(w),
        stream_(std::move(stream)),
        data_cv_(w.io),
        watchdog_(w.io),
        in_limit_(read_ahead_limit),
        max_heads_(std::max<std::size_t>(max_pipelined, 1)) {
    data_cv_.expires_at(core::TimePoint::max());
  }
  ~ClientConnection() { give_back_buffer(); }
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  /// Starts the reader and the watchdog; `keep` keeps the owner alive while they run.
  void start(ConnectionEvents& events, std::shared_ptr<void> keep) {
    events_ = &events;
    // The reader reads without suspending once the socket is readable (see read_step()).
    // Without non-blocking mode a read would block the worker: refuse the connection.
    boost::system::error_code ec;
    lowest_layer(stream_).non_blocking(true, ec);
    if (ec) {
      close();
      return;
    }
    // Plain completion handlers, not coroutines: an idle connection holds two small pending
    // operations (a readability wait and the watchdog's timer), no coroutine frames.
    arm_watchdog(keep);
    read_step(std::move(keep));
  }

  Stream& stream() noexcept { return stream_; }
  bool closed() const noexcept { return closed_; }
  bool peer_closed() const noexcept { return peer_closed_; }

  // ---- buffer ----------------------------------------------------------------------------
  std::string_view pending() const noexcept { return {buf_.data() + begin_, end_ - begin_}; }
  bool empty() const noexcept { return begin_ == end_; }
  /// Only the exchange loop calls this, and it moves begin_ alone: end_ and the buffer belong
  /// to the reader, whose pending read targets [end_, size).
  void consume(std::size_t n) noexcept {
    begin_ = std::min(begin_ + n, end_);  // the buffer may have gone back at close()
    // All consumed while the reader waits for readability: the buffer goes back to the pool
    // now, so a connection that turns idle holds none.
    if (begin_ == end_ && waiting_ && !pinned_) give_back_buffer();
    wake_reader();
  }
  /// Whether the connection holds a read buffer now (an idle one does not).
  bool holds_buffer() const noexcept { return !buf_.empty(); }
  /// While pinned the reader neither moves nor grows the buffer, so views into pending() (a
  /// parsed head) stay valid across a suspending stage.
  void pin(bool on) noexcept {
    pinned_ = on;
    if (!on) wake_reader();
  }
  /// Waits until the reader adds bytes, the client leaves, or a deadline passes. The timer's
  /// own operation is returned (no coroutine of its own: an idle connection waits here).
  auto wait_data() {
    data_cv_.expires_at(core::TimePoint::max());
    return data_cv_.async_wait(kTuple);
  }
  /// As wait_data(), for at most `d`.
  auto wait_data_for(core::Duration d) {
    data_cv_.expires_after(d);
    return data_cv_.async_wait(kTuple);
  }

  // ---- deadlines: one timer --------------------------------------------------------------
  void set_deadline(Deadline kind, core::Duration d) {
    deadline_kind_ = kind;
    deadline_ = w_.shared.clock->now() + d;
    if (deadline_ < watchdog_.expiry()) watchdog_.cancel();  // re-arm earlier
  }
  void clear_deadline() noexcept { deadline_kind_ = Deadline::none; }
  Deadline expired() const noexcept { return expired_; }
  void clear_expired() noexcept { expired_ = Deadline::none; }

  // ---- writes ----------------------------------------------------------------------------
  /// Writes all of `buffers` under the write deadline; completes with (error, bytes written).
  /// Asio's operation itself, not a coroutine around it (a frame less per write): await it in
  /// the statement that calls this, so the buffers outlive it.
  template <class Buffers>
  auto write(const Buffers& buffers) {
    set_deadline(Deadline::write, w_.shared.config->http.idle_timeout);
    return asio::async_write(stream_, buffers, kTuple);
  }

  /// The end of a connection the server closes after an answer (`Connection: close`, an error
  /// answer, drain). TLS sends close_notify (RFC 8446 §6.1: before closing the write side) and
  /// waits for the client's close_notify or close (the reader sees it), at most
  /// kCloseNotifyWait; a client that gets none cannot tell the end of the answer from a
  /// truncation. Plain TCP: nothing to do.
  asio::awaitable<void> finish() {
    if constexpr (!kPlain) {
      if (closed_ || peer_closed_) co_return;
      set_deadline(Deadline::write,
                   std::min<core::Duration>(w_.shared.config->http.idle_timeout, kCloseNotifyWait));
      auto [ec] = co_await stream_.async_shutdown(kTuple);
      while (!ec && !closed_ && !peer_closed_) {
        // Whatever the client still sends is read and dropped by the reader; room for it:
        consume(end_ - begin_);
        auto [wait_ec] = co_await wait_data();
        (void)wait_ec;
      }
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    // close() alone sends the FIN (or the RST, with unread bytes) that a shutdown() first
    // would: nothing else holds the descriptor.
    boost::system::error_code ignored;
    lowest_layer(stream_).close(ignored);
    data_cv_.cancel();
    wake_reader();
    watchdog_.cancel();
    // The reader never leaves a read pending (it reads only once the socket is readable), so
    // the buffer can go back now. Not while pinned: a suspended stage still reads the head's
    // views.
    if (!pinned_) give_back_buffer();
    if (events_) events_->on_closing();
  }

 private:
  bool room_for_read() const noexcept {
    if (end_ - begin_ >= in_limit_) return false;  // pipelined bytes wait: bounded read-ahead
    if (pinned_ && buf_.size() - end_ < kReadChunk) return false;  // would move the head
    return heads_buffered() < max_heads_;
  }

  // A pending error on the socket (ECONNRESET): the client is gone. Never blocks.
  bool peer_reset() noexcept {
    char byte;
    const ssize_t n =
        ::recv(lowest_layer(stream_).native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // TLS: OpenSSL may already hold the last records (read ahead), so an orderly close behind
    // them is not a reset; only an error is.
    if (!kPlain && n == 0) return false;
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }

  // Complete heads in the buffer, counted by their empty line. Body bytes that happen to hold
  // CRLFCRLF count too: that only pauses reading earlier, and the exchange loop always consumes
  // what it has, so reading resumes.
  std::size_t heads_buffered() const noexcept {
    std::string_view p = pending();
    // Empty lines before a request line are allowed (RFC 9112 §2.2) and are not heads.
    while (p.size() >= 2 && p[0] == '\r' && p[1] == '\n')
      p.remove_prefix(2);
    std::size_t n = 0;
    for (std::size_t at = p.find("\r\n\r\n"); at != std::string_view::npos && n <= max_heads_;
         at = p.find("\r\n\r\n", at + 4))
      ++n;
    return n;
  }

  // The reader: fills the buffer while there is room, and tells the exchange loop (data_cv_).
  // Each step runs until it has to wait, then arms one operation whose handler carries `keep`
  // (the owner's lifetime) on to the next step.
  void read_step(std::shared_ptr<void> keep) {
    while (!closed_) {
      if (!room_for_read()) {
        // Paused: requests wait in the buffer. Look every 200 ms whether the client reset the
        // connection meanwhile, so its request in flight is cancelled rather than served to no
        // one. (A plain close behind unread bytes is seen once those bytes are read.)
        // The timer exists only once a connection pauses (rare): idle ones do not carry it.
        if (!space_cv_) space_cv_ = std::make_unique<asio::steady_timer>(w_.io);
        space_cv_->expires_after(std::chrono::milliseconds(200));
        space_cv_->async_wait([this, keep = std::move(keep)](boost::system::error_code) mutable {
          guarded("reader", [&] {
            if (!closed_ && peer_reset()) return reader_done();
            read_step(std::move(keep));
          });
        });
        return;
      }
      if (!readable_) {
        // Wait for readability without holding a buffer when everything read is consumed;
        // consume() gives it back if that happens during the wait. (TLS: OpenSSL may need the
        // socket writable to go on reading, rare in TLS 1.3.)
        if (begin_ == end_ && !pinned_) give_back_buffer();
        waiting_ = true;
        lowest_layer(stream_).async_wait(
            wants_write() ? tcp::socket::wait_write : tcp::socket::wait_read,
            [this, keep = std::move(keep)](boost::system::error_code ec) mutable {
              waiting_ = false;
              guarded("reader", [&] {
                if (ec || closed_) return reader_done();
                readable_ = true;
                read_step(std::move(keep));  // the room may have changed
              });
            });
        return;
      }
      prepare_buffer();
      // Readable: read at once (the socket is non-blocking). Until a read comes back short the
      // socket may hold more, so the reader keeps reading (within room_for_read). A TLS read
      // comes back short only once OpenSSL has nothing of its own buffered (the wait then finds
      // whatever the socket still holds: Asio re-arms the descriptor for each wait).
      const auto space = buf_.size() - end_;
      boost::system::error_code ec;
      const std::size_t n = stream_.read_some(asio::buffer(buf_.data() + end_, space), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        readable_ = false;
        continue;
      }
      if (ec) return reader_done();
      readable_ = n == space;
      end_ += n;
      data_cv_.cancel();
    }
    reader_done();
  }

  bool wants_write() const noexcept {
    if constexpr (kPlain)
      return false;
    else
      return stream_.wants_write();
  }

  void wake_reader() noexcept {
    if (space_cv_) space_cv_->cancel();
  }

  void reader_done() {
    // Nothing more will be read: keep the buffer only for bytes not yet consumed.
    if (begin_ == end_ && !pinned_) give_back_buffer();
    peer_closed_ = true;
    data_cv_.cancel();
    if (!closed_ && events_) events_->on_peer_closed();
  }

  // Takes a buffer from the pool if none is held; moves unconsumed bytes to the front, or
  // grows the buffer, so that a whole chunk can be read (not while pinned: views point in).
  void prepare_buffer() {
    if (buf_.empty()) {
      buf_ = w_.read_buffers.take();
      begin_ = end_ = 0;
    }
    if (pinned_) return;
    if (begin_ == end_) begin_ = end_ = 0;
    if (buf_.size() - end_ >= kReadChunk) return;
    if (begin_ > 0) {
      std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(begin_),
                buf_.begin() + static_cast<std::ptrdiff_t>(end_), buf_.begin());
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < kReadChunk) buf_.resize(end_ + kReadChunk);
  }

  void give_back_buffer() noexcept {
    if (buf_.empty()) return;
    begin_ = end_ = 0;
    w_.read_buffers.give(std::move(buf_));
    buf_.clear();
  }

  // The watchdog: one timer for every deadline. It sleeps until the current deadline (an hour
  // when there is none); set_deadline() cancels it to re-arm earlier.
  void arm_watchdog(std::shared_ptr<void> keep) {
    if (closed_) return;
    watchdog_.expires_at(deadline_kind_ == Deadline::none
                             ? w_.shared.clock->now() + std::chrono::hours(1)
                             : deadline_);
    watchdog_.async_wait([this, keep = std::move(keep)](boost::system::error_code) mutable {
      guarded("watchdog", [&] {
        on_watchdog();
        arm_watchdog(std::move(keep));
      });
    });
  }

  // The reader's and the watchdog's handlers are not coroutines: nothing else would catch what
  // they throw (out of memory, a failing event), and it would end the worker's event loop. It
  // ends this connection instead.
  template <class F>
  void guarded(const char* what, F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      try {
        w_.shared.log(std::string("http ") + what + " failed: " + e.what());
        close();
      } catch (...) {
      }
    }
  }

  void on_watchdog() {
    if (closed_) return;
    if (deadline_kind_ == Deadline::none || w_.shared.clock->now() < deadline_) return;
    expired_ = deadline_kind_;
    deadline_kind_ = Deadline::none;
    switch (expired_) {
      case Deadline::idle:
      case Deadline::write:
        close();
        break;
      case Deadline::header:
      case Deadline::body:
        data_cv_.cancel();
        break;
      case Deadline::response:
        if (events_) events_->on_response_deadline();
        break;
      case Deadline::none:
        break;
    }
  }

  WorkerContext& w_;
  Stream stream_;
  ConnectionEvents* events_ = nullptr;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  asio::steady_timer data_cv_, watchdog_;
  std::unique_ptr<asio::steady_timer> space_cv_;  // the paused reader waits on it
  std::size_t in_limit_;
  std::size_t max_heads_;
  Deadline deadline_kind_ = Deadline::none;
  core::TimePoint deadline_{};
  Deadline expired_ = Deadline::none;
  bool closed_ = false, peer_closed_ = false, pinned_ = false;
  bool waiting_ = false;  // the reader waits for readability (holds no pending read)
  // The socket may hold bytes (the last read filled its space). True at first: a client usually
  // sends its request right behind the handshake, so a new connection tries one read before it
  // waits (no epoll re-arm and loop turn when the request is already there). Required for TLS,
  // not only faster: the handshake's reads may have taken the first request into OpenSSL, and
  // a readability wait would never see it.
  bool readable_ = true;
};

}  // namespace stella::gw::http
