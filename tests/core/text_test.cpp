#include "stella/core/text.hpp"

#include <gtest/gtest.h>

namespace stella::core {
namespace {

TEST(Printable, LeavesTextAndEscapesEverythingElse) {
  EXPECT_EQ(printable("GET /api/v1/é"), "GET /api/v1/é");
  EXPECT_EQ(printable("a\nb"), "a\\x0ab");                              // no forged log lines
  EXPECT_EQ(printable("\x1b[31mred"), "\\x1b[31mred");                  // no terminal escapes
  EXPECT_EQ(printable(std::string_view("\xff\xc3", 2)), "\\xff\\xc3");  // invalid UTF-8
  EXPECT_EQ(printable("\xc2\x85"), "\\xc2\\x85");                       // C1 control (NEL)
  EXPECT_EQ(printable("a\\x0a"), "a\\\\x0a");                           // an escape cannot be faked
  EXPECT_EQ(printable(std::string(600, 'z')), std::string(512, 'z') + "...");
  EXPECT_TRUE(is_printable_utf8(printable(std::string_view("\x00\x7f\xed\xa0\x80", 5))));
}

}  // namespace
}  // namespace stella::core
