// JWK and JWKS parsing: every supported key type, every refusal, RFC 7638 thumbprints, key
// generation and export.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "auth_test_util.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::auth {
namespace {

using namespace testing;
using nlohmann::json;

JwkErrc refusal(const json& value, bool allow_private = false) {
  JwkResult r = parse_jwk(value, allow_private);
  EXPECT_FALSE(r.jwk.has_value()) << value.dump();
  return r.error;
}

// The public members of a private key constant.
json public_of(std::string_view private_text) {
  json j = json_of(private_text);
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi"})
    j.erase(m);
  return j;
}

TEST(Jwk, Rfc7638ThumbprintOfTheRfcExample) {
  const JwkResult r = parse_jwk(json_of(kRfc7638Key));
  ASSERT_TRUE(r.jwk) << jwk_error_name(r.error);
  EXPECT_EQ(r.jwk->thumbprint, kRfc7638Thumbprint);
  EXPECT_EQ(r.jwk->kty, "RSA");
  EXPECT_EQ(r.jwk->kid, "2011-04-29");
  EXPECT_EQ(r.jwk->alg, "RS256");
  EXPECT_FALSE(r.jwk->has_private);
  // Members beyond the required ones do not change the thumbprint.
  json extra = json_of(kRfc7638Key);
  extra["use"] = "sig";
  extra["key_ops"] = json::array({"verify"});
  EXPECT_EQ(parse_jwk(extra).jwk->thumbprint, kRfc7638Thumbprint);
}

TEST(Jwk, Rfc8037Ed25519ThumbprintAndPublicJson) {
  const JwkResult r = parse_jwk(public_of(kEd25519));
  ASSERT_TRUE(r.jwk) << jwk_error_name(r.error);
  EXPECT_EQ(r.jwk->thumbprint, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  EXPECT_EQ(r.jwk->kty, "OKP");
  EXPECT_EQ(r.jwk->crv, "Ed25519");
  EXPECT_EQ(r.jwk->public_json, json::parse(R"({"crv":"Ed25519","kty":"OKP",
                            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})"));
}

TEST(Jwk, ParsesEveryEcCurve) {
  for (const auto& [text, crv, alg] :
       {std::tuple{kP256, "P-256", Alg::ES256}, std::tuple{kP384, "P-384", Alg::ES384},
        std::tuple{kP521, "P-521", Alg::ES512}}) {
    const JwkResult r = parse_jwk(public_of(text));
    ASSERT_TRUE(r.jwk) << crv << ": " << jwk_error_name(r.error);
    EXPECT_EQ(r.jwk->crv, crv);
    EXPECT_TRUE(r.jwk->usable_with(alg)) << crv;
    EXPECT_EQ(r.jwk->thumbprint.size(), 43U);
    EXPECT_FALSE(r.jwk->public_json.contains("d"));
  }
}

TEST(Jwk, ParsesRsaAndKeepsTheOptionalMembers) {
  json j = public_of(kRsa2048);
  j["kid"] = "r1";
  j["use"] = "sig";
  const JwkResult r = parse_jwk(j);
  ASSERT_TRUE(r.jwk) << jwk_error_name(r.error);
  EXPECT_EQ(r.jwk->public_json["kid"], "r1");
  EXPECT_EQ(r.jwk->public_json["use"], "sig");
  EXPECT_FALSE(r.jwk->public_json.contains("alg"));
}

TEST(Jwk, RefusesNonObjectsAndBadKty) {
  EXPECT_EQ(refusal(json::array()), JwkErrc::not_an_object);
  EXPECT_EQ(refusal("RSA"), JwkErrc::not_an_object);
  EXPECT_EQ(refusal(json::object()), JwkErrc::bad_member);
  EXPECT_EQ(refusal(json{{"kty", 1}}), JwkErrc::bad_member);
  EXPECT_EQ(refusal(json{{"kty", "oct"}, {"k", "c2VjcmV0"}}), JwkErrc::unsupported_kty);
  EXPECT_EQ(refusal(json{{"kty", "oct"}, {"k", "c2VjcmV0"}}, true), JwkErrc::unsupported_kty);
  EXPECT_EQ(refusal(json{{"kty", "rsa"}}), JwkErrc::unsupported_kty);
}

TEST(Jwk, RefusesUnsupportedCurves) {
  json ec = public_of(kP256);
  ec["crv"] = "P-192";
  EXPECT_EQ(refusal(ec), JwkErrc::unsupported_curve);
  ec["crv"] = "secp256k1";
  EXPECT_EQ(refusal(ec), JwkErrc::unsupported_curve);
  json okp = public_of(kEd25519);
  okp["crv"] = "X25519";
  EXPECT_EQ(refusal(okp), JwkErrc::unsupported_curve);
  okp["crv"] = "Ed448";
  EXPECT_EQ(refusal(okp), JwkErrc::unsupported_curve);
}

TEST(Jwk, RefusesPrivateMembersUnlessAllowed) {
  for (const auto text : {kRsa2048, kP256, kEd25519}) {
    EXPECT_EQ(refusal(json_of(text)), JwkErrc::private_key_given);
    const JwkResult r = parse_jwk(json_of(text), /*allow_private=*/true);
    ASSERT_TRUE(r.jwk) << jwk_error_name(r.error);
    EXPECT_TRUE(r.jwk->has_private);
  }
  // Any private member alone is enough to refuse.
  for (const char* m : {"p", "q", "dp", "dq", "qi", "oth", "k"}) {
    json j = public_of(kRsa2048);
    j[m] = "AQAB";
    EXPECT_EQ(refusal(j), JwkErrc::private_key_given) << m;
  }
}

TEST(Jwk, RefusesRsaUnder2048Bits) {
  EXPECT_EQ(refusal(public_of(kRsa1024)), JwkErrc::weak_key);
  EXPECT_EQ(refusal(json_of(kRsa1024), true), JwkErrc::weak_key);
}

TEST(Jwk, RefusesBadRsaNumbers) {
  json even_e = public_of(kRsa2048);
  even_e["e"] = "AQAA";  // 65536
  EXPECT_EQ(refusal(even_e), JwkErrc::invalid_key);
  json one = public_of(kRsa2048);
  one["e"] = "AQ";  // 1
  EXPECT_EQ(refusal(one), JwkErrc::invalid_key);
  json huge_e = public_of(kRsa2048);
  huge_e["e"] = base64url_encode(std::string(9, '\x01'));  // 72 bits
  EXPECT_EQ(refusal(huge_e), JwkErrc::invalid_key);
}

TEST(Jwk, RefusesEcPointNotOnTheCurve) {
  json j = public_of(kP256);
  auto y = *base64url_decode(j["y"].get<std::string>());
  y.back() = static_cast<char>(y.back() ^ 1);
  j["y"] = base64url_encode(y);
  EXPECT_EQ(refusal(j), JwkErrc::invalid_key);
}

TEST(Jwk, RefusesShortenedEcCoordinates) {
  json j = public_of(kP256);
  const auto x = *base64url_decode(j["x"].get<std::string>());
  j["x"] = base64url_encode(x.substr(1));
  EXPECT_EQ(refusal(j), JwkErrc::bad_member);
}

TEST(Jwk, RefusesBadBase64urlAndMissingMembers) {
  json padded = public_of(kRsa2048);
  padded["e"] = "AQAB==";
  EXPECT_EQ(refusal(padded), JwkErrc::bad_member);
  json plus = public_of(kRsa2048);
  std::string n = plus["n"];
  n[5] = '+';
  plus["n"] = n;
  EXPECT_EQ(refusal(plus), JwkErrc::bad_member);
  json missing = public_of(kP256);
  missing.erase("y");
  EXPECT_EQ(refusal(missing), JwkErrc::bad_member);
  json not_string = public_of(kEd25519);
  not_string["x"] = 5;
  EXPECT_EQ(refusal(not_string), JwkErrc::bad_member);
  json empty = public_of(kRsa2048);
  empty["e"] = "";
  EXPECT_EQ(refusal(empty), JwkErrc::bad_member);
  json kid = public_of(kP256);
  kid["kid"] = 7;
  EXPECT_EQ(refusal(kid), JwkErrc::bad_member);
  json no_crv = public_of(kP256);
  no_crv.erase("crv");
  EXPECT_EQ(refusal(no_crv), JwkErrc::bad_member);
  json ed_short = public_of(kEd25519);
  ed_short["x"] = base64url_encode(std::string(31, 'a'));
  EXPECT_EQ(refusal(ed_short), JwkErrc::bad_member);
}

TEST(Jwk, RefusesPrivateKeyThatDoesNotMatchItsPublicKey) {
  json mixed = json_of(kP256);
  mixed["d"] = json_of(kP256b)["d"];
  EXPECT_EQ(refusal(mixed, true), JwkErrc::invalid_key);
  json ed = json_of(kEd25519);
  ed["d"] = base64url_encode(std::string(32, '\x07'));
  EXPECT_EQ(refusal(ed, true), JwkErrc::invalid_key);
}

TEST(Jwk, UsableWithMatchesTypeCurveAndAlg) {
  const Jwk p256 = public_key(private_key(kP256));
  EXPECT_TRUE(p256.usable_with(Alg::ES256));
  EXPECT_FALSE(p256.usable_with(Alg::ES384));
  EXPECT_FALSE(p256.usable_with(Alg::RS256));
  EXPECT_FALSE(p256.usable_with(Alg::EdDSA));
  const Jwk p384 = public_key(private_key(kP384));
  EXPECT_TRUE(p384.usable_with(Alg::ES384));
  EXPECT_FALSE(p384.usable_with(Alg::ES256));
  const Jwk rsa = public_key(private_key(kRsa2048));
  for (Alg a : {Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512})
    EXPECT_TRUE(rsa.usable_with(a)) << alg_name(a);
  EXPECT_FALSE(rsa.usable_with(Alg::ES256));
  const Jwk ed = public_key(private_key(kEd25519));
  EXPECT_TRUE(ed.usable_with(Alg::EdDSA));
  EXPECT_FALSE(ed.usable_with(Alg::ES256));
  // The key's own alg restricts it.
  const Jwk restricted = *parse_jwk(json_of(kRfc7638Key)).jwk;
  EXPECT_TRUE(restricted.usable_with(Alg::RS256));
  EXPECT_FALSE(restricted.usable_with(Alg::PS256));
  EXPECT_FALSE(Jwk{}.usable_with(Alg::ES256));
}

TEST(Jwk, AlgNames) {
  for (Alg a : {Alg::ES256, Alg::ES384, Alg::ES512, Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256,
                Alg::PS384, Alg::PS512, Alg::EdDSA})
    EXPECT_EQ(alg_from_name(alg_name(a)), a);
  for (const char* name : {"none", "HS256", "es256", "ES256 ", "", "RSA-OAEP", "Ed25519"})
    EXPECT_FALSE(alg_from_name(name)) << name;
}

TEST(Jwk, GenerateExportAndReload) {
  for (Alg a : {Alg::ES256, Alg::ES384, Alg::ES512, Alg::EdDSA}) {
    const Jwk key = generate_key(a);
    ASSERT_TRUE(key.key) << alg_name(a);
    EXPECT_TRUE(key.has_private);
    EXPECT_EQ(key.kid, key.thumbprint);
    const json pub = jwk_to_json(key, false);
    EXPECT_FALSE(pub.contains("d"));
    EXPECT_EQ(pub["kid"], key.kid);
    const json priv = jwk_to_json(key, true);
    ASSERT_TRUE(priv.contains("d"));
    const JwkResult reloaded = parse_jwk(priv, true);
    ASSERT_TRUE(reloaded.jwk) << jwk_error_name(reloaded.error);
    EXPECT_EQ(reloaded.jwk->thumbprint, key.thumbprint);
    // The reloaded private key signs what the generated key's public half verifies.
    const auto sig = sign(a, *reloaded.jwk, "input");
    ASSERT_TRUE(sig);
    EXPECT_TRUE(verify_signature(a, *parse_jwk(pub).jwk, "input", *sig));
  }
}

TEST(Jwk, ExportsRsaCrtMembers) {
  const Jwk key = private_key(kRsa2048);
  const json priv = jwk_to_json(key, true);
  for (const char* m : {"n", "e", "d", "p", "q", "dp", "dq", "qi"})
    EXPECT_EQ(priv[m], json_of(kRsa2048)[m]) << m;
  EXPECT_FALSE(jwk_to_json(key, false).contains("d"));
}

TEST(Jwks, KeepsGoodKeysAndNamesTheSkippedOnes) {
  json rsa = public_of(kRsa2048);
  rsa["kid"] = "rsa";
  json ec = public_of(kP256);
  ec["kid"] = "ec";
  json ec_dup = public_of(kP256b);
  ec_dup["kid"] = "ec";
  json enc = public_of(kP384);
  enc["kid"] = "enc";
  enc["use"] = "enc";
  json priv = json_of(kP521);
  priv["kid"] = "priv";
  const json doc = {
      {"keys", json::array({rsa, ec, ec_dup, enc, priv, public_of(kEd25519),
                            json{{"kty", "oct"}, {"k", "AAAA"}}, public_of(kRsa1024), 42})}};
  std::string error;
  const auto set = parse_jwks(doc.dump(), &error);
  ASSERT_TRUE(set) << error;
  EXPECT_EQ(set->by_kid.size(), 2U);
  ASSERT_TRUE(set->by_kid.contains("rsa"));
  ASSERT_TRUE(set->by_kid.contains("ec"));
  EXPECT_EQ(set->by_kid.at("ec").thumbprint, parse_jwk(public_of(kP256)).jwk->thumbprint);
  ASSERT_EQ(set->unnamed.size(), 1U);
  EXPECT_EQ(set->unnamed[0].kty, "OKP");
  EXPECT_EQ(set->size(), 3U);
  ASSERT_EQ(set->skipped.size(), 6U);
  EXPECT_NE(set->skipped[0].find("duplicate kid"), std::string::npos) << set->skipped[0];
  EXPECT_NE(set->skipped[1].find("use enc"), std::string::npos) << set->skipped[1];
  EXPECT_NE(set->skipped[2].find("private_key_given"), std::string::npos) << set->skipped[2];
  EXPECT_NE(set->skipped[3].find("unsupported_kty"), std::string::npos) << set->skipped[3];
  EXPECT_NE(set->skipped[4].find("weak_key"), std::string::npos) << set->skipped[4];
  EXPECT_NE(set->skipped[5].find("not_an_object"), std::string::npos) << set->skipped[5];
}

TEST(Jwks, RefusesDocumentsThatAreNotKeySets) {
  for (const char* text :
       {"", "[]", "{}", R"({"keys":{}})", R"({"keys":[],"keys":[]})", R"({"keys":"x"})"}) {
    std::string error;
    EXPECT_FALSE(parse_jwks(text, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
  EXPECT_TRUE(parse_jwks(R"({"keys":[]})"));
}

TEST(Jwks, KeyCountLimit) {
  json at = {{"keys", json::array()}};
  for (int i = 0; i < 256; ++i)
    at["keys"].push_back(json{{"kty", "oct"}});
  EXPECT_TRUE(parse_jwks(at.dump()));
  at["keys"].push_back(json{{"kty", "oct"}});
  std::string error;
  EXPECT_FALSE(parse_jwks(at.dump(), &error));
  EXPECT_NE(error.find("257"), std::string::npos) << error;
}

}  // namespace
}  // namespace stella::gw::auth
