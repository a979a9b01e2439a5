#include "stella/core/credit.hpp"

#include <gtest/gtest.h>

namespace stella::core {
namespace {

TEST(CreditBatcher, GrantsInBatchesOfHalfAWindowAndLosesNothing) {
  CreditBatcher c(10'000);
  std::uint64_t granted = 0, consumed = 0;
  int grants = 0;
  for (int i = 0; i < 100; ++i) {
    consumed += 1000 + kCreditPerChunk;
    if (const auto g = c.consumed_chunk(1000)) {
      EXPECT_GE(g, 5'000u);  // never a grant smaller than half the window
      granted += g;
      ++grants;
    }
  }
  EXPECT_LE(consumed - granted, 5'000u);  // what is not granted yet is under half a window
  EXPECT_EQ(grants, 33);  // two chunks of 2024 are not due, the third is: one grant per three
}

TEST(CreditBatcher, NoWindowNoCredit) {
  CreditBatcher c(0);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(c.consumed_chunk(1 << 20), 0u);
  c.reset(4096);
  EXPECT_EQ(c.consumed_chunk(0), 0u);  // 1024: not due
  EXPECT_EQ(c.consumed_chunk(0), 2048u);
}

}  // namespace
}  // namespace stella::core
