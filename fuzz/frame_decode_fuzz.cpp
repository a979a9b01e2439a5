// Arbitrary bytes into the one-shot decoder. Invariants: outcomes are consistent with the input
// length; whatever decodes re-encodes and decodes to the same frame; nothing crashes.
#include <cstdio>

#include "fuzz_input.hpp"
#include "stella/core/frame_codec.hpp"

using namespace stella::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FrameLimits limits;
  limits.max_payload = 64 * 1024;
  limits.max_string = 1024;
  limits.max_headers = 16;
  limits.max_endpoints = 16;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Frame f;
  const DecodeResult r = decode_frame(in, f, limits);
  switch (r.status) {
    case DecodeStatus::done: {
      STELLA_FUZZ_CHECK(r.consumed >= kFrameHeaderSize && r.consumed <= size);
      std::string again;
      STELLA_FUZZ_CHECK(!encode_frame(f, again, limits));
      STELLA_FUZZ_CHECK(again.size() <= r.consumed);  // unknown fields dropped, nothing added
      Frame g;
      STELLA_FUZZ_CHECK(decode_frame(again, g, limits).status == DecodeStatus::done);
      STELLA_FUZZ_CHECK(g == f);
      break;
    }
    case DecodeStatus::need_more:
      STELLA_FUZZ_CHECK(r.needed > size);
      STELLA_FUZZ_CHECK(r.needed <= kFrameHeaderSize + limits.max_payload);
      break;
    case DecodeStatus::error:
      STELLA_FUZZ_CHECK(r.error != Errc::ok);
      STELLA_FUZZ_CHECK(r.error_offset <= size);
      STELLA_FUZZ_CHECK(errc_name(r.error) != "unknown");
      break;
  }
  return 0;
}
