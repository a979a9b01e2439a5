// The frames of the stella wire protocol, as values.
//
// docs/protocol.md is the byte-exact reference; this header is its C++ mirror. Every frame is a
// 16-byte header (magic, version, type, flags, reserved, stream id, payload length; network byte
// order)
// followed by a payload. Payloads of the structured frames are a sequence of fields
// (tag u16, length u32, value), so a receiver skips fields it does not know; STREAM_DATA's payload
// is raw bytes. Frames are plain values: copyable, comparable with ==, no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace stella::core {

/// Wire constants of the frame header.
inline constexpr std::uint8_t kMagic0 = 0x53;  // 'S'
inline constexpr std::uint8_t kMagic1 = 0x47;  // 'G'
/// The framing version this codec writes and reads (header byte 2).
inline constexpr std::uint8_t kFramingVersion = 1;
/// Protocol versions this build can negotiate in HELLO / HELLO_ACK.
inline constexpr std::uint16_t kProtocolVersionMin = 1;
inline constexpr std::uint16_t kProtocolVersionMax = 1;
inline constexpr std::size_t kFrameHeaderSize = 16;

enum class FrameType : std::uint8_t {
  hello = 0x01,
  hello_ack = 0x02,
  heartbeat = 0x03,
  request = 0x04,
  response = 0x05,
  stream_data = 0x06,
  cancel = 0x07,
  drain = 0x08,
  credit = 0x09,
};

/// Header flag bits. Unknown bits are carried through untouched (forward compatibility).
namespace flags {
/// REQUEST/RESPONSE: the body is complete in this frame; STREAM_DATA: last chunk of the stream.
inline constexpr std::uint16_t kEndStream = 0x0001;
/// HEARTBEAT: this is the reply to a heartbeat (echoes its sequence and timestamp).
inline constexpr std::uint16_t kAck = 0x0002;
}  // namespace flags

/// Health an instance reports about itself (HEARTBEAT) and the gateway tracks.
enum class HealthStatus : std::uint8_t {
  unknown = 0,
  healthy = 1,
  degraded = 2,
  unhealthy = 3,
  draining = 4,
};

/// Why an endpoint of a HELLO was refused (HELLO_ACK).
enum class RejectReason : std::uint16_t {
  malformed_template = 1,
  conflict = 2,
  limit_exceeded = 3,
  invalid_method = 4,
  duplicate = 5,
  forbidden = 6,  // the connection's identity may not claim this path (docs/security.md)
};

/// Why a request was cancelled (CANCEL).
enum class CancelReason : std::uint16_t {
  client_disconnected = 1,
  timeout = 2,
  gateway_shutdown = 3,
  instance_draining = 4,
  handler_failed = 5,
};
/// What one STREAM_DATA frame costs in a stream's CREDIT window beyond its payload: a stream of
/// tiny chunks is bounded in chunks as well as bytes (docs/protocol.md §8.2).
inline constexpr std::uint32_t kCreditPerChunk = 1024;

/// CancelReason names by value ("" for the unassigned 0).
inline constexpr std::array<std::string_view, 6> kCancelReasonNames{"",
                                                                    "client_disconnected",
                                                                    "timeout",
                                                                    "gateway_shutdown",
                                                                    "instance_draining",
                                                                    "handler_failed"};
/// The name of a CancelReason value; "unknown" for values this version does not assign.
constexpr std::string_view cancel_reason_name(std::uint16_t v) noexcept {
  return v < kCancelReasonNames.size() && !kCancelReasonNames[v].empty() ? kCancelReasonNames[v]
                                                                         : "unknown";
}

/// Why a peer is leaving (DRAIN). 0 is a graceful drain; anything else closes after the frame.
enum class DrainCode : std::uint16_t {
  graceful = 0,
  protocol_error = 1,
  unsupported_version = 2,
  hello_rejected = 3,
  overloaded = 4,
  internal_error = 5,
};

struct Claim {
  std::string type;
  std::string value;
  bool operator==(const Claim&) const = default;
};

/// An HTTP header field. Names are carried as received; the gateway lower-cases them.
struct Header {
  std::string name;
  std::string value;
  bool operator==(const Header&) const = default;
};

struct EndpointDescriptor {
  std::string method;            // "GET", "POST", ...
  std::string path;              // path template, e.g. "/api/v1/scans/{id}"
  std::uint32_t timeout_ms = 0;  // 0: use the gateway's routing.defaultTimeout
  bool streaming = false;        // the endpoint may stream its response (STREAM_DATA)
  std::vector<Claim> required_claims;
  std::string openapi;  // optional OpenAPI operation fragment (JSON text)
  /// The endpoint takes requests without a token. Honoured only for services the gateway's
  /// auth.anonymousServices lists (docs/security.md); otherwise the endpoint still needs one.
  bool anonymous = false;
  bool operator==(const EndpointDescriptor&) const = default;
};

struct EndpointRef {
  std::string method;
  std::string path;
  bool operator==(const EndpointRef&) const = default;
};

struct RejectedEndpoint {
  std::string method;
  std::string path;
  std::uint16_t reason = 0;  // a RejectReason; unknown values are kept as received
  std::string message;
  bool operator==(const RejectedEndpoint&) const = default;
};

/// Service → gateway, first frame on a connection. Stream id 0.
struct Hello {
  std::uint16_t version_min = kProtocolVersionMin;
  std::uint16_t version_max = kProtocolVersionMax;
  std::string service;
  std::string service_version;
  std::string instance_id;
  std::string region;
  std::vector<EndpointDescriptor> endpoints;
  std::uint32_t max_in_flight = 0;  // 0: the service states no limit
  /// Request-body bytes (STREAM_DATA payload from the gateway) the service takes per stream
  /// before it grants more with CREDIT; 0: the service does not use credit (docs/protocol.md
  /// §8.2).
  std::uint32_t request_window = 0;
  bool operator==(const Hello&) const = default;
};

/// Gateway → service, answer to HELLO. Stream id 0.
struct HelloAck {
  std::uint16_t version = kProtocolVersionMin;  // the negotiated protocol version
  std::vector<EndpointRef> accepted;
  std::vector<RejectedEndpoint> rejected;
  std::uint32_t heartbeat_interval_ms = 0;
  std::string node_id;
  std::uint32_t max_payload = 0;  // the largest payload the gateway accepts
  /// Response-body bytes (STREAM_DATA payload) a service may send per stream before the gateway
  /// grants more with CREDIT; 0: the gateway does not use credit (docs/protocol.md §8.2).
  std::uint32_t stream_window = 0;
  /// The gateway honours the HELLO's request_window (sends request bodies under the service's
  /// CREDIT). A service enforces and grants its window only when this is set: an older gateway
  /// does not know the field (docs/protocol.md §8.2).
  bool request_credit = false;
  bool operator==(const HelloAck&) const = default;
};

/// Both directions. Stream id 0. A frame without the ACK flag asks for a reply; the reply sets
/// ACK and echoes `sequence` and `timestamp_us` so the asker measures the round trip on its
/// own clock.
struct Heartbeat {
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_us = 0;
  HealthStatus status = HealthStatus::unknown;
  std::uint32_t in_flight = 0;
  bool operator==(const Heartbeat&) const = default;
};

/// Gateway → service: one HTTP request. Stream id = the request id (non-zero). Without the
/// END_STREAM flag the body continues in STREAM_DATA frames of the same stream id.
struct Request {
  std::string method;
  std::string path;
  std::string query;  // without the leading '?'
  std::vector<Header> headers;
  std::string body;
  std::uint32_t timeout_ms = 0;  // time left until the gateway's deadline, at sending
  std::string correlation_id;
  std::string tenant;
  std::string subject;
  std::vector<std::string> scopes;
  std::vector<Claim> claims;
  std::string traceparent;
  std::string tracestate;
  std::string route;  // the matched path template
  // The verified identity beyond subject/tenant/scopes (set by the gateway from the token's
  // claims only; empty when the request was not authenticated).
  std::string client_id{};        // client_id (else azp)
  std::string dpop_jkt{};         // the DPoP key's RFC 7638 thumbprint the token is bound to
  std::string cert_thumbprint{};  // x5t#S256 of the client certificate the token is bound to
  bool operator==(const Request&) const = default;
};

/// Service → gateway: the response head (and, with END_STREAM, the whole body).
struct Response {
  std::uint16_t status = 200;
  std::vector<Header> headers;
  std::string body;
  bool operator==(const Response&) const = default;
};

/// Heap bytes a request's or response's strings and lists hold (their capacities, the list
/// entries' strings included): what keeping one for reuse costs, to bound pools by.
std::size_t held_bytes(const Request& r) noexcept;
std::size_t held_bytes(const Response& r) noexcept;

/// A body chunk, either direction. The payload is the raw bytes (no fields).
struct StreamData {
  std::string data;
  bool operator==(const StreamData&) const = default;
};

/// Gateway → service: stop working on this stream; no RESPONSE is expected any more.
struct Cancel {
  std::uint16_t reason = 0;  // a CancelReason
  std::string message;
  bool operator==(const Cancel&) const = default;
};

/// Either direction, stream id 0: no new stream will be started on this connection (from a
/// service: route it no new requests; from the gateway: it sends no new REQUEST). Streams up to
/// `last_stream_id` finish within `timeout_ms`. A non-zero code means the sender closes the
/// connection right after this frame.
struct Drain {
  std::uint16_t code = 0;  // a DrainCode
  std::uint32_t last_stream_id = 0;
  std::uint32_t timeout_ms = 0;
  std::string message;
  bool operator==(const Drain&) const = default;
};

/// Flow control: the receiver of a stream's data grants the sender `increment` more bytes.
struct Credit {
  std::uint32_t increment = 0;
  bool operator==(const Credit&) const = default;
};

/// A frame of a type this codec does not know; receivers skip it.
struct UnknownFrame {
  std::uint8_t type = 0;
  std::string payload;
  bool operator==(const UnknownFrame&) const = default;
};

using FrameBody = std::variant<Hello, HelloAck, Heartbeat, Request, Response, StreamData, Cancel,
                               Drain, Credit, UnknownFrame>;

struct Frame {
  std::uint16_t flags = 0;
  std::uint32_t stream_id = 0;
  FrameBody body;

  /// The wire type code (for UnknownFrame, the code it arrived with).
  std::uint8_t type_code() const noexcept;
  bool end_stream() const noexcept { return (flags & flags::kEndStream) != 0; }
  bool operator==(const Frame&) const = default;
};

/// Upper-case protocol name of a type code: "HELLO", ..., "UNKNOWN" for codes not listed.
std::string_view frame_type_name(std::uint8_t type_code) noexcept;
/// The inverse of frame_type_name; false when the name is not a known type.
bool frame_type_from_name(std::string_view name, std::uint8_t& type_code) noexcept;
/// Whether frames of this type must carry a non-zero stream id (REQUEST, RESPONSE, STREAM_DATA,
/// CANCEL, CREDIT), must carry zero (HELLO, HELLO_ACK, HEARTBEAT, DRAIN), or either (unknown).
enum class StreamIdRule { zero, non_zero, any };
StreamIdRule stream_id_rule(std::uint8_t type_code) noexcept;

/// Limits the decoder checks before it allocates, and the encoder before it writes.
/// Defaults suit a gateway; both ends may configure smaller or larger ones.
struct FrameLimits {
  std::uint32_t max_payload = 1024 * 1024;     // bytes after the header
  std::uint32_t max_string = 64 * 1024;        // any one string field (not body/openapi)
  std::uint32_t max_headers = 128;             // header fields in one frame
  std::uint32_t max_header_block = 64 * 1024;  // bytes of the header block field
  std::uint32_t max_endpoints = 1024;          // endpoints in one HELLO / HELLO_ACK list
  std::uint32_t max_claims = 64;               // claims per endpoint or request
  std::uint32_t max_scopes = 128;              // scopes per request
};

}  // namespace stella::core
