// Flow control (docs/protocol.md §8.2). Responses: a client that reads slower than the service
// produces pauses the service through CREDIT instead of being cut once the gateway has buffered
// 2 MiB for it. Request bodies: a service that reads slower than the client uploads pauses the
// client (the gateway stops reading it) instead of filling the instance connection's queue.
#include <gtest/gtest.h>

#include <thread>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

// The demo's bytes/{n} body: 'a'..'z' repeated, restarting with every 64 KiB chunk.
bool demo_bytes_ok(std::string_view body) {
  for (std::size_t i = 0; i < body.size(); ++i)
    if (body[i] != static_cast<char>('a' + (i % 65536) % 26)) return false;
  return true;
}

// Longer than the 3 s endpoint timeout of the e2e config: the timeout bounds the gap between
// parts, not the stream.
TEST(FlowControlE2e, ASlowClientDownloadsManyTimesTheBufferBoundCompletely) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();

  constexpr std::size_t kSize = 12 * 1024 * 1024;  // 6 × the 2 MiB a call may buffer
  Client c(gw.http());
  ASSERT_TRUE(c.send(get("/api/v1/demo/bytes/" + std::to_string(kSize))));
  const std::string& bytes = c.read_until(
      [&](const std::string& b) {
        std::this_thread::sleep_for(2ms);  // ≤ 16 KiB per 2 ms: slower than the service
        return b.size() > kSize && b.compare(b.size() - 5, 5, "0\r\n\r\n") == 0;
      },
      60s);
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 200);
  ASSERT_EQ(response->status, 200) << bytes.substr(0, 200);
  ASSERT_EQ(response->body.size(), kSize) << gw.gateway_log();
  EXPECT_TRUE(demo_bytes_ok(response->body));
  // The service was paused, not cut: no overflow outcome was counted.
  auto metrics = http_exchange(gw.http(), get("/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("outcome=\"upstream_overflow\"} 1"), std::string::npos);
}

// The same download with credit switched off (routing.streamWindow: 0): the service sends as fast
// as it can, the gateway buffers 2 MiB for the slow client and then cuts the stream — the
// bound that also holds a service that ignores credit.
TEST(FlowControlE2e, WithoutCreditASlowClientIsCutAtTheBufferBound) {
  GatewayRun gw(test_config("", "  streamWindow: 0\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  Client c(gw.http());
  ASSERT_TRUE(c.send(get("/api/v1/demo/bytes/" + std::to_string(12 * 1024 * 1024))));
  const std::string& bytes = c.read_until(
      [&](const std::string&) {
        std::this_thread::sleep_for(2ms);
        return false;  // until the gateway closes
      },
      60s);
  EXPECT_TRUE(c.closed());
  EXPECT_LT(bytes.size(), 12u * 1024 * 1024);
  ASSERT_TRUE(eventually([&] {
    auto metrics = http_exchange(gw.http(), get("/metrics"));
    return metrics && metrics->body.find("outcome=\"upstream_overflow\"} 1") != std::string::npos;
  }));
}

// POST of `size` bytes to the demo's sink, which reads at most `rate` bytes/s.
std::string sink_upload(std::size_t size, std::size_t rate, char fill = 'u') {
  std::string upload = "POST /api/v1/demo/sink?rate=" + std::to_string(rate) +
                       " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(size) +
                       "\r\n\r\n";
  upload.append(size, fill);
  return upload;
}

std::string upload_config() {
  std::string config = test_config();
  const std::string small = "maxRequestBodySize: 1MB";
  config.replace(config.find(small), small.size(), "maxRequestBodySize: 1GB");
  return config;
}

// 24 MiB to the demo's sink at 8 MiB/s: three times the instance connection's 8 MiB output
// bound. Without credit the gateway reads the client at full speed, the queue to the instance
// fills, and the upload and requests to the same instance get 503 meanwhile; with it the
// gateway pauses the uploader and every request is answered.
TEST(FlowControlE2e, ASlowServiceTakesALargeUploadWhileOtherRequestsToItAreAnswered) {
  GatewayRun gw(upload_config());
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();

  constexpr std::size_t kSize = 24 * 1024 * 1024;
  const std::string upload = sink_upload(kSize, 8 * 1024 * 1024);
  Client uploader(gw.http());
  std::thread sender([&] { uploader.send(upload); });  // blocks while the gateway pauses it

  int answered = 0, others = 0;
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(100ms);
    auto r = http_exchange(gw.http(), get("/api/v1/demo/echo?i=" + std::to_string(i)));
    if (r && r->status == 200) {
      ++answered;
    } else {
      ++others;
    }
  }
  const std::string& bytes =
      uploader.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 60s);
  sender.join();
  EXPECT_EQ(answered, 20) << others << " requests were not answered 200\n" << gw.gateway_log();
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
  ASSERT_EQ(response->status, 200) << response->body << gw.gateway_log();
  EXPECT_NE(response->body.find("\"bytes\":" + std::to_string(kSize)), std::string::npos)
      << response->body;
}

// A demo that grants no credit (--request-window 0) takes the body as fast as the client sends
// it and queues it for its slow handler; the SDK's bound (max_request_body, 64 MiB queued) then
// aborts the stream and the client gets 502 — memory that the window above never lets grow.
TEST(FlowControlE2e, WithoutRequestCreditAFastUploadToASlowHandlerIsAborted) {
  GatewayRun gw(upload_config());
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_process({"service", "demo", "--gateway", "tcp://127.0.0.1:" + std::to_string(gw.tcp()),
                    "--instance", "demo-1", "--region", "local", "--request-window", "0"},
                   "demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  constexpr std::size_t kSize = 80 * 1024 * 1024;
  const std::string upload = sink_upload(kSize, 1024 * 1024);
  Client uploader(gw.http());
  std::thread sender([&] { uploader.send(upload); });
  const std::string& bytes =
      uploader.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 60s);
  uploader.shutdown_both();  // unblocks a send the gateway no longer reads
  sender.join();
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
  EXPECT_EQ(response->status, 502) << response->body;
  EXPECT_NE(gw.service(0).log().find("max_request_body"), std::string::npos);
}

// A service that answers before it has read the body (here: a bad query parameter): the client
// gets that answer at once, and the connection closes (the rest of its body stays unread).
TEST(FlowControlE2e, AnAnswerBeforeTheWholeBodyEndsTheUpload) {
  GatewayRun gw(upload_config());
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  constexpr std::size_t kSize = 64 * 1024 * 1024;
  Client c(gw.http());
  ASSERT_TRUE(c.send("POST /api/v1/demo/sink?rate=x HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                     std::to_string(kSize) + "\r\n\r\n" + std::string(1024 * 1024, 'u')));
  const std::string& bytes =
      c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 10s);
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
  EXPECT_EQ(response->status, 400) << response->body;
  EXPECT_EQ(lower(response->headers.at("connection")), "close");
  c.read_all(10s);
  EXPECT_TRUE(c.closed());
}

// The service answers while its window is still open and the client has paused mid-body: the
// answer reaches the client at once (not a 408 once the body timeout passes).
TEST(FlowControlE2e, AnAnswerWhileTheClientPausesMidBodyIsDeliveredAtOnce) {
  std::string config = upload_config();
  const std::string body_timeout = "bodyTimeout: 1s";
  config.replace(config.find(body_timeout), body_timeout.size(), "bodyTimeout: 10s");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  Client c(gw.http());
  // 150 KB of 5 MB: past the inline part, within the service's window; then the client waits.
  ASSERT_TRUE(
      c.send("POST /api/v1/demo/sink?rate=abc HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: 5000000\r\n\r\n" +
             std::string(150'000, 'u')));
  const auto started = std::chrono::steady_clock::now();
  const std::string& bytes =
      c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 20s);
  const auto waited = std::chrono::steady_clock::now() - started;
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
  EXPECT_EQ(response->status, 400) << response->body;  // the service's answer, not 408
  EXPECT_LT(waited, 9s) << "the answer waited for the body timeout";  // a bound, not a timing
}

// The credit path across threads: with two workers an upload's CREDIT reaches the HTTP side on
// another worker than the service connection's (the ThreadSanitizer run covers it).
TEST(FlowControlE2e, UploadsUnderCreditWithTwoWorkers) {
  std::string config = upload_config();
  config.replace(config.find("workers: 1"), 10, "workers: 2");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  constexpr std::size_t kSize = 4 * 1024 * 1024;  // sixteen windows
  for (int i = 0; i < 4; ++i) {                   // connections land on both workers
    Client c(gw.http());
    const std::string upload = sink_upload(kSize, 16 * 1024 * 1024, 'w');
    std::thread sender([&] { c.send(upload); });
    const std::string& bytes =
        c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 30s);
    sender.join();
    const auto response = parse_response(bytes);
    ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
    EXPECT_EQ(response->status, 200) << response->body;
    EXPECT_NE(response->body.find("\"bytes\":" + std::to_string(kSize)), std::string::npos);
  }
}

// A client that stalls mid-upload (the body streaming out, the service's window open) gets 408
// after http.bodyTimeout, as any stalled body does.
TEST(FlowControlE2e, AClientStallingMidUploadGets408) {
  GatewayRun gw(upload_config());  // bodyTimeout: 1s
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  Client c(gw.http());
  ASSERT_TRUE(
      c.send("POST /api/v1/demo/sink HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
             std::string(100'000, 'u')));
  const std::string& bytes =
      c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 20s);
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
  EXPECT_EQ(response->status, 408) << response->body;
}

// routing.maxStreamDuration bounds an upload too: a client that trickles its body past it gets
// 504 naming that limit, and the service a CANCEL.
TEST(FlowControlE2e, MaxStreamDurationBoundsATricklingUpload) {
  std::string config = upload_config();
  const std::string body_timeout = "bodyTimeout: 1s";
  config.replace(config.find(body_timeout), body_timeout.size(), "bodyTimeout: 10s");
  config.replace(config.find("routing:\n"), 9, "routing:\n  maxStreamDuration: 1s\n");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  Client c(gw.http());
  ASSERT_TRUE(
      c.send("POST /api/v1/demo/sink HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
             std::string(70'000, 'u')));  // past the inline part: the body streams
  std::string bytes;
  for (int i = 0; i < 40 && !parse_response(bytes); ++i) {
    c.send(std::string(1000, 'u'));  // a trickle: never a body-timeout gap
    bytes = c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 200ms);
  }
  const auto response = parse_response(bytes);
  ASSERT_TRUE(response) << bytes.substr(0, 300) << gw.gateway_log();
  EXPECT_EQ(response->status, 504) << response->body;
  EXPECT_NE(response->body.find("maxStreamDuration"), std::string::npos) << response->body;
}

}  // namespace
}  // namespace stella::e2e
