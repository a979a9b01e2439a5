// HeadParser and ChunkedDecoder: every rule of request_head.hpp with an accepted and a refused
// case and the exact status, limits at `limit` and `limit + 1`, and incremental feeding.
#include "stella/gateway/http/request_head.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace stella::gw::http {
namespace {

using namespace std::string_literals;

// One parse of a whole buffer. The buffer is kept so the head's views stay valid.
struct Parsed {
  std::string buf;
  ParseStatus status = ParseStatus::need_more;
  RequestHead head;
  HttpError error;
};

Parsed parse(std::string buf, HeadLimits limits = {}) {
  Parsed p;
  p.buf = std::move(buf);
  HeadParser parser(limits);
  p.status = parser.parse(p.buf, p.head);
  p.error = parser.error();
  return p;
}

// The status a refused head is answered with; 0 when it is not refused.
unsigned refused(std::string buf, HeadLimits limits = {}) {
  const Parsed p = parse(std::move(buf), limits);
  if (p.status != ParseStatus::error) return 0;
  EXPECT_FALSE(p.error.reason.empty());
  return p.error.status;
}

// True when the whole buffer is exactly one accepted head.
bool accepted(std::string buf, HeadLimits limits = {}) {
  const Parsed p = parse(buf, limits);
  if (p.status != ParseStatus::done) {
    ADD_FAILURE() << "not accepted (" << p.error.status << " " << p.error.reason << "): " << buf;
    return false;
  }
  EXPECT_EQ(p.head.size, buf.size());
  return p.head.size == buf.size();
}

// A HTTP/1.1 GET with a Host and the given extra field lines (each without CRLF).
std::string get_with(std::string_view extra_fields = "") {
  std::string s = "GET / HTTP/1.1\r\nHost: h\r\n";
  s += extra_fields;
  if (!extra_fields.empty()) s += "\r\n";
  return s + "\r\n";
}

// ---- basics ----------------------------------------------------------------------------------

TEST(HeadParser, ParsesASimpleGetAndViewsPointIntoTheBuffer) {
  const Parsed p = parse("GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */* \r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  const auto& h = p.head;
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.target, "/a/b?x=1");
  EXPECT_EQ(h.version_minor, 1);
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.size, p.buf.size());
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.chunked);
  EXPECT_FALSE(h.content_length.has_value());
  EXPECT_FALSE(h.expect_continue);
  EXPECT_FALSE(h.has_body());
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[0].name, "Host");
  EXPECT_EQ(h.fields[1].name, "Accept");
  EXPECT_EQ(h.fields[1].value, "*/*");  // OWS trimmed on both sides
  // Views, not copies: each points at its bytes in the buffer.
  const char* base = p.buf.data();
  EXPECT_EQ(h.method.data(), base);
  EXPECT_EQ(h.target.data(), base + 4);
  EXPECT_EQ(h.fields[0].name.data(), base + p.buf.find("Host"));
  EXPECT_EQ(h.fields[0].value.data(), base + p.buf.find("example.com"));
  EXPECT_EQ(h.host.data(), h.fields[0].value.data());
  EXPECT_EQ(h.fields[1].value.data(), base + p.buf.find("*/*"));
}

TEST(HeadParser, FieldLookupIsCaseInsensitiveAndReturnsTheFirst) {
  const Parsed p = parse(get_with("X-Thing: one\r\nx-thing: two\r\nEmpty:"));
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.field("X-THING"), "one");
  EXPECT_EQ(p.head.field("empty"), "");
  EXPECT_EQ(p.head.field("absent"), "");
  ASSERT_EQ(p.head.fields.size(), 4u);
  EXPECT_EQ(p.head.fields[2].name, "x-thing");  // case preserved
  EXPECT_EQ(p.head.fields[3].value, "");
}

TEST(HeadParser, FieldValuesKeepInnerWhitespaceTabsAndObsText) {
  const Parsed p = parse(get_with("A: \t x \t y \t\r\nB: caf\xC3\xA9"));
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.field("a"), "x \t y");
  EXPECT_EQ(p.head.field("b"), "caf\xC3\xA9");
}

TEST(HeadParser, EveryStrictPrefixNeedsMore) {
  const std::string full = get_with("Content-Length: 3");
  for (std::size_t n = 0; n < full.size(); ++n) {
    HeadParser parser;
    RequestHead head;
    EXPECT_EQ(parser.parse(std::string_view(full).substr(0, n), head), ParseStatus::need_more) << n;
  }
}

TEST(HeadParser, ByteByByteFeedingMatchesOneShot) {
  const std::string full = "POST /up?x HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\nX-A: b\r\n\r\n";
  HeadParser parser;
  RequestHead head;
  ParseStatus st = ParseStatus::need_more;
  std::size_t n = 0;
  while (st == ParseStatus::need_more && n < full.size())
    st = parser.parse(std::string_view(full).substr(0, ++n), head);
  ASSERT_EQ(st, ParseStatus::done);
  EXPECT_EQ(n, full.size());
  EXPECT_EQ(head.size, full.size());
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.target, "/up?x");
  EXPECT_EQ(head.content_length, 12u);
  EXPECT_EQ(head.field("x-a"), "b");
}

TEST(HeadParser, TheBufferMayMoveBetweenCalls) {
  const std::string full = get_with("X-Long: " + std::string(100, 'v'));
  HeadParser parser;
  RequestHead head;
  std::string first = full.substr(0, 30);
  ASSERT_EQ(parser.parse(first, head), ParseStatus::need_more);
  first.assign(1000, '#');         // the old bytes are gone
  const std::string moved = full;  // same content, another address
  ASSERT_EQ(parser.parse(moved, head), ParseStatus::done);
  EXPECT_EQ(head.method.data(), moved.data());
  EXPECT_EQ(head.field("x-long"), std::string(100, 'v'));
}

TEST(HeadParser, StopsAtTheEndOfTheHeadAndLeavesTheBody) {
  const std::string head_bytes = get_with("Content-Length: 5");
  const Parsed p = parse(head_bytes + "hello" + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.size, head_bytes.size());
  EXPECT_TRUE(p.head.has_body());
}

TEST(HeadParser, ErrorsAreStickyAndResetStartsOver) {
  HeadParser parser;
  RequestHead head;
  const std::string bad = "GET / HTTP/1.1\nHost: h\r\n\r\n";
  ASSERT_EQ(parser.parse(bad, head), ParseStatus::error);
  EXPECT_EQ(parser.error().status, 400u);
  const std::string good = get_with();
  EXPECT_EQ(parser.parse(good, head), ParseStatus::error);  // still the old error
  parser.reset();
  EXPECT_EQ(parser.parse(good, head), ParseStatus::done);
  EXPECT_EQ(head.size, good.size());
  // Reused for a second request on the same connection: nothing of the first one leaks.
  parser.reset();
  const std::string second = "PUT /b HTTP/1.0\r\n\r\n";
  ASSERT_EQ(parser.parse(second, head), ParseStatus::done);
  EXPECT_TRUE(head.fields.empty());
  EXPECT_EQ(head.host, "");
  EXPECT_EQ(head.version_minor, 0);
}

TEST(HeadParser, StartedOnlyOnceARequestLineByteArrives) {
  HeadParser parser;
  RequestHead head;
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.parse("\r\n\r\n", head), ParseStatus::need_more);
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.parse("\r\n\r\nG", head), ParseStatus::need_more);
  EXPECT_TRUE(parser.started());
}

// ---- line ends, control bytes, obs-fold (400) ------------------------------------------------

TEST(HeadParser, LeadingEmptyLinesAreSkippedButBounded) {
  const Parsed p = parse("\r\n\r\n" + get_with());
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.size, p.buf.size());  // they are bytes of this head
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.method.data(), p.buf.data() + 4);

  // Bounded by max_request_line (here also the length of the request line itself).
  HeadLimits limits;
  limits.max_request_line = 14;  // seven empty lines are 14 bytes
  std::string seven;
  for (int i = 0; i < 7; ++i)
    seven += "\r\n";
  EXPECT_TRUE(accepted(seven + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", limits));
  EXPECT_EQ(refused(seven + "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", limits), 400u);
  EXPECT_EQ(refused("\n" + get_with()), 400u);  // a bare LF is no empty line
}

TEST(HeadParser, BareLfAsALineEndIsRefused) {
  EXPECT_EQ(refused("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400u);
  // LF inside a value is a line end too: refused, never a field split.
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\nY: b\r\n\r\n"), 400u);
}

TEST(HeadParser, BareCrIsRefused) {
  EXPECT_EQ(refused("GET / HTTP/1.1\rHost: h\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"), 400u);
  // A CR that ends the input is not yet a bare CR.
  EXPECT_EQ(parse("GET / HTTP/1.1\r").status, ParseStatus::need_more);
}

TEST(HeadParser, NulAnywhereIsRefused) {
  EXPECT_EQ(refused("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n"s), 400u);
  EXPECT_EQ(refused("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"s), 400u);
  EXPECT_EQ(refused(get_with("X: a\0b"s)), 400u);
  EXPECT_EQ(refused(get_with("X\0: ab"s)), 400u);
  EXPECT_EQ(refused("\0"s), 400u);  // at once, before any line end
}

TEST(HeadParser, OtherControlBytesAreRefused) {
  EXPECT_TRUE(accepted(get_with("X: a\tb")));  // HTAB is whitespace, allowed in values
  EXPECT_EQ(refused(get_with("X: a\x01"
                             "b")),
            400u);
  EXPECT_EQ(refused(get_with("X: a\x1F")), 400u);
  EXPECT_EQ(refused(get_with("X: a\x7F")), 400u);
  EXPECT_EQ(refused(get_with("X: \x0B")), 400u);
  EXPECT_EQ(refused("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET /a\x7F HTTP/1.1\r\nHost: h\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"), 400u);
  EXPECT_EQ(refused("G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400u);
}

TEST(HeadParser, ObsFoldIsRefused) {
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n"), 400u);
  // The classic smuggling shape: a folded Transfer-Encoding.
  EXPECT_EQ(refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"), 400u);
  // Whitespace before the first field is the same thing.
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), 400u);
}

// ---- request line --------------------------------------------------------------------------

TEST(HeadParser, RequestLineMustBeMethodSpTargetSpVersion) {
  EXPECT_TRUE(accepted("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  for (const char* line :
       {"GET /", "GET", "GET  / HTTP/1.1", "GET /  HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 ",
        "GET / HTTP/1.1 x", "GET\t/\tHTTP/1.1", "GET /a b HTTP/1.1", "/ HTTP/1.1"}) {
    EXPECT_EQ(refused(std::string(line) + "\r\nHost: h\r\n\r\n"), 400u) << line;
  }
}

TEST(HeadParser, MethodMustBeAToken) {
  EXPECT_TRUE(accepted("M-SEARCH / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(accepted("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(accepted("get / HTTP/1.1\r\nHost: h\r\n\r\n"));  // methods are case-sensitive
  for (const char* m : {"GE(T", "GE\"T", "GE,T", "GE/T", "GE:T", "GE@T", "G\xC3\xA9T", "GE{T"})
    EXPECT_EQ(refused(std::string(m) + " / HTTP/1.1\r\nHost: h\r\n\r\n"), 400u) << m;
}

TEST(HeadParser, TargetMustBeOriginFormOrAsterisk) {
  EXPECT_TRUE(accepted("GET /a/b?c=d&e HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_TRUE(accepted("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"));
  for (const char* t : {"http://h/a", "h:443", "a/b", "*a", "**", "?x"})
    EXPECT_EQ(refused("GET " + std::string(t) + " HTTP/1.1\r\nHost: h\r\n\r\n"), 400u) << t;
}

TEST(HeadParser, VersionIsHttp10Or11) {
  const Parsed p10 = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p10.status, ParseStatus::done);
  EXPECT_EQ(p10.head.version_minor, 0);
  EXPECT_TRUE(accepted("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  // Well-formed but unsupported: 505.
  for (const char* v : {"HTTP/1.2", "HTTP/1.9", "HTTP/2.0", "HTTP/0.9", "HTTP/3.1"})
    EXPECT_EQ(refused("GET / " + std::string(v) + "\r\nHost: h\r\n\r\n"), 505u) << v;
  // Malformed: 400.
  for (const char* v : {"HTTP/1.10", "HTTP/1", "http/1.1", "HTTP/1.x", "HTTP/11", "HTTP/1,1",
                        "HTTPS/1.1", "HTTP/ 1.1", "HTTP/1.1\x01"})
    EXPECT_EQ(refused("GET / " + std::string(v) + "\r\nHost: h\r\n\r\n"), 400u) << v;
}

// ---- header fields -------------------------------------------------------------------------

TEST(HeadParser, FieldNameMustBeATokenFollowedDirectlyByAColon) {
  EXPECT_TRUE(accepted(get_with("X-Custom_1.!#$%&'*+^`|~: v")));
  EXPECT_TRUE(accepted(get_with("X:v")));  // no whitespace after ':' is fine
  for (const char* f : {"X-Name : v", "X-Name\t: v", ": v", "NoColon", "Bad Name: v", "X@Y: v",
                        "X(Y): v", "\"X\": v", "X\xC3\xA9: v", "X/Y: v"})
    EXPECT_EQ(refused(get_with(f)), 400u) << f;
}

TEST(HeadParser, ContentLength) {
  {
    const Parsed p = parse(get_with("Content-Length: 42"));
    ASSERT_EQ(p.status, ParseStatus::done);
    EXPECT_EQ(p.head.content_length, 42u);
    EXPECT_TRUE(p.head.has_body());
  }
  {
    const Parsed p = parse(get_with("content-length: 0"));
    ASSERT_EQ(p.status, ParseStatus::done);
    EXPECT_EQ(p.head.content_length, 0u);
    EXPECT_FALSE(p.head.has_body());
  }
  {
    const Parsed p = parse(get_with("Content-Length: 007"));
    ASSERT_EQ(p.status, ParseStatus::done);
    EXPECT_EQ(p.head.content_length, 7u);
  }
  {  // 19 digits: the largest length accepted.
    const Parsed p = parse(get_with("Content-Length: 9999999999999999999"));
    ASSERT_EQ(p.status, ParseStatus::done);
    EXPECT_EQ(p.head.content_length, 9999999999999999999ull);
  }
  for (const char* v : {"", "abc", "-1", "+1", "1 2", "1,1", "1, 1", "0x10", "1.0", "12a",
                        "18446744073709551616", "00000000000000000001"})
    EXPECT_EQ(refused(get_with("Content-Length: " + std::string(v))), 400u) << v;
  // Repeated, even with the same value.
  EXPECT_EQ(refused(get_with("Content-Length: 5\r\nContent-Length: 5")), 400u);
  EXPECT_EQ(refused(get_with("Content-Length: 5\r\ncontent-length: 6")), 400u);
}

TEST(HeadParser, TransferEncodingIsExactlyOneChunked) {
  for (const char* v : {"chunked", "Chunked", "CHUNKED", " chunked "}) {
    const Parsed p =
        parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + std::string(v) + "\r\n\r\n");
    ASSERT_EQ(p.status, ParseStatus::done) << v;
    EXPECT_TRUE(p.head.chunked);
    EXPECT_TRUE(p.head.has_body());
    EXPECT_FALSE(p.head.content_length.has_value());
  }
  for (const char* v : {"gzip", "identity", "gzip, chunked", "chunked, chunked", "chunked,",
                        "chunked;q=1", "chunk", "", "\"chunked\""})
    EXPECT_EQ(refused(get_with("Transfer-Encoding: " + std::string(v))), 400u) << v;
  EXPECT_EQ(refused(get_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked")), 400u);
}

TEST(HeadParser, ContentLengthWithTransferEncodingIsRefusedInEitherOrder) {
  EXPECT_EQ(refused(get_with("Content-Length: 5\r\nTransfer-Encoding: chunked")), 400u);
  EXPECT_EQ(refused(get_with("Transfer-Encoding: chunked\r\nContent-Length: 5")), 400u);
  EXPECT_EQ(refused(get_with("Transfer-Encoding: chunked\r\nContent-Length: 0")), 400u);
}

TEST(HeadParser, TransferEncodingInHttp10IsRefused) {
  EXPECT_EQ(refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400u);
  const Parsed p = parse("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.content_length, 3u);
}

TEST(HeadParser, Http11NeedsExactlyOneHost) {
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nX: y\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400u);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400u);
  const Parsed p = parse("GET / HTTP/1.1\r\nHOST: a.example:8080\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.host, "a.example:8080");
}

TEST(HeadParser, Http10HostIsOptionalButNotRepeatable) {
  const Parsed none = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(none.status, ParseStatus::done);
  EXPECT_EQ(none.head.host, "");
  const Parsed one = parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  ASSERT_EQ(one.status, ParseStatus::done);
  EXPECT_EQ(one.head.host, "a");
  EXPECT_EQ(refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400u);
}

TEST(HeadParser, ExpectOnly100Continue) {
  const Parsed p = parse(get_with("Content-Length: 3\r\nExpect: 100-Continue"));
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_TRUE(p.head.expect_continue);
  for (const char* v : {"200-ok", "100-continue, foo", "", "100"})
    EXPECT_EQ(refused(get_with("Expect: " + std::string(v))), 417u) << v;
}

TEST(HeadParser, KeepAliveRules) {
  auto keep = [](std::string head) {
    const Parsed p = parse(std::move(head));
    EXPECT_EQ(p.status, ParseStatus::done) << p.error.reason;
    return p.head.keep_alive;
  };
  EXPECT_TRUE(keep("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));  // 1.1: persistent by default
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
  EXPECT_FALSE(
      keep("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(keep("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n"));  // not the token
  EXPECT_TRUE(keep("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.0\r\n\r\n"));  // 1.0: closes by default
  EXPECT_TRUE(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  EXPECT_TRUE(keep("GET / HTTP/1.0\r\nConnection: foo , keep-alive\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n"));
}

// ---- limits (414, 431) ---------------------------------------------------------------------

TEST(HeadParser, RequestLineAtTheLimitAndOneOver) {
  HeadLimits limits;
  limits.max_request_line = 64;
  const std::string fixed = "GET / HTTP/1.1";  // 14 bytes; the target grows
  const std::string at = "GET /" + std::string(64 - fixed.size(), 'a') + " HTTP/1.1";
  ASSERT_EQ(at.size(), 64u);
  EXPECT_TRUE(accepted(at + "\r\nHost: h\r\n\r\n", limits));
  const std::string over = "GET /" + std::string(65 - fixed.size(), 'a') + " HTTP/1.1";
  EXPECT_EQ(refused(over + "\r\nHost: h\r\n\r\n", limits), 414u);
  // Refused as soon as the line passes the limit, without waiting for its end.
  EXPECT_EQ(refused("GET /" + std::string(60, 'a'), limits), 414u);
  EXPECT_EQ(parse("GET /" + std::string(59, 'a'), limits).status, ParseStatus::need_more);
}

TEST(HeadParser, OneFieldAtTheLimitAndOneOver) {
  HeadLimits limits;
  limits.max_header_field = 32;  // name + ':' + value, as sent (OWS included), CRLF excluded
  const std::string at = "X-F: " + std::string(32 - 5, 'v');
  ASSERT_EQ(at.size(), 32u);
  EXPECT_TRUE(accepted(get_with(at), limits));
  EXPECT_EQ(refused(get_with(at + "v"), limits), 431u);
  EXPECT_EQ(refused(get_with(at + " "), limits), 431u);  // trailing OWS counts as sent
  // Refused before the line ends.
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\n" + at + "v", limits), 431u);
  // The request line has its own limit: a field limit below it does not apply to it.
  EXPECT_TRUE(accepted("GET /" + std::string(40, 'p') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits));
}

TEST(HeadParser, FieldCountAtTheLimitAndOneOver) {
  HeadLimits limits;
  limits.max_header_count = 5;
  std::string fields = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4";  // + Host = 5
  EXPECT_TRUE(accepted(get_with(fields), limits));
  EXPECT_EQ(refused(get_with(fields + "\r\nE: 5"), limits), 431u);
  // Empty-valued fields count too.
  EXPECT_EQ(refused(get_with("A:\r\nB:\r\nC:\r\nD:\r\nE:"), limits), 431u);
}

// The parser checks a run of ordinary bytes against the limits at once; the outcome is that of a
// byte-by-byte check. The first byte past a limit decides which limit is reported (the line's
// when both are passed by the same byte), and a NUL or a bare LF at that byte is reported as
// what it is, before any limit.
TEST(HeadParser, TheFirstLimitPassedDecidesAndABadByteAtItComesFirst) {
  const auto reason = [](const std::string& head, HeadLimits limits) {
    const Parsed p = parse(head, limits);
    EXPECT_EQ(p.status, ParseStatus::error) << head;
    return std::to_string(p.error.status) + " " + std::string(p.error.reason);
  };
  HeadLimits limits;
  limits.max_request_line = 20;
  limits.max_header_bytes = 12;  // passed first (byte 12)
  EXPECT_EQ(reason("GET /" + std::string(30, 'a'), limits), "431 request head too large");
  limits.max_header_bytes = 20;  // both passed by byte 20: the line's limit is reported
  EXPECT_EQ(reason("GET /" + std::string(30, 'a'), limits), "414 request line too long");
  limits.max_header_bytes = 21;
  EXPECT_EQ(reason("GET /" + std::string(30, 'a'), limits), "414 request line too long");
  limits.max_request_line = 10;
  limits.max_header_bytes = 100;
  // Byte 10 would pass the line limit; a NUL or a bare LF there is refused as such.
  EXPECT_EQ(reason(std::string("GET /aaaaa") + '\0' + "aaaa", limits),
            "400 NUL byte in the request head");
  EXPECT_EQ(reason("GET /aaaaa\naaaa", limits), "400 bare LF as a line end");
  EXPECT_EQ(reason("GET /aaaaaa\naaaa", limits), "414 request line too long");
  // A field's limit counts from its own line's start.
  limits.max_request_line = 20;
  limits.max_header_field = 7;
  EXPECT_EQ(reason("GET / HTTP/1.1\r\nHost: hh", limits), "431 header field too large");
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h", limits).status, ParseStatus::need_more);
}

// A HTTP/1.1 head of exactly `n` bytes (n >= 36), final CRLF included.
std::string head_of_size(std::size_t n) {
  const std::string start = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  std::string s = start + std::string(n - start.size() - end.size(), 'p') + end;
  EXPECT_EQ(s.size(), n);
  return s;
}

TEST(HeadParser, WholeHeadAtTheLimitAndOneOver) {
  HeadLimits limits;
  limits.max_header_bytes = 200;  // the whole head: every line and CRLF, the final one too
  {
    const Parsed p = parse(head_of_size(200), limits);
    ASSERT_EQ(p.status, ParseStatus::done) << p.error.reason;
    EXPECT_EQ(p.head.size, 200u);
  }
  EXPECT_EQ(refused(head_of_size(201), limits), 431u);
  EXPECT_EQ(refused(head_of_size(202), limits), 431u);
  EXPECT_EQ(refused(head_of_size(206), limits), 431u);
  // Refused before the head ends: 201 bytes without the final empty line.
  EXPECT_EQ(refused(head_of_size(203).substr(0, 201), limits), 431u);
  // Leading empty lines are bytes of the head too.
  EXPECT_EQ(refused("\r\n" + head_of_size(199), limits), 431u);
  EXPECT_TRUE(accepted("\r\n" + head_of_size(198), limits));
  // Many small fields add up.
  std::string many;
  for (int i = 0; i < 30; ++i)
    many += "A: 123\r\n";
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: h\r\n" + many + "\r\n", limits), 431u);
}

TEST(HeadParser, DefaultLimitsAtTheLimitAndOneOver) {
  const HeadLimits d;
  const std::string line = "GET /" + std::string(d.max_request_line - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), d.max_request_line);
  EXPECT_TRUE(accepted(line + "\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(
      refused("GET /" + std::string(d.max_request_line - 13, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n"),
      414u);
  const std::string field = "X: " + std::string(d.max_header_field - 3, 'v');
  EXPECT_TRUE(accepted(get_with(field)));
  EXPECT_EQ(refused(get_with(field + "v")), 431u);
  const HeadLimits one_big_field{d.max_request_line, d.max_header_bytes, d.max_header_bytes,
                                 d.max_header_count};
  EXPECT_TRUE(accepted(head_of_size(d.max_header_bytes), one_big_field));
  EXPECT_EQ(refused(head_of_size(d.max_header_bytes + 1), one_big_field), 431u);
}

// ---- ChunkedDecoder ------------------------------------------------------------------------

struct Decoded {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed = 0;
  std::string body;
  HttpError error;
};

Decoded decode(std::string_view in, std::uint64_t max_body = 1 << 20, HeadLimits limits = {}) {
  ChunkedDecoder d(max_body, limits);
  Decoded out;
  const auto r = d.decode(in, out.body);
  out.status = r.status;
  out.consumed = r.consumed;
  out.error = d.error();
  if (r.status != ParseStatus::error) {
    EXPECT_EQ(d.body_size(), out.body.size());
  }
  return out;
}

unsigned chunk_refused(std::string_view in, std::uint64_t max_body = 1 << 20,
                       HeadLimits limits = {}) {
  const Decoded d = decode(in, max_body, limits);
  if (d.status != ParseStatus::error) return 0;
  EXPECT_FALSE(d.error.reason.empty());
  EXPECT_LE(d.consumed, in.size());
  return d.error.status;
}

TEST(ChunkedDecoder, DecodesAValidBody) {
  const std::string msg = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  const Decoded d = decode(msg);
  EXPECT_EQ(d.status, ParseStatus::done);
  EXPECT_EQ(d.body, "hello, world");
  EXPECT_EQ(d.consumed, msg.size());
}

TEST(ChunkedDecoder, EmptyBodyAndHexCase) {
  const Decoded empty = decode("0\r\n\r\n");
  EXPECT_EQ(empty.status, ParseStatus::done);
  EXPECT_EQ(empty.body, "");
  const std::string body(0x1A, 'z');
  for (const char* size : {"1a", "1A", "01a", "000000000000001A"}) {
    const Decoded d = decode(std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n");
    EXPECT_EQ(d.status, ParseStatus::done) << size;
    EXPECT_EQ(d.body, body) << size;
  }
}

TEST(ChunkedDecoder, ExtensionsAreSkipped) {
  const std::string msg = "5;name=value\r\nhello\r\n1;a;b=\"q ;\\\" x\"\r\n!\r\n0;last=1\r\n\r\n";
  const Decoded d = decode(msg);
  EXPECT_EQ(d.status, ParseStatus::done);
  EXPECT_EQ(d.body, "hello!");
  EXPECT_EQ(d.consumed, msg.size());
}

TEST(ChunkedDecoder, TrailersAreValidatedAndDropped) {
  const std::string msg =
      "3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nExpires:\t never \r\n\r\n";
  const Decoded d = decode(msg);
  EXPECT_EQ(d.status, ParseStatus::done);
  EXPECT_EQ(d.body, "abc");
  EXPECT_EQ(d.consumed, msg.size());
}

TEST(ChunkedDecoder, ConsumedStopsAtTheEndOfTheMessage) {
  const std::string msg = "4\r\nbody\r\n0\r\nT: v\r\n\r\n";
  const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string in = msg + next;
  ChunkedDecoder dec(1024, {});
  std::string body;
  const auto r = dec.decode(in, body);
  EXPECT_EQ(r.status, ParseStatus::done);
  EXPECT_EQ(r.consumed, msg.size());
  EXPECT_EQ(in.substr(r.consumed), next);
  EXPECT_EQ(body, "body");
  // Done stays done and takes nothing more.
  const auto again = dec.decode(std::string_view(in).substr(r.consumed), body);
  EXPECT_EQ(again.status, ParseStatus::done);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(body, "body");
  // A next request that starts with CRLF or looks like a chunk is still not touched.
  const Decoded d = decode(msg + "0\r\n\r\n");
  EXPECT_EQ(d.consumed, msg.size());
}

TEST(ChunkedDecoder, ByteByByteMatchesOneShot) {
  const std::string msg = "5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nT: v\r\nU: w\r\n\r\nNEXT";
  ChunkedDecoder dec(1024, {});
  std::string body;
  std::size_t pos = 0;
  ChunkedDecoder::Result r;
  while (pos < msg.size()) {
    r = dec.decode(std::string_view(msg).substr(pos, 1), body);
    pos += r.consumed;
    if (r.status != ParseStatus::need_more) break;
    ASSERT_EQ(r.consumed, 1u);  // need_more takes every byte it was given
  }
  EXPECT_EQ(r.status, ParseStatus::done);
  EXPECT_EQ(body, "hello0123456789");
  EXPECT_EQ(msg.substr(pos), "NEXT");
  EXPECT_EQ(dec.body_size(), 15u);
}

TEST(ChunkedDecoder, MalformedSizesAreRefused) {
  for (const char* s : {"g\r\n", "\r\n", ";ext\r\n", "-1\r\n", "0x5\r\n", "5 \r\n", " 5\r\n",
                        "5\t\r\n", "5 ;ext\r\n", "+5\r\n", "5,\r\n"})
    EXPECT_EQ(chunk_refused(std::string(s) + "hello\r\n0\r\n\r\n"), 400u) << s;
  EXPECT_EQ(chunk_refused("5\0\r\nhello\r\n0\r\n\r\n"s), 400u);
}

TEST(ChunkedDecoder, SizeOf16DigitsIsAcceptedAnd17Refused) {
  EXPECT_EQ(chunk_refused("0000000000000005\r\nhello\r\n0\r\n\r\n"), 0u);
  EXPECT_EQ(chunk_refused("00000000000000005\r\nhello\r\n0\r\n\r\n"), 400u);
  // 16 digits of F: a size that no max_body admits: 413, not an overflow.
  EXPECT_EQ(chunk_refused("FFFFFFFFFFFFFFFF\r\n"), 413u);
  EXPECT_EQ(chunk_refused("10000000000000000\r\n"), 400u);
}

TEST(ChunkedDecoder, LineEndsMustBeCrlf) {
  EXPECT_EQ(chunk_refused("5\nhello\r\n0\r\n\r\n"), 400u);          // bare LF after the size
  EXPECT_EQ(chunk_refused("5\rhello\r\n0\r\n\r\n"), 400u);          // bare CR after the size
  EXPECT_EQ(chunk_refused("5;a\nhello\r\n0\r\n\r\n"), 400u);        // bare LF in an extension
  EXPECT_EQ(chunk_refused("5;a\rhello\r\n0\r\n\r\n"), 400u);        // bare CR in an extension
  EXPECT_EQ(chunk_refused("5;a\0b\r\nhello\r\n0\r\n\r\n"s), 400u);  // NUL in an extension
  EXPECT_EQ(chunk_refused("5\r\nhelloX\r\n0\r\n\r\n"), 400u);       // data longer than its size
  EXPECT_EQ(chunk_refused("5\r\nhello\n0\r\n\r\n"), 400u);          // LF without CR after data
  EXPECT_EQ(chunk_refused("5\r\nhello\rX0\r\n\r\n"), 400u);         // CR without LF after data
  EXPECT_EQ(chunk_refused("0\r\n\n"), 400u);                        // bare LF ending the trailers
  EXPECT_EQ(chunk_refused("0\r\n\rX"), 400u);                       // bare CR ending the trailers
  EXPECT_EQ(chunk_refused("0\r\nT: v\nU: w\r\n\r\n"), 400u);        // bare LF in a trailer
  EXPECT_EQ(chunk_refused("0\r\nT: v\rU: w\r\n\r\n"), 400u);        // bare CR in a trailer
}

TEST(ChunkedDecoder, ChunkExtensionAtItsBoundAndOneOver) {
  const std::string at = "5;" + std::string(4096, 'e') + "\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(chunk_refused(at), 0u);
  const std::string over = "5;" + std::string(4097, 'e') + "\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(chunk_refused(over), 400u);
}

TEST(ChunkedDecoder, TrailerRefusals) {
  EXPECT_EQ(chunk_refused("0\r\n T: v\r\n\r\n"), 400u);        // obs-fold
  EXPECT_EQ(chunk_refused("0\r\nT: v\r\n\tU\r\n\r\n"), 400u);  // obs-fold with HTAB
  EXPECT_EQ(chunk_refused("0\r\nT: a\x01"
                          "b\r\n\r\n"),
            400u);                                          // control byte
  EXPECT_EQ(chunk_refused("0\r\nT: a\x7F\r\n\r\n"), 400u);  // DEL
  EXPECT_EQ(chunk_refused("0\r\nT: a\0\r\n\r\n"s), 400u);   // NUL
  EXPECT_EQ(chunk_refused("0\r\nT: a\tb\r\n\r\n"), 0u);     // HTAB in a value is fine
  // Validated as header fields: a name token and a colon.
  EXPECT_EQ(chunk_refused("0\r\nno colon here\r\n\r\n"), 400u);
  EXPECT_EQ(chunk_refused("0\r\nNoColon\r\n\r\n"), 400u);
  EXPECT_EQ(chunk_refused("0\r\n: v\r\n\r\n"), 400u);
  EXPECT_EQ(chunk_refused("0\r\nT : v\r\n\r\n"), 400u);
  EXPECT_EQ(chunk_refused("0\r\nT(x): v\r\n\r\n"), 400u);
  EXPECT_EQ(chunk_refused("0\r\nT:\r\n\r\n"), 0u);  // empty value is fine
}

TEST(ChunkedDecoder, TrailerLineAtTheFieldLimitAndOneOver) {
  HeadLimits limits;
  limits.max_header_field = 16;
  const std::string at = "T: " + std::string(13, 'v');
  ASSERT_EQ(at.size(), 16u);
  EXPECT_EQ(chunk_refused("0\r\n" + at + "\r\n\r\n", 1024, limits), 0u);
  EXPECT_EQ(chunk_refused("0\r\n" + at + "v\r\n\r\n", 1024, limits), 431u);
}

TEST(ChunkedDecoder, AllTrailersAtTheHeadLimitAndOneOver) {
  HeadLimits limits;
  limits.max_header_bytes = 30;          // trailer bytes, line ends excluded
  const std::string ten = "T: 1234567";  // 10 bytes
  EXPECT_EQ(chunk_refused("0\r\n" + ten + "\r\n" + ten + "\r\n" + ten + "\r\n\r\n", 1024, limits),
            0u);
  EXPECT_EQ(chunk_refused("0\r\n" + ten + "\r\n" + ten + "\r\n" + ten + "8\r\n\r\n", 1024, limits),
            431u);
}

TEST(ChunkedDecoder, MaxBodyAtTheLimitAndOneOver) {
  // One chunk.
  EXPECT_EQ(chunk_refused("A\r\n0123456789\r\n0\r\n\r\n", 10), 0u);
  EXPECT_EQ(chunk_refused("B\r\n0123456789a\r\n0\r\n\r\n", 10), 413u);
  // Across chunks: the total counts.
  EXPECT_EQ(chunk_refused("5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", 10), 0u);
  EXPECT_EQ(chunk_refused("5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n", 10), 413u);
  // Refused at the size line, before any byte of the chunk is read or stored.
  const Decoded d = decode("5\r\n01234\r\n6\r\n", 10);
  EXPECT_EQ(d.status, ParseStatus::error);
  EXPECT_EQ(d.error.status, 413u);
  EXPECT_EQ(d.body, "01234");
  // A zero limit admits only the empty body.
  EXPECT_EQ(chunk_refused("0\r\n\r\n", 0), 0u);
  EXPECT_EQ(chunk_refused("1\r\nx\r\n0\r\n\r\n", 0), 413u);
}

TEST(ChunkedDecoder, PrefixesNeedMoreAndTakeEverything) {
  const std::string msg = "5;e\r\nhello\r\n0\r\nT: v\r\n\r\n";
  for (std::size_t n = 0; n < msg.size(); ++n) {
    const Decoded d = decode(std::string_view(msg).substr(0, n));
    EXPECT_EQ(d.status, ParseStatus::need_more) << n;
    EXPECT_EQ(d.consumed, n);
  }
}

}  // namespace
}  // namespace stella::gw::http
