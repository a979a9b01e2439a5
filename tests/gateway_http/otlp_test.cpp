// The trace export path: W3C traceparent, the OTLP/JSON encoding, the outbound HTTP client and
// the exporter, the last two against a real HTTP(S) receiver on 127.0.0.1:0 running on its own
// thread. Waits are on conditions with a deadline, never fixed sleeps.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../transport/tls_test_pki.hpp"
#include "stella/core/clock.hpp"
#include "stella/gateway/http/otlp_exporter.hpp"
#include "stella/gateway/http/otlp_json.hpp"
#include "stella/gateway/http/outbound_http_client.hpp"
#include "stella/gateway/http/span.hpp"

namespace stella::gw::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s) {
  const core::SteadyClock clock;
  const auto deadline = clock.now() + limit;
  while (clock.now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

bool is_lower_hex(const std::string& s, std::size_t size) {
  if (s.size() != size) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// ---- traceparent ---------------------------------------------------------------------------

constexpr std::string_view kTraceHex = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kParentHex = "00f067aa0ba902b7";

std::string traceparent(std::string_view version, std::string_view trace = kTraceHex,
                        std::string_view parent = kParentHex, std::string_view flags = "01") {
  return std::string(version) + "-" + std::string(trace) + "-" + std::string(parent) + "-" +
         std::string(flags);
}

TEST(Traceparent, ValidVersion00) {
  const auto tc = parse_traceparent(traceparent("00"));
  ASSERT_TRUE(tc);
  EXPECT_EQ(to_hex(tc->trace_id), kTraceHex);
  EXPECT_EQ(to_hex(tc->parent_id), kParentHex);
  EXPECT_EQ(tc->trace_id[0], 0x4b);
  EXPECT_EQ(tc->parent_id[7], 0xb7);
  EXPECT_EQ(tc->flags, 0x01);
  EXPECT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "00"))->flags, 0);
  EXPECT_EQ(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "ff"))->flags, 0xff);
}

TEST(Traceparent, FormatRoundTrips) {
  const auto tc = parse_traceparent(traceparent("00"));
  ASSERT_TRUE(tc);
  EXPECT_EQ(format_traceparent(tc->trace_id, tc->parent_id, tc->flags), traceparent("00"));
  std::array<std::uint8_t, 16> trace{};
  trace[15] = 1;
  std::array<std::uint8_t, 8> span{};
  span[0] = 0xab;
  EXPECT_EQ(format_traceparent(trace, span, 0),
            "00-00000000000000000000000000000001-ab00000000000000-00");
}

TEST(Traceparent, UppercaseHexIsInvalid) {
  EXPECT_FALSE(parse_traceparent(traceparent("00", "4BF92F3577B34DA6A3CE929D0E0E4736")));
  EXPECT_FALSE(parse_traceparent(traceparent("00", kTraceHex, "00F067AA0BA902B7")));
  EXPECT_FALSE(parse_traceparent(traceparent("00", kTraceHex, kParentHex, "0A")));
  EXPECT_FALSE(parse_traceparent(traceparent("0A")));
}

TEST(Traceparent, AllZeroIdsAreInvalid) {
  EXPECT_FALSE(parse_traceparent(traceparent("00", std::string(32, '0'))));
  EXPECT_FALSE(parse_traceparent(traceparent("00", kTraceHex, std::string(16, '0'))));
  // One non-zero digit anywhere is enough.
  EXPECT_TRUE(parse_traceparent(traceparent("00", std::string(31, '0') + "1")));
  EXPECT_TRUE(parse_traceparent(traceparent("00", kTraceHex, "1" + std::string(15, '0'))));
}

TEST(Traceparent, BadLengthsAndSeparators) {
  const std::string valid = traceparent("00");
  ASSERT_EQ(valid.size(), 55u);
  EXPECT_FALSE(parse_traceparent(""));
  EXPECT_FALSE(parse_traceparent(valid.substr(0, 54)));
  EXPECT_FALSE(parse_traceparent(valid + "-"));  // version 00 is exactly 55 characters
  EXPECT_FALSE(parse_traceparent(valid + "0"));
  EXPECT_FALSE(parse_traceparent(valid + "-extra"));
  EXPECT_FALSE(
      parse_traceparent(traceparent("00", std::string(kTraceHex.substr(1)) + "0a").substr(0, 54)));
  EXPECT_FALSE(
      parse_traceparent(traceparent("00", kTraceHex.substr(0, 31), std::string(kParentHex) + "0")));
  for (std::size_t i : {2u, 35u, 52u}) {
    std::string bad = valid;
    bad[i] = '_';
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
  std::string non_hex = valid;
  non_hex[10] = 'g';
  EXPECT_FALSE(parse_traceparent(non_hex));
  non_hex = valid;
  non_hex[40] = ' ';
  EXPECT_FALSE(parse_traceparent(non_hex));
}

TEST(Traceparent, VersionFfIsInvalid) {
  EXPECT_FALSE(parse_traceparent(traceparent("ff")));
  EXPECT_FALSE(parse_traceparent(traceparent("ff") + "-future"));
}

TEST(Traceparent, FutureVersionParsesTheVersion00Fields) {
  const auto exact = parse_traceparent(traceparent("01"));
  ASSERT_TRUE(exact);
  EXPECT_EQ(to_hex(exact->trace_id), kTraceHex);
  const auto extra = parse_traceparent(traceparent("cc") + "-what-the-future-will-be-like");
  ASSERT_TRUE(extra);
  EXPECT_EQ(to_hex(extra->parent_id), kParentHex);
  EXPECT_EQ(extra->flags, 0x01);
  // The fields of a future version still follow the version-00 rules.
  EXPECT_FALSE(parse_traceparent(traceparent("cc") + "what"));  // 56th character not '-'
  EXPECT_FALSE(parse_traceparent(traceparent("cc", std::string(32, '0')) + "-x"));
  EXPECT_FALSE(parse_traceparent(traceparent("cc", kTraceHex, kParentHex, "0X") + "-x"));
}

TEST(Traceparent, ToHexIsLowercase) {
  const std::array<std::uint8_t, 4> bytes{0x00, 0x0a, 0xf0, 0xff};
  EXPECT_EQ(to_hex(bytes), "000af0ff");
  EXPECT_EQ(to_hex({}), "");
}

// ---- OTLP JSON -----------------------------------------------------------------------------

Span make_span(std::uint8_t trace_seed, std::uint8_t span_seed, std::uint8_t parent_seed,
               std::string name, Span::Kind kind) {
  Span s;
  for (std::size_t i = 0; i < s.trace_id.size(); ++i)
    s.trace_id[i] = static_cast<std::uint8_t>(trace_seed + i);
  s.span_id.fill(span_seed);
  s.parent_span_id.fill(parent_seed);
  s.name = std::move(name);
  s.kind = kind;
  // Above 2^53: would lose digits if written as a JSON number and read as a double.
  s.start_unix_nano = 1700000000123456789ULL;
  s.end_unix_nano = 1700000000223456789ULL;
  return s;
}

const json& only_scope_spans(const json& body) {
  return body.at("resourceSpans").at(0).at("scopeSpans").at(0);
}

TEST(OtlpJson, ShapeFieldNamesAndTypes) {
  Span root = make_span(0x10, 0xa1, 0, "gateway.route", Span::Kind::server);
  root.attributes = {{"http.request.method", std::string("GET")},
                     {"http.response.status_code", std::int64_t{-42}},
                     {"stella.cached", true},
                     {"stella.ratio", 1.5}};
  root.status = Span::Status::ok;
  Span child = make_span(0x10, 0xb2, 0xa1, "gateway.transport.send", Span::Kind::client);
  child.status = Span::Status::error;
  child.status_message = "instance lost";

  const json body = json::parse(otlp_json({root, child}, "stella-gw", "0.1.0"));
  const json& resource = body.at("resourceSpans").at(0).at("resource");
  EXPECT_EQ(resource.at("attributes").at(0),
            json::parse(R"({"key":"service.name","value":{"stringValue":"stella-gw"}})"));
  const json& ss = only_scope_spans(body);
  EXPECT_EQ(ss.at("scope"), json::parse(R"({"name":"stella-gw","version":"0.1.0"})"));
  const json& spans = ss.at("spans");
  ASSERT_EQ(spans.size(), 2u);

  const json& r = spans.at(0);
  ASSERT_TRUE(r.at("traceId").is_string());
  EXPECT_TRUE(is_lower_hex(r.at("traceId"), 32)) << r.at("traceId");
  EXPECT_EQ(r.at("traceId"), "101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(r.at("spanId"), "a1a1a1a1a1a1a1a1");
  EXPECT_FALSE(r.contains("parentSpanId"));
  EXPECT_EQ(r.at("name"), "gateway.route");
  ASSERT_TRUE(r.at("kind").is_number_integer());
  EXPECT_EQ(r.at("kind"), 2);
  ASSERT_TRUE(r.at("startTimeUnixNano").is_string());
  EXPECT_EQ(r.at("startTimeUnixNano"), "1700000000123456789");
  EXPECT_EQ(r.at("endTimeUnixNano"), "1700000000223456789");
  EXPECT_EQ(r.at("attributes"), json::parse(R"([
      {"key":"http.request.method","value":{"stringValue":"GET"}},
      {"key":"http.response.status_code","value":{"intValue":"-42"}},
      {"key":"stella.cached","value":{"boolValue":true}},
      {"key":"stella.ratio","value":{"doubleValue":1.5}}])"));
  EXPECT_EQ(r.at("status"), json::parse(R"({"code":1})"));

  const json& c = spans.at(1);
  EXPECT_EQ(c.at("traceId"), r.at("traceId"));
  EXPECT_TRUE(is_lower_hex(c.at("spanId"), 16));
  EXPECT_EQ(c.at("parentSpanId"), r.at("spanId"));
  EXPECT_EQ(c.at("kind"), 3);
  EXPECT_EQ(c.at("attributes"), json::array());
  EXPECT_EQ(c.at("status"), json::parse(R"({"code":2,"message":"instance lost"})"));
}

TEST(OtlpJson, EmptyVersionAndNoSpans) {
  const json body = json::parse(otlp_json({}, "svc", ""));
  const json& ss = only_scope_spans(body);
  EXPECT_EQ(ss.at("scope"), json::parse(R"({"name":"svc"})"));
  EXPECT_EQ(ss.at("spans"), json::array());
}

TEST(OtlpJson, InvalidUtf8IsReplacedNotFatal) {
  Span s = make_span(1, 2, 0, "bad \xff\xfe name", Span::Kind::server);
  s.attributes = {{"url.path", std::string("/caf\xc3")}};
  const std::string text = otlp_json({s}, "stella-gw", "");
  const json body = json::parse(text);  // throws on invalid UTF-8
  const json& span = only_scope_spans(body).at("spans").at(0);
  EXPECT_EQ(span.at("name"), "bad \xef\xbf\xbd\xef\xbf\xbd name");
  EXPECT_EQ(span.at("attributes").at(0).at("value").at("stringValue"), "/caf\xef\xbf\xbd");
}

TEST(OtlpJson, NonFiniteDoublesUseTheProtobufSpelling) {
  Span s = make_span(1, 2, 0, "x", Span::Kind::internal);
  s.attributes = {{"nan", std::numeric_limits<double>::quiet_NaN()},
                  {"inf", std::numeric_limits<double>::infinity()},
                  {"ninf", -std::numeric_limits<double>::infinity()}};
  const json span = only_scope_spans(json::parse(otlp_json({s}, "s", ""))).at("spans").at(0);
  EXPECT_EQ(span.at("attributes").at(0).at("value").at("doubleValue"), "NaN");
  EXPECT_EQ(span.at("attributes").at(1).at("value").at("doubleValue"), "Infinity");
  EXPECT_EQ(span.at("attributes").at(2).at("value").at("doubleValue"), "-Infinity");
  EXPECT_EQ(span.at("kind"), 1);
  EXPECT_EQ(span.at("status"), json::parse(R"({"code":0})"));
}

// ---- a real receiver -----------------------------------------------------------------------

// A co_spawn completion handler for the receiver's coroutines: what escapes one fails the test.
auto on_done(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      ADD_FAILURE() << what << ": " << ex.what();
    }
  };
}

// A small HTTP/1.1 server (optionally TLS) on 127.0.0.1:0 with its own io_context thread. It
// records every request, then answers `status` with `response_body`; while stalled it holds
// requests it has read without answering.
class Receiver {
 public:
  struct Request {
    std::string method, target, content_type, body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  explicit Receiver(std::shared_ptr<asio::ssl::context> tls = nullptr)
      : tls_(std::move(tls)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), on_done("receiver accept loop"));
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Receiver() {
    io_.stop();
    thread_.join();
  }

  std::string url(std::string_view path = "/v1/traces") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
           std::string(path);
  }
  std::uint16_t port() const { return port_; }

  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t arrived() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  // All spans of all requests, in arrival order.
  std::vector<json> spans() const {
    std::vector<json> out;
    for (const auto& r : requests()) {
      const json body = json::parse(r.body);
      for (const auto& s : only_scope_spans(body).at("spans"))
        out.push_back(s);
    }
    return out;
  }

  void set_status(unsigned s) { status_ = s; }
  void set_stall(bool s) { stall_ = s; }
  void set_response_body(std::string b) {
    std::lock_guard lock(mutex_);
    response_body_ = std::move(b);
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      if (tls_)
        asio::co_spawn(io_, tls_session(std::move(socket)), on_done("receiver TLS session"));
      else
        asio::co_spawn(io_, serve(beast::tcp_stream(std::move(socket))), on_done("receiver"));
    }
  }

  asio::awaitable<void> tls_session(tcp::socket socket) {
    asio::ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls_);
    // A refused handshake is what some tests want: the client reports it.
    if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple); ec)
      co_return;
    co_await serve(std::move(stream));
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      if (auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, kTuple); ec) co_return;
      std::string body;
      {
        std::lock_guard lock(mutex_);
        Request r{std::string(req.method_string()),
                  std::string(req.target()),
                  std::string(req[bhttp::field::content_type]),
                  req.body(),
                  {}};
        for (const auto& f : req)
          r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        requests_.push_back(std::move(r));
        body = response_body_;
      }
      asio::steady_timer pause(io_);
      while (stall_) {
        pause.expires_after(2ms);
        co_await pause.async_wait(kTuple);
      }
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status_.load()), 11};
      res.set(bhttp::field::content_type, "application/json");
      res.set("X-Receiver", "yes");
      res.body() = std::move(body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      if (auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple); ec) co_return;
      if (!res.keep_alive()) co_return;
    }
  }

  std::shared_ptr<asio::ssl::context> tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::string response_body_ = "{}";
  std::atomic<unsigned> status_{200};
  std::atomic<bool> stall_{false};
};

// ---- outbound client -----------------------------------------------------------------------

boost::system::result<OutboundResponse> run_request(OutboundRequest req,
                                                    const OutboundTlsOptions& tls = {}) {
  asio::io_context io;
  std::optional<boost::system::result<OutboundResponse>> out;
  asio::co_spawn(io, async_http_request(io.get_executor(), std::move(req), tls),
                 [&](std::exception_ptr e, boost::system::result<OutboundResponse> r) {
                   if (e)
                     ADD_FAILURE() << "async_http_request threw";
                   else
                     out = std::move(r);
                 });
  io.run();
  if (!out) return make_error_code(OutboundErrc::bad_response);
  return std::move(*out);
}

std::string header(const std::vector<std::pair<std::string, std::string>>& headers,
                   std::string_view name) {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "<absent>";
}

TEST(OutboundHttpClient, GetReturnsStatusHeadersAndBody) {
  Receiver receiver;
  receiver.set_response_body(R"({"hello":"world"})");
  OutboundRequest req;
  req.url = receiver.url("/jwks.json?kid=1");
  req.headers = {{"Accept", "application/json"}};
  const auto res = run_request(req);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->body, R"({"hello":"world"})");
  EXPECT_EQ(header(res->headers, "X-Receiver"), "yes");
  const auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/jwks.json?kid=1");
  EXPECT_EQ(header(seen[0].headers, "Accept"), "application/json");
  EXPECT_EQ(header(seen[0].headers, "Host"), "127.0.0.1:" + std::to_string(receiver.port()));
}

TEST(OutboundHttpClient, PostSendsTheBodyAndANon2xxIsNotAnError) {
  Receiver receiver;
  receiver.set_status(503);
  OutboundRequest req;
  req.method = "POST";
  req.url = receiver.url("");  // no path: "/"
  req.body = "payload";
  const auto res = run_request(req);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, 503u);
  const auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/");
  EXPECT_EQ(seen[0].body, "payload");
  EXPECT_EQ(header(seen[0].headers, "Content-Length"), "7");
}

TEST(OutboundHttpClient, ResponseBodyAtTheLimitAndOneOver) {
  Receiver receiver;
  receiver.set_response_body(std::string(1000, 'x'));
  OutboundRequest req;
  req.url = receiver.url("/");
  req.max_response_body = 1000;
  const auto at = run_request(req);
  ASSERT_TRUE(at) << at.error().message();
  EXPECT_EQ(at->body.size(), 1000u);
  req.max_response_body = 999;
  const auto over = run_request(req);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), OutboundErrc::response_too_large) << over.error().message();
}

TEST(OutboundHttpClient, ServerThatNeverAnswersTimesOut) {
  Receiver receiver;
  receiver.set_stall(true);
  OutboundRequest req;
  req.url = receiver.url("/");
  req.timeout = 200ms;
  const auto res = run_request(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), OutboundErrc::timed_out) << res.error().message();
  EXPECT_EQ(receiver.arrived(), 1u);  // it was the answer that never came
}

TEST(OutboundHttpClient, RefusedConnectionIsAnError) {
  std::uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  OutboundRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const auto res = run_request(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), asio::error::connection_refused) << res.error().message();
}

TEST(OutboundHttpClient, HostNameGoesThroughTheResolver) {
  Receiver receiver;
  OutboundRequest req;
  // localhost may resolve to ::1 first; the receiver only listens on 127.0.0.1, so this also
  // checks that every resolved address is tried.
  req.url = "http://localhost:" + std::to_string(receiver.port()) + "/by-name";
  const auto res = run_request(req);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, 200u);
  ASSERT_EQ(receiver.arrived(), 1u);
  EXPECT_EQ(header(receiver.requests()[0].headers, "Host"),
            "localhost:" + std::to_string(receiver.port()));
}

TEST(OutboundHttpClient, BadUrlsAndFieldsAreRefusedBeforeConnecting) {
  const auto error_of = [](OutboundRequest req) {
    req.timeout = 1s;
    const auto r = run_request(std::move(req));
    return r ? boost::system::error_code{} : r.error();
  };
  const auto with_url = [](std::string url) {
    OutboundRequest r;
    r.url = std::move(url);
    return r;
  };
  EXPECT_EQ(error_of(with_url("not a url")), OutboundErrc::bad_url);
  EXPECT_EQ(error_of(with_url("/relative/only")), OutboundErrc::bad_url);
  EXPECT_EQ(error_of(with_url("http://user:pw@127.0.0.1:1/")), OutboundErrc::bad_url);
  EXPECT_EQ(error_of(with_url("http://127.0.0.1:0/")), OutboundErrc::bad_url);
  EXPECT_EQ(error_of(with_url("http:///nohost")), OutboundErrc::bad_url);
  EXPECT_EQ(error_of(with_url("ftp://127.0.0.1/")), OutboundErrc::unsupported_scheme);

  OutboundRequest bad_method = with_url("http://127.0.0.1:1/");
  bad_method.method = "GE T";
  EXPECT_EQ(error_of(bad_method), OutboundErrc::bad_request);
  for (const auto& field :
       std::vector<std::pair<std::string, std::string>>{{"X-Ok", "a\r\nX-Injected: 1"},
                                                        {"X-Ok", std::string("a\0b", 3)},
                                                        {"Bad Name", "v"},
                                                        {"", "v"},
                                                        {"Content-Length", "5"},
                                                        {"Transfer-Encoding", "chunked"},
                                                        {"host", "elsewhere"}}) {
    OutboundRequest r = with_url("http://127.0.0.1:1/");
    r.headers = {field};
    EXPECT_EQ(error_of(r), OutboundErrc::bad_request) << field.first;
  }
}

// https: a CA and server certificates generated for the test.
class OutboundHttps : public ::testing::Test {
 protected:
  std::shared_ptr<asio::ssl::context> server_context(const transport::tls::PemCredentials& c) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->use_certificate_chain(asio::buffer(c.certificate_pem));
    ctx->use_private_key(asio::buffer(c.private_key_pem), asio::ssl::context::pem);
    return ctx;
  }

  transport::tls::testing::TempDir dir;
  transport::tls::testing::Pki pki{dir.path()};
};

TEST_F(OutboundHttps, VerifiesTheChainAndTheName) {
  Receiver receiver(server_context(pki.server));  // SAN: localhost, 127.0.0.1
  OutboundRequest req;
  req.url = receiver.url("/secure");
  const auto ok = run_request(req, {pki.cert("ca")});
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->status, 200u);
  req.url = "https://localhost:" + std::to_string(receiver.port()) + "/secure";
  const auto by_name = run_request(req, {pki.cert("ca")});
  ASSERT_TRUE(by_name) << by_name.error().message();
  EXPECT_EQ(receiver.arrived(), 2u);
}

TEST_F(OutboundHttps, UntrustedChainIsRefused) {
  Receiver receiver(server_context(pki.server));
  OutboundRequest req;
  req.url = receiver.url("/secure");
  const auto res = run_request(req, {pki.cert("other-ca")});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().category(), asio::error::get_ssl_category()) << res.error().message();
  EXPECT_EQ(receiver.arrived(), 0u);
}

TEST_F(OutboundHttps, NameMismatchIsRefused) {
  const auto elsewhere = transport::tls::issue_certificate(
      pki.ca, {"elsewhere", transport::tls::CertificateUse::server, {"elsewhere.test"}, {}, 1});
  Receiver receiver(server_context(elsewhere));
  OutboundRequest req;
  req.url = receiver.url("/secure");  // 127.0.0.1: not among the certificate's names
  const auto res = run_request(req, {pki.cert("ca")});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().category(), asio::error::get_ssl_category()) << res.error().message();
  EXPECT_EQ(receiver.arrived(), 0u);
}

TEST_F(OutboundHttps, MissingCaFileIsATlsSetupError) {
  OutboundRequest req;
  req.url = "https://127.0.0.1:1/";
  const auto res = run_request(req, {(dir.path() / "absent.pem").string()});
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), OutboundErrc::tls_setup_failed);
}

// ---- exporter ------------------------------------------------------------------------------

// An exporter on its own io_context thread, logging into a vector.
class ExporterRig {
 public:
  explicit ExporterRig(OtlpExporterSettings s) {
    exporter_ = std::make_unique<OtlpExporter>(io_.get_executor(), std::move(s),
                                               [this](const std::string& line) {
                                                 std::lock_guard lock(mutex_);
                                                 logs_.push_back(line);
                                               });
    exporter_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ExporterRig() {
    exporter_->stop();
    EXPECT_TRUE(eventually([&] { return exporter_->finished(); }));
    exporter_.reset();
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  OtlpExporter& operator*() { return *exporter_; }
  OtlpExporter* operator->() { return exporter_.get(); }
  std::vector<std::string> logs() const {
    std::lock_guard lock(mutex_);
    return logs_;
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::unique_ptr<OtlpExporter> exporter_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> logs_;
};

OtlpExporterSettings settings_for(const Receiver& receiver) {
  OtlpExporterSettings s;
  s.endpoint = receiver.url();
  s.scope_version = "0.1.0";
  s.export_interval = 20ms;
  s.export_timeout = 10s;
  return s;
}

// A request's spans: gateway.route (root) with two children.
std::vector<Span> request_spans(std::uint8_t seed) {
  std::vector<Span> spans;
  spans.push_back(make_span(seed, seed, 0, "gateway.route", Span::Kind::server));
  spans.push_back(make_span(seed, static_cast<std::uint8_t>(seed + 1), seed,
                            "gateway.auth.validate", Span::Kind::internal));
  spans.push_back(make_span(seed, static_cast<std::uint8_t>(seed + 2), seed,
                            "gateway.transport.send", Span::Kind::client));
  return spans;
}

std::vector<Span> one_span(std::uint8_t seed) {
  std::vector<Span> v;
  v.push_back(make_span(seed, seed, 0, "gateway.route", Span::Kind::server));
  return v;
}

TEST(OtlpExporter, SpansArriveWithTheirTraceIdAndParents) {
  Receiver receiver;
  ExporterRig exporter(settings_for(receiver));
  exporter->enqueue(request_spans(0x20));
  ASSERT_TRUE(eventually([&] { return exporter->exported_spans() == 3; }));
  const auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/v1/traces");
  EXPECT_EQ(seen[0].content_type, "application/json");
  const json body = json::parse(seen[0].body);
  EXPECT_EQ(body.at("resourceSpans").at(0).at("resource").at("attributes").at(0).at("value"),
            json::parse(R"({"stringValue":"stella-gw"})"));
  EXPECT_EQ(only_scope_spans(body).at("scope").at("version"), "0.1.0");
  const auto spans = receiver.spans();
  ASSERT_EQ(spans.size(), 3u);
  const std::string trace = to_hex(make_span(0x20, 0, 0, "", Span::Kind::server).trace_id);
  for (const auto& s : spans)
    EXPECT_EQ(s.at("traceId"), trace);
  EXPECT_EQ(spans[0].at("name"), "gateway.route");
  EXPECT_FALSE(spans[0].contains("parentSpanId"));
  EXPECT_EQ(spans[1].at("name"), "gateway.auth.validate");
  EXPECT_EQ(spans[1].at("parentSpanId"), spans[0].at("spanId"));
  EXPECT_EQ(spans[2].at("name"), "gateway.transport.send");
  EXPECT_EQ(spans[2].at("parentSpanId"), spans[0].at("spanId"));
  EXPECT_EQ(exporter->dropped_spans(), 0u);
  EXPECT_EQ(exporter->failed_exports(), 0u);
  EXPECT_TRUE(exporter.logs().empty());
}

TEST(OtlpExporter, AFullBatchGoesOutWithoutWaitingForTheInterval) {
  Receiver receiver;
  OtlpExporterSettings s = settings_for(receiver);
  s.export_interval = 1h;  // only a full batch (or stop) can send within the test
  s.max_batch_spans = 2;
  ExporterRig exporter(s);
  // Spans queued before the loop first runs go out without a wake-up; once these are
  // exported the loop is parked on its (hour-long) timer, and only a wake-up can send more.
  std::vector<Span> first = request_spans(1);
  first.pop_back();
  exporter->enqueue(std::move(first));
  ASSERT_TRUE(eventually([&] { return exporter->exported_spans() == 2; }));
  exporter->enqueue(one_span(2));       // 1 queued: below a batch, stays
  exporter->enqueue(request_spans(3));  // 4 queued: crosses it, sent 2 per request
  ASSERT_TRUE(eventually([&] { return exporter->exported_spans() == 6; }));
  const auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& r : seen)
    EXPECT_EQ(only_scope_spans(json::parse(r.body)).at("spans").size(), 2u);
}

TEST(OtlpExporter, AFullQueueDropsAndCountsTheRest) {
  Receiver receiver;
  receiver.set_stall(true);
  OtlpExporterSettings s = settings_for(receiver);
  s.max_queue_spans = 4;
  ExporterRig exporter(s);
  // The first span is taken off the queue and held in a POST the receiver does not answer.
  exporter->enqueue(one_span(1));
  ASSERT_TRUE(eventually([&] { return receiver.arrived() == 1; }));
  for (std::uint8_t i = 0; i < 10; ++i)
    exporter->enqueue(one_span(static_cast<std::uint8_t>(10 + i)));
  EXPECT_EQ(exporter->dropped_spans(), 6u);  // 4 fit: the limit; the 5th and later do not
  receiver.set_stall(false);
  ASSERT_TRUE(eventually([&] { return exporter->exported_spans() == 5; }));
  EXPECT_EQ(exporter->dropped_spans(), 6u);
  EXPECT_EQ(exporter->failed_exports(), 0u);
  // The four that fit are the first four offered.
  const auto spans = receiver.spans();
  ASSERT_EQ(spans.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_EQ(spans[1 + i].at("spanId"),
              to_hex(one_span(static_cast<std::uint8_t>(10 + i))[0].span_id));
}

TEST(OtlpExporter, AServerErrorCountsAFailedExportAndLogsOnce) {
  Receiver receiver;
  receiver.set_status(500);
  ExporterRig exporter(settings_for(receiver));
  exporter->enqueue(request_spans(1));
  ASSERT_TRUE(eventually([&] { return exporter->failed_exports() == 1; }));
  EXPECT_EQ(exporter->dropped_spans(), 3u);
  EXPECT_EQ(exporter->exported_spans(), 0u);
  const auto first = exporter.logs();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(first[0].find("status 500"), std::string::npos) << first[0];
  // A second failure within the report period is counted, not logged.
  exporter->enqueue(one_span(9));
  ASSERT_TRUE(eventually([&] { return exporter->failed_exports() == 2; }));
  EXPECT_EQ(exporter->dropped_spans(), 4u);
  EXPECT_EQ(exporter.logs().size(), 1u);
}

TEST(OtlpExporter, AnUnreachableCollectorCountsAFailedExport) {
  std::uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  OtlpExporterSettings s;
  s.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  s.export_interval = 20ms;
  ExporterRig exporter(s);
  exporter->enqueue(one_span(1));
  ASSERT_TRUE(eventually([&] { return exporter->failed_exports() == 1; }));
  EXPECT_EQ(exporter->dropped_spans(), 1u);
  ASSERT_EQ(exporter.logs().size(), 1u);
}

TEST(OtlpExporter, PartialSuccessCountsTheRejectedSpansAsDropped) {
  Receiver receiver;
  receiver.set_response_body(
      R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}})");
  ExporterRig exporter(settings_for(receiver));
  exporter->enqueue(request_spans(1));
  ASSERT_TRUE(eventually([&] { return exporter->exported_spans() == 1; }));
  EXPECT_EQ(exporter->dropped_spans(), 2u);
  EXPECT_EQ(exporter->failed_exports(), 0u);
  ASSERT_EQ(exporter.logs().size(), 1u);
  EXPECT_NE(exporter.logs()[0].find("too old"), std::string::npos);
}

TEST(OtlpExporter, StopFlushesWhatIsQueuedThenDropsNewSpans) {
  Receiver receiver;
  OtlpExporterSettings s = settings_for(receiver);
  s.export_interval = 1h;  // only stop() sends
  ExporterRig exporter(s);
  exporter->enqueue(request_spans(1));
  exporter->stop();
  ASSERT_TRUE(eventually([&] { return exporter->finished(); }));
  EXPECT_EQ(exporter->exported_spans(), 3u);
  EXPECT_EQ(receiver.spans().size(), 3u);
  exporter->enqueue(one_span(2));
  EXPECT_EQ(exporter->dropped_spans(), 1u);
}

TEST(OtlpExporter, StopIsBoundedWhenTheCollectorHangs) {
  Receiver receiver;
  receiver.set_stall(true);
  OtlpExporterSettings s = settings_for(receiver);
  s.export_interval = 1h;
  s.export_timeout = 300ms;
  ExporterRig exporter(s);
  exporter->enqueue(one_span(1));
  exporter->stop();
  ASSERT_TRUE(eventually([&] { return exporter->finished(); }));
  EXPECT_EQ(receiver.arrived(), 1u);
  EXPECT_EQ(exporter->failed_exports(), 1u);
  EXPECT_EQ(exporter->dropped_spans(), 1u);
  EXPECT_EQ(exporter->exported_spans(), 0u);
}

TEST(OtlpExporter, StopBeforeStartDropsTheQueue) {
  asio::io_context io;
  OtlpExporter exporter(io.get_executor(), {}, nullptr);
  exporter.enqueue(one_span(1));
  exporter.stop();
  EXPECT_TRUE(exporter.finished());
  EXPECT_EQ(exporter.dropped_spans(), 1u);
  exporter.start();  // a no-op now
  EXPECT_EQ(io.poll(), 0u);
}

}  // namespace
}  // namespace stella::gw::http
