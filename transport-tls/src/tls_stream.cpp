// TlsStream: OpenSSL on the socket's descriptor (tls_stream.hpp).
#include "stella/transport/tls/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <new>

namespace stella::transport::tls {

namespace asio = boost::asio;

TlsStream::TlsStream(asio::ip::tcp::socket socket, ssl_ctx_st* context)
    : socket_(std::move(socket)) {
  ssl_ = SSL_new(context);
  if (ssl_ == nullptr) {
    ERR_clear_error();
    throw std::bad_alloc();
  }
  // Blocking SSL calls would stall the worker: without non-blocking mode (or the descriptor in
  // the SSL object) the socket is closed, and every operation then fails with bad_descriptor.
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1) {
    ERR_clear_error();
    socket_.close(ec);
  }
  SSL_set_accept_state(ssl_);
  // Record buffers only while they hold bytes; writes may be partial and retried from another
  // address with the same bytes (write_some gathers into a per-thread buffer).
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A read that processed post-handshake messages (a KeyUpdate flood) returns once OpenSSL's
  // buffer is empty instead of reading the socket again: each read is bounded, the worker's
  // other connections get their turn.
  SSL_clear_mode(ssl_, SSL_MODE_AUTO_RETRY);
  // Read what the socket has, not one record header at a time: the reader reads until
  // would_block, so nothing stays buffered in OpenSSL while the connection waits.
  SSL_set_read_ahead(ssl_, 1);
}

TlsStream::TlsStream(TlsStream&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      wants_write_(other.wants_write_),
      failed_(other.failed_) {}

TlsStream::~TlsStream() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

char* TlsStream::gather_space() {
  thread_local char space[kGather];
  return space;
}

void TlsStream::classify(int result, error_code& ec) {
  const int err = SSL_get_error(ssl_, result);
  wants_write_ = false;
  switch (err) {
    case SSL_ERROR_NONE:
      ec = {};
      return;
    case SSL_ERROR_WANT_READ:
      ec = asio::error::would_block;
      return;
    case SSL_ERROR_WANT_WRITE:
      wants_write_ = true;
      ec = asio::error::would_block;
      return;
    case SSL_ERROR_ZERO_RETURN:
      ec = asio::error::eof;  // the client's close_notify: our own may still be sent
      return;
    case SSL_ERROR_SYSCALL: {
      // errno is 0 before every call (begin()): 0 here is the peer's close. Never would_block
      // (OpenSSL reports a retry as WANT_READ/WRITE), so an odd errno cannot make a loop.
      const int e = errno;
      ERR_clear_error();
      failed_ = true;
      if (e == 0) {
        ec = asio::error::eof;
      } else if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) {
        ec = asio::error::connection_aborted;
      } else {
        ec = error_code(e, boost::system::system_category());
      }
      return;
    }
    default: {
      // SSL_ERROR_SSL: a protocol error, or (OpenSSL 3) the peer's close without close_notify.
      // Anything else (WANT_X509_LOOKUP, ... never asked for here) is an error too, not success.
      const unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      failed_ = true;
      if (e == 0) {
        ec = asio::error::connection_aborted;
      } else if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = asio::ssl::error::stream_truncated;
      } else {
        ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
      }
      return;
    }
  }
}

std::size_t TlsStream::read_some(const asio::mutable_buffer& buffer, error_code& ec) {
  ec = {};
  auto* at = static_cast<char*>(buffer.data());
  std::size_t total = 0;
  // Several records per call (a client's one-byte records fill the buffer in one call, not one
  // caller's turn each); an error after some bytes waits for the next call.
  while (total < buffer.size()) {
    if (!begin(ec)) break;
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, at + total, buffer.size() - total, &n);  // before n is read
    n = outcome(r, n, ec);
    if (ec) break;
    total += n;
    // Nothing left in OpenSSL's buffer (read-ahead takes what the socket had): stop here rather
    // than make a read that would only find the socket empty, one failed recv per request. The
    // caller sees a short read and waits for readability, which finds any bytes still queued.
    if (SSL_has_pending(ssl_) == 0) break;
  }
  if (total > 0) ec = {};
  return total;
}

std::size_t TlsStream::write_raw(asio::const_buffer buffer, error_code& ec) {
  ec = {};
  if (buffer.size() == 0 || !begin(ec)) return 0;
  std::size_t n = 0;
  const int r = SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n);  // before n is read
  return outcome(r, n, ec);
}

bool TlsStream::begin(error_code& ec) noexcept {
  // The socket may have been closed under a pending operation (the connection's close()): its
  // descriptor number may already belong to another socket, so no SSL call may touch it.
  if (!socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return false;
  }
  // The queue is per thread, shared by every connection on it, and must be empty before an I/O
  // call. classify() empties it after each failure, so it is almost always empty already: look
  // before clearing (clearing walks all of its slots, 1 % of the gateway's samples under HTTPS).
  if (ERR_peek_error() != 0) ERR_clear_error();
  errno = 0;
  return true;
}

std::size_t TlsStream::outcome(int result, std::size_t n, error_code& ec) {
  if (result == 1) {
    wants_write_ = false;
    return n;
  }
  classify(result, ec);
  return 0;
}

void TlsStream::handshake_step(error_code& ec) {
  if (!begin(ec)) return;
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    wants_write_ = false;
    ec = {};
    return;
  }
  classify(r, ec);
  if (!ec) ec = asio::error::connection_aborted;  // 0: the handshake was shut down
}

void TlsStream::shutdown_step(error_code& ec) {
  ec = {};
  if (failed_) return;  // no close_notify after a fatal error (OpenSSL forbids it)
  if (!begin(ec)) return;
  const int r = SSL_shutdown(ssl_);
  if (r >= 0) {  // 0: our close_notify is sent (the client's is not awaited); 1: both
    wants_write_ = false;
    ec = {};
    return;
  }
  classify(r, ec);
}

}  // namespace stella::transport::tls
