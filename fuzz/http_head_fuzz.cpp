// The request-head parser on arbitrary bytes (the whole input is what a client sent):
//  - one-shot and byte-by-byte incremental parsing agree on the outcome, the error's status and
//    reason, and the head (its size and every view);
//  - an error has one of the documented statuses; a head never passes the limits;
//  - a parsed head, written out again as method/target/version and "name: value" fields and
//    parsed again, gives the same fields and framing.
// Limits are small so that every limit is reachable within libFuzzer's input sizes.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "stella/gateway/http/request_head.hpp"

using namespace stella::gw::http;

namespace {

constexpr HeadLimits kLimits{/*max_request_line=*/256, /*max_header_field=*/256,
                             /*max_header_bytes=*/1024, /*max_header_count=*/16};

struct Outcome {
  ParseStatus status = ParseStatus::need_more;
  unsigned error_status = 0;
  std::string_view reason;
  RequestHead head;
};

bool same_head(const RequestHead& a, const RequestHead& b) {
  if (a.method != b.method || a.target != b.target || a.version_minor != b.version_minor ||
      a.content_length != b.content_length || a.chunked != b.chunked ||
      a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue || a.host != b.host ||
      a.fields.size() != b.fields.size())
    return false;
  for (std::size_t i = 0; i < a.fields.size(); ++i)
    if (a.fields[i].name != b.fields[i].name || a.fields[i].value != b.fields[i].value)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stella::fuzz::Input in(data, size);
  const std::string_view bytes = in.rest();

  Outcome whole;
  HeadParser one(kLimits);
  whole.status = one.parse(bytes, whole.head);
  if (whole.status == ParseStatus::error) {
    whole.error_status = one.error().status;
    whole.reason = one.error().reason;
  }

  // Byte by byte: every call sees the same buffer grown by one byte.
  Outcome inc;
  HeadParser parser(kLimits);
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    inc.status = parser.parse(bytes.substr(0, n), inc.head);
    if (inc.status != ParseStatus::need_more) break;
  }
  if (inc.status == ParseStatus::error) {
    inc.error_status = parser.error().status;
    inc.reason = parser.error().reason;
  }

  STELLA_FUZZ_CHECK(inc.status == whole.status);
  switch (whole.status) {
    case ParseStatus::need_more:
      // Waiting for more never holds more than a maximal head (plus a CR awaiting its LF).
      STELLA_FUZZ_CHECK(bytes.size() <= kLimits.max_header_bytes + 1);
      break;
    case ParseStatus::error: {
      const unsigned s = whole.error_status;
      STELLA_FUZZ_CHECK(s == 400 || s == 414 || s == 417 || s == 431 || s == 505);
      STELLA_FUZZ_CHECK(!whole.reason.empty());
      STELLA_FUZZ_CHECK(inc.error_status == whole.error_status);
      STELLA_FUZZ_CHECK(inc.reason == whole.reason);
      break;
    }
    case ParseStatus::done: {
      const RequestHead& h = whole.head;
      STELLA_FUZZ_CHECK(inc.head.size == h.size);
      STELLA_FUZZ_CHECK(same_head(inc.head, h));
      STELLA_FUZZ_CHECK(h.size <= bytes.size());
      STELLA_FUZZ_CHECK(h.size <= kLimits.max_header_bytes);
      STELLA_FUZZ_CHECK(h.fields.size() <= kLimits.max_header_count);
      STELLA_FUZZ_CHECK(!h.method.empty());
      STELLA_FUZZ_CHECK(h.target == "*" || h.target.front() == '/');
      STELLA_FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
      STELLA_FUZZ_CHECK(!(h.chunked && h.content_length));
      // Every view lies inside the head.
      const char* begin = bytes.data();
      const char* end = bytes.data() + h.size;
      auto inside = [&](std::string_view v) {
        return v.empty() || (v.data() >= begin && v.data() + v.size() <= end);
      };
      STELLA_FUZZ_CHECK(inside(h.method) && inside(h.target) && inside(h.host));
      for (const auto& f : h.fields)
        STELLA_FUZZ_CHECK(inside(f.name) && inside(f.value));

      // Re-serialise and parse again: the same head (the canonical form drops leading empty
      // lines and normalises whitespace around values, so only the size may differ).
      std::string again;
      again.append(h.method).append(" ").append(h.target);
      again.append(h.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
      for (const auto& f : h.fields)
        again.append(f.name).append(": ").append(f.value).append("\r\n");
      again.append("\r\n");
      // Each field line may grow by the one ' ' written after ':', so the limits grow by as
      // much; with them the canonical form must parse to the same head.
      HeadLimits relaxed = kLimits;
      relaxed.max_header_field += 1;
      relaxed.max_header_bytes += kLimits.max_header_count;
      HeadParser re(relaxed);
      RequestHead h2;
      STELLA_FUZZ_CHECK(re.parse(again, h2) == ParseStatus::done);
      STELLA_FUZZ_CHECK(h2.size == again.size());
      STELLA_FUZZ_CHECK(same_head(h2, h));
      break;
    }
  }
  return 0;
}
