// verify_dpop_proof: a good proof, then every DPoP failure; normalize_htu by table and by
// property.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "auth_test_util.hpp"
#include "stella/gateway/auth/token_verifier.hpp"

namespace stella::gw::auth {
namespace {

using namespace testing;
using nlohmann::json;

constexpr std::int64_t kNow = 1'764'500'000;
constexpr std::string_view kUrl = "https://api.example/orders/1";

class Dpop : public ::testing::Test {
 protected:
  json header(const Jwk& key, std::string_view alg = "ES256") const {
    return {{"typ", "dpop+jwt"}, {"alg", alg}, {"jwk", key.public_json}};
  }
  json header() const { return header(key_); }

  json claims() const {
    return {{"jti", "proof-1"},
            {"htm", "POST"},
            {"htu", kUrl},
            {"iat", kNow},
            {"ath", b64(sha256(access_token_))}};
  }

  std::string proof(const json& c, const json& h, Alg alg = Alg::ES256,
                    const Jwk* key = nullptr) const {
    auto p = sign_compact(h, c, alg, key ? *key : key_);
    EXPECT_TRUE(p);
    return p.value_or("");
  }
  std::string proof(const json& c) const { return proof(c, header()); }

  Verified<DpopProof> verify(std::string_view p) const {
    return verify_dpop_proof(p, request_, policy_, kNow);
  }

  void expect_ok(std::string_view p) const {
    const auto v = verify(p);
    EXPECT_TRUE(v) << auth_failure_name(v.failure) << ": " << v.detail;
  }

  void expect_failure(std::string_view p, AuthFailure f) const {
    const auto v = verify(p);
    EXPECT_FALSE(v);
    EXPECT_EQ(v.failure, f) << auth_failure_name(v.failure) << ": " << v.detail;
    EXPECT_FALSE(v.detail.empty());
  }

  Jwk key_ = private_key(kP256);
  std::string access_token_ = "header.payload.signature";
  std::string expected_jkt_ = key_.thumbprint;
  DpopRequest request_{"POST", kUrl, access_token_, expected_jkt_, {}};
  DpopPolicy policy_;
};

TEST_F(Dpop, GoodProof) {
  const auto v = verify(proof(claims()));
  ASSERT_TRUE(v) << auth_failure_name(v.failure) << ": " << v.detail;
  EXPECT_EQ(v.value->jkt, key_.thumbprint);
  EXPECT_EQ(v.value->jti, "proof-1");
  EXPECT_EQ(v.value->iat, kNow);
}

TEST_F(Dpop, GoodProofWithRsaAndEd25519Keys) {
  request_.expected_jkt = {};
  const Jwk rsa = private_key(kRsa2048);
  expect_ok(proof(claims(), header(rsa, "PS256"), Alg::PS256, &rsa));
  expect_ok(proof(claims(), header(rsa, "RS256"), Alg::RS256, &rsa));
  const Jwk ed = private_key(kEd25519);
  expect_ok(proof(claims(), header(ed, "EdDSA"), Alg::EdDSA, &ed));
}

TEST_F(Dpop, WrongType) {
  json h = header();
  h["typ"] = "DPoP+JWT";  // media types compare case-insensitively
  expect_ok(proof(claims(), h));
  for (const json& typ : {json("jwt"), json("at+jwt"), json("application/dpop+jwt"), json(1)}) {
    h["typ"] = typ;
    expect_failure(proof(claims(), h), AuthFailure::dpop_bad_type);
  }
  h.erase("typ");
  expect_failure(proof(claims(), h), AuthFailure::dpop_bad_type);
}

TEST_F(Dpop, AnAccessTokenIsNotAProof) {
  const auto token = sign_compact({{"typ", "at+jwt"}}, {{"sub", "a"}}, Alg::ES256, key_);
  expect_failure(*token, AuthFailure::dpop_bad_type);
}

TEST_F(Dpop, AlgNoneAndAlgsOffTheList) {
  const std::string c = claims().dump();
  const std::string jwk = key_.public_json.dump();
  expect_failure(compact(R"({"typ":"dpop+jwt","alg":"none","jwk":)" + jwk + "}", c, ""),
                 AuthFailure::unsupported_alg);
  expect_failure(compact(R"({"typ":"dpop+jwt","alg":"HS256","jwk":)" + jwk + "}", c, "x"),
                 AuthFailure::unsupported_alg);
  policy_.algorithms = {Alg::EdDSA};
  expect_failure(proof(claims()), AuthFailure::unsupported_alg);
  expect_failure(compact(R"({"typ":"dpop+jwt","jwk":)" + jwk + "}", c, "x"),
                 AuthFailure::dpop_malformed);
}

TEST_F(Dpop, JwkCarryingPrivateKey) {
  json h = header();
  h["jwk"] = jwk_to_json(key_, /*include_private=*/true);
  ASSERT_TRUE(h["jwk"].contains("d"));
  expect_failure(proof(claims(), h), AuthFailure::dpop_bad_key);
}

TEST_F(Dpop, JwkMissingUnsupportedOrUnsuitable) {
  json h = header();
  h.erase("jwk");
  expect_failure(proof(claims(), h), AuthFailure::dpop_bad_key);
  h["jwk"] = key_.public_json.dump();  // a string, not an object
  expect_failure(proof(claims(), h), AuthFailure::dpop_bad_key);
  h["jwk"] = {{"kty", "oct"}, {"k", "c2VjcmV0"}};
  expect_failure(proof(claims(), h), AuthFailure::dpop_bad_key);
  // A P-384 key under alg ES256.
  const Jwk p384 = private_key(kP384);
  expect_failure(proof(claims(), header(p384, "ES256"), Alg::ES256, &key_),
                 AuthFailure::dpop_bad_key);
}

TEST_F(Dpop, SignatureByAnotherKey) {
  const Jwk other = private_key(kP256b);
  expect_failure(proof(claims(), header(), Alg::ES256, &other), AuthFailure::dpop_bad_signature);
  const std::string good = proof(claims());
  std::string sig = *base64url_decode(good.substr(good.rfind('.') + 1));
  sig[0] = static_cast<char>(sig[0] ^ 0x80);
  expect_failure(good.substr(0, good.rfind('.') + 1) + b64(sig), AuthFailure::dpop_bad_signature);
}

TEST_F(Dpop, MissingOrMistypedClaims) {
  for (const char* name : {"jti", "htm", "htu", "iat"}) {
    json c = claims();
    c.erase(name);
    expect_failure(proof(c), AuthFailure::dpop_malformed);
    c[name] = json::array();
    expect_failure(proof(c), AuthFailure::dpop_malformed);
  }
  json c = claims();
  c["jti"] = "";
  expect_failure(proof(c), AuthFailure::dpop_malformed);
  c["jti"] = std::string(256, 'j');
  expect_ok(proof(c));
  c["jti"] = std::string(257, 'j');
  expect_failure(proof(c), AuthFailure::dpop_malformed);
  c = claims();
  c["iat"] = std::to_string(kNow);
  expect_failure(proof(c), AuthFailure::dpop_malformed);
}

TEST_F(Dpop, MalformedProofs) {
  for (const char* p : {"", "x", "a.b.c", "e30.e30", "e30.e30.e30.e30"})
    expect_failure(p, AuthFailure::dpop_malformed);
  json crit = header();
  crit["crit"] = json::array({"htu"});
  expect_failure(proof(claims(), crit), AuthFailure::dpop_malformed);
  // A duplicate member in the header.
  const std::string dup =
      R"({"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256","jwk":)" + key_.public_json.dump() + "}";
  expect_failure(signed_compact(dup, claims().dump(), Alg::ES256, key_),
                 AuthFailure::dpop_malformed);
}

TEST_F(Dpop, ProofSizeAtLimitAndOver) {
  const std::string p = proof(claims());
  policy_.max_proof_bytes = p.size();
  expect_ok(p);
  policy_.max_proof_bytes = p.size() - 1;
  expect_failure(p, AuthFailure::dpop_malformed);
}

TEST_F(Dpop, HtmMismatch) {
  json c = claims();
  c["htm"] = "post";
  expect_failure(proof(c), AuthFailure::dpop_htm_mismatch);
  c["htm"] = "GET";
  expect_failure(proof(c), AuthFailure::dpop_htm_mismatch);
}

TEST_F(Dpop, HtuMatchesAfterNormalisation) {
  for (const char* htu : {"https://API.Example/orders/1", "HTTPS://api.example/orders/1",
                          "https://api.example:443/orders/1", "https://api.example/orders/1?x=1",
                          "https://api.example/orders/1#f"}) {
    json c = claims();
    c["htu"] = htu;
    SCOPED_TRACE(htu);
    expect_ok(proof(c));
  }
}

TEST_F(Dpop, HtuMismatch) {
  for (const char* htu : {"https://api.example/orders/1/", "http://api.example/orders/1",
                          "https://api.example:8443/orders/1", "https://api.example/orders/2",
                          "https://api.example/Orders/1", "https://other.example/orders/1",
                          "/orders/1", "not a url", "https://user@api.example/orders/1"}) {
    json c = claims();
    c["htu"] = htu;
    SCOPED_TRACE(htu);
    expect_failure(proof(c), AuthFailure::dpop_htu_mismatch);
  }
  // The request's own URL unparseable: nothing matches it.
  request_.url = "api.example/orders/1";
  expect_failure(proof(claims()), AuthFailure::dpop_htu_mismatch);
}

TEST_F(Dpop, IatWindow) {
  json c = claims();
  for (const std::int64_t iat :
       {kNow - policy_.max_clock_skew_s, kNow + policy_.max_clock_skew_s}) {
    c["iat"] = iat;
    expect_ok(proof(c));
  }
  c["iat"] = kNow - policy_.max_clock_skew_s - 1;  // too old
  expect_failure(proof(c), AuthFailure::dpop_iat_out_of_window);
  c["iat"] = kNow + policy_.max_clock_skew_s + 1;  // too far ahead
  expect_failure(proof(c), AuthFailure::dpop_iat_out_of_window);
  c["iat"] = -1e300;
  expect_failure(proof(c), AuthFailure::dpop_iat_out_of_window);
  c["iat"] = 1e300;
  expect_failure(proof(c), AuthFailure::dpop_iat_out_of_window);
}

TEST_F(Dpop, AthMismatch) {
  json c = claims();
  c["ath"] = b64(sha256("another token"));
  expect_failure(proof(c), AuthFailure::dpop_ath_mismatch);
  c["ath"] = b64(sha256(access_token_)) + "=";
  expect_failure(proof(c), AuthFailure::dpop_ath_mismatch);
  c["ath"] = 1;
  expect_failure(proof(c), AuthFailure::dpop_ath_mismatch);
  c.erase("ath");
  expect_failure(proof(c), AuthFailure::dpop_ath_mismatch);
  // No access token (token endpoint): ath is not checked.
  request_.access_token = {};
  expect_ok(proof(c));
}

TEST_F(Dpop, JktMismatch) {
  const std::string other = private_key(kP256b).thumbprint;
  request_.expected_jkt = other;
  expect_failure(proof(claims()), AuthFailure::dpop_jkt_mismatch);
  request_.expected_jkt = {};  // unbound token
  expect_ok(proof(claims()));
}

TEST_F(Dpop, Nonce) {
  request_.nonce = "server-nonce-2";
  expect_failure(proof(claims()), AuthFailure::dpop_nonce_required);
  json c = claims();
  c["nonce"] = "server-nonce-1";
  expect_failure(proof(c), AuthFailure::dpop_nonce_required);
  c["nonce"] = 2;
  expect_failure(proof(c), AuthFailure::dpop_nonce_required);
  c["nonce"] = "server-nonce-2";
  expect_ok(proof(c));
}

TEST(NormalizeHtu, Table) {
  const std::pair<const char*, const char*> good[] = {
      {"https://api.example/a", "https://api.example/a"},
      {"HTTPS://API.EXAMPLE/A", "https://api.example/A"},
      {"https://api.example", "https://api.example/"},
      {"https://api.example?q", "https://api.example/"},
      {"https://api.example:443/a", "https://api.example/a"},
      {"http://api.example:80/a", "http://api.example/a"},
      {"http://api.example:443/a", "http://api.example:443/a"},
      {"https://api.example:8443/a", "https://api.example:8443/a"},
      {"https://api.example:08443/a", "https://api.example:8443/a"},
      {"https://api.example:/a", "https://api.example/a"},
      {"https://api.example/a/?q=1#f", "https://api.example/a/"},
      {"https://api.example/a%2fb%c3%A9", "https://api.example/a%2Fb%C3%A9"},
      {"https://[::1]:8443/a", "https://[::1]:8443/a"},
      {"https://[FE80::1]/", "https://[fe80::1]/"},
      {"https://127.0.0.1:443", "https://127.0.0.1/"},
  };
  for (const auto& [in, out] : good)
    EXPECT_EQ(normalize_htu(in), out) << in;
  for (const char* bad : {"",
                          "api.example/a",
                          "ftp://api.example/a",
                          "https:/api.example/a",
                          "https:///a",
                          "https://user@api.example/a",
                          "https://user:pw@api.example/a",
                          "https://api.example:x/a",
                          "https://api.example:65536/a",
                          "https://api.example:0/a",
                          "https://api.example:123456/a",
                          "https://api.example:-1/a",
                          "https://api .example/a",
                          "https://api.example/a b",
                          "https://api.example/a%2",
                          "https://api.example/a%zz",
                          "https://[::1/a",
                          "https://[::1]x/a",
                          "https://[]/a",
                          "https://api.example\n/a",
                          "https://ex\xc3\xa9.com/"})
    EXPECT_FALSE(normalize_htu(bad)) << bad;
}

RC_GTEST_PROP(NormalizeHtuProp, IsIdempotent, (const std::string& tail)) {
  for (const std::string& url : {tail, "https://" + tail, "HTTP://Host.Example:80/" + tail}) {
    const auto once = normalize_htu(url);
    if (!once) continue;
    RC_ASSERT(normalize_htu(*once) == once);
    RC_ASSERT(once->find_first_of("?#") == std::string::npos);
  }
}

}  // namespace
}  // namespace stella::gw::auth
