// base64url strictness and round trips, SHA-256 and constant-time comparison.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "stella/gateway/auth/jose.hpp"
#include "stella/gateway/auth/token_verifier.hpp"

namespace stella::gw::auth {
namespace {

TEST(Base64url, Rfc4648Vectors) {
  // RFC 4648 §10 without padding; the last two use the two URL-safe characters.
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "Zg"},
      {"fo", "Zm8"},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg"},
      {"fooba", "Zm9vYmE"},
      {"foobar", "Zm9vYmFy"},
      {"\xfb\xff", "-_8"},
      {"\xff\xff\xfe", "___-"},
  };
  for (const auto& [bytes, text] : cases) {
    EXPECT_EQ(base64url_encode(bytes), text);
    EXPECT_EQ(base64url_decode(text), bytes) << text;
  }
}

TEST(Base64url, RefusesPadding) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("Zm8="));
  EXPECT_FALSE(base64url_decode("===="));
}

TEST(Base64url, RefusesTheStandardAlphabet) {
  EXPECT_FALSE(base64url_decode("+_8"));
  EXPECT_FALSE(base64url_decode("-/8"));
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
}

TEST(Base64url, RefusesWhitespaceAndOtherBytes) {
  EXPECT_FALSE(base64url_decode(" Zg"));
  EXPECT_FALSE(base64url_decode("Zg "));
  EXPECT_FALSE(base64url_decode("Zm9v\nYg"));
  EXPECT_FALSE(base64url_decode("Zm9v\tYg"));
  EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4)));
  EXPECT_FALSE(base64url_decode("Zm9.Yg"));
  EXPECT_FALSE(base64url_decode("Zm9\xc3\xa9"));
}

TEST(Base64url, RefusesNonCanonicalTrailingBits) {
  // "Zg" is 'f'; "Zh".."Zv" carry the same byte with non-zero bits after it.
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_FALSE(base64url_decode("Zh"));
  EXPECT_FALSE(base64url_decode("Zv"));
  // Three characters: two bytes and two spare bits.
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_FALSE(base64url_decode("Zm9"));
  EXPECT_FALSE(base64url_decode("Zm-"));
}

TEST(Base64url, RefusesLengthOneModFour) {
  EXPECT_FALSE(base64url_decode("Z"));
  EXPECT_FALSE(base64url_decode("Zm9vY"));
  EXPECT_FALSE(base64url_decode("Zm9vYmFyZ"));
}

RC_GTEST_PROP(Base64urlProp, EncodeThenDecodeIsIdentity, (const std::string& bytes)) {
  const std::string text = base64url_encode(bytes);
  RC_ASSERT(text.find_first_of("+/=") == std::string::npos);
  RC_ASSERT(text.size() % 4 != 1);
  RC_ASSERT(base64url_decode(text) == bytes);
}

RC_GTEST_PROP(Base64urlProp, EveryDecodableTextHasOneEncoding, ()) {
  // Arbitrary strings over the alphabet: when one decodes, encoding gives it back exactly
  // (so no two texts decode to the same bytes).
  const auto text = *rc::gen::container<std::string>(rc::gen::elementOf(
      std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")));
  const auto bytes = base64url_decode(text);
  if (bytes) RC_ASSERT(base64url_encode(*bytes) == text);
  // Length 1 mod 4 never decodes; the other lengths decode when the spare bits are zero.
  if (text.size() % 4 == 1) RC_ASSERT(!bytes);
}

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and the empty string.
  EXPECT_EQ(base64url_encode(sha256("abc")), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  EXPECT_EQ(base64url_encode(sha256("")), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  EXPECT_EQ(sha256("abc").size(), 32U);
}

TEST(ConstantTimeEqual, ComparesContentAndSize) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

TEST(X5tS256, IsBase64urlOfSha256) {
  EXPECT_EQ(x5t_s256("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

}  // namespace
}  // namespace stella::gw::auth
