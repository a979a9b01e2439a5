// OpenSSL contexts built from the settings: TLS 1.3 only (min = max = TLS 1.3) on both ends.
//
// Built once at startup and shared; not modified afterwards. A stream keeps what it needs of
// its context alive itself (OpenSSL reference counts), but keep the context object alive while
// the listener or connector that uses it runs.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stella/transport/tls/tls_settings.hpp"

struct ssl_st;

namespace stella::transport::tls {

namespace asio = boost::asio;
using SslStream = asio::ssl::stream<asio::ip::tcp::socket>;

/// The gateway's context plus the checks OpenSSL does not make (the thumbprint allow-list).
struct ServerTlsContext {
  explicit ServerTlsContext(asio::ssl::context c) : ssl(std::move(c)) {}
  asio::ssl::context ssl;
  ClientCertificateMode client_certificate_mode = ClientCertificateMode::require;
  std::vector<Thumbprint> allowed_thumbprints;  // empty: any verified certificate

  /// True when `t` is on the allow-list (or the list is empty). Compares every entry in constant
  /// time (CRYPTO_memcmp), without stopping at the first match.
  bool thumbprint_allowed(const Thumbprint& t) const noexcept;
};

/// Loads certificate, key, CA bundle and allow-list. nullptr with `error` naming the file or key
/// and the reason: missing/unreadable file, not PEM/PKCS#12, wrong password, key not matching
/// the certificate, malformed thumbprint, allow-list with mode none.
std::shared_ptr<ServerTlsContext> make_server_context(const TlsSettings& settings,
                                                      std::string& error);

/// The SDK's context: verifies the gateway (peer verification on; the host name is set per
/// connection by TlsConnector), presents the client certificate if one is configured. nullptr
/// with `error` as above.
std::shared_ptr<asio::ssl::context> make_client_context(const ClientTlsSettings& settings,
                                                        std::string& error);

/// SHA-256 of the DER leaf certificate the peer presented on this stream (or SSL object); nullopt
/// when it presented none. A resumed session reports its full handshake's certificate.
std::optional<Thumbprint> peer_certificate_sha256(SslStream& stream);
std::optional<Thumbprint> peer_certificate_sha256(ssl_st* ssl);

/// The names in the peer's leaf certificate: subject CN and the DNS and URI subject alternative
/// names (others are skipped). Names that are not printable ASCII are skipped too, so they can
/// be logged and compared as they are.
struct PeerCertificateNames {
  std::string common_name;
  std::vector<std::string> subject_alt_names;
};
std::optional<PeerCertificateNames> peer_certificate_names(SslStream& stream);

/// Makes OpenSSL check a server's name during verification on this client connection: an IP
/// address against the certificate's IP SANs, a DNS name against its DNS SANs (no partial
/// wildcards) and sent as SNI (RFC 6066 allows no IP literals there). False when OpenSSL
/// refuses the name.
bool expect_peer_name(SSL* ssl, const std::string& name);

/// SHA-256 of the first certificate in a PEM file (for `stella-gw tls thumbprint` and tests).
/// nullopt with `error` naming the file.
std::optional<Thumbprint> certificate_file_sha256(const std::string& path, std::string& error);

}  // namespace stella::transport::tls
