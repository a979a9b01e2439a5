#include "stella/transport/tls/tls_context.hpp"

#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "openssl_util.hpp"

namespace stella::transport::tls {
namespace {

using namespace detail;

bool ends_with_icase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

bool is_pkcs12(std::string_view path) {
  return ends_with_icase(path, ".pfx") || ends_with_icase(path, ".p12");
}

// Reads a whole file; on failure names it and says why (errno).
bool read_file(const std::string& path, const char* what, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string("cannot read ") + what + " '" + path + "': " + std::strerror(errno);
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

BioPtr memory_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

int password_callback(char* buf, int size, int, void* user) {
  const auto* password = static_cast<const std::string*>(user);
  if (password == nullptr || password->empty() || static_cast<int>(password->size()) > size) {
    return 0;
  }
  std::memcpy(buf, password->data(), password->size());
  return static_cast<int>(password->size());
}

std::string password_hint(const std::string& reasons) {
  for (const char* needle : {"bad decrypt", "bad password read", "problems getting password"}) {
    if (reasons.find(needle) != std::string::npos) return " (wrong or missing password)";
  }
  return "";
}

struct Identity {
  X509Ptr leaf;
  PkeyPtr key;
  std::vector<X509Ptr> chain;
};

bool load_pkcs12(const std::string& path, const std::string& password, Identity& id,
                 std::string& error) {
  std::string der;
  if (!read_file(path, "PKCS#12 file", der, error)) return false;
  auto bio = memory_bio(der);
  Pkcs12Ptr p12(d2i_PKCS12_bio(bio.get(), nullptr));
  if (!p12) {
    error = "'" + path + "' is not a PKCS#12 file: " + openssl_errors();
    return false;
  }
  // Check the MAC first: a wrong password then reads as one, not as a decoding error.
  const char* pass = password.empty() ? nullptr : password.c_str();
  if (PKCS12_mac_present(p12.get())) {
    const bool ok = password.empty() ? (PKCS12_verify_mac(p12.get(), nullptr, 0) == 1 ||
                                        PKCS12_verify_mac(p12.get(), "", 0) == 1)
                                     : PKCS12_verify_mac(p12.get(), pass, -1) == 1;
    if (!ok) {
      ERR_clear_error();
      error = "wrong password for PKCS#12 file '" + path + "' (certificatePassword" +
              (password.empty() ? " is empty)" : ")");
      return false;
    }
  }
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (PKCS12_parse(p12.get(), pass, &key, &cert, &ca) != 1) {
    const auto reasons = openssl_errors();
    error = "cannot decrypt PKCS#12 file '" + path + "': " + reasons +
            (reasons.find("unsupported") != std::string::npos
                 ? " (legacy RC2/RC4 encryption needs OpenSSL's legacy provider; re-export with "
                   "AES-256)"
                 : "");
    return false;
  }
  id.key.reset(key);
  id.leaf.reset(cert);
  X509StackPtr chain(ca);
  if (!id.leaf || !id.key) {
    error = "PKCS#12 file '" + path + "' holds no " + (id.leaf ? "private key" : "certificate");
    return false;
  }
  for (int i = 0; chain && i < sk_X509_num(chain.get()); ++i) {
    X509* c = sk_X509_value(chain.get(), i);
    X509_up_ref(c);
    id.chain.emplace_back(c);
  }
  return true;
}

bool load_pem(const std::string& cert_path, const std::string& key_path,
              const std::string& password, Identity& id, std::string& error) {
  std::string pem;
  if (!read_file(cert_path, "certificate file", pem, error)) return false;
  auto bio = memory_bio(pem);
  id.leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!id.leaf) {
    error = "'" + cert_path + "' holds no PEM certificate: " + openssl_errors();
    return false;
  }
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    id.chain.emplace_back(c);
  ERR_clear_error();  // the end of the file reads as "no start line"

  const std::string& kpath = key_path.empty() ? cert_path : key_path;
  std::string key_pem;
  if (key_path.empty()) {
    key_pem = pem;
  } else if (!read_file(key_path, "private key file", key_pem, error)) {
    return false;
  }
  auto kbio = memory_bio(key_pem);
  id.key.reset(PEM_read_bio_PrivateKey(kbio.get(), nullptr, password_callback,
                                       const_cast<std::string*>(&password)));
  if (!id.key) {
    const auto reasons = openssl_errors();
    error = "cannot load private key from '" + kpath + "': " + reasons + password_hint(reasons);
    return false;
  }
  return true;
}

bool use_identity(SSL_CTX* ctx, const std::string& cert_path, const std::string& key_path,
                  const std::string& password, std::string& error) {
  Identity id;
  const bool ok = is_pkcs12(cert_path) ? load_pkcs12(cert_path, password, id, error)
                                       : load_pem(cert_path, key_path, password, id, error);
  if (!ok) return false;
  if (SSL_CTX_use_certificate(ctx, id.leaf.get()) != 1) {
    error = "cannot use certificate '" + cert_path + "': " + openssl_errors();
    return false;
  }
  for (auto& c : id.chain) {
    if (SSL_CTX_add1_chain_cert(ctx, c.get()) != 1) {
      error = "cannot use chain certificate in '" + cert_path + "': " + openssl_errors();
      return false;
    }
  }
  const std::string& kpath = key_path.empty() || is_pkcs12(cert_path) ? cert_path : key_path;
  if (SSL_CTX_use_PrivateKey(ctx, id.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    error = "private key '" + kpath + "' does not match certificate '" + cert_path + "'";
    return false;
  }
  return true;
}

bool use_trust(SSL_CTX* ctx, const std::string& ca_path, bool send_ca_names, std::string& error) {
  if (ca_path.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      error = "cannot load the system CA store: " + openssl_errors();
      return false;
    }
    return true;
  }
  std::string ignored;
  if (!read_file(ca_path, "CA bundle", ignored, error)) return false;
  if (SSL_CTX_load_verify_locations(ctx, ca_path.c_str(), nullptr) != 1) {
    error = "cannot load CA bundle '" + ca_path + "': " + openssl_errors();
    return false;
  }
  if (send_ca_names) {
    // Tell clients which CAs are accepted (CertificateRequest certificate_authorities).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_path.c_str())) {
      SSL_CTX_set_client_CA_list(ctx, names);
    }
    ERR_clear_error();
  }
  return true;
}

void tls13_only(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
}

std::optional<Thumbprint> sha256_of(X509* cert) {
  Thumbprint t{};
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), t.data(), &n) != 1 || n != t.size()) {
    ERR_clear_error();
    return std::nullopt;
  }
  return t;
}

}  // namespace

bool ServerTlsContext::thumbprint_allowed(const Thumbprint& t) const noexcept {
  if (allowed_thumbprints.empty()) return true;
  int match = 0;
  for (const auto& a : allowed_thumbprints)
    match |= CRYPTO_memcmp(a.data(), t.data(), t.size()) == 0 ? 1 : 0;
  return match != 0;
}

std::shared_ptr<ServerTlsContext> make_server_context(const TlsSettings& s, std::string& error) {
  ERR_clear_error();
  if (s.certificate_path.empty()) {
    error = "certificatePath is required for the TLS transport";
    return nullptr;
  }
  auto out = std::make_shared<ServerTlsContext>(asio::ssl::context(asio::ssl::context::tls_server));
  SSL_CTX* ctx = out->ssl.native_handle();
  tls13_only(ctx);
  // Without resumption (the SDK does not resume) tickets would only add post-handshake traffic.
  // With them, OpenSSL's defaults: two tickets per full handshake, stateless, keys generated per
  // process; no early data (0-RTT stays off).
  if (!s.session_tickets) SSL_CTX_set_num_tickets(ctx, 0);
  static constexpr unsigned char kSessionContext[] = "stella-gw";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  if (!use_identity(ctx, s.certificate_path, s.private_key_path, s.certificate_password, error)) {
    return nullptr;
  }
  out->client_certificate_mode = s.client_certificate_mode;
  for (std::size_t i = 0; i < s.allowed_client_certificate_thumbprints.size(); ++i) {
    std::string why;
    auto t = parse_thumbprint(s.allowed_client_certificate_thumbprints[i], why);
    if (!t) {
      error = "allowedClientCertificateThumbprints[" + std::to_string(i) + "]: " + why;
      return nullptr;
    }
    out->allowed_thumbprints.push_back(*t);
  }
  switch (s.client_certificate_mode) {
    case ClientCertificateMode::none:
      if (!out->allowed_thumbprints.empty()) {
        error =
            "allowedClientCertificateThumbprints needs clientCertificateMode AllowCertificate or "
            "RequireCertificate (it is NoCertificate)";
        return nullptr;
      }
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientCertificateMode::allow:
    case ClientCertificateMode::require:
      if (!use_trust(ctx, s.ca_path, true, error)) return nullptr;
      SSL_CTX_set_verify(ctx,
                         s.client_certificate_mode == ClientCertificateMode::require
                             ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                             : SSL_VERIFY_PEER,
                         nullptr);
      break;
  }
  return out;
}

std::shared_ptr<asio::ssl::context> make_client_context(const ClientTlsSettings& s,
                                                        std::string& error) {
  ERR_clear_error();
  auto out = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* ctx = out->native_handle();
  tls13_only(ctx);
  if (!use_trust(ctx, s.ca_path, false, error)) return nullptr;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (s.certificate_path.empty()) {
    if (!s.private_key_path.empty()) {
      error = "a client private key ('" + s.private_key_path + "') needs its certificate";
      return nullptr;
    }
  } else if (!use_identity(ctx, s.certificate_path, s.private_key_path, s.certificate_password,
                           error)) {
    return nullptr;
  }
  return out;
}

std::optional<Thumbprint> peer_certificate_sha256(SslStream& stream) {
  return peer_certificate_sha256(stream.native_handle());
}

std::optional<Thumbprint> peer_certificate_sha256(ssl_st* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  return sha256_of(cert);
}

namespace {
bool printable_ascii(const unsigned char* data, int length) {
  if (data == nullptr || length <= 0 || length > 1024) return false;
  return std::all_of(data, data + length, [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}
}  // namespace

std::optional<PeerCertificateNames> peer_certificate_names(SslStream& stream) {
  X509* cert = SSL_get0_peer_certificate(stream.native_handle());
  if (cert == nullptr) return std::nullopt;
  PeerCertificateNames names;
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int cn_index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn_index >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn_index));
    if (printable_ascii(ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn)))
      names.common_name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                               static_cast<std::size_t>(ASN1_STRING_length(cn)));
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans) && i < 64; ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      const ASN1_IA5STRING* text = nullptr;
      if (n->type == GEN_DNS) text = n->d.dNSName;
      if (n->type == GEN_URI) text = n->d.uniformResourceIdentifier;
      if (text == nullptr ||
          !printable_ascii(ASN1_STRING_get0_data(text), ASN1_STRING_length(text)))
        continue;
      names.subject_alt_names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
          static_cast<std::size_t>(ASN1_STRING_length(text)));
    }
    GENERAL_NAMES_free(sans);
  }
  return names;
}

std::optional<Thumbprint> certificate_file_sha256(const std::string& path, std::string& error) {
  std::string pem;
  if (!read_file(path, "certificate file", pem, error)) return std::nullopt;
  auto bio = memory_bio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    error = "'" + path + "' holds no PEM certificate: " + openssl_errors();
    return std::nullopt;
  }
  auto t = sha256_of(cert.get());
  if (!t) error = "cannot hash certificate '" + path + "'";
  return t;
}

bool expect_peer_name(SSL* ssl, const std::string& name) {
  boost::system::error_code ec;
  asio::ip::make_address(name, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  // SSL_set_tlsext_host_name without its C cast (-Wold-style-cast).
  return SSL_set1_host(ssl, name.c_str()) == 1 &&
         SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(name.c_str())) == 1;
}

}  // namespace stella::transport::tls
