// Log lines: JSON escaping of untrusted bytes, the request line's fields, the sink's writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "stella/gateway/http/exchange.hpp"
#include "stella/gateway/http/log_sink.hpp"

namespace stella::gw::http {
namespace {

std::string escaped(std::string_view s) {
  std::string out;
  append_json_escaped(out, s);
  return out;
}

TEST(LogEscape, ControlBytesQuotesAndInvalidUtf8) {
  EXPECT_EQ(escaped("a\"b\\c"), R"(a\"b\\c)");
  EXPECT_EQ(escaped("line\nbreak\r\t"), R"(line\nbreak\r\t)");
  EXPECT_EQ(escaped(std::string("\x01\x1f\x7f", 3)), R"(\u0001\u001f\u007f)");
  EXPECT_EQ(escaped("caf\xc3\xa9"), "caf\xc3\xa9");             // valid UTF-8 kept
  EXPECT_EQ(escaped("\xff\xfe"), R"(\ufffd\ufffd)");            // invalid bytes
  EXPECT_EQ(escaped("\xc0\xaf"), R"(\ufffd\ufffd)");            // overlong
  EXPECT_EQ(escaped("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");  // surrogate
  EXPECT_EQ(escaped("\xe2\x82"), R"(\ufffd\ufffd)");            // truncated
  // Whatever the bytes, the result is a valid JSON string.
  std::string all;
  for (int c = 0; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  EXPECT_TRUE(nlohmann::json::accept("\"" + escaped(all) + "\""));
}

TEST(LogEscape, TextLinesCannotBeForged) {
  std::string out;
  append_text_escaped(out, "svc\n2026-01-01T00:00:00.000Z FAKE: registered admin\\x\xff");
  EXPECT_EQ(out, R"(svc\x0a2026-01-01T00:00:00.000Z FAKE: registered admin\\x\xff)");
  EXPECT_EQ(to_valid_utf8("ok\xff\xc3\xa9"), "ok\xef\xbf\xbd\xc3\xa9");
}

TEST(LogSink, AStalledReaderNeverBlocksTheCaller) {
  // A pipe nobody reads: the writer thread blocks on it, the callers do not.
  std::signal(SIGPIPE, SIG_IGN);  // as `serve` does
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  config::LoggingConfig c;
  c.format = config::LogFormat::json;
  c.output = "/dev/fd/" + std::to_string(fds[1]);
  std::string error;
  auto sink = LogSink::open(c, error);
  ASSERT_TRUE(sink) << error;
  const std::string line(1000, 'x');
  for (int i = 0; i < 20000; ++i)  // 20 MB: far more than the pipe and the buffer hold
    sink->write_line(line + "\n");
  EXPECT_GT(sink->dropped(), 0u);
  EXPECT_FALSE(sink->flush(100));  // nothing drains the pipe
  ::close(fds[0]);                 // the reader goes away: writes fail, lines are counted
  EXPECT_TRUE(sink->flush(5000));
  sink.reset();
  ::close(fds[1]);
}

TEST(RequestLog, HasTheSeedFieldsAndNoHeaders) {
  Exchange ex;
  ex.method = "GET";
  ex.proxy.correlation_id = "cid-1";
  ex.identity.tenant = "tenant-1";
  ex.status = 404;
  ex.outcome = Outcome::no_route;
  ex.wall_start_unix_nano = 1'764'480'000'123'000'000ull;
  ex.times.head = core::TimePoint(std::chrono::seconds(10));
  ex.times.end = ex.times.head + std::chrono::microseconds(1500);
  ex.proxy.frame.headers.push_back({"Authorization", "Bearer secret"});
  const std::string line = request_log_json(ex);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["timestamp"], "2025-11-30T05:20:00.123Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "Request routed");
  EXPECT_EQ(j["correlationId"], "cid-1");
  EXPECT_EQ(j["tenantId"], "tenant-1");
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["service"], "");
  EXPECT_EQ(j["status"], 404);
  EXPECT_DOUBLE_EQ(j["durationMs"].get<double>(), 1.5);
  EXPECT_EQ(j["route"], "(unmatched)");
  EXPECT_EQ(j["outcome"], "no_route");
  EXPECT_EQ(j["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(line.find("secret"), std::string::npos);
}

TEST(LogSink, WritesWholeLinesToAFileAndCountsFailures) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("stella-log-" + std::to_string(::getpid()) + ".jsonl");
  config::LoggingConfig c;
  c.format = config::LogFormat::json;
  c.output = path.string();
  std::string error;
  auto sink = LogSink::open(c, error);
  ASSERT_TRUE(sink) << error;
  EXPECT_TRUE(sink->request_lines());  // on by default in json
  sink->lifecycle("info", "hello \"world\"\n");
  sink.reset();
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["message"], "hello \"world\"\n");
  EXPECT_EQ(j["level"], "info");
  std::filesystem::remove(path);

  c.output = "/nonexistent-dir/x.log";
  EXPECT_FALSE(LogSink::open(c, error));
  EXPECT_NE(error.find("telemetry.logging.output"), std::string::npos) << error;

  // A full disk: writes fail, lines are counted as dropped, nothing throws or blocks.
  if (std::filesystem::exists("/dev/full")) {
    c.output = "/dev/full";
    auto full = LogSink::open(c, error);
    ASSERT_TRUE(full) << error;
    full->lifecycle("info", "lost");
    full->write_line("lost too\nand this\n");
    EXPECT_TRUE(full->flush());
    EXPECT_EQ(full->dropped(), 3u);
  }
}

}  // namespace
}  // namespace stella::gw::http
