// on_complete runs exactly once for every request whose head the gateway read, whatever ends
// it: a property over random sequences of requests, client closes, timeouts, refusals and
// pipelined batches, checked against the gateway's own counters on the real binary.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <regex>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

/// Sum of a counter family's samples in a scrape, leaving out the scrapes' own series.
double family_sum(const std::string& text, const std::string& family, const std::string& skip) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 || line.find(skip) != std::string::npos) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

enum class Action {
  ok,
  not_found,
  bad_framing,
  client_leaves,
  timeout,
  pipelined,
  half_head,
  pipelined_leaves,   // the client leaves while requests forwarded ahead are in flight
  pipelined_timeout,  // the first answer is a 504; the one forwarded behind it still comes
};

class Completion : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string config = test_config();
    config.replace(config.find("defaultTimeout: 3s"), 18, "defaultTimeout: 300ms");
    gw_ = new GatewayRun(config);
    ASSERT_TRUE(gw_->ok()) << gw_->gateway_log();
    gw_->start_service("demo-c");
    ASSERT_TRUE(gw_->wait_instances(1)) << gw_->gateway_log();
  }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
  }
  static std::uint16_t port() { return gw_->http(); }
  static std::pair<double, double> counts() {
    auto r = http_exchange(port(), get("/metrics"));
    if (!r) return {-1, -1};
    return {family_sum(r->body, "gateway_request_outcomes_total", "outcome=\"management\""),
            family_sum(r->body, "gateway_requests_total", "path=\"/metrics\"")};
  }
  /// Performs `a`; returns how many request heads the gateway was sent in full.
  static int perform(Action a) {
    switch (a) {
      case Action::ok:
        (void)http_exchange(port(), get("/api/v1/demo/echo"));
        return 1;
      case Action::not_found:
        (void)http_exchange(port(), get("/nowhere"));
        return 1;
      case Action::bad_framing:
        (void)http_exchange(port(), "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        return 1;
      case Action::client_leaves: {
        Client c(port());
        c.send(get("/api/v1/demo/slow/200"));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // not a wait-for: any gap
        return 1;
      }
      case Action::timeout:
        (void)http_exchange(port(), get("/api/v1/demo/slow/2000"));
        return 1;
      case Action::pipelined: {
        Client c(port());
        c.send(get("/api/v1/demo/echo") + get("/nowhere") + get("/api/v1/demo/items/1"));
        RC_ASSERT(read_responses(c, 3).size() == 3u);
        return 3;
      }
      case Action::pipelined_leaves: {
        // Leaves once the gateway forwarded the requests behind the first (two sleeps in
        // flight): the ones forwarded ahead are abandoned, each completing once.
        Client c(port());
        c.send(get("/api/v1/demo/slow/1000") + get("/api/v1/demo/items/1") +
               get("/api/v1/demo/slow/1000"));
        RC_ASSERT(eventually([] { return gw_->in_flight() >= 2; }, std::chrono::seconds(3)));
        return 3;
      }
      case Action::pipelined_timeout: {
        // The first answer is a 504 (defaultTimeout 300ms); the stream forwarded behind it
        // still comes whole, its parts timed from its turn.
        Client c(port());
        c.send(get("/api/v1/demo/slow/2000") + get("/api/v1/demo/stream/3"));
        const auto got = read_responses(c, 2);
        RC_ASSERT(got.size() == 2u);
        RC_ASSERT(got[0].status == 504);
        RC_ASSERT(got[1].status == 200);
        RC_ASSERT(got[1].body == std::string("chunk 0\nchunk 1\nchunk 2\n"));
        return 2;
      }
      case Action::half_head: {
        Client c(port());
        c.send("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n");  // never finished
        return 0;
      }
    }
    return 0;
  }
  static GatewayRun* gw_;
};
GatewayRun* Completion::gw_ = nullptr;

TEST_F(Completion, ExactlyOncePerRequestWhoseHeadWasRead) {
  ASSERT_TRUE(gw_->ok());
  // Each case runs real requests (some wait for a timeout): a few dozen cases, not 100.
  ::setenv("RC_PARAMS", "max_success=25", 0);
  const bool ok = rc::check("one completion per request head", [] {
    const auto actions = *rc::gen::container<std::vector<Action>>(
        *rc::gen::inRange<std::size_t>(1, 8),
        rc::gen::element(Action::ok, Action::not_found, Action::bad_framing, Action::client_leaves,
                         Action::timeout, Action::pipelined, Action::half_head,
                         Action::pipelined_leaves, Action::pipelined_timeout));
    const auto before = counts();
    RC_ASSERT(before.first >= 0);
    double expected = 0;
    for (Action a : actions)
      expected += perform(a);
    // Requests finish on the gateway after their client moved on: wait until the counts
    // settle at the expected value (a double count would overshoot and fail below).
    std::pair<double, double> after;
    eventually(
        [&] {
          after = counts();
          return after.first - before.first >= expected && after.second - before.second >= expected;
        },
        std::chrono::seconds(10));
    RC_ASSERT(after.first - before.first == expected);
    RC_ASSERT(after.second - before.second == expected);
  });
  EXPECT_TRUE(ok);
  EXPECT_FALSE(gw_->gateway().log_contains("AddressSanitizer")) << gw_->gateway_log();
}

// A client that closes while a streamed answer is being written to it (what `curl | head -c`
// does): the request ends as client_closed, once, and the gateway goes on serving.
TEST_F(Completion, ClientClosingMidStreamEndsTheRequestOnce) {
  ASSERT_TRUE(gw_->ok());
  const auto before = counts();
  for (int i = 0; i < 10; ++i) {
    Client c(port());
    ASSERT_TRUE(c.send(get("/api/v1/demo/stream/2000")));
    c.read_until([](const std::string& b) { return b.find("chunk 3\n") != std::string::npos; });
    if (i % 2) c.shutdown_write();
    c.close();
  }
  std::pair<double, double> after;
  EXPECT_TRUE(eventually([&] {
    after = counts();
    return after.first - before.first >= 10;
  }));
  EXPECT_EQ(after.first - before.first, 10);
  auto live = http_exchange(port(), get("/health/live"));
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  EXPECT_FALSE(gw_->gateway().log_contains("runtime error")) << gw_->gateway_log();
  EXPECT_FALSE(gw_->gateway().log_contains("AddressSanitizer")) << gw_->gateway_log();
}

}  // namespace
}  // namespace stella::e2e
