// A server-side TLS stream that runs OpenSSL straight on the socket's descriptor (SSL_set_fd on
// a non-blocking socket), as nginx and HAProxy do, instead of Asio's ssl::stream.
//
// Why: Asio's stream puts a BIO pair and two record-sized buffers between OpenSSL and the socket
// (about 68 KiB per connection, held for its lifetime, and one more copy of every byte). Here
// OpenSSL reads and writes the descriptor itself, and SSL_MODE_RELEASE_BUFFERS lets it free its
// record buffers whenever they are empty, so an idle TLS connection holds little more than its
// SSL object. Readiness comes from the socket (async_wait); every SSL_* call is non-blocking.
//
// Models Asio's AsyncWriteStream (async_write_some, get_executor), so asio::async_write and
// Beast's serializer writes work on it; reads are synchronous and non-blocking (read_some returns
// would_block when OpenSSL needs the socket: wait for wants_write() ? writable : readable, then
// read again). One reader and one writer may be active at once, on one thread (the stream's
// executor), as with a socket. Completions never run inside the initiating call.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

struct ssl_st;
struct ssl_ctx_st;

namespace stella::transport::tls {

class TlsStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using error_code = boost::system::error_code;

  /// Takes the accepted socket (made non-blocking) and a new SSL object from `context` in the
  /// server role. The SSL object holds a reference on the context. Throws std::bad_alloc when
  /// OpenSSL cannot allocate.
  TlsStream(boost::asio::ip::tcp::socket socket, ssl_ctx_st* context);
  TlsStream(TlsStream&& other) noexcept;
  TlsStream& operator=(TlsStream&&) = delete;
  TlsStream(const TlsStream&) = delete;
  ~TlsStream();

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& next_layer() noexcept { return socket_; }
  boost::asio::ip::tcp::socket& lowest_layer() noexcept { return socket_; }
  ssl_st* native_handle() const noexcept { return ssl_; }

  /// Whether the last call that returned would_block needs the socket writable (rare in TLS 1.3:
  /// a read that must answer a KeyUpdate) rather than readable.
  bool wants_write() const noexcept { return wants_write_; }

  /// Decrypted bytes into `buffer`: SSL_read until the buffer is full, OpenSSL holds nothing
  /// more (what it read ahead is used up), or it would block. A short read leaves nothing
  /// buffered in OpenSSL: wait for the socket before reading again. would_block (no bytes): wait
  /// for the socket (wants_write()), then call again; eof: the client's close_notify or its close.
  std::size_t read_some(const boost::asio::mutable_buffer& buffer, error_code& ec);

  /// Encrypts and sends a prefix of `buffers` (up to 16 KiB, gathered into one TLS record when
  /// the buffers are small; a larger first buffer goes as it is). 0 and would_block when the
  /// socket is full. OpenSSL may retry the same bytes from another address (moving buffers on).
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, error_code& ec) {
    const boost::asio::const_buffer first = first_of(buffers);
    if (first.size() >= kGather || is_single(buffers)) return write_raw(first, ec);
    std::size_t n = 0;
    auto* scratch = gather_space();
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < kGather; ++it) {
      const boost::asio::const_buffer b(*it);
      const std::size_t take = std::min(b.size(), kGather - n);
      std::memcpy(scratch + n, b.data(), take);
      n += take;
    }
    return write_raw(boost::asio::const_buffer(scratch, n), ec);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        WriteOp<ConstBufferSequence>{*this, buffers}, token, socket_);
  }

  /// The server side of the handshake.
  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(
        StepOp{*this, &TlsStream::handshake_step}, token, socket_);
  }

  /// Sends close_notify (does not wait for the client's: RFC 8446 §6.1 does not require it).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(
        StepOp{*this, &TlsStream::shutdown_step}, token, socket_);
  }

 private:
  static constexpr std::size_t kGather = 16 * 1024;

  template <class Seq>
  static boost::asio::const_buffer first_of(const Seq& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it)
      if (boost::asio::const_buffer(*it).size() > 0) return boost::asio::const_buffer(*it);
    return {};
  }
  template <class Seq>
  static bool is_single(const Seq& buffers) {
    std::size_t non_empty = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && non_empty < 2; ++it)
      if (boost::asio::const_buffer(*it).size() > 0) ++non_empty;
    return non_empty < 2;
  }
  static char* gather_space();  // one per thread

  std::size_t write_raw(boost::asio::const_buffer buffer, error_code& ec);
  /// One step of the handshake / the shutdown: done (ec set or not), or would_block.
  void handshake_step(error_code& ec);
  void shutdown_step(error_code& ec);
  /// Before an SSL call: false (bad_descriptor) once the socket is closed; clears the error
  /// queue and errno.
  bool begin(error_code& ec) noexcept;
  /// n after SSL_read_ex / SSL_write_ex returned `result` 1; else 0 and classify().
  std::size_t outcome(int result, std::size_t n, error_code& ec);
  /// Maps the result of an SSL_* call; sets wants_write_ for would_block.
  void classify(int result, error_code& ec);

  boost::asio::ip::tcp::socket::wait_type wanted() const noexcept {
    return wants_write_ ? boost::asio::ip::tcp::socket::wait_write
                        : boost::asio::ip::tcp::socket::wait_read;
  }
  static bool would_block(const error_code& ec) noexcept {
    return ec == boost::asio::error::would_block;
  }

  // Runs `attempt` until it does not return would_block, waiting for the socket in between. A
  // result on the first attempt is posted, not delivered inside the initiating call.
  template <class Result>
  struct OpBase {
    TlsStream& s;
    enum class State { start, waiting, posted } state = State::start;
    error_code result_ec{};
    Result result{};

    template <class Self, class Attempt, class Complete>
    void run(Self& self, error_code ec, Attempt attempt, Complete complete) {
      if (state == State::posted) return complete(self, result_ec, result);
      if (state == State::waiting && ec) return complete(self, ec, Result{});
      if (self.cancelled() != boost::asio::cancellation_type::none)
        return complete(self, error_code(boost::asio::error::operation_aborted), Result{});
      result = attempt(result_ec);
      if (would_block(result_ec)) {
        state = State::waiting;
        s.socket_.async_wait(s.wanted(), std::move(self));
        return;
      }
      if (state == State::start) {
        state = State::posted;
        boost::asio::post(s.socket_.get_executor(), std::move(self));
        return;
      }
      complete(self, result_ec, result);
    }
  };

  template <class Buffers>
  struct WriteOp : OpBase<std::size_t> {
    Buffers buffers;
    WriteOp(TlsStream& stream, const Buffers& b) : OpBase<std::size_t>{stream}, buffers(b) {}
    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      this->run(
          self, ec, [this](error_code& e) { return this->s.write_some(buffers, e); },
          [](Self& me, error_code e, std::size_t n) { me.complete(e, n); });
    }
  };

  struct StepOp : OpBase<int> {
    void (TlsStream::*step)(error_code&);
    StepOp(TlsStream& stream, void (TlsStream::*f)(error_code&)) : OpBase<int>{stream}, step(f) {}
    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      this->run(
          self, ec,
          [this](error_code& e) {
            (this->s.*step)(e);
            return 0;
          },
          [](Self& me, error_code e, int) { me.complete(e); });
    }
  };

  boost::asio::ip::tcp::socket socket_;
  ssl_st* ssl_ = nullptr;
  bool wants_write_ = false;
  bool failed_ = false;  // a fatal error: no close_notify
};

}  // namespace stella::transport::tls
