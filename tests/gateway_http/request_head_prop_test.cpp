// Properties of the request-head parser and the chunked decoder: arbitrary splits give the same
// result as one piece, arbitrary bytes are always answered, decoding stops exactly at the end
// of a chunked body.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/gateway/http/request_head.hpp"

namespace stella::gw::http {
namespace {

// ---- generators ----------------------------------------------------------------------------

constexpr std::string_view kTchars =
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

rc::Gen<std::string> string_of(rc::Gen<char> c, int min, int max) {
  return rc::gen::mapcat(rc::gen::inRange(min, max + 1), [c](int n) {
    return rc::gen::container<std::string>(static_cast<std::size_t>(n), c);
  });
}

rc::Gen<char> tchar() {
  return rc::gen::elementOf(std::string(kTchars));
}

// VCHAR, obs-text, SP and HTAB: every byte a field value may hold.
rc::Gen<char> value_char() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange(0x21, 0x7F), [](int c) { return static_cast<char>(c); }),
      rc::gen::map(rc::gen::inRange(0x80, 0x100), [](int c) { return static_cast<char>(c); }),
      rc::gen::element(' ', '\t'));
}

// Bytes of an origin-form target after the leading '/': visible ASCII.
rc::Gen<char> target_char() {
  return rc::gen::map(rc::gen::inRange(0x21, 0x7F), [](int c) { return static_cast<char>(c); });
}

bool is_framing_name(std::string_view n) {
  for (std::string_view special : {"host", "content-length", "transfer-encoding", "expect"})
    if (iequals(n, special)) return true;
  return false;
}

struct GeneratedHead {
  std::string bytes;
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> fields;  // as sent (values untrimmed)
};

rc::Gen<GeneratedHead> valid_head() {
  return rc::gen::exec([] {
    GeneratedHead g;
    g.method = *string_of(tchar(), 1, 12);
    g.target = *rc::gen::oneOf(
        rc::gen::just(std::string("*")),
        rc::gen::map(string_of(target_char(), 0, 60), [](std::string s) { return "/" + s; }));
    const bool http10 = *rc::gen::arbitrary<bool>();
    const int n = *rc::gen::inRange(0, 21);
    const auto host_at = static_cast<std::size_t>(*rc::gen::inRange(0, n + 1));
    for (int i = 0; i < n; ++i) {
      if (!http10 && g.fields.size() == host_at) g.fields.emplace_back("Host", "h.example");
      std::string name = *string_of(tchar(), 1, 16);
      if (is_framing_name(name)) name += "-x";
      g.fields.emplace_back(std::move(name), *string_of(value_char(), 0, 40));
    }
    if (!http10 && g.fields.size() == host_at) g.fields.emplace_back("Host", "h.example");
    g.bytes = g.method + " " + g.target + (http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    for (const auto& [name, value] : g.fields)
      g.bytes += name + ":" + value + "\r\n";
    g.bytes += "\r\n";
    return g;
  });
}

// Sorted cut points in [0, n], both ends included.
std::vector<std::size_t> cuts_of(std::size_t n) {
  auto cuts =
      *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, n + 1));
  cuts.push_back(0);
  cuts.push_back(n);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

// A head with owned strings, comparable across buffers.
struct OwnedHead {
  std::string method, target, host;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::uint64_t> content_length;
  bool chunked = false, keep_alive = false, expect_continue = false;
  std::size_t size = 0;
  bool operator==(const OwnedHead&) const = default;
};

OwnedHead own(const RequestHead& h) {
  OwnedHead o{std::string(h.method),
              std::string(h.target),
              std::string(h.host),
              h.version_minor,
              {},
              h.content_length,
              h.chunked,
              h.keep_alive,
              h.expect_continue,
              h.size};
  for (const auto& f : h.fields)
    o.fields.emplace_back(std::string(f.name), std::string(f.value));
  return o;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  return s;
}

struct Outcome {
  ParseStatus status = ParseStatus::need_more;
  unsigned error_status = 0;
  std::string reason;
  std::optional<OwnedHead> head;
  bool operator==(const Outcome&) const = default;
};

// Feeds the prefixes ending at each cut, each time from a fresh copy (the buffer moves).
Outcome parse_split(std::string_view bytes, const std::vector<std::size_t>& cuts,
                    HeadLimits limits) {
  HeadParser parser(limits);
  RequestHead head;
  Outcome o;
  for (std::size_t end : cuts) {
    const std::string copy(bytes.substr(0, end));
    o.status = parser.parse(copy, head);
    if (o.status == ParseStatus::done) o.head = own(head);
    if (o.status != ParseStatus::need_more) break;
  }
  if (o.status == ParseStatus::error) {
    o.error_status = parser.error().status;
    o.reason = std::string(parser.error().reason);
  }
  return o;
}

Outcome parse_whole(std::string_view bytes, HeadLimits limits) {
  return parse_split(bytes, {bytes.size()}, limits);
}

// ---- (a) splits of valid heads -------------------------------------------------------------

RC_GTEST_PROP(HeadParserProp, ValidHeadSplitAnywhereParsesLikeWhole, ()) {
  const GeneratedHead g = *valid_head();
  // Bytes after the head (a body, the next request) are not part of it.
  const std::string suffix = *string_of(rc::gen::arbitrary<char>(), 0, 16);
  const std::string bytes = g.bytes + suffix;
  const Outcome whole = parse_whole(bytes, {});
  RC_ASSERT(whole.status == ParseStatus::done);
  RC_ASSERT(whole.head->size == g.bytes.size());
  RC_ASSERT(whole.head->method == g.method);
  RC_ASSERT(whole.head->target == g.target);
  RC_ASSERT(whole.head->fields.size() == g.fields.size());
  for (std::size_t i = 0; i < g.fields.size(); ++i) {
    RC_ASSERT(whole.head->fields[i].first == g.fields[i].first);
    RC_ASSERT(whole.head->fields[i].second == trim(g.fields[i].second));
  }
  const Outcome split = parse_split(bytes, cuts_of(bytes.size()), {});
  RC_ASSERT(split == whole);
}

// Byte by byte is the worst split: every call sees one new byte.
RC_GTEST_PROP(HeadParserProp, ValidHeadByteByByteParsesLikeWhole, ()) {
  const GeneratedHead g = *valid_head();
  std::vector<std::size_t> cuts(g.bytes.size() + 1);
  for (std::size_t i = 0; i < cuts.size(); ++i)
    cuts[i] = i;
  RC_ASSERT(parse_split(g.bytes, cuts, {}) == parse_whole(g.bytes, {}));
}

// ---- (b) arbitrary and mutated bytes -------------------------------------------------------

void check_any(std::string_view bytes, HeadLimits limits) {
  const Outcome whole = parse_whole(bytes, limits);
  switch (whole.status) {
    case ParseStatus::need_more:
      break;
    case ParseStatus::done:
      RC_ASSERT(whole.head->size <= bytes.size());
      RC_ASSERT(whole.head->size <= limits.max_header_bytes);
      RC_ASSERT(!whole.head->method.empty());
      RC_ASSERT(whole.head->fields.size() <= limits.max_header_count);
      break;
    case ParseStatus::error: {
      const unsigned s = whole.error_status;
      RC_ASSERT(s == 400u || s == 414u || s == 417u || s == 431u || s == 505u);
      RC_ASSERT(!whole.reason.empty());
      break;
    }
  }
  RC_ASSERT(parse_split(bytes, cuts_of(bytes.size()), limits) == whole);
}

HeadLimits small_limits() {
  HeadLimits l;
  l.max_request_line = 64;
  l.max_header_field = 48;
  l.max_header_bytes = 256;
  l.max_header_count = 8;
  return l;
}

RC_GTEST_PROP(HeadParserProp, ArbitraryBytesAreAlwaysAnswered, (const std::string& junk)) {
  check_any(junk, {});
  check_any(junk, small_limits());
}

// Bytes from the alphabet that matters (CR, LF, SP, ':', tokens) reach deeper states.
RC_GTEST_PROP(HeadParserProp, HttpLikeBytesAreAlwaysAnswered, ()) {
  const auto c = rc::gen::oneOf(rc::gen::element('\r', '\n', ' ', ':', '\t', '/', '\0', '*'),
                                tchar(), rc::gen::just('\r'), rc::gen::just('\n'));
  std::string bytes = "GET / HTTP/1.1\r\n" + *string_of(c, 0, 300);
  check_any(bytes, {});
  check_any(bytes, small_limits());
}

RC_GTEST_PROP(HeadParserProp, MutatedValidHeadsAreAlwaysAnswered, ()) {
  std::string bytes = (*valid_head()).bytes;
  const auto edits = *rc::gen::inRange(1, 4);
  for (int i = 0; i < edits; ++i) {
    const auto at = *rc::gen::inRange<std::size_t>(0, bytes.size());
    const char c = *rc::gen::oneOf(rc::gen::element('\r', '\n', ' ', '\t', ':', '\0', '\x7f'),
                                   rc::gen::arbitrary<char>());
    switch (*rc::gen::inRange(0, 3)) {
      case 0:
        bytes[at] = c;
        break;
      case 1:
        bytes.insert(at, 1, c);
        break;
      default:
        bytes.erase(at, 1);
        break;
    }
  }
  check_any(bytes, {});
  check_any(bytes, small_limits());
}

// ---- (c) chunked ---------------------------------------------------------------------------

std::string hex(std::size_t n, bool upper) {
  // Not `(upper ? kUpper : kLower)[i]`: GCC 12.2 with -fsanitize=signed-integer-overflow (or
  // shift, integer-divide-by-zero) reads the wrong element of a ?: of two arrays.
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[n % 16]);
    n /= 16;
  } while (n != 0);
  return s;
}

// `body` in chunks of random sizes, with random extensions and trailers.
std::string encode_chunked(const std::string& body) {
  std::string out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const auto n = std::min(body.size() - pos, *rc::gen::inRange<std::size_t>(1, 70));
    const auto zeros = static_cast<std::size_t>(*rc::gen::inRange(0, 2));
    out += std::string(zeros, '0') + hex(n, *rc::gen::arbitrary<bool>());
    if (*rc::gen::inRange(0, 4) == 0) out += ";" + *string_of(tchar(), 1, 8) + "=v";
    out += "\r\n" + body.substr(pos, n) + "\r\n";
    pos += n;
  }
  out += "0";
  if (*rc::gen::inRange(0, 4) == 0) out += ";last";
  out += "\r\n";
  const int trailers = *rc::gen::inRange(0, 3);
  for (int i = 0; i < trailers; ++i)
    out +=
        *string_of(tchar(), 1, 10) + ": " + *string_of(rc::gen::inRange('!', '~'), 0, 10) + "\r\n";
  return out + "\r\n";
}

RC_GTEST_PROP(ChunkedDecoderProp, SplitEncodedBodyDecodesToTheBodyAndStopsAtItsEnd, ()) {
  const std::string body = *string_of(rc::gen::arbitrary<char>(), 0, 600);
  const std::string msg = encode_chunked(body);
  // What follows belongs to the next request and must not be touched.
  const std::string next = *rc::gen::elementOf(std::vector<std::string>{
      "", "GET / HTTP/1.1\r\n\r\n", "0\r\n\r\n", "\r\n", "5\r\nhello\r\n"});
  const std::string in = msg + next;
  const auto cuts = cuts_of(in.size());
  ChunkedDecoder dec(body.size(), {});  // max_body exactly the body: the limit admits it
  std::string out;
  std::size_t consumed = 0;
  ParseStatus st = ParseStatus::need_more;
  for (std::size_t i = 1; i < cuts.size() && st == ParseStatus::need_more; ++i) {
    if (cuts[i] <= consumed) continue;
    const auto r = dec.decode(std::string_view(in).substr(consumed, cuts[i] - consumed), out);
    st = r.status;
    if (st == ParseStatus::need_more) RC_ASSERT(consumed + r.consumed == cuts[i]);
    consumed += r.consumed;
  }
  RC_ASSERT(st == ParseStatus::done);
  RC_ASSERT(consumed == msg.size());
  RC_ASSERT(out == body);
  RC_ASSERT(dec.body_size() == body.size());

  // One byte less of allowance is refused with 413 (when there is a body at all).
  if (!body.empty()) {
    ChunkedDecoder small(body.size() - 1, {});
    std::string ignored;
    const auto r = small.decode(in, ignored);
    RC_ASSERT(r.status == ParseStatus::error);
    RC_ASSERT(small.error().status == 413u);
  }
}

RC_GTEST_PROP(ChunkedDecoderProp, ArbitraryBytesSplitAnywhereDecodeLikeWhole,
              (const std::string& junk)) {
  const std::string in =
      *rc::gen::elementOf(std::vector<std::string>{"", "5\r\nhello\r\n", "0\r\n"}) + junk;
  HeadLimits limits = small_limits();
  ChunkedDecoder whole(128, limits);
  std::string whole_out;
  const auto w = whole.decode(in, whole_out);
  RC_ASSERT(w.consumed <= in.size());
  if (w.status == ParseStatus::need_more) RC_ASSERT(w.consumed == in.size());
  if (w.status == ParseStatus::error) {
    const unsigned s = whole.error().status;
    RC_ASSERT(s == 400u || s == 413u || s == 431u);
  }

  ChunkedDecoder split(128, limits);
  std::string split_out;
  std::size_t consumed = 0;
  ParseStatus st = ParseStatus::need_more;
  const auto cuts = cuts_of(in.size());
  for (std::size_t i = 1; i < cuts.size() && st == ParseStatus::need_more; ++i) {
    if (cuts[i] <= consumed) continue;
    const auto r =
        split.decode(std::string_view(in).substr(consumed, cuts[i] - consumed), split_out);
    st = r.status;
    consumed += r.consumed;
  }
  RC_ASSERT(st == w.status);
  RC_ASSERT(consumed == w.consumed);
  RC_ASSERT(split_out == whole_out);
  if (st == ParseStatus::error) {
    RC_ASSERT(split.error().status == whole.error().status);
    RC_ASSERT(split.error().reason == whole.error().reason);
  }
}

}  // namespace
}  // namespace stella::gw::http
