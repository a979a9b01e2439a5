// JWS signatures for every algorithm (round trips, known answers from the RFCs, tampering,
// wrong sizes, wrong padding) and the compact serialisation.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>
#include <vector>

#include "auth_test_util.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {
namespace {

using namespace testing;
using nlohmann::json;

struct AlgCase {
  Alg alg;
  std::string_view key;
  std::size_t signature_bytes;
};

const std::vector<AlgCase>& all_algs() {
  static const std::vector<AlgCase> cases{
      {Alg::ES256, kP256, 64},     {Alg::ES384, kP384, 96},     {Alg::ES512, kP521, 132},
      {Alg::RS256, kRsa2048, 256}, {Alg::RS384, kRsa2048, 256}, {Alg::RS512, kRsa2048, 256},
      {Alg::PS256, kRsa2048, 256}, {Alg::PS384, kRsa2048, 256}, {Alg::PS512, kRsa2048, 256},
      {Alg::EdDSA, kEd25519, 64},
  };
  return cases;
}

std::string flip_bit(std::string s, std::size_t byte, int bit = 0) {
  s[byte] = static_cast<char>(s[byte] ^ (1 << bit));
  return s;
}

TEST(Jws, SignVerifyRoundTripForEveryAlg) {
  for (const auto& c : all_algs()) {
    SCOPED_TRACE(std::string(alg_name(c.alg)));
    const Jwk priv = private_key(c.key);
    const Jwk pub = public_key(priv);
    const auto sig = sign(c.alg, priv, "header.payload");
    ASSERT_TRUE(sig);
    EXPECT_EQ(sig->size(), c.signature_bytes);
    EXPECT_TRUE(verify_signature(c.alg, pub, "header.payload", *sig));
    // A private key verifies too (it holds the public half).
    EXPECT_TRUE(verify_signature(c.alg, priv, "header.payload", *sig));
  }
}

TEST(Jws, TamperingFailsForEveryAlg) {
  for (const auto& c : all_algs()) {
    SCOPED_TRACE(std::string(alg_name(c.alg)));
    const Jwk priv = private_key(c.key);
    const Jwk pub = public_key(priv);
    const std::string sig = *sign(c.alg, priv, "header.payload");
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payloaD", sig));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload.", sig));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload", flip_bit(sig, 0, 7)));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload", flip_bit(sig, sig.size() / 2)));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload", flip_bit(sig, sig.size() - 1)));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload", sig.substr(1)));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload", sig + '\0'));
    EXPECT_FALSE(verify_signature(c.alg, pub, "header.payload", ""));
  }
}

TEST(Jws, WrongKeyOrAlgFails) {
  const Jwk p256 = private_key(kP256);
  const std::string sig = *sign(Alg::ES256, p256, "x");
  EXPECT_FALSE(verify_signature(Alg::ES256, public_key(private_key(kP256b)), "x", sig));
  // Same key, another curve's algorithm: not usable.
  EXPECT_FALSE(verify_signature(Alg::ES384, public_key(p256), "x", sig));
  const Jwk rsa = private_key(kRsa2048);
  const std::string rs = *sign(Alg::RS256, rsa, "x");
  EXPECT_FALSE(verify_signature(Alg::PS256, public_key(rsa), "x", rs));
  EXPECT_FALSE(verify_signature(Alg::RS384, public_key(rsa), "x", rs));
  const std::string ps = *sign(Alg::PS256, rsa, "x");
  EXPECT_FALSE(verify_signature(Alg::RS256, public_key(rsa), "x", ps));
  // Signing needs the private key and a usable algorithm.
  EXPECT_FALSE(sign(Alg::ES256, public_key(p256), "x"));
  EXPECT_FALSE(sign(Alg::EdDSA, p256, "x"));
}

TEST(Jws, Es256SignatureOfWrongLengthFails) {
  const Jwk priv = private_key(kP256);
  const Jwk pub = public_key(priv);
  const std::string sig = *sign(Alg::ES256, priv, "x");
  ASSERT_EQ(sig.size(), 64U);
  EXPECT_FALSE(verify_signature(Alg::ES256, pub, "x", sig.substr(0, 63)));
  EXPECT_FALSE(verify_signature(Alg::ES256, pub, "x", sig + "x"));
  EXPECT_FALSE(verify_signature(Alg::ES256, pub, "x", '\0' + sig));
  EXPECT_FALSE(verify_signature(Alg::ES256, pub, "x", std::string(64, '\0')));
  // The DER form OpenSSL itself produces is not a JWS signature.
  EXPECT_FALSE(verify_signature(Alg::ES256, pub, "x", std::string(70, '\x30')));
}

TEST(Jws, PssWithAnotherSaltLengthFails) {
  // RFC 7518 §3.5: the salt is as long as the hash. Sign with an empty salt through OpenSSL
  // directly; the verifier must refuse it.
  const Jwk rsa = private_key(kRsa2048);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, rsa.key.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 0), 1);
  std::string sig(256, '\0');
  std::size_t len = sig.size();
  const std::string input = "x";
  ASSERT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  EXPECT_FALSE(verify_signature(Alg::PS256, public_key(rsa), input, sig));
}

TEST(Jws, Rfc7515AppendixA3Es256) {
  const Jwk key = *parse_jwk(json{{"kty", "EC"},
                                  {"crv", "P-256"},
                                  {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                                  {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}})
                       .jwk;
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  const auto sig = base64url_decode(
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  ASSERT_TRUE(sig);
  EXPECT_TRUE(verify_signature(Alg::ES256, key, input, *sig));
  EXPECT_FALSE(verify_signature(Alg::ES256, key, input + "x", *sig));
}

TEST(Jws, Rfc8037AppendixA4Ed25519) {
  const Jwk key = private_key(kEd25519);
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  const std::string expected =
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  EXPECT_TRUE(verify_signature(Alg::EdDSA, public_key(key), input, *base64url_decode(expected)));
  // Ed25519 is deterministic: signing gives the RFC's bytes.
  EXPECT_EQ(base64url_encode(sign(Alg::EdDSA, key, input).value_or("")), expected);
}

TEST(Jws, SignCompactThenParseCompact) {
  const Jwk key = private_key(kP256);
  const auto token = sign_compact(json{{"typ", "JWT"}}, json{{"sub", "alice"}}, Alg::ES256, key);
  ASSERT_TRUE(token);
  std::string error;
  const auto jws = parse_compact(*token, 8192, &error);
  ASSERT_TRUE(jws) << error;
  EXPECT_EQ(jws->header, (json{{"alg", "ES256"}, {"typ", "JWT"}}));
  EXPECT_EQ(jws->payload, (json{{"sub", "alice"}}));
  EXPECT_EQ(jws->signing_input, token->substr(0, token->rfind('.')));
  EXPECT_TRUE(verify_signature(Alg::ES256, public_key(key), jws->signing_input, jws->signature));
  // A header alg given by the caller is kept.
  const auto odd = sign_compact(json{{"alg", "ES384"}}, json::object(), Alg::ES256, key);
  ASSERT_TRUE(odd);
  EXPECT_EQ(parse_compact(*odd, 8192)->header["alg"], "ES384");
  EXPECT_FALSE(sign_compact(json::array(), json::object(), Alg::ES256, key));
}

TEST(Jws, ParseCompactRefusals) {
  const std::string h = base64url_encode(R"({"alg":"ES256"})");
  const std::string p = base64url_encode(R"({"sub":"a"})");
  const std::string s = base64url_encode("sig");
  const std::string good = h + "." + p + "." + s;
  ASSERT_TRUE(parse_compact(good, 8192));
  const std::string cases[] = {
      "",
      h + "." + p,
      good + ".x",
      good + ".",
      h + "=." + p + "." + s,
      h + "." + p + "." + s + "=",
      h + "." + p + "+." + s,
      base64url_encode("[]") + "." + p + "." + s,
      h + "." + base64url_encode("\"a\"") + "." + s,
      h + "." + base64url_encode("{") + "." + s,
      base64url_encode(R"({"alg":"ES256","alg":"none"})") + "." + p + "." + s,
      h + "." + base64url_encode(R"({"sub":"a","sub":"b"})") + "." + s,
  };
  for (const auto& token : cases) {
    std::string error;
    EXPECT_FALSE(parse_compact(token, 8192, &error)) << token;
    EXPECT_FALSE(error.empty()) << token;
  }
  // The size bound applies before anything else, at limit and limit + 1.
  EXPECT_TRUE(parse_compact(good, good.size()));
  EXPECT_FALSE(parse_compact(good, good.size() - 1));
  // An empty signature part parses (alg none tokens are refused later, by name).
  EXPECT_TRUE(parse_compact(h + "." + p + ".", 8192));
}

}  // namespace
}  // namespace stella::gw::auth
