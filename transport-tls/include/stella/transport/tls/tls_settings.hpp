// TLS settings for both ends of the service transport, in the shape of the seed's
// `transports.tls` block, plus certificate thumbprints (hex SHA-256 of the DER leaf certificate).
//
// Plain data: no OpenSSL or Asio here, so the SDK's public headers stay free of them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stella::transport::tls {

/// transports.tls.clientCertificateMode.
enum class ClientCertificateMode {
  none,     // "NoCertificate": no certificate is requested
  allow,    // "AllowCertificate": requested; when one is sent it must verify
  require,  // "RequireCertificate": a verified certificate is mandatory
};

/// Accepts the seed's "NoCertificate" / "AllowCertificate" / "RequireCertificate" and
/// none / allow / require (case-insensitive). nullopt for anything else.
std::optional<ClientCertificateMode> parse_client_certificate_mode(std::string_view text);
std::string_view to_string(ClientCertificateMode mode) noexcept;

/// SHA-256 of a DER certificate.
using Thumbprint = std::array<std::uint8_t, 32>;

/// Parses 64 hex digits, case-insensitive, ':' (and ' ') separators allowed anywhere
/// ("AB:CD:..." as openssl prints it). nullopt with `error` naming what is wrong.
std::optional<Thumbprint> parse_thumbprint(std::string_view text, std::string& error);
/// Lower-case hex, no separators: the canonical form in logs and ConnectionInfo.
std::string to_hex(const Thumbprint& thumbprint);

/// The gateway's side (transports.tls). Defaults are the seed's.
struct TlsSettings {
  /// certificatePath: PEM certificate (chain: leaf first), or PKCS#12 when it ends in .pfx/.p12
  /// (case-insensitive); PKCS#12 carries the key and may carry the chain.
  std::string certificate_path;
  /// PEM private key. Empty: the key is read from certificate_path (PEM holding both).
  /// Ignored for PKCS#12.
  std::string private_key_path;
  /// certificatePassword: the PKCS#12 password, or the passphrase of an encrypted PEM key.
  std::string certificate_password;
  /// clientCertificateMode.
  ClientCertificateMode client_certificate_mode = ClientCertificateMode::require;
  /// PEM bundle of the CAs trusted for client certificates. Empty: the system's default store.
  std::string ca_path;
  /// allowedClientCertificateThumbprints: hex SHA-256 of the client's DER leaf certificate.
  /// Empty: any certificate that verifies against ca_path. Not allowed with mode none.
  std::vector<std::string> allowed_client_certificate_thumbprints;
  /// TLS 1.3 session tickets (two per full handshake, keys per process) so that clients can
  /// resume. Off for the service transport (the SDK does not resume); on for HTTPS ingress.
  bool session_tickets = false;
};

/// The SDK's side: how a service verifies the gateway and which certificate it presents.
struct ClientTlsSettings {
  /// PEM bundle of the CAs trusted for the gateway's certificate. Empty: system default store.
  std::string ca_path;
  /// Client certificate (PEM or PKCS#12, as TlsSettings::certificate_path). Empty: none sent.
  std::string certificate_path;
  std::string private_key_path;  // as TlsSettings::private_key_path
  std::string certificate_password;
  /// Name the gateway's certificate must carry (DNS or IP SAN). Empty: the address's host.
  std::string server_name;
  /// A handshake not finished within this closes the connection (then the SDK reconnects).
  std::chrono::milliseconds handshake_timeout{10000};
};

}  // namespace stella::transport::tls
