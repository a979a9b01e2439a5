// parse_redis_address: the forms the config accepts, and a reason for everything else.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "stella/gateway/redis/redis_client.hpp"

namespace {

using stella::gw::redis::parse_redis_address;
using stella::gw::redis::RedisSettings;

struct Accepted {
  std::string text;
  std::string host;
  std::uint16_t port;
  unsigned db;
  std::string password;
};

TEST(RedisAddress, AcceptsTheDocumentedForms) {
  const std::vector<Accepted> cases = {
      {"redis://127.0.0.1:6380/2", "127.0.0.1", 6380, 2, ""},
      {"redis://:s3cret@redis.internal:6379/1", "redis.internal", 6379, 1, "s3cret"},
      {"redis://cache", "cache", 6379, 0, ""},
      {"redis://cache/", "cache", 6379, 0, ""},
      {"redis://cache:7000", "cache", 7000, 0, ""},
      {"localhost:7000", "localhost", 7000, 0, ""},
      {"cache", "cache", 6379, 0, ""},
      {"cache-1.svc_local", "cache-1.svc_local", 6379, 0, ""},
      {"[::1]:6379", "::1", 6379, 0, ""},
      {"redis://[::1]", "::1", 6379, 0, ""},
      {"redis://[2001:db8::7]:6390/3", "2001:db8::7", 6390, 3, ""},
      {"REDIS://h:1/65535", "h", 1, 65535, ""},
      {"redis://h:65535/0", "h", 65535, 0, ""},
      {"redis://:p%40ss%3Aw%2F@h", "h", 6379, 0, "p@ss:w/"},
      {"redis://:a@b@h:1", "h", 1, 0, "a@b"},  // user info ends at the last '@'
      {"redis://default:pw@h", "h", 6379, 0, "pw"},
      {"redis://:@h", "h", 6379, 0, ""},
  };
  for (const auto& c : cases) {
    std::string error;
    const auto s = parse_redis_address(c.text, &error);
    ASSERT_TRUE(s.has_value()) << c.text << ": " << error;
    EXPECT_EQ(s->host, c.host) << c.text;
    EXPECT_EQ(s->port, c.port) << c.text;
    EXPECT_EQ(s->db, c.db) << c.text;
    EXPECT_EQ(s->password, c.password) << c.text;
    // Timeouts and limits are not part of the address: the defaults stay.
    EXPECT_EQ(s->command_timeout, RedisSettings{}.command_timeout) << c.text;
    EXPECT_EQ(s->max_pending, RedisSettings{}.max_pending) << c.text;
  }
}

TEST(RedisAddress, RefusesWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"redis://", "empty host"},
      {"redis://:6379", "empty host"},
      {":6379", "empty host"},
      {"redis://:pw@:6379", "empty host"},
      {"[]:6379", "empty host"},
      {"h:0", "bad port"},
      {"h:65536", "bad port"},
      {"h:99999999999", "bad port"},
      {"h:abc", "bad port"},
      {"h:", "bad port"},
      {"h:+1", "bad port"},
      {"h: 1", "bad port"},
      {"redis://h:6379x", "bad port"},
      {"redis://h/abc", "bad database"},
      {"redis://h/-1", "bad database"},
      {"redis://h/65536", "bad database"},
      {"redis://h/1/2", "bad database"},
      {"redis://h/0 ", "bad database"},
      {"rediss://h:6380", "TLS to Redis is not supported yet"},
      {"http://h", "unknown scheme"},
      {"redis:/h", "bad port"},  // no "://": host "redis", port ""
      {"redis://h:6379/0?timeout=1", "options are not supported"},
      {"redis://h#x", "options are not supported"},
      {"::1", "brackets"},
      {"::1:6379", "brackets"},
      {"[::1", "missing ']'"},
      {"[::1]x", "after the IPv6 address"},
      {"[not-v6]:1", "bad IPv6 address"},
      {"redis://user:pw@h", "user names are not supported"},
      {"redis://pw@h", "without ':'"},
      {"redis://:p%zz@h", "%-escape"},
      {"redis://:p%4@h", "%-escape"},
      {"my host", "bad character"},
      {" h", "bad character"},
      {std::string("h\0x", 3), "bad character"},
      {std::string(254, 'a'), "longer than 253"},
  };
  for (const auto& [text, reason] : cases) {
    std::string error;
    EXPECT_FALSE(parse_redis_address(text, &error).has_value()) << text;
    EXPECT_NE(error.find(reason), std::string::npos) << text << " -> " << error;
  }
  // The reason is optional.
  EXPECT_FALSE(parse_redis_address("h:0", nullptr).has_value());
}

TEST(RedisAddress, ReasonNeverQuotesThePassword) {
  std::string error;
  EXPECT_FALSE(parse_redis_address("redis://:hunter2@h:0", &error).has_value());
  EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
}

std::string percent_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// Any password, host name, port and database written as an address reads back as written.
RC_GTEST_PROP(RedisAddressProp, RoundTrip, ()) {
  const auto host = *rc::gen::nonEmpty(
      rc::gen::container<std::string>(rc::gen::elementOf(std::string("abcxyz019.-_"))));
  const auto port = *rc::gen::inRange<unsigned>(1, 65536);
  const auto db = *rc::gen::inRange<unsigned>(0, 65536);
  const auto password = *rc::gen::arbitrary<std::string>();
  const std::string text = "redis://:" + percent_encode(password) + "@" + host + ":" +
                           std::to_string(port) + "/" + std::to_string(db);
  std::string error;
  const auto s = parse_redis_address(text, &error);
  RC_ASSERT(s.has_value());
  RC_ASSERT(s->host == host);
  RC_ASSERT(s->port == port);
  RC_ASSERT(s->db == db);
  RC_ASSERT(s->password == password);
}

// Whatever the text: either settings a client can use, or a reason.
RC_GTEST_PROP(RedisAddressProp, ArbitraryTextGivesUsableSettingsOrAReason,
              (const std::string& text)) {
  std::string error;
  const auto s = parse_redis_address(text, &error);
  if (s) {
    RC_ASSERT(!s->host.empty());
    RC_ASSERT(s->port != 0);
    RC_ASSERT(s->db < 65536u);
  } else {
    RC_ASSERT(!error.empty());
  }
}

}  // namespace
