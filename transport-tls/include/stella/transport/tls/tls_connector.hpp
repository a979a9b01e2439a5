// The SDK's side of TLS: the client handshake on a connected TCP socket, verifying the gateway's
// certificate chain against the CA bundle and its name (DNS or IP SAN) against the host dialled,
// and presenting the client certificate when one is configured.
//
// Note for mTLS: in TLS 1.3 the client's handshake completes before the gateway has checked the
// client certificate, so a refused certificate shows up as the first read failing (an alert or
// the connection closing), not as a handshake error.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <optional>
#include <string>

#include "stella/transport/tls/tls_context.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::transport::tls {

class TlsConnector {
 public:
  /// Builds the client context. nullptr with `error` naming the file and the reason.
  static std::unique_ptr<TlsConnector> create(const ClientTlsSettings& settings,
                                              std::string& error);

  struct Result {
    boost::system::error_code ec;
    std::string error;  // "certificate verify failed: hostname mismatch", "timed out", ...
    std::optional<SslStream> stream;
  };

  /// Runs the handshake on `socket` (connected), bounded by settings.handshake_timeout. `host`
  /// is what the gateway's certificate must name unless settings.server_name overrides it; it is
  /// sent as SNI when it is a DNS name. Never throws for network or TLS errors. Runs on the
  /// socket's executor; one connector may serve many handshakes (not concurrently from
  /// several threads).
  asio::awaitable<Result> async_handshake(asio::ip::tcp::socket socket, std::string host);

  const ClientTlsSettings& settings() const noexcept { return settings_; }

 private:
  TlsConnector(ClientTlsSettings settings, std::shared_ptr<asio::ssl::context> context)
      : settings_(std::move(settings)), context_(std::move(context)) {}
  ClientTlsSettings settings_;
  std::shared_ptr<asio::ssl::context> context_;
};

}  // namespace stella::transport::tls
