// TLS settings and contexts without sockets: client certificate modes, thumbprint parsing and
// the allow-list, PEM and PKCS#12 loading and the error each bad input gives, dev certificates.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "stella/transport/tls/dev_certs.hpp"
#include "stella/transport/tls/tls_context.hpp"
#include "stella/transport/tls/tls_settings.hpp"
#include "tls_test_pki.hpp"

namespace stella::transport::tls {
namespace {

using testing::Pki;
using testing::TempDir;

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

TEST(TlsSettings, ParsesSeedAndShortClientCertificateModes) {
  EXPECT_EQ(parse_client_certificate_mode("RequireCertificate"), ClientCertificateMode::require);
  EXPECT_EQ(parse_client_certificate_mode("AllowCertificate"), ClientCertificateMode::allow);
  EXPECT_EQ(parse_client_certificate_mode("NoCertificate"), ClientCertificateMode::none);
  EXPECT_EQ(parse_client_certificate_mode("require"), ClientCertificateMode::require);
  EXPECT_EQ(parse_client_certificate_mode("ALLOW"), ClientCertificateMode::allow);
  EXPECT_EQ(parse_client_certificate_mode("none"), ClientCertificateMode::none);
  EXPECT_FALSE(parse_client_certificate_mode("optional"));
  EXPECT_FALSE(parse_client_certificate_mode(""));
}

TEST(TlsSettings, ThumbprintIsCaseInsensitiveWithOptionalColons) {
  const std::string hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  std::string colons;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    colons += (i ? ":" : "") + hex.substr(i, 2);
  for (auto& c : colons)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string error;
  const auto a = parse_thumbprint(hex, error);
  const auto b = parse_thumbprint(colons, error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(to_hex(*a), hex);
}

TEST(TlsSettings, ThumbprintErrorsNameTheProblem) {
  std::string error;
  EXPECT_FALSE(parse_thumbprint(std::string(40, 'a'), error));  // SHA-1 length
  EXPECT_PRED2(contains, error, "40 hex digits, expected 64");
  EXPECT_FALSE(parse_thumbprint(std::string(65, 'a'), error));
  EXPECT_PRED2(contains, error, "more than 64");
  EXPECT_FALSE(parse_thumbprint(std::string(63, 'a') + "g", error));
  EXPECT_PRED2(contains, error, "'g' is not a hex digit");
}

class TlsContextTest : public ::testing::Test {
 protected:
  TlsSettings server_settings() const {
    TlsSettings s;
    s.certificate_path = pki.cert("server");
    s.private_key_path = pki.key("server");
    s.ca_path = pki.cert("ca");
    return s;
  }
  TempDir dir;
  Pki pki{dir.path()};
  std::string error;
};

TEST_F(TlsContextTest, LoadsPemCertificateKeyAndCa) {
  auto ctx = make_server_context(server_settings(), error);
  ASSERT_TRUE(ctx) << error;
  EXPECT_EQ(ctx->client_certificate_mode, ClientCertificateMode::require);
}

TEST_F(TlsContextTest, MissingCertificateFileIsNamed) {
  auto s = server_settings();
  s.certificate_path = (dir.path() / "nope.pem").string();
  EXPECT_FALSE(make_server_context(s, error));
  EXPECT_PRED2(contains, error, "nope.pem");
  EXPECT_PRED2(contains, error, "No such file");
}

TEST_F(TlsContextTest, MissingCaBundleIsNamed) {
  auto s = server_settings();
  s.ca_path = (dir.path() / "no-ca.pem").string();
  EXPECT_FALSE(make_server_context(s, error));
  EXPECT_PRED2(contains, error, "CA bundle");
  EXPECT_PRED2(contains, error, "no-ca.pem");
}

TEST_F(TlsContextTest, KeyNotMatchingTheCertificateIsRefused) {
  auto s = server_settings();
  s.private_key_path = pki.key("client");
  EXPECT_FALSE(make_server_context(s, error));
  EXPECT_PRED2(contains, error, "does not match certificate");
  EXPECT_PRED2(contains, error, "client-key.pem");
}

TEST_F(TlsContextTest, Pkcs12WithTheRightPassword) {
  auto s = server_settings();
  s.certificate_path = pki.server_p12;
  s.private_key_path.clear();
  s.certificate_password = "s3cret";
  ASSERT_TRUE(make_server_context(s, error)) << error;
}

TEST_F(TlsContextTest, Pkcs12WithAWrongOrMissingPasswordIsNamed) {
  auto s = server_settings();
  s.certificate_path = pki.server_p12;
  s.private_key_path.clear();
  for (const char* password : {"wrong", ""}) {
    s.certificate_password = password;
    error.clear();
    EXPECT_FALSE(make_server_context(s, error)) << password;
    EXPECT_PRED2(contains, error, "wrong password");
    EXPECT_PRED2(contains, error, "server.p12");
  }
}

TEST_F(TlsContextTest, PemFileIsNotPkcs12) {
  const auto fake = (dir.path() / "fake.pfx").string();
  write_file(fake, pki.server.certificate_pem, false);
  auto s = server_settings();
  s.certificate_path = fake;
  EXPECT_FALSE(make_server_context(s, error));
  EXPECT_PRED2(contains, error, "is not a PKCS#12 file");
}

TEST_F(TlsContextTest, AllowListEntriesAreValidatedByIndex) {
  auto s = server_settings();
  s.allowed_client_certificate_thumbprints = {pki.client.thumbprint, "abc"};
  EXPECT_FALSE(make_server_context(s, error));
  EXPECT_PRED2(contains, error, "allowedClientCertificateThumbprints[1]");
}

TEST_F(TlsContextTest, AllowListNeedsAClientCertificateMode) {
  auto s = server_settings();
  s.client_certificate_mode = ClientCertificateMode::none;
  s.allowed_client_certificate_thumbprints = {pki.client.thumbprint};
  EXPECT_FALSE(make_server_context(s, error));
  EXPECT_PRED2(contains, error, "NoCertificate");
}

TEST_F(TlsContextTest, AllowListMatchesOnlyListedThumbprints) {
  auto s = server_settings();
  s.allowed_client_certificate_thumbprints = {pki.client2.thumbprint, pki.client.thumbprint};
  auto ctx = make_server_context(s, error);
  ASSERT_TRUE(ctx) << error;
  std::string e;
  EXPECT_TRUE(ctx->thumbprint_allowed(*parse_thumbprint(pki.client.thumbprint, e)));
  EXPECT_TRUE(ctx->thumbprint_allowed(*parse_thumbprint(pki.client2.thumbprint, e)));
  EXPECT_FALSE(ctx->thumbprint_allowed(*parse_thumbprint(pki.stranger.thumbprint, e)));
}

TEST_F(TlsContextTest, ClientKeyWithoutCertificateIsRefused) {
  ClientTlsSettings c;
  c.ca_path = pki.cert("ca");
  c.private_key_path = pki.key("client");
  EXPECT_FALSE(make_client_context(c, error));
  EXPECT_PRED2(contains, error, "needs its certificate");
}

TEST(TlsDevCerts, WritesFilesWithPrivateKeysOwnerOnlyAndPrintsMatchingThumbprint) {
  TempDir dir;
  const auto files = write_dev_certificates(dir.path() / "certs", "pw");
  std::string error;
  const auto t = certificate_file_sha256(files.client_cert.string(), error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(to_hex(*t), files.client_thumbprint);
  for (const auto& key : {files.ca_key, files.gateway_key, files.client_key, files.gateway_p12}) {
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  TlsSettings s;
  s.certificate_path = files.gateway_p12.string();
  s.certificate_password = "pw";
  s.ca_path = files.ca_cert.string();
  EXPECT_TRUE(make_server_context(s, error)) << error;
}

}  // namespace
}  // namespace stella::transport::tls
