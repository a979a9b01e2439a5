#include "stella/transport/tls/dev_certs.hpp"

#include <algorithm>
#include <stdexcept>

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "openssl_util.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::transport::tls {
namespace {

using namespace detail;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_errors());
}

PkeyPtr generate_p256() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("cannot generate an EC P-256 key");
  return key;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("cannot write a PEM certificate");
  return bio_string(bio.get());
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("cannot write a PEM private key");
  }
  return bio_string(bio.get());
}

X509Ptr parse_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("cannot parse a PEM certificate");
  return cert;
}

PkeyPtr parse_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("cannot parse a PEM private key");
  return key;
}

std::string thumbprint_of(X509* cert) {
  Thumbprint t{};
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), t.data(), &n) != 1) fail("cannot hash a certificate");
  return to_hex(t);
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) fail("cannot build extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) fail("cannot add extension " + std::string(OBJ_nid2sn(nid)));
}

// A certificate with subject `cn`, a random 127-bit serial and validity from an hour ago (clock
// skew between machines) to `days` from now; issuer and extensions are set by the caller.
X509Ptr new_certificate(const std::string& cn, EVP_PKEY* key, int days) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) fail("cannot create X509");
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    fail("cannot set a serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days) == nullptr) {
    fail("cannot set validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* o = reinterpret_cast<const unsigned char*>("stella-gw dev");
  const auto* c = reinterpret_cast<const unsigned char*>(cn.c_str());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, o, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, c, -1, -1, 0) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    fail("cannot set subject of '" + cn + "'");
  }
  return cert;
}

}  // namespace

PemCredentials generate_ca(const std::string& common_name, int days) {
  auto key = generate_p256();
  auto cert = new_certificate(common_name, key.get(), days);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("cannot sign CA certificate");
  return {to_pem(cert.get()), to_pem(key.get()), thumbprint_of(cert.get())};
}

PemCredentials issue_certificate(const PemCredentials& issuer, const CertificateRequest& req) {
  auto ca_cert = parse_cert(issuer.certificate_pem);
  auto ca_key = parse_key(issuer.private_key_pem);
  auto key = generate_p256();
  auto cert = new_certificate(req.common_name, key.get(), req.days);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  add_ext(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), ca_cert.get(), NID_ext_key_usage,
          req.use == CertificateUse::server ? "serverAuth" : "clientAuth");
  add_ext(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
  std::string san;
  for (const auto& d : req.dns_names)
    san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : req.ip_addresses)
    san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) add_ext(cert.get(), ca_cert.get(), NID_subject_alt_name, san);
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    fail("cannot sign certificate '" + req.common_name + "'");
  }
  return {to_pem(cert.get()), to_pem(key.get()), thumbprint_of(cert.get())};
}

std::string make_pkcs12(const PemCredentials& leaf, const std::vector<std::string>& chain_pem,
                        const std::string& password) {
  auto cert = parse_cert(leaf.certificate_pem);
  auto key = parse_key(leaf.private_key_pem);
  X509StackPtr chain(sk_X509_new_null());
  for (const auto& pem : chain_pem) {
    auto c = parse_cert(pem);
    if (sk_X509_push(chain.get(), c.get()) == 0) fail("cannot build the PKCS#12 chain");
    c.release();
  }
  Pkcs12Ptr p12(PKCS12_create(password.c_str(), "stella-gw", key.get(), cert.get(), chain.get(), 0,
                              0, 0, 0, 0));
  if (!p12) fail("cannot build PKCS#12");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || i2d_PKCS12_bio(bio.get(), p12.get()) != 1) fail("cannot encode PKCS#12");
  return bio_string(bio.get());
}

void write_file(const std::filesystem::path& path, const std::string& data, bool secret) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot write '" + path.string() + "': " + std::strerror(errno));
  }
  if (secret) ::fchmod(fd, 0600);  // an existing file keeps its mode otherwise
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("cannot write '" + path.string() + "': " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    throw std::runtime_error("cannot write '" + path.string() + "': " + std::strerror(errno));
  }
}

bool valid_dev_service_name(const std::string& name) {
  if (name.empty() || name.size() > 63 || name[0] == '.' || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

DevCertificateFiles write_dev_certificates(const std::filesystem::path& dir,
                                           const std::string& p12_password,
                                           const std::vector<std::string>& services) {
  for (const auto& name : services) {
    if (!valid_dev_service_name(name) || name == "ca" || name == "gateway" || name == "client")
      throw std::invalid_argument("'" + name +
                                  "' cannot name a service certificate (letters, digits, '-', "
                                  "'.'; not ca, gateway or client)");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create '" + dir.string() + "': " + ec.message());
  const auto ca = generate_ca("stella-gw dev CA");
  CertificateRequest server{
      "localhost", CertificateUse::server, {"localhost"}, {"127.0.0.1", "::1"}, 825};
  const auto gateway = issue_certificate(ca, server);
  CertificateRequest client_req{"stella-dev-service", CertificateUse::client, {}, {}, 825};
  const auto client = issue_certificate(ca, client_req);

  DevCertificateFiles f;
  f.ca_cert = dir / "ca.pem";
  f.ca_key = dir / "ca-key.pem";
  f.gateway_cert = dir / "gateway.pem";
  f.gateway_key = dir / "gateway-key.pem";
  f.client_cert = dir / "client.pem";
  f.client_key = dir / "client-key.pem";
  write_file(f.ca_cert, ca.certificate_pem, false);
  write_file(f.ca_key, ca.private_key_pem, true);
  write_file(f.gateway_cert, gateway.certificate_pem, false);
  write_file(f.gateway_key, gateway.private_key_pem, true);
  write_file(f.client_cert, client.certificate_pem, false);
  write_file(f.client_key, client.private_key_pem, true);
  if (!p12_password.empty()) {
    f.gateway_p12 = dir / "gateway.p12";
    write_file(f.gateway_p12, make_pkcs12(gateway, {ca.certificate_pem}, p12_password), true);
  }
  f.gateway_thumbprint = gateway.thumbprint;
  f.client_thumbprint = client.thumbprint;
  for (const auto& name : services) {
    const auto cert = issue_certificate(ca, {name, CertificateUse::client, {name}, {}, 825});
    DevCertificateFiles::Service svc{name, dir / (name + ".pem"), dir / (name + "-key.pem"),
                                     cert.thumbprint};
    write_file(svc.cert, cert.certificate_pem, false);
    write_file(svc.key, cert.private_key_pem, true);
    f.services.push_back(std::move(svc));
  }
  return f;
}

}  // namespace stella::transport::tls
