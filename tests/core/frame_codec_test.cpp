#include "stella/core/frame_codec.hpp"

#include <gtest/gtest.h>

#include "../../core/src/frame_tags.hpp"
#include "../../core/src/wire.hpp"

namespace stella::core {
namespace {

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Frame sample_hello() {
  Hello h;
  h.service = "scanner";
  h.service_version = "1.0.0";
  h.instance_id = "scanner-1";
  h.region = "eu1";
  h.endpoints.push_back({"GET", "/api/v1/scans/{id}", 30000, false, {{"scope", "scans.read"}}, ""});
  return Frame{0, 0, h};
}

Frame sample_request() {
  Request r;
  r.method = "GET";
  r.path = "/api/v1/scans/42";
  r.query = "full=1";
  r.headers = {{"accept", "application/json"}};
  r.timeout_ms = 30000;
  r.correlation_id = "abc123";
  r.tenant = "tenant-1";
  r.route = "/api/v1/scans/{id}";
  return Frame{flags::kEndStream, 7, r};
}

// The bytes docs/protocol.md shows as worked examples. A change here is a wire break.
TEST(FrameCodec, GoldenHello) {
  const std::string bytes = encode_frame(sample_hello());
  EXPECT_EQ(hex(bytes),
            "53470101000000000000000000000092"  // header: SG v1 HELLO flags=0 id=0 len=146
            "0001000000020001"                  // version_min = 1
            "0002000000020001"                  // version_max = 1
            "000300000007"
            "7363616e6e6572"  // service "scanner"
            "000400000005"
            "312e302e30"  // service_version "1.0.0"
            "000500000009"
            "7363616e6e65722d31"  // instance_id "scanner-1"
            "000600000003"
            "657531"        // region "eu1"
            "00070000004c"  // endpoint (76 bytes)
            "000100000003"
            "474554"  //   method "GET"
            "000200000012"
            "2f6170692f76312f7363616e732f7b69647d"  // path
            "00030000000400007530"                  //   timeout_ms 30000
            "00050000001b"                          //   claim (27 bytes)
            "000100000005"
            "73636f7065"  //     type "scope"
            "00020000000a"
            "7363616e732e72656164");  //  value "scans.read"
}

TEST(FrameCodec, GoldenRequest) {
  const std::string bytes = encode_frame(sample_request());
  EXPECT_EQ(hex(bytes),
            "53470104000100000000000700000089"  // header: REQUEST END_STREAM id=7 len=137
            "000100000003"
            "474554"
            "000200000010"
            "2f6170692f76312f7363616e732f3432"
            "000300000006"
            "66756c6c3d31"
            "00040000001c"
            "0001"
            "0006"
            "616363657074"
            "0010"
            "6170706c69636174696f6e2f6a736f6e"
            "00060000000400007530"
            "000700000006"
            "616263313233"
            "000800000008"
            "74656e616e742d31"
            "000e00000012"
            "2f6170692f76312f7363616e732f7b69647d");
}

TEST(FrameCodec, RoundTripsSamples) {
  for (const Frame& f : {sample_hello(), sample_request()}) {
    const std::string bytes = encode_frame(f);
    Frame back;
    const DecodeResult r = decode_frame(bytes, back);
    ASSERT_EQ(r.status, DecodeStatus::done);
    EXPECT_EQ(r.consumed, bytes.size());
    EXPECT_EQ(back, f);
  }
}

TEST(FrameCodec, PrefixesNeedMoreAndTellTheFullSize) {
  const std::string bytes = encode_frame(sample_request());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Frame f;
    const DecodeResult r = decode_frame(std::string_view(bytes).substr(0, n), f);
    ASSERT_EQ(r.status, DecodeStatus::need_more) << n;
    EXPECT_EQ(r.needed, n < kFrameHeaderSize ? kFrameHeaderSize : bytes.size());
  }
}

DecodeResult decode_bytes(const std::string& bytes, const FrameLimits& limits = {}) {
  Frame f;
  return decode_frame(bytes, f, limits);
}

void expect_error(const DecodeResult& r, Errc e, std::size_t offset) {
  EXPECT_EQ(r.status, DecodeStatus::error);
  EXPECT_EQ(r.error, e) << errc_name(r.error);
  EXPECT_EQ(r.error_offset, offset);
}

TEST(FrameCodec, HeaderErrors) {
  std::string good = encode_frame(Frame{0, 0, Heartbeat{1, 2, HealthStatus::healthy, 0}});
  expect_error(decode_bytes("GET / HTTP/1.1\r\n"), Errc::bad_magic, 0);
  std::string b = good;
  b[1] = 'X';
  expect_error(decode_bytes(b), Errc::bad_magic, 0);
  b = good;
  b[2] = 2;
  expect_error(decode_bytes(b), Errc::unsupported_version, 2);
  b = good;
  b[7] = 1;
  expect_error(decode_bytes(b), Errc::reserved_bits_set, 6);
  b = good;
  b[11] = 5;  // HEARTBEAT must have stream id 0
  expect_error(decode_bytes(b), Errc::invalid_stream_id, 8);
  const std::string req = encode_frame(sample_request());
  b = req;
  b[11] = 0;  // REQUEST must not have stream id 0
  expect_error(decode_bytes(b), Errc::invalid_stream_id, 8);
}

TEST(FrameCodec, LoneMagicPrefixIsNeedMore) {
  EXPECT_EQ(decode_bytes("S").status, DecodeStatus::need_more);
  EXPECT_EQ(decode_bytes("SG\x01").status, DecodeStatus::need_more);
}

TEST(FrameCodec, PayloadLimitAtLimitAndAbove) {
  FrameLimits limits;
  limits.max_payload = 100;
  Frame f{flags::kEndStream, 1, StreamData{std::string(100, 'x')}};
  std::string out;
  ASSERT_FALSE(encode_frame(f, out, limits));
  EXPECT_EQ(decode_bytes(out, limits).status, DecodeStatus::done);
  // The header alone is enough to refuse limit + 1: nothing of the payload needs to be there.
  std::get<StreamData>(f.body).data += 'x';
  EXPECT_EQ(encode_frame(f, out, limits), make_error_code(Errc::payload_too_large));
  std::string big = encode_frame(f);
  expect_error(decode_bytes(big.substr(0, kFrameHeaderSize), limits), Errc::payload_too_large, 12);
}

TEST(FrameCodec, StringLimitAtLimitAndAbove) {
  FrameLimits limits;
  limits.max_string = 16;
  Frame f = sample_request();
  auto& r = std::get<Request>(f.body);
  r.route = std::string(16, 'r');
  const std::string ok_bytes = encode_frame(f, limits);
  ASSERT_FALSE(ok_bytes.empty());
  EXPECT_EQ(decode_bytes(ok_bytes, limits).status, DecodeStatus::done);
  r.route += 'r';
  std::string out;
  EXPECT_EQ(encode_frame(f, out, limits), make_error_code(Errc::string_too_long));
  const DecodeResult d = decode_bytes(encode_frame(f), limits);
  EXPECT_EQ(d.error, Errc::string_too_long);
}

TEST(FrameCodec, HeaderCountAndBlockLimits) {
  FrameLimits limits;
  limits.max_headers = 3;
  Frame f{flags::kEndStream, 1, Response{200, {{"a", "1"}, {"b", "2"}, {"c", "3"}}, ""}};
  EXPECT_EQ(decode_bytes(encode_frame(f, limits), limits).status, DecodeStatus::done);
  std::get<Response>(f.body).headers.push_back({"d", "4"});
  std::string out;
  EXPECT_EQ(encode_frame(f, out, limits), make_error_code(Errc::too_many_items));
  EXPECT_EQ(decode_bytes(encode_frame(f), limits).error, Errc::too_many_items);

  FrameLimits block;
  block.max_header_block = 2 + 4 + 1 + 5;  // count + one header "a" = "12345"
  Frame g{flags::kEndStream, 1, Response{200, {{"a", "12345"}}, ""}};
  EXPECT_EQ(decode_bytes(encode_frame(g, block), block).status, DecodeStatus::done);
  std::get<Response>(g.body).headers[0].value += '6';
  EXPECT_EQ(encode_frame(g, out, block), make_error_code(Errc::header_block_too_large));
  EXPECT_EQ(decode_bytes(encode_frame(g), block).error, Errc::header_block_too_large);
}

TEST(FrameCodec, ItemLimits) {
  FrameLimits limits;
  limits.max_endpoints = 2;
  limits.max_claims = 2;
  limits.max_scopes = 2;
  Frame h = sample_hello();
  auto& hello = std::get<Hello>(h.body);
  hello.endpoints.push_back(hello.endpoints[0]);
  EXPECT_EQ(decode_bytes(encode_frame(h, limits), limits).status, DecodeStatus::done);
  hello.endpoints.push_back(hello.endpoints[0]);
  EXPECT_EQ(decode_bytes(encode_frame(h), limits).error, Errc::too_many_items);

  Frame r = sample_request();
  auto& req = std::get<Request>(r.body);
  req.scopes = {"a", "b"};
  req.claims = {{"x", "1"}, {"y", "2"}};
  EXPECT_EQ(decode_bytes(encode_frame(r, limits), limits).status, DecodeStatus::done);
  req.scopes.push_back("c");
  EXPECT_EQ(decode_bytes(encode_frame(r), limits).error, Errc::too_many_items);
  req.scopes.pop_back();
  req.claims.push_back({"z", "3"});
  EXPECT_EQ(decode_bytes(encode_frame(r), limits).error, Errc::too_many_items);
}

// Builds a frame with a hand-made payload, to reach errors the encoder never produces.
std::string raw_frame(FrameType type, std::uint32_t stream_id, const std::string& payload) {
  std::string out;
  wire::put_u8(out, kMagic0);
  wire::put_u8(out, kMagic1);
  wire::put_u8(out, kFramingVersion);
  wire::put_u8(out, static_cast<std::uint8_t>(type));
  wire::put_u16(out, 0);
  wire::put_u16(out, 0);
  wire::put_u32(out, stream_id);
  wire::put_u32(out, static_cast<std::uint32_t>(payload.size()));
  return out + payload;
}

std::string field(std::uint16_t tag, const std::string& value) {
  std::string out;
  wire::put_u16(out, tag);
  wire::put_u32(out, static_cast<std::uint32_t>(value.size()));
  return out + value;
}

std::string u16be(std::uint16_t v) {
  std::string s;
  wire::put_u16(s, v);
  return s;
}

TEST(FrameCodec, PayloadErrorsNameTheField) {
  const std::string status = field(tags::response::kStatus, u16be(200));
  // Missing required field.
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, "")), Errc::missing_field, 16);
  // Duplicate field, reported at the second occurrence.
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, status + status)),
               Errc::duplicate_field, 16 + status.size());
  // Wrong width for a fixed field.
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, field(1, std::string(1, '\0')))),
               Errc::invalid_field_length, 16);
  // Status outside 100..999.
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, field(1, u16be(42)))),
               Errc::invalid_value, 16);
  // A field whose length runs past the payload.
  std::string truncated = status + field(3, "body");
  truncated.resize(truncated.size() - 1);
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, truncated)), Errc::truncated_field,
               16 + status.size());
  // A field header cut short.
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, status + std::string("\0\3", 2))),
               Errc::truncated_field, 16 + status.size());
  // Header block with bytes after its last header.
  std::string block = u16be(1) + u16be(1) + "a" + u16be(1) + "b" + "junk";
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, status + field(2, block))),
               Errc::trailing_bytes, 16 + status.size() + 6 + 8);
  // Header block that claims more headers than it holds.
  block = u16be(2) + u16be(1) + "a" + u16be(1) + "b";
  expect_error(decode_bytes(raw_frame(FrameType::response, 1, status + field(2, block))),
               Errc::truncated_field, 16 + status.size() + 6 + 8);
  // A bool that is neither 0 nor 1.
  const std::string ep = field(tags::endpoint::kMethod, "GET") + field(tags::endpoint::kPath, "/") +
                         field(tags::endpoint::kStreaming, "\x02");
  const std::string hello = field(1, u16be(1)) + field(2, u16be(1)) + field(3, "s") +
                            field(5, "i") + field(tags::hello::kEndpoint, ep);
  const std::size_t ep_at = 16 + hello.size() - ep.size() - 6;
  expect_error(decode_bytes(raw_frame(FrameType::hello, 0, hello)), Errc::invalid_value,
               ep_at + 6 + 9 + 7);
  // Health status out of range.
  const std::string hb =
      field(1, std::string(8, '\0')) + field(2, std::string(8, '\0')) + field(3, "\x09");
  expect_error(decode_bytes(raw_frame(FrameType::heartbeat, 0, hb)), Errc::invalid_value, 16 + 28);
  // version_min > version_max.
  const std::string bad_versions =
      field(1, u16be(3)) + field(2, u16be(1)) + field(3, "s") + field(5, "i");
  expect_error(decode_bytes(raw_frame(FrameType::hello, 0, bad_versions)), Errc::invalid_value, 16);
}

TEST(FrameCodec, UnknownFieldsAndTypesAreSkipped) {
  const std::string payload = field(tags::response::kStatus, u16be(204)) + field(999, "future");
  Frame f;
  ASSERT_EQ(decode_frame(raw_frame(FrameType::response, 3, payload), f).status, DecodeStatus::done);
  EXPECT_EQ(std::get<Response>(f.body).status, 204);

  std::string unknown = raw_frame(FrameType::response, 0, "whatever");
  unknown[3] = 0x7F;
  ASSERT_EQ(decode_frame(unknown, f).status, DecodeStatus::done);
  EXPECT_EQ(f.type_code(), 0x7F);
  EXPECT_EQ(std::get<UnknownFrame>(f.body).payload, "whatever");
  EXPECT_EQ(frame_type_name(f.type_code()), "UNKNOWN");
}

TEST(FrameCodec, EncoderRefusesWireRuleBreaks) {
  std::string out = "keep";
  EXPECT_EQ(encode_frame(Frame{0, 5, Heartbeat{}}, out), make_error_code(Errc::invalid_stream_id));
  EXPECT_EQ(encode_frame(Frame{0, 0, Credit{1}}, out), make_error_code(Errc::invalid_stream_id));
  EXPECT_EQ(encode_frame(Frame{0, 1, Response{42, {}, ""}}, out),
            make_error_code(Errc::invalid_value));
  EXPECT_EQ(encode_frame(Frame{0, 1, UnknownFrame{0x04, ""}}, out),
            make_error_code(Errc::invalid_value));
  Hello inverted;
  inverted.version_min = 3;
  inverted.version_max = 2;
  EXPECT_EQ(encode_frame(Frame{0, 0, inverted}, out), make_error_code(Errc::invalid_value));
  EXPECT_EQ(out, "keep");  // nothing appended on failure
}

TEST(FrameReader, ByteAtATimeAndStickyError) {
  std::string stream = encode_frame(sample_hello()) + encode_frame(sample_request());
  FrameReader reader;
  std::vector<Frame> frames;
  for (char c : stream) {
    reader.feed(std::string_view(&c, 1));
    Frame f;
    while (reader.next(f).status == DecodeStatus::done)
      frames.push_back(f);
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0], sample_hello());
  EXPECT_EQ(frames[1], sample_request());
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_EQ(reader.offset(), stream.size());

  reader.feed("XX");
  Frame f;
  const DecodeResult r = reader.next(f);
  EXPECT_EQ(r.status, DecodeStatus::error);
  EXPECT_EQ(r.error, Errc::bad_magic);
  reader.feed(encode_frame(sample_hello()));
  EXPECT_EQ(reader.next(f).status, DecodeStatus::error);  // sticky
}

// next_frame() lends the frames' bytes: those of a frame completed in the reader (cut by the
// previous read) stay as they were while later frames of the same read are split off, even one
// the read cuts again, so a session's views of every frame of a read hold until the next read.
TEST(FrameReader, LentFramesStayReadableUntilTheNextRead) {
  const std::string a = encode_frame(sample_request());
  Frame other = sample_request();
  other.stream_id = 9;
  std::get<Request>(other.body).body = std::string(300, 'z');
  const std::string b = encode_frame(other);
  FrameReader reader;
  std::string_view frame;

  std::string read1 = a.substr(0, 40);  // a, cut
  std::string_view in = read1;
  ASSERT_EQ(reader.next_frame(in, frame).status, DecodeStatus::need_more);
  read1.assign(read1.size(), '#');  // the caller reuses its buffer: the reader kept a copy

  std::string read2 = a.substr(40) + b + b.substr(0, 100);  // a's rest, b whole, b again cut
  in = read2;
  ASSERT_EQ(reader.next_frame(in, frame).status, DecodeStatus::done);
  const std::string_view lent_a = frame;  // in the reader
  EXPECT_EQ(lent_a, a);
  ASSERT_EQ(reader.next_frame(in, frame).status, DecodeStatus::done);
  const std::string_view whole_b = frame;  // in read2
  EXPECT_EQ(whole_b.data(), read2.data() + (a.size() - 40));
  ASSERT_EQ(reader.next_frame(in, frame).status, DecodeStatus::need_more);  // kept: the cut b
  EXPECT_EQ(lent_a, a);  // not overwritten by the cut frame
  EXPECT_EQ(whole_b, b);

  std::string read3 = b.substr(100);
  in = read3;
  reader.recycle();
  ASSERT_EQ(reader.next_frame(in, frame).status, DecodeStatus::done);
  EXPECT_EQ(frame, b);
  EXPECT_EQ(reader.offset(), a.size() + 2 * b.size());
  EXPECT_EQ(reader.buffered(), 0u);
}

// The owning next(input, frame) on top of next_frame(): a payload that does not decode is a
// sticky error, and offset() names the frame it is in.
TEST(FrameReader, PayloadErrorNamesTheFrame) {
  const std::string good = encode_frame(sample_hello());
  std::string bad = raw_frame(FrameType::response, 3, field(tags::response::kStatus, u16be(42)));
  std::string stream = good + bad;
  FrameReader reader;
  std::string_view in = stream;
  Frame f;
  ASSERT_EQ(reader.next(in, f).status, DecodeStatus::done);
  const DecodeResult r = reader.next(in, f);
  ASSERT_EQ(r.status, DecodeStatus::error);
  EXPECT_EQ(reader.offset(), good.size());
  std::string_view more = good;
  EXPECT_EQ(reader.next(more, f).status, DecodeStatus::error);  // sticky
}

}  // namespace
}  // namespace stella::core
