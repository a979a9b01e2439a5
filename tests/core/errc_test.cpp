#include "stella/core/errc.hpp"

#include <gtest/gtest.h>

namespace stella::core {
namespace {

TEST(Errc, NamesAreStableAndCategoryIsCore) {
  std::error_code ec = Errc::bad_magic;
  EXPECT_EQ(ec.category().name(), std::string("stella.core"));
  EXPECT_EQ(ec.message(), "bad_magic");
  EXPECT_EQ(errc_name(Errc::path_encoded_separator), "path_encoded_separator");
  EXPECT_EQ(errc_name(static_cast<Errc>(9999)), "unknown");
}

}  // namespace
}  // namespace stella::core
