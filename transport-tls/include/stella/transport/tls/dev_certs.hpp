// Certificates for development and tests: a CA, a gateway server certificate and client
// certificates, EC P-256 keys, SHA-256 signatures, built with OpenSSL 3's EVP/X509 APIs. Used by
// `stella-gw tls dev-certs` and by the TLS tests (which generate everything at test time).
//
// Not for production: keys are written unencrypted (mode 0600) and the CA may sign anything.
// Errors (OpenSSL failures, unwritable files) throw std::runtime_error naming the file; this is
// startup/tooling code, never the data path.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace stella::transport::tls {

/// A certificate and its private key, PEM; `thumbprint` is the hex SHA-256 of the DER certificate.
struct PemCredentials {
  std::string certificate_pem;
  std::string private_key_pem;
  std::string thumbprint;
};

enum class CertificateUse { server, client };

struct CertificateRequest {
  std::string common_name;
  CertificateUse use = CertificateUse::server;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  int days = 365;
};

/// A self-signed CA (basicConstraints CA:TRUE, pathlen 0).
PemCredentials generate_ca(const std::string& common_name, int days = 3650);
/// A leaf certificate signed by `issuer` (extendedKeyUsage serverAuth or clientAuth).
PemCredentials issue_certificate(const PemCredentials& issuer, const CertificateRequest& request);
/// DER PKCS#12 holding `leaf` (certificate + key) and the `chain_pem` certificates, encrypted
/// with OpenSSL 3's defaults (AES-256-CBC, PBKDF2) under `password`.
std::string make_pkcs12(const PemCredentials& leaf, const std::vector<std::string>& chain_pem,
                        const std::string& password);

/// Writes `data` to `path`; `secret` files are created with mode 0600.
void write_file(const std::filesystem::path& path, const std::string& data, bool secret);

struct DevCertificateFiles {
  std::filesystem::path ca_cert, ca_key;
  std::filesystem::path gateway_cert, gateway_key;  // SAN: localhost, 127.0.0.1, ::1
  std::filesystem::path client_cert, client_key;
  std::filesystem::path gateway_p12;  // only when a PKCS#12 password was given
  std::string gateway_thumbprint, client_thumbprint;
  /// One per requested service name: NAME.pem / NAME-key.pem, CN and DNS SAN = NAME.
  struct Service {
    std::string name;
    std::filesystem::path cert, key;
    std::string thumbprint;
  };
  std::vector<Service> services;
};

/// Whether `name` can name a per-service certificate file and DNS SAN (letters, digits, '-',
/// '.', not starting with '.' or '-', at most 63 bytes).
bool valid_dev_service_name(const std::string& name);

/// Generates a dev CA, the gateway's server certificate and one client certificate into `dir`
/// (created if missing): ca.pem ca-key.pem gateway.pem gateway-key.pem client.pem client-key.pem,
/// plus gateway.p12 when `p12_password` is not empty, plus one client certificate per name in
/// `services` (for service identities: docs/security.md). Throws std::invalid_argument for a
/// name that fails valid_dev_service_name.
DevCertificateFiles write_dev_certificates(const std::filesystem::path& dir,
                                           const std::string& p12_password = "",
                                           const std::vector<std::string>& services = {});

}  // namespace stella::transport::tls
