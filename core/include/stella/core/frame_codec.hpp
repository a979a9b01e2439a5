// Encoder and incremental decoder of stella frames (sans-I/O).
//
// Decoding has three outcomes, picohttpparser style:
//   done      — one frame decoded; `consumed` bytes of the input belong to it;
//   need_more — the input holds a prefix of a frame; `needed` is the total size the frame will
//               have (known once the 16-byte header is in), so a caller can size its read;
//   error     — the input is not a valid frame; `error` names why and `error_offset` is the byte
//               offset (from the start of the input) of the offending header byte or field.
// Every length read from the wire is checked against FrameLimits before anything is allocated,
// so a decoder never holds more than one header plus `max_payload` bytes for a frame.
//
// Errors (stella::core::Errc): bad_magic, unsupported_version, reserved_bits_set,
// payload_too_large, invalid_stream_id, truncated_field, invalid_field_length, missing_field,
// duplicate_field, invalid_value, string_too_long, too_many_items, header_block_too_large,
// trailing_bytes. After an error the stream is not resynchronisable: close the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stella/core/errc.hpp"
#include "stella/core/frame.hpp"

namespace stella::core {

/// The fixed header, as read off the wire.
struct FrameHeader {
  std::uint8_t version = kFramingVersion;
  std::uint8_t type = 0;
  std::uint16_t flags = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t payload_length = 0;
};

enum class DecodeStatus { done, need_more, error };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::need_more;
  std::size_t consumed = 0;      // done: bytes of the frame (header + payload)
  std::size_t needed = 0;        // need_more: total bytes of the frame, or kFrameHeaderSize
  Errc error = Errc::ok;         // error: why
  std::size_t error_offset = 0;  // error: offset into the input of the offending byte/field
};

/// Parses and checks the 16-byte header at the start of `in` (magic, version, reserved bits,
/// payload length against the limit, stream-id rule of known types). need_more when fewer than
/// 16 bytes are present.
DecodeResult decode_header(std::string_view in, FrameHeader& out, const FrameLimits& limits);

/// Decodes one frame from the start of `in` into `out`. `out` is overwritten only on done.
DecodeResult decode_frame(std::string_view in, Frame& out, const FrameLimits& limits = {});

/// Appends the encoding of `frame` to `out`. Fails (and leaves `out` as it was) when the frame
/// breaks a limit or a wire rule: string_too_long, too_many_items, header_block_too_large,
/// payload_too_large, invalid_stream_id, invalid_value.
std::error_code encode_frame(const Frame& frame, std::string& out, const FrameLimits& limits = {});

/// As encode_frame for a REQUEST frame, without copying `request` into a Frame first.
std::error_code encode_request_frame(std::uint16_t flags, std::uint32_t stream_id,
                                     const Request& request, std::string& out,
                                     const FrameLimits& limits = {});
/// As encode_frame for a RESPONSE frame, without copying `response` into a Frame first.
std::error_code encode_response_frame(std::uint16_t flags, std::uint32_t stream_id,
                                      const Response& response, std::string& out,
                                      const FrameLimits& limits = {});

/// Convenience: the encoding of `frame` (empty string when encode_frame fails).
std::string encode_frame(const Frame& frame, const FrameLimits& limits = {});

/// Incremental decoding over a byte stream that arrives in pieces of any size.
///
/// Two ways to use it. feed() copies a piece in and next() yields the frames that are complete
/// (tools, tests). A connection's read loop lends its read buffer instead: next(input, out)
/// decodes straight from `input`, so a frame that arrived whole is copied once, into the frame
/// it decodes to, and next_frame(input, frame) (the sessions) only splits the frames off,
/// for the caller to decode into views; only a frame cut by the end of a read is kept, and the
/// next read tops it up with just the bytes it lacks. Either way the reader holds at most one
/// partial frame (plus, with feed(), the last piece, and after next_frame() the last frame it
/// completed): a frame whose header announces a payload above the limit is
/// refused as soon as its header is in. After an error the reader stays in error (offset()
/// names where). Not thread-safe; one reader per connection.
class FrameReader {
 public:
  explicit FrameReader(FrameLimits limits = {}) : limits_(limits) {}

  void feed(std::string_view bytes);
  /// done (frame in `out`), need_more, or error (sticky).
  DecodeResult next(Frame& out);
  /// As next(), taking bytes from the front of `input` (advanced past what it used). need_more
  /// leaves `input` empty: its bytes were kept (copied), so the caller may reuse its buffer.
  DecodeResult next(std::string_view& input, Frame& out);
  /// The framing half of next(input, out): a whole frame's bytes (header included, the header
  /// checked, the payload not decoded) in `frame`, for the caller to decode (the sessions decode
  /// REQUEST and RESPONSE frames into views). `frame` points into `input`, or into the reader
  /// when the frame was cut by an earlier read; those bytes stay put until recycle() and the
  /// next frame completed from the reader, so every frame of one read stays readable until the
  /// next read, even when the read ends in an error (without feed(): fed bytes may move when
  /// more are appended). A payload that fails to decode is the caller's error to report.
  DecodeResult next_frame(std::string_view& input, std::string_view& frame);
  /// The caller no longer reads frames it was lent (a new read begins): a large lent buffer is
  /// released (any, after an error).
  void recycle() noexcept;

  /// Bytes buffered and not yet consumed by a decoded frame.
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }
  /// Offset in the whole stream of the first byte not yet consumed (the error offset after an
  /// error is `offset() + result.error_offset`).
  std::uint64_t offset() const noexcept { return stream_offset_; }
  const FrameLimits& limits() const noexcept { return limits_; }

 private:
  /// Buffer capacity kept once empty; a larger one (a big frame passed) is released. Above
  /// what a cut 64 KiB STREAM_DATA frame grows it to, so a steady stream of those (a download)
  /// does not reallocate for each.
  static constexpr std::size_t kKeptCapacity = 256 * 1024;

  void fail(const DecodeResult& r);

  FrameLimits limits_;
  std::string buffer_;
  std::string lent_;  // the bytes of the last frame completed in buffer_ (see next_frame)
  std::size_t start_ = 0;
  std::uint64_t stream_offset_ = 0;
  DecodeResult error_{};
  bool failed_ = false;
};

}  // namespace stella::core
