// Certificates for the TLS tests, generated at test time into a fresh temporary directory with
// the same generator as `stella-gw tls dev-certs`: a CA, the gateway's server certificate
// (localhost, 127.0.0.1), two client certificates from that CA, and a client certificate from a
// second, untrusted CA.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "stella/transport/tls/dev_certs.hpp"

namespace stella::transport::tls::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "stella-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

struct Pki {
  explicit Pki(const std::filesystem::path& dir) {
    ca = generate_ca("test CA");
    server = issue_certificate(
        ca, {"localhost", CertificateUse::server, {"localhost"}, {"127.0.0.1"}, 1});
    client = issue_certificate(ca, {"service-a", CertificateUse::client, {}, {}, 1});
    client2 = issue_certificate(ca, {"service-b", CertificateUse::client, {}, {}, 1});
    other_ca = generate_ca("other CA");
    stranger = issue_certificate(other_ca, {"service-a", CertificateUse::client, {}, {}, 1});
    write(dir, "ca", ca);
    write(dir, "server", server);
    write(dir, "client", client);
    write(dir, "client2", client2);
    write(dir, "other-ca", other_ca);
    write(dir, "stranger", stranger);
    server_p12 = (dir / "server.p12").string();
    write_file(server_p12, make_pkcs12(server, {ca.certificate_pem}, "s3cret"), true);
    base = dir;
  }
  std::string cert(const std::string& name) const { return (base / (name + ".pem")).string(); }
  std::string key(const std::string& name) const { return (base / (name + "-key.pem")).string(); }

  PemCredentials ca, server, client, client2, other_ca, stranger;
  std::string server_p12;  // password "s3cret"
  std::filesystem::path base;

 private:
  static void write(const std::filesystem::path& dir, const std::string& name,
                    const PemCredentials& c) {
    write_file(dir / (name + ".pem"), c.certificate_pem, false);
    write_file(dir / (name + "-key.pem"), c.private_key_pem, true);
  }
};

}  // namespace stella::transport::tls::testing
