// Flow control on response streams (docs/protocol.md §8.2): a client that reads slower than the
// service produces pauses the service through CREDIT instead of being cut once the gateway has
// buffered 2 MiB for it.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace stella::e2e
