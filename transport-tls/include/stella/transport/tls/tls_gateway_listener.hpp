// The gateway's TLS port: accepts TCP, runs the TLS 1.3 server handshake under a deadline,
// checks the client certificate (OpenSSL verifies the chain against the CA bundle; this checks
// the thumbprint allow-list), and hands the verified stream to GatewayListener::adopt(), which
// runs the frame protocol over it exactly as over TCP.
//
// A refused connection (handshake failure or timeout, missing, untrusted or unlisted client
// certificate, listener full) is closed alone: it is logged with its reason and counted in
// stats(); other connections and sessions are untouched.
//
// Everything runs on the executor given at construction, which must be the GatewayListener's
// (single-threaded io_context or strand). Not thread-safe. Destroy it only after its executor
// stopped running handlers (stop(), then let the io_context finish or be destroyed first).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>

#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tls/tls_context.hpp"

namespace stella::transport::tls {

/// Why a connection on the TLS port was closed before it reached the frame protocol.
enum class TlsRefusal {
  handshake_failed,              // not TLS (plain frames), wrong version, no shared cipher, ...
  handshake_timeout,             // the handshake did not finish within handshake_timeout
  client_certificate_missing,    // RequireCertificate and the client sent none
  client_certificate_untrusted,  // the client's chain does not verify against the CA bundle
  thumbprint_refused,            // verified, but not on allowedClientCertificateThumbprints
  over_capacity,                 // too many handshakes in flight, or the listener is full
};
std::string_view to_string(TlsRefusal r) noexcept;

/// Counters, one per outcome. Names are those of TlsRefusal.
struct TlsListenerStats {
  std::uint64_t accepted = 0;              // TCP connections accepted on the TLS port
  std::uint64_t handshakes_completed = 0;  // verified and handed to the gateway listener
  std::uint64_t handshake_failed = 0;
  std::uint64_t handshake_timeout = 0;
  std::uint64_t client_certificate_missing = 0;
  std::uint64_t client_certificate_untrusted = 0;
  std::uint64_t thumbprint_refused = 0;
  std::uint64_t over_capacity = 0;
  std::uint64_t refused() const noexcept {
    return handshake_failed + handshake_timeout + client_certificate_missing +
           client_certificate_untrusted + thumbprint_refused + over_capacity;
  }
};

struct TlsListenerSettings {
  /// A client that has not finished the handshake by then is closed (slowloris bound).
  std::chrono::milliseconds handshake_timeout{10000};
  /// Handshakes in flight at once; connections beyond are closed at once (over_capacity).
  std::size_t max_pending_handshakes = 256;
  /// The same per source address (transports.tcp.maxPendingHellosPerSource).
  std::size_t max_pending_handshakes_per_source = 32;
  /// transports.tls.receiveBufferSize / sendBufferSize (0: the OS default).
  int receive_buffer_size = 0;
  int send_buffer_size = 0;
  /// Log sink for refusals; defaults to stderr with a timestamp.
  std::function<void(const std::string&)> log;
};

class TlsGatewayListener {
 public:
  /// `sessions` runs the frame protocol of accepted connections; it must outlive this.
  TlsGatewayListener(asio::any_io_executor executor, std::shared_ptr<ServerTlsContext> context,
                     GatewayListener& sessions, TlsListenerSettings settings = {});
  ~TlsGatewayListener();

  /// Binds and listens. Returns the error instead of throwing.
  std::error_code listen(const asio::ip::tcp::endpoint& endpoint);
  asio::ip::tcp::endpoint local_endpoint() const;

  /// The accept loop; returns after stop(). Call listen() first.
  asio::awaitable<void> run();
  /// Stops accepting and closes handshakes in flight. Established sessions belong to the
  /// GatewayListener: drain them with its stop().
  void stop();

  const TlsListenerStats& stats() const noexcept { return stats_; }
  std::size_t pending_handshakes() const noexcept { return pending_.size(); }

 private:
  asio::awaitable<void> handshake(asio::ip::tcp::socket socket, std::string peer);
  void refuse(TlsRefusal reason, const std::string& peer, const std::string& detail);
  void log(const std::string& line);

  asio::any_io_executor executor_;
  std::shared_ptr<ServerTlsContext> context_;
  GatewayListener& sessions_;
  TlsListenerSettings settings_;
  asio::ip::tcp::acceptor acceptor_;
  std::unordered_map<std::uint64_t, SslStream*> pending_;  // handshakes in flight, for stop()
  std::unordered_map<std::string, std::size_t> pending_by_source_;
  std::uint64_t next_pending_ = 1;
  TlsListenerStats stats_;
  bool stopping_ = false;
};

}  // namespace stella::transport::tls
