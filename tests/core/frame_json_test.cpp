#include "stella/core/frame_json.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <nlohmann/json.hpp>

#include "frame_gen.hpp"

namespace stella::core {
namespace {

RC_GTEST_PROP(FrameJson, JsonRoundTripsEveryFrame, ()) {
  const Frame f = *testgen::any_frame();
  const nlohmann::ordered_json j = frame_to_json(f);
  // Through text too: what `frame decode` prints is what `frame encode` reads.
  const auto text = j.dump();
  Frame back;
  std::string error;
  RC_ASSERT(frame_from_json(nlohmann::ordered_json::parse(text), back, error));
  RC_ASSERT(back == f);
}

TEST(FrameJson, BinaryStringsUseBase64) {
  Frame f{flags::kEndStream, 9, StreamData{std::string("\xff\x00\x01", 3)}};
  const auto j = frame_to_json(f);
  EXPECT_EQ(j["type"], "STREAM_DATA");
  EXPECT_EQ(j["data"]["base64"], "/wAB");
  EXPECT_EQ(j["flag_names"][0], "END_STREAM");
}

TEST(FrameJson, ErrorsNameTheMember) {
  Frame f;
  std::string error;
  EXPECT_FALSE(frame_from_json(nlohmann::ordered_json::parse(R"({"type":"NOPE"})"), f, error));
  EXPECT_NE(error.find("unknown frame type 'NOPE'"), std::string::npos);
  EXPECT_FALSE(frame_from_json(
      nlohmann::ordered_json::parse(R"({"type":"REQUEST","stream_id":1,"method":"GET","path":"/",
                                "headers":[["a","b"],["c"]]})"),
      f, error));
  EXPECT_EQ(error, "REQUEST.headers[1]: expected [name, value]");
  EXPECT_FALSE(frame_from_json(
      nlohmann::ordered_json::parse(R"({"type":"RESPONSE","stream_id":1})"), f, error));
  EXPECT_EQ(error, "RESPONSE.status: missing");
  EXPECT_FALSE(frame_from_json(
      nlohmann::ordered_json::parse(
          R"({"type":"HEARTBEAT","sequence":1,"timestamp_us":-4,"status":"healthy"})"),
      f, error));
  EXPECT_EQ(error, "HEARTBEAT.timestamp_us: expected a non-negative integer");
  EXPECT_FALSE(frame_from_json(
      nlohmann::ordered_json::parse(R"({"type":"CANCEL","stream_id":1,"reason":"bored"})"), f,
      error));
  EXPECT_EQ(error, "CANCEL.reason: unknown name 'bored'");
}

TEST(FrameJson, CodesAcceptNames) {
  Frame f;
  std::string error;
  ASSERT_TRUE(frame_from_json(
      nlohmann::ordered_json::parse(R"({"type":"CANCEL","stream_id":3,"reason":"timeout"})"), f,
      error))
      << error;
  EXPECT_EQ(std::get<Cancel>(f.body).reason, static_cast<std::uint16_t>(CancelReason::timeout));
}

}  // namespace
}  // namespace stella::core
