// The gateway as a user sees it: real binary, real demo services, real HTTP clients.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

class Routing : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gw_ = new GatewayRun();
    ASSERT_TRUE(gw_->ok()) << gw_->gateway_log();
    gw_->start_service("demo-a");
    gw_->start_service("demo-b");
    ASSERT_TRUE(gw_->wait_instances(2)) << gw_->gateway_log();
  }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
  }
  static GatewayRun* gw_;
  std::uint16_t port() const { return gw_->http(); }
};
GatewayRun* Routing::gw_ = nullptr;

nlohmann::json json_of(const HttpResponse& r) {
  return nlohmann::json::parse(r.body);
}

TEST_F(Routing, CurlGetsTheEchoThroughTheGateway) {
  auto [rc, out] =
      shell("curl -sS -i http://127.0.0.1:" + std::to_string(port()) + "/api/v1/demo/echo?x=1");
  ASSERT_EQ(rc, 0) << out;
  auto r = parse_response(out);
  ASSERT_TRUE(r) << out;
  EXPECT_EQ(r->status, 200);
  const auto j = json_of(*r);
  EXPECT_EQ(j["path"], "/api/v1/demo/echo");
  EXPECT_EQ(j["query"], "x=1");
  EXPECT_EQ(j["route"], "/api/v1/demo/echo");
  EXPECT_EQ(j["correlationId"], r->headers["x-correlation-id"]);
  EXPECT_EQ(r->headers["x-correlation-id"].size(), 32u);
}

TEST_F(Routing, PostBodyIsForwarded) {
  auto [rc, out] = shell("curl -sS -X POST --data-binary 'hello body' http://127.0.0.1:" +
                         std::to_string(port()) + "/api/v1/demo/echo");
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(nlohmann::json::parse(out)["body"], "hello body");
}

TEST_F(Routing, LargeChunkedBodyStreamsToTheService) {
  // 300 KB: above the inline limit, so the body goes out as REQUEST + STREAM_DATA frames.
  std::string body(300'000, 'x');
  for (std::size_t i = 0; i < body.size(); i += 997)
    body[i] = 'y';
  std::string req =
      "POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t i = 0; i < body.size(); i += 10000) {
    const auto piece = body.substr(i, 10000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    req += size + piece + "\r\n";
  }
  req += "0\r\n\r\n";
  auto r = http_exchange(port(), req);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json_of(*r)["body"], body);
}

TEST_F(Routing, CorrelationIdFromTheClientIsKeptAndEchoed) {
  auto r = http_exchange(port(), get("/api/v1/demo/echo", "X-Correlation-Id: order-42.a_b:c\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers["x-correlation-id"], "order-42.a_b:c");
  EXPECT_EQ(json_of(*r)["correlationId"], "order-42.a_b:c");
  // A malformed one is replaced.
  auto bad = http_exchange(port(), get("/api/v1/demo/echo", "X-Correlation-Id: has space<>\r\n"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->headers["x-correlation-id"].size(), 32u);
}

TEST_F(Routing, PrecedenceIsLiteralThenParameterThenCatchAll) {
  auto literal = http_exchange(port(), get("/api/v1/demo/items/special"));
  auto param = http_exchange(port(), get("/api/v1/demo/items/42"));
  auto catch_all = http_exchange(port(), get("/api/v1/demo/files/a/b/c.txt"));
  ASSERT_TRUE(literal && param && catch_all);
  EXPECT_EQ(json_of(*literal)["route"], "/api/v1/demo/items/special");
  EXPECT_EQ(json_of(*param)["route"], "/api/v1/demo/items/{id}");
  EXPECT_EQ(json_of(*catch_all)["route"], "/api/v1/demo/files/{*path}");
}

TEST_F(Routing, UnknownPathIs404ProblemJson) {
  auto r = http_exchange(port(), get("/api/v1/nothing/here", "X-Correlation-Id: c-404\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers["content-type"], "application/problem+json");
  const auto j = json_of(*r);
  EXPECT_EQ(j["status"], 404);
  EXPECT_EQ(j["type"], "https://stella-gw.dev/problems/no-route");
  EXPECT_EQ(j["correlationId"], "c-404");
  EXPECT_EQ(j["instance"], "/api/v1/nothing/here");
}

TEST_F(Routing, WrongMethodIs405WithAllow) {
  auto r = http_exchange(port(), "DELETE /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET, POST");
  EXPECT_EQ(json_of(*r)["status"], 405);
}

TEST_F(Routing, ServiceStatusCodesPassThrough) {
  auto r = http_exchange(port(), get("/api/v1/demo/status/418"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 418);
  EXPECT_EQ(r->body, "status 418\n");
}

TEST_F(Routing, StreamedResponseArrivesChunkedAndComplete) {
  auto r = http_exchange(port(), get("/api/v1/demo/stream/50"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->chunked);
  std::string want;
  for (int i = 0; i < 50; ++i)
    want += "chunk " + std::to_string(i) + "\n";
  EXPECT_EQ(r->body, want);
}

TEST_F(Routing, KeepAliveServesManyRequestsOnOneConnection) {
  Client c(port());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.send(get("/api/v1/demo/items/" + std::to_string(i))));
    auto bytes = c.read_until([](const std::string& b) { return parse_response(b).has_value(); });
    auto r = parse_response(bytes);
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(json_of(*r)["path"], "/api/v1/demo/items/" + std::to_string(i));
    c.buffer().erase(0, r->size);
  }
  EXPECT_FALSE(c.closed());
}

// Each request is built in the capacity of an earlier one (the forwarded frame comes back with
// its answer): nothing of the first request (query, a header, a body) reaches the service with
// the second, on the same connection and the same pooled state.
TEST_F(Routing, ReusedRequestStateCarriesNothingOver) {
  Client c(port());
  ASSERT_TRUE(
      c.send("POST /api/v1/demo/echo?first=1 HTTP/1.1\r\nHost: a\r\nX-Probe: only-the-first\r\n"
             "Content-Length: 10\r\n\r\nfirst body"));
  auto got = read_responses(c, 1);
  ASSERT_EQ(got.size(), 1u);
  const auto first = json_of(got[0]);
  EXPECT_EQ(first["query"], "first=1");
  EXPECT_EQ(first["body"], "first body");
  EXPECT_NE(got[0].body.find("only-the-first"), std::string::npos);
  c.buffer().erase(0, got[0].size);
  ASSERT_TRUE(c.send(get("/api/v1/demo/echo")));
  got = read_responses(c, 1);
  ASSERT_EQ(got.size(), 1u);
  const auto second = json_of(got[0]);
  EXPECT_EQ(second["method"], "GET");
  EXPECT_EQ(second["query"], "");
  EXPECT_EQ(second["body"], "");
  EXPECT_EQ(got[0].body.find("x-probe"), std::string::npos) << got[0].body;
  EXPECT_EQ(got[0].body.find("only-the-first"), std::string::npos) << got[0].body;
  EXPECT_NE(second["correlationId"], first["correlationId"]);
  EXPECT_NE(second["traceparent"], first["traceparent"]);
}

TEST_F(Routing, PipelinedRequestsAreAnsweredInOrder) {
  Client c(port());
  // A slow request first: the fast ones behind it must still come back after it, in order.
  std::string batch = get("/api/v1/demo/slow/200");
  for (int i = 0; i < 5; ++i)
    batch += get("/api/v1/demo/items/" + std::to_string(i));
  ASSERT_TRUE(c.send(batch));
  const auto got = read_responses(c, 6);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].body, "slept 200 ms\n");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(json_of(got[static_cast<std::size_t>(i + 1)])["path"],
              "/api/v1/demo/items/" + std::to_string(i));
}

// Safe pipelined requests go to the services together (RFC 9112 §9.3.2): while the first one
// sleeps, the two behind it are at the service too (the gateway's in-flight gauge counts three;
// forwarded one at a time it would never pass one), and the answers still come back in order.
TEST_F(Routing, PipelinedSafeRequestsAreForwardedConcurrently) {
  ASSERT_TRUE(gw_->wait_in_flight(0));
  Client c(port());
  ASSERT_TRUE(c.send(get("/api/v1/demo/slow/2000") + get("/api/v1/demo/slow/1999") +
                     get("/api/v1/demo/slow/1998")));
  EXPECT_TRUE(eventually([&] { return gw_->in_flight() == 3; }, std::chrono::milliseconds(1500)));
  const auto got = read_responses(c, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].body, "slept 2000 ms\n");
  EXPECT_EQ(got[1].body, "slept 1999 ms\n");
  EXPECT_EQ(got[2].body, "slept 1998 ms\n");
  EXPECT_TRUE(gw_->wait_in_flight(0));
}

/// The most requests in flight seen over `window` (polled).
int most_in_flight(GatewayRun& gw, std::chrono::milliseconds window) {
  int most = 0;
  const auto until = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < until) {
    most = std::max(most, gw.in_flight());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return most;
}

// Not behind an unsafe method nor a body: a POST (bodyless here) or a GET with a body waits
// until the answer before it is out, and so does everything pipelined after it (the in-flight
// gauge never passes one while the first sleeps).
TEST_F(Routing, PipelinedRequestsAfterAnUnsafeOneWaitTheirTurn) {
  for (const std::string middle :
       {"POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        "GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"}) {
    ASSERT_TRUE(gw_->wait_in_flight(0));
    Client c(port());
    ASSERT_TRUE(c.send(get("/api/v1/demo/slow/1500") + middle + get("/api/v1/demo/slow/1000")));
    EXPECT_EQ(most_in_flight(*gw_, std::chrono::milliseconds(1000)), 1) << middle;
    const auto got = read_responses(c, 3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].body, "slept 1500 ms\n");
    EXPECT_EQ(json_of(got[1])["method"], middle.substr(0, middle.find(' ')));
    EXPECT_EQ(got[2].body, "slept 1000 ms\n");
  }
}

// A safe request with Connection: close is forwarded ahead, but nothing behind it: two in
// flight, two answers, and the connection closes after the second.
TEST_F(Routing, NothingIsForwardedBehindConnectionClose) {
  ASSERT_TRUE(gw_->wait_in_flight(0));
  Client c(port());
  ASSERT_TRUE(c.send(get("/api/v1/demo/slow/1500") +
                     get("/api/v1/demo/slow/1499", "Connection: close\r\n") +
                     get("/api/v1/demo/slow/10")));
  EXPECT_EQ(most_in_flight(*gw_, std::chrono::milliseconds(1000)), 2);
  const std::string bytes = c.read_all();
  EXPECT_TRUE(c.closed());
  const auto got = parse_responses(bytes);
  ASSERT_EQ(got.size(), 2u) << bytes;
  EXPECT_EQ(got[0].body, "slept 1500 ms\n");
  EXPECT_EQ(got[1].body, "slept 1499 ms\n");
}

// A refusal made by a stage for a request read ahead (404 here) waits for its turn too.
TEST_F(Routing, PipelinedRefusalsKeepTheirPlace) {
  Client c(port());
  ASSERT_TRUE(c.send(get("/api/v1/demo/slow/300") + get("/api/v1/nowhere") +
                     get("/api/v1/demo/items/9") + get("/health/live")));
  const auto got = read_responses(c, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].body, "slept 300 ms\n");
  EXPECT_EQ(got[1].status, 404);
  EXPECT_EQ(json_of(got[2])["path"], "/api/v1/demo/items/9");
  EXPECT_EQ(got[3].body, R"({"status":"live"})");
  EXPECT_FALSE(c.closed());
}

TEST_F(Routing, HeadGetsHeadersOnly) {
  Client c(port());
  ASSERT_TRUE(c.send("HEAD /health/live HTTP/1.1\r\nHost: a\r\n\r\n" + get("/health/live")));
  auto bytes = c.read_until([](const std::string& b) {
    auto first = parse_response(b, true);
    return first && parse_response(b.substr(first->size)).has_value();
  });
  auto first = parse_response(bytes, true);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  auto second = parse_response(bytes.substr(first->size));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, R"({"status":"live"})");
}

TEST_F(Routing, HealthEndpointsRefuseOtherMethodsWithAllow) {
  auto r = http_exchange(port(), "POST /health/live HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET, HEAD");
}

TEST_F(Routing, HealthEndpoints) {
  auto live = http_exchange(port(), get("/health/live"));
  auto ready = http_exchange(port(), get("/health/ready"));
  auto startup = http_exchange(port(), get("/health/startup"));
  ASSERT_TRUE(live && ready && startup);
  EXPECT_EQ(live->status, 200);
  EXPECT_EQ(startup->status, 200);
  EXPECT_EQ(ready->status, 200);
  const auto j = json_of(*ready);
  EXPECT_EQ(j["status"], "ready");
  EXPECT_EQ(j["node"], "gw-e2e");
  EXPECT_EQ(j["services"]["demo"]["instances"], 2);
  EXPECT_EQ(j["services"]["demo"]["healthy"], 2);
}

}  // namespace
}  // namespace stella::e2e
