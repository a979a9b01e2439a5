// Properties of the frame codec: round trips, arbitrary splits, arbitrary bytes.
#include <algorithm>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "frame_gen.hpp"
#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_view.hpp"

namespace stella::core {
namespace {

RC_GTEST_PROP(FrameCodecProp, DecodeOfEncodeIsIdentityForEveryType, ()) {
  const Frame f = *testgen::any_frame();
  std::string bytes;
  RC_ASSERT(!encode_frame(f, bytes));
  Frame back;
  const DecodeResult r = decode_frame(bytes, back);
  RC_ASSERT(r.status == DecodeStatus::done);
  RC_ASSERT(r.consumed == bytes.size());
  RC_ASSERT(back == f);
}

// Every type is exercised on its own too, so a generator bias cannot hide one.
RC_GTEST_PROP(FrameCodecProp, RoundTripPerType, ()) {
  const auto type = *rc::gen::inRange<std::uint8_t>(1, 10);
  const Frame f = *testgen::frame_of(type);
  Frame back;
  const std::string bytes = encode_frame(f);
  RC_ASSERT(decode_frame(bytes, back).status == DecodeStatus::done);
  RC_ASSERT(back.type_code() == type);
  RC_ASSERT(back == f);
}

// The REQUEST encoder that skips the copy into a Frame writes the same bytes, and fails alike.
RC_GTEST_PROP(FrameCodecProp, RequestEncoderAgreesWithEncodeFrame, ()) {
  const Frame f = *testgen::frame_of(static_cast<std::uint8_t>(FrameType::request));
  const auto stream = *rc::gen::element<std::uint32_t>(0, 1, f.stream_id);
  FrameLimits limits;
  limits.max_payload = *rc::gen::element<std::uint32_t>(64, 1024 * 1024);
  Frame g = f;
  g.stream_id = stream;
  std::string a = "prefix", b = "prefix";
  const std::error_code ea = encode_frame(g, a, limits);
  const std::error_code eb =
      encode_request_frame(f.flags, stream, std::get<Request>(f.body), b, limits);
  RC_ASSERT(ea == eb);
  RC_ASSERT(a == b);
}

// Arbitrary cut points of a stream of `size` bytes, sorted, with 0 and `size` at the ends.
std::vector<std::size_t> arbitrary_cuts(std::size_t size) {
  auto cuts =
      *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, size + 1));
  cuts.push_back(0);
  cuts.push_back(size);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

RC_GTEST_PROP(FrameCodecProp, ArbitrarySplitsGiveTheSameFrames, ()) {
  const auto frames = *testgen::up_to<std::vector<Frame>>(8, testgen::any_frame());
  std::string stream;
  for (const auto& f : frames)
    RC_ASSERT(!encode_frame(f, stream));
  const auto cuts = arbitrary_cuts(stream.size());
  FrameReader reader;
  std::vector<Frame> got;
  for (std::size_t i = 1; i < cuts.size(); ++i) {
    reader.feed(std::string_view(stream).substr(cuts[i - 1], cuts[i] - cuts[i - 1]));
    Frame f;
    DecodeResult r;
    while ((r = reader.next(f)).status == DecodeStatus::done)
      got.push_back(f);
    RC_ASSERT(r.status == DecodeStatus::need_more);
  }
  RC_ASSERT(got == frames);
  RC_ASSERT(reader.buffered() == 0u);
}

// The read-loop way: each piece is lent (decoded from the caller's buffer, which is scribbled
// over once next() says need_more, as a socket read would reuse it). Same frames; the reader
// keeps at most the one frame a piece cut, and nothing once the stream ends on a boundary.
RC_GTEST_PROP(FrameCodecProp, LentPiecesGiveTheSameFramesAndKeepOnlyACutFrame, ()) {
  const auto frames = *testgen::up_to<std::vector<Frame>>(8, testgen::any_frame());
  std::string stream;
  std::size_t largest = 0;
  for (const auto& f : frames) {
    const std::size_t before = stream.size();
    RC_ASSERT(!encode_frame(f, stream));
    largest = std::max(largest, stream.size() - before);
  }
  const auto cuts = arbitrary_cuts(stream.size());
  FrameReader reader;
  std::vector<Frame> got;
  std::string piece;
  for (std::size_t i = 1; i < cuts.size(); ++i) {
    piece.assign(stream, cuts[i - 1], cuts[i] - cuts[i - 1]);
    std::string_view input = piece;
    Frame f;
    DecodeResult r;
    while ((r = reader.next(input, f)).status == DecodeStatus::done)
      got.push_back(f);
    RC_ASSERT(r.status == DecodeStatus::need_more);
    RC_ASSERT(input.empty());
    RC_ASSERT(reader.buffered() < std::max(largest, kFrameHeaderSize));
    std::fill(piece.begin(), piece.end(), '\xEE');
  }
  RC_ASSERT(got == frames);
  RC_ASSERT(reader.buffered() == 0u);
  RC_ASSERT(reader.offset() == stream.size());
}

// Lent and fed pieces mixed on one reader give the same frames and the same error offsets as
// decoding the whole stream at once.
RC_GTEST_PROP(FrameCodecProp, LentAndFedPiecesAgreeWithWholeDecoding, (const std::string& tail)) {
  const auto frames = *testgen::up_to<std::vector<Frame>>(4, testgen::any_frame());
  std::string stream;
  for (const auto& f : frames)
    RC_ASSERT(!encode_frame(f, stream));
  stream += tail;  // usually malformed: the reader must stop where a whole decode stops
  FrameLimits limits;
  limits.max_payload = 1 << 16;
  FrameReader whole(limits);
  whole.feed(stream);
  std::vector<Frame> expected;
  Frame f;
  DecodeResult end;
  while ((end = whole.next(f)).status == DecodeStatus::done)
    expected.push_back(f);

  FrameReader reader(limits);
  std::vector<Frame> got;
  DecodeResult r;
  std::size_t at = 0;
  while (at < stream.size()) {
    const std::size_t n = *rc::gen::inRange<std::size_t>(1, stream.size() - at + 1);
    const std::string piece = stream.substr(at, n);
    at += n;
    std::string_view input = piece;
    const bool lend = *rc::gen::arbitrary<bool>();
    if (!lend) reader.feed(piece);
    std::uint64_t start = reader.offset();
    while ((r = lend ? reader.next(input, f) : reader.next(f)).status == DecodeStatus::done) {
      got.push_back(f);
      start = reader.offset();
    }
    if (r.status == DecodeStatus::error) {
      RC_ASSERT(end.status == DecodeStatus::error);
      RC_ASSERT(r.error == end.error);
      RC_ASSERT(start + r.error_offset == whole.offset() + end.error_offset);
      break;
    }
  }
  RC_ASSERT(got == expected);
  if (end.status == DecodeStatus::error) RC_ASSERT(r.status == DecodeStatus::error);
}

RC_GTEST_PROP(FrameCodecProp, EveryStrictPrefixNeedsMore, ()) {
  const Frame f = *testgen::any_frame();
  const std::string bytes = encode_frame(f);
  const auto n = *rc::gen::inRange<std::size_t>(0, bytes.size());
  Frame out;
  const DecodeResult r = decode_frame(std::string_view(bytes).substr(0, n), out);
  RC_ASSERT(r.status == DecodeStatus::need_more);
  RC_ASSERT(r.needed > n);
  RC_ASSERT(r.needed <= bytes.size());
}

// Arbitrary bytes: never a crash, errors point inside the input, need_more never asks for more
// than one header plus the payload limit.
RC_GTEST_PROP(FrameCodecProp, ArbitraryBytesAreHandled, (const std::string& junk)) {
  FrameLimits limits;
  limits.max_payload = 4096;
  FrameReader reader(limits);
  reader.feed(junk);
  Frame f;
  DecodeResult r;
  std::size_t frames = 0;
  while ((r = reader.next(f)).status == DecodeStatus::done)
    ++frames;
  RC_ASSERT(frames <= junk.size() / kFrameHeaderSize);
  if (r.status == DecodeStatus::error) {
    RC_ASSERT(reader.offset() + r.error_offset <= junk.size());
    RC_ASSERT(r.error != Errc::ok);
  } else {
    RC_ASSERT(r.needed <= kFrameHeaderSize + limits.max_payload);
    RC_ASSERT(reader.buffered() < r.needed);
  }
}

// Arbitrary bytes behind a valid header reach the payload decoders of every type.
RC_GTEST_PROP(FrameCodecProp, ArbitraryPayloadsOfEveryType, (const std::string& payload)) {
  const auto type = *rc::gen::inRange<std::uint8_t>(1, 12);
  const StreamIdRule rule = stream_id_rule(type);
  std::string bytes = {'S', 'G', 1, static_cast<char>(type),
                       0,   0,   0, 0,
                       0,   0,   0, static_cast<char>(rule == StreamIdRule::zero ? 0 : 1)};
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int shift : {24, 16, 8, 0})
    bytes += static_cast<char>(n >> shift);
  bytes += payload;
  Frame f;
  const DecodeResult r = decode_frame(bytes, f);
  RC_ASSERT(r.status != DecodeStatus::need_more);
  if (r.status == DecodeStatus::done) {
    // Whatever decodes re-encodes, and decodes to the same value again.
    std::string again;
    RC_ASSERT(!encode_frame(f, again));
    Frame g;
    RC_ASSERT(decode_frame(again, g).status == DecodeStatus::done);
    RC_ASSERT(g == f);
  } else {
    RC_ASSERT(r.error_offset <= bytes.size());
  }
}

}  // namespace
}  // namespace stella::core

namespace stella::core {
namespace {

// The zero-copy views decode exactly what the owning decoder does, and fail exactly where it
// fails, for valid frames and for corrupted ones.
RC_GTEST_PROP(FrameViewProp, ViewsAgreeWithOwningDecode, ()) {
  const auto type = *rc::gen::element<std::uint8_t>(0x04, 0x05);
  std::string bytes = encode_frame(*testgen::frame_of(type));
  if (*rc::gen::arbitrary<bool>()) {
    const auto flips =
        *testgen::few(rc::gen::pair(rc::gen::inRange<std::size_t>(kFrameHeaderSize, bytes.size()),
                                    rc::gen::arbitrary<char>()),
                      3);
    for (const auto& [at, c] : flips)
      bytes[at] = c;
  }
  Frame owned;
  const DecodeResult a = decode_frame(bytes, owned);
  FrameHeader header;
  DecodeResult b;
  // assign_to() into a value that held another frame's (as the pools reuse them) leaves
  // nothing of it behind.
  const Frame earlier = *testgen::frame_of(type);
  if (type == 0x04) {
    RequestView view;
    b = decode_request_view(bytes, header, view);
    if (b.status == DecodeStatus::done) {
      RC_ASSERT(view.to_owned() == std::get<Request>(owned.body));
      Request reused = std::get<Request>(earlier.body);
      view.assign_to(reused);
      RC_ASSERT(reused == std::get<Request>(owned.body));
    }
  } else {
    ResponseView view;
    b = decode_response_view(bytes, header, view);
    if (b.status == DecodeStatus::done) {
      RC_ASSERT(view.to_owned() == std::get<Response>(owned.body));
      Response reused = std::get<Response>(earlier.body);
      view.assign_to(reused);
      RC_ASSERT(reused == std::get<Response>(owned.body));
    }
  }
  RC_ASSERT(a.status == b.status);
  RC_ASSERT(a.error == b.error);
  RC_ASSERT(a.error_offset == b.error_offset);
}

TEST(FrameView, WrongTypeIsRefusedAtTheTypeByte) {
  const std::string bytes = encode_frame(Frame{0, 1, Response{200, {}, ""}});
  FrameHeader h;
  RequestView v;
  const DecodeResult r = decode_request_view(bytes, h, v);
  EXPECT_EQ(r.status, DecodeStatus::error);
  EXPECT_EQ(r.error, Errc::invalid_value);
  EXPECT_EQ(r.error_offset, 3u);
}

}  // namespace
}  // namespace stella::core
