// Zero-copy views of the two hot frames, REQUEST and RESPONSE.
//
// A view's strings point into the frame bytes it was decoded from: valid only while those bytes
// are, and not thread-safe to share while the buffer is being refilled. Decoding into a reused
// view does not allocate once its vectors have grown to the frame's sizes, which is what a
// connection's read loop wants; `to_owned()` copies when a value must outlive the buffer.
// Decoding runs the same checks, in the same order, with the same errors, as decode_frame.
#pragma once

#include <string_view>
#include <vector>

#include "stella/core/frame.hpp"
#include "stella/core/frame_codec.hpp"

namespace stella::core {

struct HeaderView {
  std::string_view name;
  std::string_view value;
};

struct ClaimView {
  std::string_view type;
  std::string_view value;
};

struct RequestView {
  std::string_view method;
  std::string_view path;
  std::string_view query;
  std::vector<HeaderView> headers;
  std::string_view body;
  std::uint32_t timeout_ms = 0;
  std::string_view correlation_id;
  std::string_view tenant;
  std::string_view subject;
  std::vector<std::string_view> scopes;
  std::vector<ClaimView> claims;
  std::string_view traceparent;
  std::string_view tracestate;
  std::string_view route;
  std::string_view client_id;
  std::string_view dpop_jkt;
  std::string_view cert_thumbprint;

  /// Resets every field, keeping the vectors' capacity.
  void clear() noexcept;
  Request to_owned() const;
  /// Copies into `out`, reusing its strings' and vectors' capacity (no allocation when `out`
  /// held a request at least as large, field by field).
  void assign_to(Request& out) const;
};

struct ResponseView {
  std::uint16_t status = 200;
  std::vector<HeaderView> headers;
  std::string_view body;

  void clear() noexcept;
  Response to_owned() const;
  /// Copies into `out`, reusing its strings' and vector's capacity (no allocation when `out`
  /// held an answer at least as large).
  void assign_to(Response& out) const;
};

/// Decodes one REQUEST frame from the start of `in` (header and payload) into `out`, whose views
/// then point into `in`. Outcomes as decode_frame; a frame of another type is an error
/// (Errc::invalid_value at offset 3, the type byte). `header` receives the frame header.
DecodeResult decode_request_view(std::string_view in, FrameHeader& header, RequestView& out,
                                 const FrameLimits& limits = {});

/// As decode_request_view, for RESPONSE frames.
DecodeResult decode_response_view(std::string_view in, FrameHeader& header, ResponseView& out,
                                  const FrameLimits& limits = {});

}  // namespace stella::core
