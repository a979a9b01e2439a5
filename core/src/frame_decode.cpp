// Frame decoder. Reads only from the caller's buffer; allocates only for the values it returns,
// and only after the length that bounds them has been checked against FrameLimits.
#include <algorithm>

#include "frame_tags.hpp"
#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_view.hpp"
#include "wire.hpp"

namespace stella::core {
namespace {

using wire::Field;
using wire::FieldCursor;

// Error with the offset (from the frame start) where it was detected.
struct Fail {
  Errc code = Errc::ok;
  std::size_t offset = 0;
  explicit operator bool() const noexcept { return code != Errc::ok; }
};

constexpr Fail ok() {
  return {};
}
constexpr Fail fail(Errc e, std::size_t offset) {
  return {e, offset};
}

#define STELLA_TRY(expr)             \
  do {                               \
    if (Fail f_ = (expr)) return f_; \
  } while (false)

// Tracks which non-repeated tags have been seen. Every tag defined today is < 64; a tag of 64 or
// more is unknown to this decoder and skipped, so it never reaches the mask.
class Seen {
 public:
  Fail once(const Field& f) {
    if (f.tag >= 64) return ok();
    const std::uint64_t bit = std::uint64_t{1} << f.tag;
    if (mask_ & bit) return fail(Errc::duplicate_field, f.offset);
    mask_ |= bit;
    return ok();
  }
  bool has(std::uint16_t tag) const noexcept { return tag < 64 && ((mask_ >> tag) & 1U) != 0; }

 private:
  std::uint64_t mask_ = 0;
};

class Decoder {
 public:
  explicit Decoder(const FrameLimits& limits) : limits_(limits) {}

  template <class T>
  Fail uint(const Field& f, T& out) const {
    if (f.value.size() != sizeof(T)) return fail(Errc::invalid_field_length, f.offset);
    const char* p = f.value.data();
    if constexpr (sizeof(T) == 1) out = wire::get_u8(p);
    if constexpr (sizeof(T) == 2) out = wire::get_u16(p);
    if constexpr (sizeof(T) == 4) out = wire::get_u32(p);
    if constexpr (sizeof(T) == 8) out = wire::get_u64(p);
    return ok();
  }

  Fail boolean(const Field& f, bool& out) const {
    std::uint8_t v = 0;
    STELLA_TRY(uint(f, v));
    if (v > 1) return fail(Errc::invalid_value, f.offset);
    out = v == 1;
    return ok();
  }

  // Strings decode into std::string (owning frames) or std::string_view (views of the buffer).
  static void assign(std::string& out, std::string_view v) { out.assign(v); }
  static void assign(std::string_view& out, std::string_view v) { out = v; }

  template <class S>
  Fail str(const Field& f, S& out) const {
    if (f.value.size() > limits_.max_string) return fail(Errc::string_too_long, f.offset);
    assign(out, f.value);
    return ok();
  }

  // Bounded by the payload limit already (bodies, OpenAPI fragments).
  template <class S>
  static Fail bytes(const Field& f, S& out) {
    assign(out, f.value);
    return ok();
  }

  template <class C>  // Claim or ClaimView
  Fail claim(const Field& f, std::vector<C>& out) const {
    if (out.size() >= limits_.max_claims) return fail(Errc::too_many_items, f.offset);
    C c;
    Seen seen;
    FieldCursor cur(f.value, f.offset + wire::kFieldHeaderSize);
    Field g;
    while (!cur.done()) {
      if (Errc e = cur.next(g); e != Errc::ok) return fail(e, g.offset);
      switch (g.tag) {
        case tags::claim::kType:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, c.type));
          break;
        case tags::claim::kValue:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, c.value));
          break;
        default:
          break;  // unknown field: skipped
      }
    }
    if (!seen.has(tags::claim::kType)) return fail(Errc::missing_field, f.offset);
    out.push_back(std::move(c));
    return ok();
  }

  template <class H>  // Header or HeaderView
  Fail headers(const Field& f, std::vector<H>& out) const {
    const std::string_view v = f.value;
    const std::size_t base = f.offset + wire::kFieldHeaderSize;
    if (v.size() > limits_.max_header_block) return fail(Errc::header_block_too_large, f.offset);
    if (v.size() < 2) return fail(Errc::truncated_field, base);
    const std::uint16_t count = wire::get_u16(v.data());
    if (count > limits_.max_headers) return fail(Errc::too_many_items, base);
    out.clear();
    out.reserve(count);
    std::size_t pos = 2;
    for (std::uint16_t i = 0; i < count; ++i) {
      H h;
      for (auto* s : {&h.name, &h.value}) {
        if (v.size() - pos < 2) return fail(Errc::truncated_field, base + pos);
        const std::uint16_t len = wire::get_u16(v.data() + pos);
        if (v.size() - pos - 2 < len) return fail(Errc::truncated_field, base + pos);
        assign(*s, v.substr(pos + 2, len));
        pos += 2 + len;
      }
      out.push_back(std::move(h));
    }
    if (pos != v.size()) return fail(Errc::trailing_bytes, base + pos);
    return ok();
  }

  Fail payload(std::string_view p, Hello& h) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::hello::kVersionMin:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.version_min));
          break;
        case tags::hello::kVersionMax:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.version_max));
          break;
        case tags::hello::kService:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, h.service));
          break;
        case tags::hello::kServiceVersion:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, h.service_version));
          break;
        case tags::hello::kInstanceId:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, h.instance_id));
          break;
        case tags::hello::kRegion:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, h.region));
          break;
        case tags::hello::kEndpoint:
          STELLA_TRY(endpoint(f, h.endpoints));
          break;
        case tags::hello::kMaxInFlight:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.max_in_flight));
          break;
        case tags::hello::kRequestWindow:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.request_window));
          break;
        default:
          break;
      }
    }
    for (auto tag : {tags::hello::kVersionMin, tags::hello::kVersionMax, tags::hello::kService,
                     tags::hello::kInstanceId}) {
      if (!seen.has(tag)) return fail(Errc::missing_field, kFrameHeaderSize);
    }
    if (h.version_min > h.version_max) return fail(Errc::invalid_value, kFrameHeaderSize);
    return ok();
  }

  Fail endpoint(const Field& f, std::vector<EndpointDescriptor>& out) const {
    if (out.size() >= limits_.max_endpoints) return fail(Errc::too_many_items, f.offset);
    EndpointDescriptor e;
    Seen seen;
    FieldCursor cur(f.value, f.offset + wire::kFieldHeaderSize);
    Field g;
    while (!cur.done()) {
      if (Errc err = cur.next(g); err != Errc::ok) return fail(err, g.offset);
      switch (g.tag) {
        case tags::endpoint::kMethod:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, e.method));
          break;
        case tags::endpoint::kPath:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, e.path));
          break;
        case tags::endpoint::kTimeoutMs:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(uint(g, e.timeout_ms));
          break;
        case tags::endpoint::kStreaming:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(boolean(g, e.streaming));
          break;
        case tags::endpoint::kClaim:
          STELLA_TRY(claim(g, e.required_claims));
          break;
        case tags::endpoint::kOpenApi:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(bytes(g, e.openapi));
          break;
        case tags::endpoint::kAnonymous:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(boolean(g, e.anonymous));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::endpoint::kMethod) || !seen.has(tags::endpoint::kPath)) {
      return fail(Errc::missing_field, f.offset);
    }
    out.push_back(std::move(e));
    return ok();
  }

  Fail endpoint_ref(const Field& f, bool rejected, std::vector<EndpointRef>& accepted,
                    std::vector<RejectedEndpoint>& refused) const {
    const std::size_t count = rejected ? refused.size() : accepted.size();
    if (count >= limits_.max_endpoints) return fail(Errc::too_many_items, f.offset);
    RejectedEndpoint e;
    Seen seen;
    FieldCursor cur(f.value, f.offset + wire::kFieldHeaderSize);
    Field g;
    while (!cur.done()) {
      if (Errc err = cur.next(g); err != Errc::ok) return fail(err, g.offset);
      switch (g.tag) {
        case tags::endpoint_ref::kMethod:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, e.method));
          break;
        case tags::endpoint_ref::kPath:
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, e.path));
          break;
        case tags::endpoint_ref::kReason:
          if (!rejected) break;  // not part of an accepted entry: skipped like any unknown field
          STELLA_TRY(seen.once(g));
          STELLA_TRY(uint(g, e.reason));
          break;
        case tags::endpoint_ref::kMessage:
          if (!rejected) break;
          STELLA_TRY(seen.once(g));
          STELLA_TRY(str(g, e.message));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::endpoint_ref::kMethod) || !seen.has(tags::endpoint_ref::kPath) ||
        (rejected && !seen.has(tags::endpoint_ref::kReason))) {
      return fail(Errc::missing_field, f.offset);
    }
    if (rejected) {
      refused.push_back(std::move(e));
    } else {
      accepted.push_back({std::move(e.method), std::move(e.path)});
    }
    return ok();
  }

  Fail payload(std::string_view p, HelloAck& a) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::hello_ack::kVersion:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, a.version));
          break;
        case tags::hello_ack::kAccepted:
          STELLA_TRY(endpoint_ref(f, false, a.accepted, a.rejected));
          break;
        case tags::hello_ack::kRejected:
          STELLA_TRY(endpoint_ref(f, true, a.accepted, a.rejected));
          break;
        case tags::hello_ack::kHeartbeatIntervalMs:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, a.heartbeat_interval_ms));
          break;
        case tags::hello_ack::kNodeId:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, a.node_id));
          break;
        case tags::hello_ack::kMaxPayload:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, a.max_payload));
          break;
        case tags::hello_ack::kStreamWindow:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, a.stream_window));
          break;
        case tags::hello_ack::kRequestCredit:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(boolean(f, a.request_credit));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::hello_ack::kVersion)) return fail(Errc::missing_field, kFrameHeaderSize);
    return ok();
  }

  Fail payload(std::string_view p, Heartbeat& h) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::heartbeat::kSequence:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.sequence));
          break;
        case tags::heartbeat::kTimestampUs:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.timestamp_us));
          break;
        case tags::heartbeat::kStatus: {
          STELLA_TRY(seen.once(f));
          std::uint8_t s = 0;
          STELLA_TRY(uint(f, s));
          if (s > static_cast<std::uint8_t>(HealthStatus::draining)) {
            return fail(Errc::invalid_value, f.offset);
          }
          h.status = static_cast<HealthStatus>(s);
          break;
        }
        case tags::heartbeat::kInFlight:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, h.in_flight));
          break;
        default:
          break;
      }
    }
    for (auto tag :
         {tags::heartbeat::kSequence, tags::heartbeat::kTimestampUs, tags::heartbeat::kStatus}) {
      if (!seen.has(tag)) return fail(Errc::missing_field, kFrameHeaderSize);
    }
    return ok();
  }

  template <class R>  // Request or RequestView
  Fail request(std::string_view p, R& r) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::request::kMethod:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.method));
          break;
        case tags::request::kPath:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.path));
          break;
        case tags::request::kQuery:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.query));
          break;
        case tags::request::kHeaders:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(headers(f, r.headers));
          break;
        case tags::request::kBody:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(bytes(f, r.body));
          break;
        case tags::request::kTimeoutMs:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, r.timeout_ms));
          break;
        case tags::request::kCorrelationId:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.correlation_id));
          break;
        case tags::request::kTenant:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.tenant));
          break;
        case tags::request::kSubject:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.subject));
          break;
        case tags::request::kScope:
          if (r.scopes.size() >= limits_.max_scopes) return fail(Errc::too_many_items, f.offset);
          STELLA_TRY(str(f, r.scopes.emplace_back()));
          break;
        case tags::request::kClaim:
          STELLA_TRY(claim(f, r.claims));
          break;
        case tags::request::kTraceparent:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.traceparent));
          break;
        case tags::request::kTracestate:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.tracestate));
          break;
        case tags::request::kRoute:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.route));
          break;
        case tags::request::kClientId:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.client_id));
          break;
        case tags::request::kDpopJkt:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.dpop_jkt));
          break;
        case tags::request::kCertThumbprint:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, r.cert_thumbprint));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::request::kMethod) || !seen.has(tags::request::kPath)) {
      return fail(Errc::missing_field, kFrameHeaderSize);
    }
    return ok();
  }

  Fail payload(std::string_view p, Request& r) const { return request(p, r); }
  Fail payload(std::string_view p, RequestView& r) const { return request(p, r); }
  Fail payload(std::string_view p, Response& r) const { return response(p, r); }
  Fail payload(std::string_view p, ResponseView& r) const { return response(p, r); }

  template <class R>  // Response or ResponseView
  Fail response(std::string_view p, R& r) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::response::kStatus:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, r.status));
          if (r.status < 100 || r.status > 999) return fail(Errc::invalid_value, f.offset);
          break;
        case tags::response::kHeaders:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(headers(f, r.headers));
          break;
        case tags::response::kBody:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(bytes(f, r.body));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::response::kStatus)) return fail(Errc::missing_field, kFrameHeaderSize);
    return ok();
  }

  static Fail payload(std::string_view p, StreamData& d) {
    d.data.assign(p);
    return ok();
  }

  Fail payload(std::string_view p, Cancel& c) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::cancel::kReason:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, c.reason));
          break;
        case tags::cancel::kMessage:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, c.message));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::cancel::kReason)) return fail(Errc::missing_field, kFrameHeaderSize);
    return ok();
  }

  Fail payload(std::string_view p, Drain& d) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      switch (f.tag) {
        case tags::drain::kCode:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, d.code));
          break;
        case tags::drain::kLastStreamId:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, d.last_stream_id));
          break;
        case tags::drain::kTimeoutMs:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(uint(f, d.timeout_ms));
          break;
        case tags::drain::kMessage:
          STELLA_TRY(seen.once(f));
          STELLA_TRY(str(f, d.message));
          break;
        default:
          break;
      }
    }
    if (!seen.has(tags::drain::kCode)) return fail(Errc::missing_field, kFrameHeaderSize);
    return ok();
  }

  Fail payload(std::string_view p, Credit& c) const {
    Seen seen;
    FieldCursor cur(p, kFrameHeaderSize);
    Field f;
    while (!cur.done()) {
      if (Errc e = cur.next(f); e != Errc::ok) return fail(e, f.offset);
      if (f.tag == tags::credit::kIncrement) {
        STELLA_TRY(seen.once(f));
        STELLA_TRY(uint(f, c.increment));
      }
    }
    if (!seen.has(tags::credit::kIncrement)) return fail(Errc::missing_field, kFrameHeaderSize);
    return ok();
  }

 private:
  const FrameLimits& limits_;
};

template <class T>
Fail decode_as(const Decoder& d, std::string_view payload, FrameBody& body) {
  return d.payload(payload, body.emplace<T>());  // in place: a REQUEST is moved once less
}

DecodeResult error_result(Errc e, std::size_t offset) {
  DecodeResult r;
  r.status = DecodeStatus::error;
  r.error = e;
  r.error_offset = offset;
  return r;
}

}  // namespace

DecodeResult decode_header(std::string_view in, FrameHeader& out, const FrameLimits& limits) {
  DecodeResult r;
  // Check what the bytes present already prove wrong, so garbage fails on its first bytes.
  if (!in.empty() && wire::get_u8(in.data()) != kMagic0) return error_result(Errc::bad_magic, 0);
  if (in.size() >= 2 && wire::get_u8(in.data() + 1) != kMagic1) {
    return error_result(Errc::bad_magic, 0);
  }
  if (in.size() >= 3 && wire::get_u8(in.data() + 2) != kFramingVersion) {
    return error_result(Errc::unsupported_version, 2);
  }
  if (in.size() < kFrameHeaderSize) {
    r.status = DecodeStatus::need_more;
    r.needed = kFrameHeaderSize;
    return r;
  }
  const char* p = in.data();
  FrameHeader h;
  h.version = wire::get_u8(p + 2);
  h.type = wire::get_u8(p + 3);
  h.flags = wire::get_u16(p + 4);
  if (wire::get_u16(p + 6) != 0) return error_result(Errc::reserved_bits_set, 6);
  h.stream_id = wire::get_u32(p + 8);
  h.payload_length = wire::get_u32(p + 12);
  if (h.payload_length > limits.max_payload) return error_result(Errc::payload_too_large, 12);
  const StreamIdRule rule = stream_id_rule(h.type);
  if ((rule == StreamIdRule::zero && h.stream_id != 0) ||
      (rule == StreamIdRule::non_zero && h.stream_id == 0)) {
    return error_result(Errc::invalid_stream_id, 8);
  }
  out = h;
  r.needed = kFrameHeaderSize + std::size_t{h.payload_length};
  r.status = in.size() >= r.needed ? DecodeStatus::done : DecodeStatus::need_more;
  r.consumed = r.status == DecodeStatus::done ? r.needed : 0;
  return r;
}

DecodeResult decode_frame(std::string_view in, Frame& out, const FrameLimits& limits) {
  FrameHeader h;
  DecodeResult r = decode_header(in, h, limits);
  if (r.status != DecodeStatus::done) return r;

  const std::string_view payload = in.substr(kFrameHeaderSize, h.payload_length);
  const Decoder d(limits);
  FrameBody body;
  Fail f;
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::hello:
      f = decode_as<Hello>(d, payload, body);
      break;
    case FrameType::hello_ack:
      f = decode_as<HelloAck>(d, payload, body);
      break;
    case FrameType::heartbeat:
      f = decode_as<Heartbeat>(d, payload, body);
      break;
    case FrameType::request:
      f = decode_as<Request>(d, payload, body);
      break;
    case FrameType::response:
      f = decode_as<Response>(d, payload, body);
      break;
    case FrameType::stream_data:
      f = decode_as<StreamData>(d, payload, body);
      break;
    case FrameType::cancel:
      f = decode_as<Cancel>(d, payload, body);
      break;
    case FrameType::drain:
      f = decode_as<Drain>(d, payload, body);
      break;
    case FrameType::credit:
      f = decode_as<Credit>(d, payload, body);
      break;
    default:
      body = UnknownFrame{h.type, std::string(payload)};
      break;
  }
  if (f) return error_result(f.code, f.offset);
  out.flags = h.flags;
  out.stream_id = h.stream_id;
  out.body = std::move(body);
  return r;
}

namespace {

template <class View>
DecodeResult decode_view(std::string_view in, FrameType type, FrameHeader& header, View& out,
                         const FrameLimits& limits) {
  FrameHeader h;
  DecodeResult r = decode_header(in, h, limits);
  if (r.status != DecodeStatus::done) return r;
  if (h.type != static_cast<std::uint8_t>(type)) return error_result(Errc::invalid_value, 3);
  out.clear();
  if (Fail f = Decoder(limits).payload(in.substr(kFrameHeaderSize, h.payload_length), out)) {
    out.clear();
    return error_result(f.code, f.offset);
  }
  header = h;
  return r;
}

}  // namespace

DecodeResult decode_request_view(std::string_view in, FrameHeader& header, RequestView& out,
                                 const FrameLimits& limits) {
  return decode_view(in, FrameType::request, header, out, limits);
}

DecodeResult decode_response_view(std::string_view in, FrameHeader& header, ResponseView& out,
                                  const FrameLimits& limits) {
  return decode_view(in, FrameType::response, header, out, limits);
}

// ---- FrameReader ------------------------------------------------------------------------

void FrameReader::feed(std::string_view bytes) {
  if (failed_) return;
  // Compact before growing so the buffer holds at most one partial frame plus this piece.
  if (start_ > 0 && (start_ == buffer_.size() || start_ >= buffer_.size() / 2)) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes);
}

DecodeResult FrameReader::next(Frame& out) {
  std::string_view none;
  return next(none, out);
}

DecodeResult FrameReader::next(std::string_view& input, Frame& out) {
  const std::uint64_t at = stream_offset_;
  std::string_view frame;
  DecodeResult r = next_frame(input, frame);
  if (r.status != DecodeStatus::done) return r;
  const DecodeResult decoded = decode_frame(frame, out, limits_);
  if (decoded.status == DecodeStatus::error) {
    stream_offset_ = at;  // offset() names the frame that failed
    fail(decoded);
    input = {};
  }
  return decoded;
}

DecodeResult FrameReader::next_frame(std::string_view& input, std::string_view& frame) {
  if (failed_) {
    input = {};
    return error_;
  }
  DecodeResult r;
  FrameHeader h;
  if (start_ < buffer_.size()) {
    // Buffered bytes first (fed, or a frame the previous read cut). When they end in a partial
    // frame, append from `input` only what that frame still lacks: its header, then the rest.
    for (;;) {
      r = decode_header(std::string_view(buffer_).substr(start_), h, limits_);
      if (r.status != DecodeStatus::need_more || input.empty()) break;
      const std::size_t take = std::min(r.needed - (buffer_.size() - start_), input.size());
      buffer_.append(input.substr(0, take));
      input.remove_prefix(take);
    }
    if (r.status == DecodeStatus::done) {
      frame = std::string_view(buffer_).substr(start_, r.consumed);
      stream_offset_ += r.consumed;
      start_ += r.consumed;
      if (start_ == buffer_.size()) {
        // Lend the frame's bytes: they move to lent_, where they stay until a later frame is
        // completed here, so a frame cut later in this read cannot overwrite them. (The swap
        // moves the heap block: a frame is longer than any small-string buffer, and so are the
        // REQUEST and RESPONSE frames read through views, 24 bytes at least.)
        start_ = 0;
        buffer_.swap(lent_);
        buffer_.clear();
        // A large frame passed through: do not keep its capacity for the connection's life.
        if (buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);
      }
    }
  } else {
    r = decode_header(input, h, limits_);
    if (r.status == DecodeStatus::done) {
      frame = input.substr(0, r.consumed);
      input.remove_prefix(r.consumed);
      stream_offset_ += r.consumed;
    } else if (r.status == DecodeStatus::need_more) {
      buffer_.assign(input);  // the cut frame's first bytes: the only copy before decoding
      start_ = 0;
      input = {};
      return r;
    }
  }
  if (r.status == DecodeStatus::error) {
    fail(r);
    input = {};
  }
  return r;
}

void FrameReader::recycle() noexcept {
  if (lent_.capacity() > kKeptCapacity || failed_) std::string().swap(lent_);
}

void FrameReader::fail(const DecodeResult& r) {
  failed_ = true;
  error_ = r;
  std::string().swap(buffer_);
  start_ = 0;
  // lent_ stays: a frame completed earlier in this read may still be read through a view (it is
  // released with the reader, or by recycle()).
}

}  // namespace stella::core
