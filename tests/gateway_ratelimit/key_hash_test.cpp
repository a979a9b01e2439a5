// The keyed hash behind shard choice (src/key_hash.hpp): SipHash checked against the
// reference vectors of Aumasson and Bernstein (SipHash-2-4; the 1-3 variant runs the same
// code with other round counts), and the key actually matters.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "../../gateway/ratelimit/src/key_hash.hpp"

namespace stella::gw::ratelimit::detail {
namespace {

// Key 00 01 .. 0f, as two little-endian words.
constexpr SipKey kReferenceKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::string bytes_0_to(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i)
    s.push_back(static_cast<char>(i));
  return s;
}

TEST(KeyHash, SipHash24MatchesTheReferenceVectors) {
  EXPECT_EQ((siphash<2, 4>(kReferenceKey, "")), 0x726fdb47dd0e0e31ULL);
  // The paper's worked example: the 15-byte message 00 .. 0e.
  EXPECT_EQ((siphash<2, 4>(kReferenceKey, bytes_0_to(15))), 0xa129ca6149be45e5ULL);
}

TEST(KeyHash, EveryByteAndTheKeyMatter) {
  const std::string a = "tenant:acme/subject:alice";
  std::string b = a;
  b.back() = 'f';
  EXPECT_NE(siphash13(kReferenceKey, a), siphash13(kReferenceKey, b));
  EXPECT_NE(siphash13(kReferenceKey, a), siphash13(SipKey{1, 2}, a));
  EXPECT_NE(siphash13(kReferenceKey, std::string(8, '\0')), siphash13(kReferenceKey, ""));
  EXPECT_EQ(siphash13(kReferenceKey, a), siphash13(kReferenceKey, std::string(a)));
}

}  // namespace
}  // namespace stella::gw::ratelimit::detail
