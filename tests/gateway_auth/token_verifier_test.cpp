// verify_access_token: the identity a good token yields, and one negative test for every
// failure it can return.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "auth_test_util.hpp"
#include "stella/gateway/auth/token_verifier.hpp"

namespace stella::gw::auth {
namespace {

using namespace testing;
using nlohmann::json;

constexpr std::int64_t kNow = 1'764'500'000;

class AccessToken : public ::testing::Test {
 protected:
  AccessToken() {
    keys_.by_kid.emplace("es1", public_key(es_, "es1"));
    keys_.by_kid.emplace("rsa1", public_key(rsa_, "rsa1"));
    keys_.by_kid.emplace("p521", public_key(p521_, "p521"));
    json restricted = rsa_.public_json;
    restricted["kid"] = "ps-only";
    restricted["alg"] = "PS256";
    keys_.by_kid.emplace("ps-only", *parse_jwk(restricted).jwk);
    keys_.unnamed.push_back(public_key(ed_));
    policy_.issuer = "https://authority.example";
    policy_.audiences = {"api", "other-api"};
  }

  static json claims() {
    return {{"iss", "https://authority.example"},
            {"aud", "api"},
            {"sub", "alice"},
            {"exp", kNow + 300},
            {"iat", kNow - 10},
            {"nbf", kNow - 10}};
  }

  std::string token(const json& payload, json header = {{"kid", "es1"}, {"typ", "at+jwt"}},
                    Alg alg = Alg::ES256, const Jwk* key = nullptr) {
    auto t = sign_compact(header, payload, alg, key ? *key : es_);
    EXPECT_TRUE(t);
    return t.value_or("");
  }

  Verified<VerifiedToken> verify(std::string_view t) {
    return verify_access_token(t, keys_, policy_, kNow);
  }

  void expect_ok(std::string_view t) {
    const auto v = verify(t);
    EXPECT_TRUE(v) << auth_failure_name(v.failure) << ": " << v.detail;
  }

  void expect_failure(std::string_view t, AuthFailure f) {
    const auto v = verify(t);
    EXPECT_FALSE(v);
    EXPECT_EQ(v.failure, f) << auth_failure_name(v.failure) << ": " << v.detail;
    EXPECT_FALSE(v.detail.empty());
    // The detail goes to logs: it never carries the token or its signature.
    if (!t.empty()) {
      EXPECT_EQ(v.detail.find(t), std::string::npos);
    }
    if (const auto sig = t.substr(t.rfind('.') + 1); sig.size() >= 8) {
      EXPECT_EQ(v.detail.find(sig), std::string::npos) << v.detail;
    }
  }

  Jwk es_ = private_key(kP256);
  Jwk rsa_ = private_key(kRsa2048);
  Jwk ed_ = private_key(kEd25519);
  Jwk p521_ = private_key(kP521);
  KeySet keys_;
  TokenPolicy policy_;
};

TEST_F(AccessToken, GoodTokenYieldsTheIdentity) {
  json c = claims();
  c["tid"] = "tenant-1";
  c["client_id"] = "app";
  c["azp"] = "ignored";
  c["scope"] = "read  write";
  c["scp"] = json::array({"admin", "read"});
  c["roles"] = json::array({"r1"});
  c["role"] = "r two";
  c["cnf"] = {{"jkt", "thumb"}, {"x5t#S256", "cert"}};
  c["groups"] = json::array({"g1", "g2"});
  c["email_verified"] = true;
  const auto v = verify(token(c));
  ASSERT_TRUE(v) << auth_failure_name(v.failure) << ": " << v.detail;
  const VerifiedToken& t = *v.value;
  EXPECT_EQ(t.subject, "alice");
  EXPECT_EQ(t.tenant, "tenant-1");
  EXPECT_EQ(t.client_id, "app");
  EXPECT_EQ(t.scopes, (std::vector<std::string>{"read", "write", "admin"}));
  EXPECT_EQ(t.roles, (std::vector<std::string>{"r1", "r two"}));
  EXPECT_EQ(t.cnf_jkt, "thumb");
  EXPECT_EQ(t.cnf_x5t_s256, "cert");
  EXPECT_EQ(t.exp, kNow + 300);
  EXPECT_EQ(t.issuer, "https://authority.example");
  EXPECT_EQ(t.claims, c);
  EXPECT_TRUE(t.has_claim("scope", "write"));
  EXPECT_TRUE(t.has_claim("scp", "admin"));
  EXPECT_FALSE(t.has_claim("scope", "delete"));
  EXPECT_TRUE(t.has_claim("roles", "r two"));
  EXPECT_TRUE(t.has_claim("role", "r1"));
  EXPECT_TRUE(t.has_claim("tid", "tenant-1"));
  EXPECT_TRUE(t.has_claim("groups", "g2"));
  EXPECT_FALSE(t.has_claim("groups", "g3"));
  EXPECT_TRUE(t.has_claim("email_verified", "true"));
  EXPECT_FALSE(t.has_claim("missing", "x"));
  EXPECT_FALSE(t.has_claim("cnf", "thumb"));
}

TEST_F(AccessToken, ClientIdFallsBackToAzp) {
  json c = claims();
  c["azp"] = "spa";
  EXPECT_EQ(verify(token(c)).value->client_id, "spa");
}

TEST_F(AccessToken, AcceptedTokenTypes) {
  for (const char* typ :
       {"at+jwt", "AT+JWT", "application/at+jwt", "JWT", "jwt", "application/JWT"})
    expect_ok(token(claims(), {{"kid", "es1"}, {"typ", typ}}));
  expect_ok(token(claims(), {{"kid", "es1"}}));  // typ is optional
}

TEST_F(AccessToken, EveryAllowedAlgVerifies) {
  expect_ok(token(claims(), {{"kid", "rsa1"}}, Alg::RS256, &rsa_));
  expect_ok(token(claims(), {{"kid", "rsa1"}}, Alg::PS256, &rsa_));
  expect_ok(token(claims(), {{"kid", "ps-only"}}, Alg::PS256, &rsa_));
  expect_ok(token(claims(), json::object(), Alg::EdDSA, &ed_));  // unnamed key, no kid
}

TEST_F(AccessToken, Expired) {
  json c = claims();
  c["exp"] = kNow - policy_.clock_skew_s;  // at the edge of the skew: still valid
  expect_ok(token(c));
  c["exp"] = kNow - policy_.clock_skew_s - 1;
  expect_failure(token(c), AuthFailure::expired);
  c.erase("exp");
  expect_failure(token(c), AuthFailure::expired);
  policy_.require_exp = false;
  const auto v = verify(token(c));
  ASSERT_TRUE(v);
  EXPECT_EQ(v.value->exp, 0);
}

TEST_F(AccessToken, NotYetValidByNbf) {
  json c = claims();
  c["nbf"] = kNow + policy_.clock_skew_s;
  expect_ok(token(c));
  c["nbf"] = kNow + policy_.clock_skew_s + 1;
  expect_failure(token(c), AuthFailure::not_yet_valid);
  c["nbf"] = static_cast<double>(kNow + policy_.clock_skew_s) + 0.5;
  expect_failure(token(c), AuthFailure::not_yet_valid);
}

TEST_F(AccessToken, NotYetValidByIat) {
  json c = claims();
  c["iat"] = kNow + policy_.clock_skew_s;
  expect_ok(token(c));
  c["iat"] = kNow + policy_.clock_skew_s + 1;
  expect_failure(token(c), AuthFailure::not_yet_valid);
}

TEST_F(AccessToken, HugeDatesDoNotOverflow) {
  json c = claims();
  c["exp"] = 1e300;
  auto v = verify(token(c));
  ASSERT_TRUE(v);
  EXPECT_EQ(v.value->exp, std::numeric_limits<std::int64_t>::max());
  c["exp"] = std::numeric_limits<std::uint64_t>::max();
  expect_ok(token(c));
  c["exp"] = -1e300;
  expect_failure(token(c), AuthFailure::expired);
  c = claims();
  c["nbf"] = 1e300;
  expect_failure(token(c), AuthFailure::not_yet_valid);
  c["nbf"] = -1e300;
  expect_ok(token(c));
}

TEST_F(AccessToken, WrongIssuer) {
  json c = claims();
  c["iss"] = "https://authority.example/";
  expect_failure(token(c), AuthFailure::bad_issuer);
  c.erase("iss");
  expect_failure(token(c), AuthFailure::bad_issuer);
  policy_.issuer.clear();  // not checked
  expect_ok(token(c));
}

TEST_F(AccessToken, WrongAudience) {
  json c = claims();
  c["aud"] = "API";
  expect_failure(token(c), AuthFailure::bad_audience);
  c.erase("aud");
  expect_failure(token(c), AuthFailure::bad_audience);
  c["aud"] = json::array();
  expect_failure(token(c), AuthFailure::bad_audience);
  policy_.audiences.clear();  // not checked
  expect_ok(token(c));
}

TEST_F(AccessToken, AudienceArray) {
  json c = claims();
  c["aud"] = json::array({"someone-else", "other-api"});
  expect_ok(token(c));
  c["aud"] = json::array({"someone-else", "third"});
  expect_failure(token(c), AuthFailure::bad_audience);
}

TEST_F(AccessToken, AlgNoneIsUnsupported) {
  const std::string payload = claims().dump();
  expect_failure(compact(R"({"alg":"none","kid":"es1"})", payload, ""),
                 AuthFailure::unsupported_alg);
  expect_failure(compact(R"({"alg":"none"})", payload, ""), AuthFailure::unsupported_alg);
  expect_failure(compact(R"({"alg":"None"})", payload, "x"), AuthFailure::unsupported_alg);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  std::size_t len = 0;
  EXPECT_TRUE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                        reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                        sizeof out, &len));
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string public_pem(const Jwk& key) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, key.key.get()), 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

TEST_F(AccessToken, Hs256WithThePublicKeyAsSecretIsUnsupported) {
  // The classic key-confusion attack: HMAC keyed with the RSA public key the verifier holds.
  const std::string header = b64(R"({"alg":"HS256","kid":"rsa1","typ":"at+jwt"})");
  const std::string input = header + "." + b64(claims().dump());
  const Jwk& rsa_public = keys_.by_kid.at("rsa1");
  for (const std::string& secret : {rsa_public.public_json.dump(), public_pem(rsa_public)}) {
    ASSERT_FALSE(secret.empty());
    expect_failure(input + "." + b64(hmac_sha256(secret, input)), AuthFailure::unsupported_alg);
  }
}

TEST_F(AccessToken, AlgOffThePolicyIsUnsupported) {
  expect_failure(token(claims(), {{"kid", "p521"}}, Alg::ES512, &p521_),
                 AuthFailure::unsupported_alg);
  policy_.algorithms = {Alg::EdDSA};
  expect_failure(token(claims()), AuthFailure::unsupported_alg);
}

TEST_F(AccessToken, AlgTheKeyCannotUseIsUnsupported) {
  // RSA key restricted to PS256; ES256 named against an RSA key.
  expect_failure(token(claims(), {{"kid", "ps-only"}}, Alg::RS256, &rsa_),
                 AuthFailure::unsupported_alg);
  expect_failure(token(claims(), {{"kid", "rsa1"}, {"alg", "ES256"}}, Alg::RS256, &rsa_),
                 AuthFailure::unsupported_alg);
}

TEST_F(AccessToken, UnknownKidIsReported) {
  const auto v = verify(token(claims(), {{"kid", "rotated-away"}}));
  ASSERT_FALSE(v);
  EXPECT_EQ(v.failure, AuthFailure::unknown_kid);
  EXPECT_EQ(v.kid, "rotated-away");
}

TEST_F(AccessToken, NoKidAndNoSuitableUnnamedKey) {
  // ES256 without kid: the only unnamed key is Ed25519.
  const auto v = verify(token(claims(), json::object()));
  EXPECT_EQ(v.failure, AuthFailure::unknown_kid);
  EXPECT_TRUE(v.kid.empty());
}

TEST_F(AccessToken, NoKidWithASingleNamedKey) {
  KeySet one;
  one.by_kid.emplace("es1", public_key(es_, "es1"));
  EXPECT_TRUE(verify_access_token(token(claims(), json::object()), one, policy_, kNow));
  // With more than one key the kid is needed.
  one.by_kid.emplace("rsa1", public_key(rsa_, "rsa1"));
  EXPECT_EQ(verify_access_token(token(claims(), json::object()), one, policy_, kNow).failure,
            AuthFailure::unknown_kid);
}

TEST_F(AccessToken, TamperedHeaderPayloadOrSignature) {
  const std::string t = token(claims());
  const std::size_t dot1 = t.find('.');
  const std::size_t dot2 = t.rfind('.');
  const std::string other_header = b64(R"({"alg":"ES256","kid":"es1","typ":"JWT"})");
  expect_failure(other_header + t.substr(dot1), AuthFailure::bad_signature);
  json c = claims();
  c["sub"] = "mallory";
  expect_failure(t.substr(0, dot1 + 1) + b64(c.dump()) + t.substr(dot2),
                 AuthFailure::bad_signature);
  std::string sig = *base64url_decode(t.substr(dot2 + 1));
  sig[10] = static_cast<char>(sig[10] ^ 0x01);
  expect_failure(t.substr(0, dot2 + 1) + b64(sig), AuthFailure::bad_signature);
  // Signed by a key other than the one the kid names.
  const Jwk other = private_key(kP256b);
  expect_failure(token(claims(), {{"kid", "es1"}}, Alg::ES256, &other), AuthFailure::bad_signature);
}

TEST_F(AccessToken, CritIsUnsupported) {
  expect_failure(token(claims(), {{"kid", "es1"}, {"crit", json::array({"exp"})}, {"exp", 1}}),
                 AuthFailure::crit_unsupported);
  expect_failure(token(claims(), {{"kid", "es1"}, {"crit", json::array()}}),
                 AuthFailure::crit_unsupported);
}

TEST_F(AccessToken, BadTokenType) {
  for (const json& typ : {json("dpop+jwt"), json("at+jwt2"), json("application/"), json(""),
                          json(1), json::array({"at+jwt"})})
    expect_failure(token(claims(), {{"kid", "es1"}, {"typ", typ}}), AuthFailure::bad_token_type);
}

TEST_F(AccessToken, DuplicateMemberInPayloadIsMalformed) {
  // Signed correctly, so only the strict parser stands between the two "sub" values.
  const std::string payload = R"({"iss":"https://authority.example","aud":"api","exp":)" +
                              std::to_string(kNow + 300) + R"(,"sub":"alice","sub":"admin"})";
  expect_failure(signed_compact(R"({"alg":"ES256","kid":"es1"})", payload, Alg::ES256, es_),
                 AuthFailure::malformed_token);
  expect_failure(signed_compact(R"({"alg":"ES256","kid":"es1","kid":"rsa1"})", claims().dump(),
                                Alg::ES256, es_),
                 AuthFailure::malformed_token);
}

TEST_F(AccessToken, RegisteredClaimsOfTheWrongType) {
  const std::pair<const char*, json> cases[] = {
      {"exp", "1764500300"},
      {"nbf", true},
      {"iat", json::array()},
      {"iss", 1},
      {"aud", 5},
      {"aud", json::array({"api", 1})},
      {"sub", json::object()},
      {"scope", json::array({"read"})},
      {"scp", json::array({1})},
      {"roles", 1},
      {"cnf", "jkt"},
      {"tid", nullptr},
      {"client_id", 1},
  };
  for (const auto& [name, value] : cases) {
    json c = claims();
    c[name] = value;
    SCOPED_TRACE(std::string(name) + " = " + value.dump());
    expect_failure(token(c), AuthFailure::bad_claims);
  }
  json c = claims();
  c["cnf"] = {{"jkt", 1}};
  expect_failure(token(c), AuthFailure::bad_claims);
}

// RFC 7800: a confirmation the gateway cannot enforce refuses the token; it never passes as a
// plain bearer token.
TEST_F(AccessToken, UnenforceableConfirmationIsRefused) {
  for (const json& cnf : {json::object(), json{{"jwk", {{"kty", "EC"}}}}, json{{"jkt", ""}},
                          json{{"x5t#S256", ""}}, json{{"jkt", "thumb"}, {"kid", "k"}}}) {
    json c = claims();
    c["cnf"] = cnf;
    SCOPED_TRACE(cnf.dump());
    expect_failure(token(c), AuthFailure::bad_claims);
  }
}

TEST_F(AccessToken, MalformedTokens) {
  expect_failure("", AuthFailure::missing_token);
  for (const char* t : {"abc", "a.b", "a.b.c.d", "eyJ9.e30.", "...", "e30.e30.e30"})
    expect_failure(t, AuthFailure::malformed_token);
  // alg missing or not a string; kid not a string.
  expect_failure(signed_compact(R"({"kid":"es1"})", claims().dump(), Alg::ES256, es_),
                 AuthFailure::malformed_token);
  expect_failure(compact(R"({"alg":["ES256"]})", claims().dump(), "x"),
                 AuthFailure::malformed_token);
  expect_failure(token(claims(), {{"kid", 1}}), AuthFailure::malformed_token);
}

TEST_F(AccessToken, TokenSizeLimitAtLimitAndOver) {
  const std::string t = token(claims());
  policy_.max_token_bytes = t.size();
  expect_ok(t);
  policy_.max_token_bytes = t.size() - 1;
  expect_failure(t, AuthFailure::malformed_token);
}

TEST(AuthFailureNames, AreStableAndDistinct) {
  EXPECT_EQ(auth_failure_name(AuthFailure::missing_token), "missing_token");
  EXPECT_EQ(auth_failure_name(AuthFailure::dpop_replay), "dpop_replay");
  EXPECT_EQ(auth_failure_name(AuthFailure::replay_cache_unavailable), "replay_cache_unavailable");
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kAuthFailureCount; ++i) {
    const auto name = auth_failure_name(static_cast<AuthFailure>(i));
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), kAuthFailureCount);
}

}  // namespace
}  // namespace stella::gw::auth
