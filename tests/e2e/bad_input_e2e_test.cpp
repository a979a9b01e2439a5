// Hostile and malformed clients against the real gateway: every case gets its status and the
// connection closes where the framing cannot be trusted; nothing reaches a service that should
// not, and the gateway keeps serving.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gw_ = new GatewayRun();
    ASSERT_TRUE(gw_->ok()) << gw_->gateway_log();
    gw_->start_service("demo-bad");
    ASSERT_TRUE(gw_->wait_instances(1)) << gw_->gateway_log();
  }
  static void TearDownTestSuite() {
    delete gw_;
    gw_ = nullptr;
  }
  void TearDown() override {
    // Whatever the case did, the gateway still answers.
    auto r = http_exchange(port(), get("/api/v1/demo/echo"));
    ASSERT_TRUE(r) << gw_->gateway_log();
    EXPECT_EQ(r->status, 200);
  }
  static GatewayRun* gw_;
  std::uint16_t port() const { return gw_->http(); }

  // Sends raw bytes; expects `status` and, when `closes`, the connection closed after it.
  void expect(const std::string& raw, int status, bool closes = true) {
    Client c(port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(raw));
    auto bytes =
        closes ? c.read_all()
               : c.read_until([](const std::string& b) { return parse_response(b).has_value(); });
    auto r = parse_response(bytes);
    ASSERT_TRUE(r) << "no response to: " << raw.substr(0, 200) << "\ngot: " << bytes.substr(0, 300);
    EXPECT_EQ(r->status, status) << raw.substr(0, 200) << "\n" << r->body;
    if (closes) {
      EXPECT_TRUE(c.closed());
    }
    if (r->status >= 400) {
      EXPECT_EQ(r->headers["content-type"], "application/problem+json") << r->body;
      auto j = nlohmann::json::parse(r->body);
      EXPECT_EQ(j["status"], status);
      EXPECT_FALSE(j["correlationId"].get<std::string>().empty());
    }
  }
};
GatewayRun* BadInput::gw_ = nullptr;

const std::string kPost = "POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n";

// ---- request smuggling shapes: 400 and close ---------------------------------------------

TEST_F(BadInput, ContentLengthWithTransferEncoding) {
  expect(kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         400);
}
TEST_F(BadInput, ConflictingContentLengths) {
  expect(kPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400);
}
TEST_F(BadInput, RepeatedEqualContentLengths) {
  expect(kPost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400);
}
TEST_F(BadInput, MalformedContentLength) {
  expect(kPost + "Content-Length: 5x\r\n\r\nhello", 400);
  expect(kPost + "Content-Length: -1\r\n\r\n", 400);
  expect(kPost + "Content-Length: +5\r\n\r\nhello", 400);
}
TEST_F(BadInput, UnknownTransferCoding) {
  expect(kPost + "Transfer-Encoding: gzip\r\n\r\n", 400);
  expect(kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400);
}
TEST_F(BadInput, RepeatedTransferEncoding) {
  expect(kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}
TEST_F(BadInput, BadChunkSyntax) {
  expect(kPost + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400);
  expect(kPost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400);
  expect(kPost + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400);
}
TEST_F(BadInput, ObsFold) {
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400);
}
TEST_F(BadInput, BareLineFeedsAndCarriageReturns) {
  expect("GET /api/v1/demo/echo HTTP/1.1\nHost: a\n\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400);
}
TEST_F(BadInput, NulByte) {
  static constexpr char kRaw[] = "GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n";
  expect(std::string(kRaw, sizeof kRaw - 1), 400);
  static constexpr char kInLine[] = "GET /api/v1/de\0mo/echo HTTP/1.1\r\nHost: a\r\n\r\n";
  expect(std::string(kInLine, sizeof kInLine - 1), 400);
}
TEST_F(BadInput, InvalidHeaderNames) {
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nX-A : x\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400);
}
TEST_F(BadInput, Http10WithChunked) {
  expect("POST /api/v1/demo/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}
TEST_F(BadInput, MissingOrRepeatedHost) {
  expect("GET /api/v1/demo/echo HTTP/1.1\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}
TEST_F(BadInput, MalformedHostIs400) {  // RFC 9112 §3.2: uri-host [ ":" port ]
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: api.example.com:8443\r\n\r\n", 200);
  expect("GET /api/v1/demo/echo HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200);
}
TEST_F(BadInput, MalformedRequestLines) {
  expect("GET  /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect("GET http://evil/api HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect("G(T /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect("GET /api/v1/demo/echo HTTP/2.0\r\nHost: a\r\n\r\n", 505);
}

// ---- sizes ---------------------------------------------------------------------------------

TEST_F(BadInput, RequestLineTooLongIs414) {
  expect("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414);
}
TEST_F(BadInput, HeaderFieldTooLargeIs431) {
  expect(get("/api/v1/demo/echo", "X-Big: " + std::string(9000, 'v') + "\r\n"), 431);
}
TEST_F(BadInput, TooManyHeadersIs431) {
  std::string extra;
  for (int i = 0; i < 101; ++i)
    extra += "X-H" + std::to_string(i) + ": v\r\n";
  expect(get("/api/v1/demo/echo", extra), 431);
}
TEST_F(BadInput, HundredHeadersAreFine) {
  std::string extra;
  for (int i = 0; i < 99; ++i)
    extra += "X-H" + std::to_string(i) + ": v\r\n";  // + Host = 100
  expect(get("/api/v1/demo/echo", extra), 200, false);
}
TEST_F(BadInput, HeadTooLargeIs431) {
  std::string extra;
  for (int i = 0; i < 10; ++i)
    extra += "X-H" + std::to_string(i) + ": " + std::string(7000, 'v') + "\r\n";
  expect(get("/api/v1/demo/echo", extra), 431);
}
TEST_F(BadInput, DeclaredBodyOverTheLimitIs413BeforeItIsSent) {
  // 1MB limit; the body is never sent: the answer must come from the head alone.
  expect(kPost + "Content-Length: 1000001\r\n\r\n", 413);
}
TEST_F(BadInput, BodyAtTheLimitIsAccepted) {
  const std::string body(1'000'000, 'b');
  expect(kPost + "Content-Length: 1000000\r\n\r\n" + body, 200, false);
}
TEST_F(BadInput, ChunkedBodyOverTheLimitIs413) {
  std::string req = kPost + "Transfer-Encoding: chunked\r\n\r\n";
  const std::string piece(100'000, 'c');
  for (int i = 0; i < 11; ++i)
    req += "186a0\r\n" + piece + "\r\n";
  req += "0\r\n\r\n";
  expect(req, 413);
}

// ---- slow clients --------------------------------------------------------------------------

TEST_F(BadInput, SlowHeadersGet408AndClose) {
  Client c(port());
  ASSERT_TRUE(c.send("GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n"));  // never finished
  auto bytes = c.read_all(10s);
  auto r = parse_response(bytes);
  ASSERT_TRUE(r) << bytes;
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed());
}
TEST_F(BadInput, TrickledHeadersStillHitTheHeaderDeadline) {
  // One byte every 100 ms: each read resets nothing; the whole head has 1 s.
  Client c(port());
  const std::string head = "GET /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nX-Slow: ";
  ASSERT_TRUE(c.send(head));
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    if (!c.send("a")) break;
    c.read_until([](const std::string& b) { return !b.empty(); }, 100ms);
    closed = c.closed() || !c.buffer().empty();
  }
  auto r = parse_response(c.read_all(5s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}
TEST_F(BadInput, StalledBodyGets408) {
  Client c(port());
  ASSERT_TRUE(c.send(kPost + "Content-Length: 100\r\n\r\nonly part"));
  auto r = parse_response(c.read_all(10s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed());
}
TEST_F(BadInput, PartialRequestLineGets408) {
  Client c(port());
  ASSERT_TRUE(c.send("GET /api/v1/de"));
  auto r = parse_response(c.read_all(10s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}
TEST_F(BadInput, IdleKeepAliveConnectionIsClosed) {
  Client c(port());
  ASSERT_TRUE(c.send(get("/health/live")));
  c.read_until([](const std::string& b) { return parse_response(b).has_value(); });
  c.buffer().clear();
  // idleTimeout is 5 s: the gateway closes without sending anything.
  auto rest = c.read_all(15s);
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(rest.empty()) << rest;
}
TEST_F(BadInput, ConnectAndSayNothingIsClosedQuietly) {
  Client c(port());
  auto rest = c.read_all(15s);
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(rest.empty());
}

// ---- paths ---------------------------------------------------------------------------------

TEST_F(BadInput, PathEscapingTheRootIs400) {
  expect(get("/api/v1/demo/../../../../etc/passwd"), 400, false);
}
TEST_F(BadInput, EncodedSlashIs400) {
  expect(get("/api/v1/demo%2Fecho"), 400, false);
}
TEST_F(BadInput, EncodedNulIs400) {
  expect(get("/api/v1/demo/items/a%00b"), 400, false);
}
TEST_F(BadInput, BackslashIs400) {
  expect(get("/api/v1/demo\\echo"), 400, false);
}
TEST_F(BadInput, BadPercentEscapeIs400) {
  expect(get("/api/v1/demo/items/%zz"), 400, false);
}
TEST_F(BadInput, DotSegmentsAndDoubleSlashesAreNormalisedThenRouted) {
  auto r = http_exchange(port(), get("/api/v1/demo/x/../echo"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["path"], "/api/v1/demo/echo");
  auto r2 = http_exchange(port(), get("//api//v1/demo/./echo"));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  auto r3 = http_exchange(port(), get("/api/v1/demo/%65cho"));  // %65 = 'e', decoded once
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 200);
}

// ---- spoofed identity headers --------------------------------------------------------------

std::string echoed(const nlohmann::json& echo, const std::string& name) {
  std::string all;
  for (const auto& h : echo["headers"])
    if (lower(h[0].get<std::string>()) == lower(name)) all += h[1].get<std::string>() + ";";
  return all;
}

TEST_F(BadInput, SpoofedIdentityHeadersAreStripped) {
  auto r = http_exchange(port(), get("/api/v1/demo/echo",
                                     "X-Forwarded-For: 6.6.6.6\r\n"
                                     "X-Forwarded-Proto: https\r\n"
                                     "X-Forwarded-Host: evil.example\r\n"
                                     "Forwarded: for=6.6.6.6\r\n"
                                     "X-Real-IP: 6.6.6.6\r\n"
                                     "X-Tenant-Id: other-tenant\r\n"
                                     "X-Subject: admin\r\n"
                                     "X-Scopes: admin:all\r\n"
                                     "X-Stella-Tenant: other\r\n"
                                     "x-stella-anything: x\r\n"
                                     "X-Keep-Me: yes\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(echoed(j, "X-Forwarded-For"), "127.0.0.1;");
  EXPECT_EQ(echoed(j, "X-Forwarded-Proto"), "http;");
  EXPECT_EQ(echoed(j, "X-Forwarded-Host"), "localhost;");
  EXPECT_EQ(echoed(j, "Forwarded"), "");
  EXPECT_EQ(echoed(j, "X-Real-IP"), "");
  EXPECT_EQ(echoed(j, "X-Tenant-Id"), "");
  EXPECT_EQ(echoed(j, "X-Subject"), "");
  EXPECT_EQ(echoed(j, "X-Scopes"), "");
  EXPECT_EQ(echoed(j, "X-Stella-Tenant"), "");
  EXPECT_EQ(echoed(j, "x-stella-anything"), "");
  EXPECT_EQ(echoed(j, "X-Keep-Me"), "yes;");
  EXPECT_EQ(j["tenant"], "");
  EXPECT_EQ(j["subject"], "");
}
TEST_F(BadInput, HeadersNamedInConnectionAreDropped) {
  auto r = http_exchange(
      port(), get("/api/v1/demo/echo", "Connection: keep-alive, X-Secret\r\nX-Secret: s\r\n"));
  ASSERT_TRUE(r);
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(echoed(j, "X-Secret"), "");
  EXPECT_EQ(echoed(j, "Connection"), "");
}
TEST_F(BadInput, ClientCorrelationHeaderIsNotForwardedAsAHeader) {
  auto r = http_exchange(port(), get("/api/v1/demo/echo", "X-Correlation-Id: abc\r\n"));
  ASSERT_TRUE(r);
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(echoed(j, "X-Correlation-Id"), "");  // it travels in the frame's own field
  EXPECT_EQ(j["correlationId"], "abc");
}

}  // namespace
}  // namespace stella::e2e
