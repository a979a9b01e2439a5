// Frame encoder: appends header + payload, checking every limit the decoder will check, so a
// frame this encoder accepts is one the peer's decoder (with the same limits) accepts.
#include <type_traits>

#include "frame_tags.hpp"
#include "stella/core/frame_codec.hpp"
#include "wire.hpp"

namespace stella::core {
namespace {

using wire::put_u16;
using wire::put_u32;
using wire::put_u64;
using wire::put_u8;

class Encoder {
 public:
  Encoder(std::string& out, const FrameLimits& limits) : out_(out), limits_(limits) {}

  Errc error() const noexcept { return error_; }

  // A field whose value is written by `body`; the length is patched afterwards.
  template <class F>
  void nested(std::uint16_t tag, F&& body) {
    put_u16(out_, tag);
    const std::size_t len_at = out_.size();
    put_u32(out_, 0);
    const std::size_t start = out_.size();
    body();
    wire::patch_u32(out_, len_at, static_cast<std::uint32_t>(out_.size() - start));
  }

  void u8(std::uint16_t tag, std::uint8_t v) { fixed(tag, 1), put_u8(out_, v); }
  void u16(std::uint16_t tag, std::uint16_t v) { fixed(tag, 2), put_u16(out_, v); }
  void u32(std::uint16_t tag, std::uint32_t v) { fixed(tag, 4), put_u32(out_, v); }
  void u64(std::uint16_t tag, std::uint64_t v) { fixed(tag, 8), put_u64(out_, v); }
  void u32_opt(std::uint16_t tag, std::uint32_t v) {
    if (v != 0) u32(tag, v);
  }

  // A bounded string field (max_string).
  void str(std::uint16_t tag, std::string_view v) {
    if (v.size() > limits_.max_string) return fail(Errc::string_too_long);
    bytes(tag, v);
  }
  void str_opt(std::uint16_t tag, std::string_view v) {
    if (!v.empty()) str(tag, v);
  }
  // A field bounded only by the payload limit (bodies, OpenAPI fragments).
  void bytes(std::uint16_t tag, std::string_view v) {
    if (v.size() > limits_.max_payload) return fail(Errc::payload_too_large);
    put_u16(out_, tag);
    put_u32(out_, static_cast<std::uint32_t>(v.size()));
    out_.append(v);
  }
  void bytes_opt(std::uint16_t tag, std::string_view v) {
    if (!v.empty()) bytes(tag, v);
  }

  void claims(std::uint16_t tag, const std::vector<Claim>& claims) {
    if (claims.size() > limits_.max_claims) return fail(Errc::too_many_items);
    for (const auto& c : claims) {
      nested(tag, [&] {
        str(tags::claim::kType, c.type);
        str_opt(tags::claim::kValue, c.value);
      });
    }
  }

  // Header block: u16 count, then per field u16 name length, name, u16 value length, value.
  void headers(std::uint16_t tag, const std::vector<Header>& headers) {
    if (headers.empty()) return;
    // The count is a u16 on the wire, whatever limit is configured.
    if (headers.size() > limits_.max_headers || headers.size() > 0xFFFF) {
      return fail(Errc::too_many_items);
    }
    std::size_t block = 2;
    for (const auto& h : headers) {
      if (h.name.size() > 0xFFFF || h.value.size() > 0xFFFF) return fail(Errc::string_too_long);
      block += 4 + h.name.size() + h.value.size();
    }
    if (block > limits_.max_header_block) return fail(Errc::header_block_too_large);
    put_u16(out_, tag);
    put_u32(out_, static_cast<std::uint32_t>(block));
    put_u16(out_, static_cast<std::uint16_t>(headers.size()));
    for (const auto& h : headers) {
      put_u16(out_, static_cast<std::uint16_t>(h.name.size()));
      out_.append(h.name);
      put_u16(out_, static_cast<std::uint16_t>(h.value.size()));
      out_.append(h.value);
    }
  }

  void fail(Errc e) {
    if (error_ == Errc::ok) error_ = e;
  }

  void payload(const Hello& h) {
    if (h.version_min > h.version_max) return fail(Errc::invalid_value);
    u16(tags::hello::kVersionMin, h.version_min);
    u16(tags::hello::kVersionMax, h.version_max);
    str(tags::hello::kService, h.service);
    str_opt(tags::hello::kServiceVersion, h.service_version);
    str(tags::hello::kInstanceId, h.instance_id);
    str_opt(tags::hello::kRegion, h.region);
    if (h.endpoints.size() > limits_.max_endpoints) return fail(Errc::too_many_items);
    for (const auto& e : h.endpoints) {
      nested(tags::hello::kEndpoint, [&] {
        str(tags::endpoint::kMethod, e.method);
        str(tags::endpoint::kPath, e.path);
        u32_opt(tags::endpoint::kTimeoutMs, e.timeout_ms);
        if (e.streaming) u8(tags::endpoint::kStreaming, 1);
        claims(tags::endpoint::kClaim, e.required_claims);
        bytes_opt(tags::endpoint::kOpenApi, e.openapi);
        if (e.anonymous) u8(tags::endpoint::kAnonymous, 1);
      });
    }
    u32_opt(tags::hello::kMaxInFlight, h.max_in_flight);
    u32_opt(tags::hello::kRequestWindow, h.request_window);
  }

  void payload(const HelloAck& a) {
    u16(tags::hello_ack::kVersion, a.version);
    if (a.accepted.size() > limits_.max_endpoints || a.rejected.size() > limits_.max_endpoints) {
      return fail(Errc::too_many_items);
    }
    for (const auto& e : a.accepted) {
      nested(tags::hello_ack::kAccepted, [&] {
        str(tags::endpoint_ref::kMethod, e.method);
        str(tags::endpoint_ref::kPath, e.path);
      });
    }
    for (const auto& e : a.rejected) {
      nested(tags::hello_ack::kRejected, [&] {
        str(tags::endpoint_ref::kMethod, e.method);
        str(tags::endpoint_ref::kPath, e.path);
        u16(tags::endpoint_ref::kReason, e.reason);
        str_opt(tags::endpoint_ref::kMessage, e.message);
      });
    }
    u32_opt(tags::hello_ack::kHeartbeatIntervalMs, a.heartbeat_interval_ms);
    str_opt(tags::hello_ack::kNodeId, a.node_id);
    u32_opt(tags::hello_ack::kMaxPayload, a.max_payload);
    u32_opt(tags::hello_ack::kStreamWindow, a.stream_window);
    if (a.request_credit) u8(tags::hello_ack::kRequestCredit, 1);
  }

  void payload(const Heartbeat& h) {
    u64(tags::heartbeat::kSequence, h.sequence);
    u64(tags::heartbeat::kTimestampUs, h.timestamp_us);
    if (static_cast<std::uint8_t>(h.status) > static_cast<std::uint8_t>(HealthStatus::draining)) {
      return fail(Errc::invalid_value);
    }
    u8(tags::heartbeat::kStatus, static_cast<std::uint8_t>(h.status));
    u32_opt(tags::heartbeat::kInFlight, h.in_flight);
  }

  void payload(const Request& r) {
    str(tags::request::kMethod, r.method);
    str(tags::request::kPath, r.path);
    str_opt(tags::request::kQuery, r.query);
    headers(tags::request::kHeaders, r.headers);
    bytes_opt(tags::request::kBody, r.body);
    u32_opt(tags::request::kTimeoutMs, r.timeout_ms);
    str_opt(tags::request::kCorrelationId, r.correlation_id);
    str_opt(tags::request::kTenant, r.tenant);
    str_opt(tags::request::kSubject, r.subject);
    if (r.scopes.size() > limits_.max_scopes) return fail(Errc::too_many_items);
    for (const auto& s : r.scopes)
      str(tags::request::kScope, s);
    claims(tags::request::kClaim, r.claims);
    str_opt(tags::request::kTraceparent, r.traceparent);
    str_opt(tags::request::kTracestate, r.tracestate);
    str_opt(tags::request::kRoute, r.route);
    str_opt(tags::request::kClientId, r.client_id);
    str_opt(tags::request::kDpopJkt, r.dpop_jkt);
    str_opt(tags::request::kCertThumbprint, r.cert_thumbprint);
  }

  void payload(const Response& r) {
    if (r.status < 100 || r.status > 999) return fail(Errc::invalid_value);
    u16(tags::response::kStatus, r.status);
    headers(tags::response::kHeaders, r.headers);
    bytes_opt(tags::response::kBody, r.body);
  }

  void payload(const StreamData& d) { out_.append(d.data); }

  void payload(const Cancel& c) {
    u16(tags::cancel::kReason, c.reason);
    str_opt(tags::cancel::kMessage, c.message);
  }

  void payload(const Drain& d) {
    u16(tags::drain::kCode, d.code);
    u32_opt(tags::drain::kLastStreamId, d.last_stream_id);
    u32_opt(tags::drain::kTimeoutMs, d.timeout_ms);
    str_opt(tags::drain::kMessage, d.message);
  }

  void payload(const Credit& c) { u32(tags::credit::kIncrement, c.increment); }

  void payload(const UnknownFrame& u) { out_.append(u.payload); }

 private:
  void fixed(std::uint16_t tag, std::uint32_t size) {
    put_u16(out_, tag);
    put_u32(out_, size);
  }

  std::string& out_;
  const FrameLimits& limits_;
  Errc error_ = Errc::ok;
};

}  // namespace

namespace {

// The frame header, then `body`'s payload; on any error `out` is left as it was.
template <class Body>
std::error_code encode_body(std::uint8_t type, std::uint16_t flags, std::uint32_t stream_id,
                            const Body& body, std::string& out, const FrameLimits& limits) {
  switch (stream_id_rule(type)) {
    case StreamIdRule::zero:
      if (stream_id != 0) return Errc::invalid_stream_id;
      break;
    case StreamIdRule::non_zero:
      if (stream_id == 0) return Errc::invalid_stream_id;
      break;
    case StreamIdRule::any:
      break;
  }

  const std::size_t start = out.size();
  put_u8(out, kMagic0);
  put_u8(out, kMagic1);
  put_u8(out, kFramingVersion);
  put_u8(out, type);
  put_u16(out, flags);
  put_u16(out, 0);  // reserved
  put_u32(out, stream_id);
  put_u32(out, 0);  // payload length, patched below

  Encoder enc(out, limits);
  enc.payload(body);
  const std::size_t payload = out.size() - start - kFrameHeaderSize;
  Errc err = enc.error();
  if (err == Errc::ok && payload > limits.max_payload) err = Errc::payload_too_large;
  if (err != Errc::ok) {
    out.resize(start);
    return err;
  }
  wire::patch_u32(out, start + 12, static_cast<std::uint32_t>(payload));
  return {};
}

}  // namespace

std::error_code encode_frame(const Frame& frame, std::string& out, const FrameLimits& limits) {
  const std::uint8_t type = frame.type_code();
  // An UnknownFrame must not masquerade as a known type: its code must be unknown.
  if (std::holds_alternative<UnknownFrame>(frame.body) && frame_type_name(type) != "UNKNOWN") {
    return Errc::invalid_value;
  }
  return std::visit(
      [&](const auto& body) {
        return encode_body(type, frame.flags, frame.stream_id, body, out, limits);
      },
      frame.body);
}

std::error_code encode_request_frame(std::uint16_t flags, std::uint32_t stream_id,
                                     const Request& request, std::string& out,
                                     const FrameLimits& limits) {
  return encode_body(static_cast<std::uint8_t>(FrameType::request), flags, stream_id, request, out,
                     limits);
}

std::error_code encode_response_frame(std::uint16_t flags, std::uint32_t stream_id,
                                      const Response& response, std::string& out,
                                      const FrameLimits& limits) {
  return encode_body(static_cast<std::uint8_t>(FrameType::response), flags, stream_id, response,
                     out, limits);
}

std::string encode_frame(const Frame& frame, const FrameLimits& limits) {
  std::string out;
  if (encode_frame(frame, out, limits)) out.clear();
  return out;
}

}  // namespace stella::core
