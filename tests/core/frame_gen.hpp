// rapidcheck generators for frames of every type (shared by the codec's property tests).
#pragma once

#include <rapidcheck.h>

#include "stella/core/frame.hpp"

namespace stella::core::testgen {

// A container of [0, max] elements drawn from `g`.
template <class C, class T>
rc::Gen<C> up_to(int max, rc::Gen<T> g) {
  return rc::gen::mapcat(rc::gen::inRange(0, max + 1), [g](int n) {
    return rc::gen::container<C>(static_cast<std::size_t>(n), g);
  });
}
inline rc::Gen<std::string> small_string() {
  return up_to<std::string>(24, rc::gen::arbitrary<char>());
}
// Byte strings, sometimes empty, sometimes binary, occasionally a few KiB.
inline rc::Gen<std::string> bytes() {
  return rc::gen::oneOf(small_string(), up_to<std::string>(4096, rc::gen::arbitrary<char>()));
}
template <class T>
rc::Gen<std::vector<T>> few(rc::Gen<T> g, int max = 6) {
  return up_to<std::vector<T>>(max, std::move(g));
}

inline rc::Gen<Claim> claim() {
  return rc::gen::build<Claim>(rc::gen::set(&Claim::type, small_string()),
                               rc::gen::set(&Claim::value, small_string()));
}
inline rc::Gen<Header> header() {
  return rc::gen::build<Header>(rc::gen::set(&Header::name, small_string()),
                                rc::gen::set(&Header::value, small_string()));
}

inline rc::Gen<FrameBody> body_of(std::uint8_t type) {
  using namespace rc;
  switch (static_cast<FrameType>(type)) {
    case FrameType::hello:
      return gen::map(
          gen::build<Hello>(
              gen::set(&Hello::version_min, gen::inRange<std::uint16_t>(0, 4)),
              gen::set(&Hello::version_max, gen::inRange<std::uint16_t>(4, 9)),
              gen::set(&Hello::service, small_string()),
              gen::set(&Hello::service_version, small_string()),
              gen::set(&Hello::instance_id, small_string()),
              gen::set(&Hello::region, small_string()),
              gen::set(&Hello::endpoints,
                       few(gen::build<EndpointDescriptor>(
                           gen::set(&EndpointDescriptor::method, small_string()),
                           gen::set(&EndpointDescriptor::path, small_string()),
                           gen::set(&EndpointDescriptor::timeout_ms),
                           gen::set(&EndpointDescriptor::streaming),
                           gen::set(&EndpointDescriptor::required_claims, few(claim(), 3)),
                           gen::set(&EndpointDescriptor::openapi, small_string()),
                           gen::set(&EndpointDescriptor::anonymous)))),
              gen::set(&Hello::max_in_flight), gen::set(&Hello::request_window)),
          [](Hello h) { return FrameBody(std::move(h)); });
    case FrameType::hello_ack:
      return gen::map(
          gen::build<HelloAck>(
              gen::set(&HelloAck::version),
              gen::set(&HelloAck::accepted,
                       few(gen::build<EndpointRef>(gen::set(&EndpointRef::method, small_string()),
                                                   gen::set(&EndpointRef::path, small_string())))),
              gen::set(&HelloAck::rejected,
                       few(gen::build<RejectedEndpoint>(
                           gen::set(&RejectedEndpoint::method, small_string()),
                           gen::set(&RejectedEndpoint::path, small_string()),
                           gen::set(&RejectedEndpoint::reason),
                           gen::set(&RejectedEndpoint::message, small_string())))),
              gen::set(&HelloAck::heartbeat_interval_ms),
              gen::set(&HelloAck::node_id, small_string()), gen::set(&HelloAck::max_payload),
              gen::set(&HelloAck::stream_window), gen::set(&HelloAck::request_credit)),
          [](HelloAck a) { return FrameBody(std::move(a)); });
    case FrameType::heartbeat:
      return gen::map(gen::build<Heartbeat>(
                          gen::set(&Heartbeat::sequence), gen::set(&Heartbeat::timestamp_us),
                          gen::set(&Heartbeat::status,
                                   gen::map(gen::inRange(0, 5),
                                            [](int s) { return static_cast<HealthStatus>(s); })),
                          gen::set(&Heartbeat::in_flight)),
                      [](Heartbeat h) { return FrameBody(h); });
    case FrameType::request:
      return gen::map(
          gen::build<Request>(
              gen::set(&Request::method, small_string()), gen::set(&Request::path, small_string()),
              gen::set(&Request::query, small_string()),
              gen::set(&Request::headers, few(header(), 12)), gen::set(&Request::body, bytes()),
              gen::set(&Request::timeout_ms), gen::set(&Request::correlation_id, small_string()),
              gen::set(&Request::tenant, small_string()),
              gen::set(&Request::subject, small_string()),
              gen::set(&Request::scopes, few(small_string())),
              gen::set(&Request::claims, few(claim())),
              gen::set(&Request::traceparent, small_string()),
              gen::set(&Request::tracestate, small_string()),
              gen::set(&Request::route, small_string()),
              gen::set(&Request::client_id, small_string()),
              gen::set(&Request::dpop_jkt, small_string()),
              gen::set(&Request::cert_thumbprint, small_string())),
          [](Request r) { return FrameBody(std::move(r)); });
    case FrameType::response:
      return gen::map(
          gen::build<Response>(gen::set(&Response::status, gen::inRange<std::uint16_t>(100, 1000)),
                               gen::set(&Response::headers, few(header(), 12)),
                               gen::set(&Response::body, bytes())),
          [](Response r) { return FrameBody(std::move(r)); });
    case FrameType::stream_data:
      return gen::map(bytes(), [](std::string d) { return FrameBody(StreamData{std::move(d)}); });
    case FrameType::cancel:
      return gen::map(
          gen::build<Cancel>(gen::set(&Cancel::reason), gen::set(&Cancel::message, small_string())),
          [](Cancel c) { return FrameBody(std::move(c)); });
    case FrameType::drain:
      return gen::map(gen::build<Drain>(gen::set(&Drain::code), gen::set(&Drain::last_stream_id),
                                        gen::set(&Drain::timeout_ms),
                                        gen::set(&Drain::message, small_string())),
                      [](Drain d) { return FrameBody(std::move(d)); });
    case FrameType::credit:
      return gen::map(gen::arbitrary<std::uint32_t>(),
                      [](std::uint32_t n) { return FrameBody(Credit{n}); });
  }
  return gen::map(gen::pair(gen::inRange<int>(0x0A, 0x100), bytes()),
                  [](std::pair<int, std::string> p) {
                    return FrameBody(UnknownFrame{static_cast<std::uint8_t>(p.first), p.second});
                  });
}

/// A valid frame of the given type code (0x01..0x09 known; anything else unknown).
inline rc::Gen<Frame> frame_of(std::uint8_t type) {
  const StreamIdRule rule = stream_id_rule(type);
  auto stream = rule == StreamIdRule::zero       ? rc::gen::just<std::uint32_t>(0)
                : rule == StreamIdRule::non_zero ? rc::gen::inRange<std::uint32_t>(1, 0xFFFFFFFF)
                                                 : rc::gen::arbitrary<std::uint32_t>();
  return rc::gen::apply(
      [](std::uint16_t flags, std::uint32_t id, FrameBody body) {
        return Frame{flags, id, std::move(body)};
      },
      rc::gen::arbitrary<std::uint16_t>(), stream, body_of(type));
}

/// A valid frame of any type, known or unknown.
inline rc::Gen<Frame> any_frame() {
  return rc::gen::mapcat(rc::gen::inRange<int>(1, 11), [](int t) {
    return frame_of(static_cast<std::uint8_t>(t == 10 ? 0x42 : t));
  });
}

}  // namespace stella::core::testgen
