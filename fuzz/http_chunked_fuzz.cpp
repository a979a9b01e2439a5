// The chunked decoder, fed the same bytes in pieces chosen by the fuzzer, must agree with
// one-shot decoding on the outcome, the decoded body, the bytes consumed (it never takes a byte
// past the end of the message) and the error's status and reason.
// Input: two bytes choose the piece sizes (1-64, alternating), the rest is the stream.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "stella/gateway/http/request_head.hpp"

using namespace stella::gw::http;

namespace {

constexpr std::uint64_t kMaxBody = 4096;
constexpr HeadLimits kLimits{/*max_request_line=*/256, /*max_header_field=*/128,
                             /*max_header_bytes=*/512, /*max_header_count=*/16};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  stella::fuzz::Input in(data, size);
  const std::size_t pieces[2] = {1 + in.integral<std::uint8_t>() % 64u,
                                 1 + in.integral<std::uint8_t>() % 64u};
  const std::string_view stream = in.rest();

  ChunkedDecoder whole(kMaxBody, kLimits);
  std::string whole_body;
  const ChunkedDecoder::Result w = whole.decode(stream, whole_body);
  STELLA_FUZZ_CHECK(w.consumed <= stream.size());
  switch (w.status) {
    case ParseStatus::need_more:
      STELLA_FUZZ_CHECK(w.consumed == stream.size());  // waiting takes everything it was given
      break;
    case ParseStatus::done:
      // The message ends with CRLF CRLF (an empty trailer section after the last chunk).
      STELLA_FUZZ_CHECK(w.consumed >= 5);
      STELLA_FUZZ_CHECK(stream.substr(w.consumed - 4, 4) == "\r\n\r\n");
      break;
    case ParseStatus::error: {
      const unsigned s = whole.error().status;
      STELLA_FUZZ_CHECK(s == 400 || s == 413 || s == 431);
      STELLA_FUZZ_CHECK(!whole.error().reason.empty());
      break;
    }
  }
  STELLA_FUZZ_CHECK(whole_body.size() <= kMaxBody);
  if (w.status != ParseStatus::error) STELLA_FUZZ_CHECK(whole.body_size() == whole_body.size());

  ChunkedDecoder split(kMaxBody, kLimits);
  std::string split_body;
  ChunkedDecoder::Result r;
  std::size_t pos = 0, i = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min(pieces[i++ % 2], stream.size() - pos);
    r = split.decode(stream.substr(pos, n), split_body);
    STELLA_FUZZ_CHECK(r.consumed <= n);
    pos += r.consumed;
    if (r.status != ParseStatus::need_more) break;
    STELLA_FUZZ_CHECK(r.consumed == n);
  }
  STELLA_FUZZ_CHECK(r.status == w.status);
  STELLA_FUZZ_CHECK(pos == w.consumed);
  STELLA_FUZZ_CHECK(split_body == whole_body);
  if (w.status == ParseStatus::error) {
    STELLA_FUZZ_CHECK(split.error().status == whole.error().status);
    STELLA_FUZZ_CHECK(split.error().reason == whole.error().reason);
  }
  return 0;
}
