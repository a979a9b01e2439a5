#include "stella/gateway/http_method.hpp"

#include <gtest/gtest.h>

namespace stella::gw {
namespace {

TEST(HttpMethod, Tokens) {
  EXPECT_TRUE(is_http_token("GET"));
  EXPECT_TRUE(is_http_token("M-SEARCH"));
  EXPECT_TRUE(is_http_token("x!#$%&'*+-.^_`|~9"));
  EXPECT_FALSE(is_http_token(""));
  EXPECT_FALSE(is_http_token("GE T"));
  EXPECT_FALSE(is_http_token("GET\r"));
  EXPECT_FALSE(is_http_token("G(T"));
  EXPECT_FALSE(is_http_token("G\xC3\x89T"));
}

TEST(HttpMethod, CheckMethod) {
  for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"}) {
    EXPECT_EQ(check_method(m, 32), std::nullopt) << m;
  }
  EXPECT_EQ(*check_method("", 32), "empty method");
  EXPECT_NE(check_method("Get", 32)->find("did you mean \"GET\""), std::string::npos);
  // Control bytes are escaped in the message, never copied raw into a log line.
  EXPECT_NE(check_method("GET\n", 32)->find("GET\\x0A"), std::string::npos);
  EXPECT_EQ(check_method("ABCD", 4), std::nullopt);
  EXPECT_NE(check_method("ABCDE", 4)->find("longer than 4"), std::string::npos);
}

TEST(HttpMethod, SafeMethodsAreTheReadOnlyOnes) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE"})
    EXPECT_TRUE(is_safe_method(m)) << m;
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE", "CONNECT", "PROPFIND", "get", "", "GETX"})
    EXPECT_FALSE(is_safe_method(m)) << m;
}

}  // namespace
}  // namespace stella::gw
