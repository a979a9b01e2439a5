// Runs the real stella-gw binary: `frame encode` and `frame decode` as a user would.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_json.hpp"

namespace {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `stella-gw <args>` with `input` on standard input.
CmdResult run(const std::string& args, const std::string& input = "") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-cli-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream in(dir / "in", std::ios::binary);
    in << input;
  }
  const std::string cmd = std::string(STELLA_GW_BINARY) + " " + args + " < " +
                          (dir / "in").string() + " > " + (dir / "out").string() + " 2> " +
                          (dir / "err").string();
  const int status = std::system(cmd.c_str());
  CmdResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  std::filesystem::remove_all(dir);
  return r;
}

std::vector<stella::core::Frame> one_of_each() {
  using namespace stella::core;
  Hello hello;
  hello.service = "scanner";
  hello.instance_id = "scanner-1";
  hello.region = "eu1";
  hello.endpoints.push_back({"GET", "/api/v1/scans/{id}", 30000, true, {{"scope", "scans"}}, "{}"});
  HelloAck ack;
  ack.accepted.push_back({"GET", "/api/v1/scans/{id}"});
  ack.rejected.push_back({"GET", "/a/{x}", 2, "conflicts with /a/{y} of service other"});
  ack.heartbeat_interval_ms = 10000;
  Request req;
  req.method = "POST";
  req.path = "/api/v1/scans";
  req.headers = {{"content-type", "application/json"}};
  req.body = std::string("{\"x\":1}\xff", 8);  // not UTF-8: travels as base64
  req.scopes = {"scans.write"};
  return {
      Frame{0, 0, hello},
      Frame{0, 0, ack},
      Frame{flags::kAck, 0, Heartbeat{4, 123456, HealthStatus::degraded, 17}},
      Frame{flags::kEndStream, 1, req},
      Frame{0, 1, Response{200, {{"content-type", "text/plain"}}, "partial"}},
      Frame{flags::kEndStream, 1, StreamData{"rest"}},
      Frame{0, 2, Cancel{static_cast<std::uint16_t>(CancelReason::timeout), "deadline"}},
      Frame{0, 0, Drain{0, 2, 5000, "shutting down"}},
      Frame{0, 3, Credit{65536}},
      Frame{0, 3, UnknownFrame{0x42, "future"}},
  };
}

TEST(FrameCli, EncodeThenDecodeRoundTripsEveryFrameType) {
  std::string json_lines;
  for (const auto& f : one_of_each())
    json_lines += stella::core::frame_to_json(f).dump() + "\n";
  const CmdResult enc = run("frame encode", json_lines);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  // The bytes are exactly the library's encoding, frame after frame.
  std::string expected;
  for (const auto& f : one_of_each())
    expected += stella::core::encode_frame(f);
  EXPECT_EQ(enc.out, expected);
  const CmdResult dec = run("frame decode", enc.out);
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, json_lines);
  // And encoding what decode printed gives the same bytes again.
  EXPECT_EQ(run("frame encode", dec.out).out, enc.out);
}

TEST(FrameCli, HexInAndOut) {
  const std::string line = R"({"type":"CREDIT","stream_id":3,"increment":10})";
  const CmdResult enc = run("frame encode --hex", line);
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(enc.out, "5347010900000000000000030000000a0001000000040000000a\n");
}

TEST(FrameCli, DecodeHexArgumentAndText) {
  const std::string hex = "53470109 0000 0000 00000003 0000000a 0001 00000004 0000000a";
  const CmdResult dec = run("frame decode --hex '" + hex + "'");
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  const auto j = nlohmann::json::parse(dec.out);
  EXPECT_EQ(j["type"], "CREDIT");
  EXPECT_EQ(j["stream_id"], 3);
  EXPECT_EQ(j["increment"], 10);
  const CmdResult text = run("frame decode --text --hex '" + hex + "'");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("CREDIT stream=3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("increment: 10"), std::string::npos) << text.out;
}

TEST(FrameCli, GarbageExitsOneNamingTheOffsetAndKeepsEarlierFrames) {
  const auto frames = one_of_each();
  const std::string good = stella::core::encode_frame(frames[2]);
  const CmdResult r = run("frame decode", good + "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"HEARTBEAT\""), std::string::npos);
  EXPECT_NE(r.err.find("byte offset " + std::to_string(good.size()) + ": bad_magic"),
            std::string::npos)
      << r.err;
}

TEST(FrameCli, CorruptFieldNamesItsOffset) {
  std::string bytes = stella::core::encode_frame(one_of_each()[8]);  // CREDIT
  bytes[16 + 5] = 3;  // the increment field now claims 3 bytes: invalid_field_length at 16
  bytes.resize(bytes.size() - 1);
  bytes[15] = static_cast<char>(bytes[15] - 1);
  const CmdResult r = run("frame decode", bytes);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("byte offset 16: invalid_field_length"), std::string::npos) << r.err;
}

TEST(FrameCli, TruncatedInputIsAnError) {
  const std::string bytes = stella::core::encode_frame(one_of_each()[0]);
  const CmdResult r = run("frame decode", bytes.substr(0, bytes.size() - 3));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("truncated frame"), std::string::npos) << r.err;
}

TEST(FrameCli, RandomBytesNeverCrash) {
  std::string junk;
  std::uint32_t x = 12345;
  for (int round = 0; round < 20; ++round) {
    junk.clear();
    for (int i = 0; i < 512; ++i) {
      x = x * 1664525u + 1013904223u;
      junk += static_cast<char>(x >> 24);
    }
    if (round % 2 == 0) junk.replace(0, 3, "SG\x01");  // get past the magic half the time
    const CmdResult r = run("frame decode", junk);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("error at byte offset"), std::string::npos) << r.err;
  }
}

TEST(FrameCli, BadJsonNamesTheFrameAndMember) {
  const CmdResult r = run("frame encode", R"({"type":"CREDIT","stream_id":3,"increment":10}
{"type":"RESPONSE","stream_id":1,"status":"x"})");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("frame 1: RESPONSE.status"), std::string::npos) << r.err;
  const CmdResult s = run("frame encode", R"({"type":"HEARTBEAT","stream_id":5,"sequence":1,
      "timestamp_us":1,"status":"healthy"})");
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_NE(s.err.find("invalid_stream_id"), std::string::npos) << s.err;
}

TEST(FrameCli, UsageErrorsExitTwoWithHelp) {
  for (const char* args :
       {"", "frame", "frame decode --bogus", "nope", "frame decode --hex 00 --file x"}) {
    const CmdResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_NE(r.err.find("Usage:"), std::string::npos) << args << ": " << r.err;
  }
  for (const char* args :
       {"--help", "frame --help", "frame decode --help", "frame encode --help", "version --help"}) {
    const CmdResult r = run(args);
    EXPECT_EQ(r.exit_code, 0) << args;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << args;
  }
  EXPECT_EQ(run("version").out.rfind("stella-gw ", 0), 0u);
}

}  // namespace
