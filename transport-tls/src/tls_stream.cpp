// TlsStream: OpenSSL on the socket's descriptor (tls_stream.hpp).
#include "stella/transport/tls/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
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
  error_code ignored;
  socket_.non_blocking(true, ignored);
  SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
  SSL_set_accept_state(ssl_);
  // Record buffers only while they hold bytes; writes may be partial and retried from another
  // address with the same bytes (write_some gathers into a per-thread buffer).
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read what the socket has, not one record header at a time: the reader reads until
  // would_block, so nothing stays buffered in OpenSSL while the connection waits.
  SSL_set_read_ahead(ssl_, 1);
}

TlsStream::TlsStream(TlsStream&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      wants_write_(other.wants_write_) {}

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
      ec = asio::error::eof;
      return;
    case SSL_ERROR_SYSCALL: {
      const int e = errno;
      ERR_clear_error();
      ec = e == 0 ? error_code(asio::error::eof) : error_code(e, boost::system::system_category());
      return;
    }
    default: {
      // SSL_ERROR_SSL: a protocol error, or (OpenSSL 3) the peer's close without close_notify.
      const unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = asio::ssl::error::stream_truncated;
        return;
      }
      ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
      return;
    }
  }
}

std::size_t TlsStream::read_some(const asio::mutable_buffer& buffer, error_code& ec) {
  ec = {};
  if (buffer.size() == 0) return 0;
  ERR_clear_error();  // the queue is per thread, shared by every connection on it
  std::size_t n = 0;
  const int r = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);  // before n is read
  return outcome(r, n, ec);
}

std::size_t TlsStream::write_raw(asio::const_buffer buffer, error_code& ec) {
  ec = {};
  if (buffer.size() == 0) return 0;
  ERR_clear_error();
  std::size_t n = 0;
  const int r = SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n);  // before n is read
  return outcome(r, n, ec);
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
  ERR_clear_error();
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
  ERR_clear_error();
  const int r = SSL_shutdown(ssl_);
  if (r >= 0) {  // 0: our close_notify is sent (the client's is not awaited); 1: both
    wants_write_ = false;
    ec = {};
    return;
  }
  classify(r, ec);
}

}  // namespace stella::transport::tls
