// The incremental reader, fed the same bytes in pieces chosen by the fuzzer, must produce the
// same frames and the same final outcome (error code and absolute offset) as one-shot decoding
// of the whole buffer, and never buffer more than one partial frame plus the last piece.
#include <cstdio>
#include <vector>

#include "fuzz_input.hpp"
#include "stella/core/frame_codec.hpp"

using namespace stella::core;
using stella::fuzz::Input;

namespace {

struct Outcome {
  std::vector<Frame> frames;
  DecodeStatus last = DecodeStatus::need_more;
  Errc error = Errc::ok;
  std::uint64_t error_at = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  std::vector<std::size_t> pieces(1 + in.below(16));
  for (auto& p : pieces)
    p = 1 + in.below(64);
  const std::string_view stream = in.rest();

  FrameLimits limits;
  limits.max_payload = 16 * 1024;

  // One shot over the whole buffer.
  Outcome whole;
  {
    std::size_t pos = 0;
    for (;;) {
      Frame f;
      const DecodeResult r = decode_frame(stream.substr(pos), f, limits);
      whole.last = r.status;
      if (r.status != DecodeStatus::done) {
        whole.error = r.error;
        whole.error_at = pos + r.error_offset;
        break;
      }
      whole.frames.push_back(std::move(f));
      pos += r.consumed;
    }
  }

  // Piece by piece through FrameReader.
  Outcome split;
  FrameReader reader(limits);
  std::size_t pos = 0, i = 0;
  while (split.last != DecodeStatus::error) {
    const std::size_t n = std::min(pieces[i++ % pieces.size()], stream.size() - pos);
    reader.feed(stream.substr(pos, n));
    pos += n;
    Frame f;
    DecodeResult r;
    while ((r = reader.next(f)).status == DecodeStatus::done)
      split.frames.push_back(f);
    split.last = r.status;
    if (r.status == DecodeStatus::error) {
      split.error = r.error;
      split.error_at = reader.offset() + r.error_offset;
    } else {
      STELLA_FUZZ_CHECK(reader.buffered() < kFrameHeaderSize + limits.max_payload + 64);
    }
    if (pos == stream.size()) break;
  }

  STELLA_FUZZ_CHECK(split.frames == whole.frames);
  STELLA_FUZZ_CHECK(split.last == whole.last);
  if (whole.last == DecodeStatus::error) {
    STELLA_FUZZ_CHECK(split.error == whole.error);
    STELLA_FUZZ_CHECK(split.error_at == whole.error_at);
  }
  return 0;
}
