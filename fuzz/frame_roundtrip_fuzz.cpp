// Builds a frame of any type from the fuzzer's bytes, then checks encode → decode and
// JSON → frame are identities, and that the encoder refuses exactly what breaks a limit.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_json.hpp"

using namespace stella::core;
using stella::fuzz::Input;

namespace {

std::vector<Header> headers(Input& in) {
  std::vector<Header> out(in.below(20));
  for (auto& h : out)
    h = {in.string(12), in.string(40)};
  return out;
}

std::vector<Claim> claims(Input& in) {
  std::vector<Claim> out(in.below(5));
  for (auto& c : out)
    c = {in.string(), in.string()};
  return out;
}

Frame build(Input& in) {
  Frame f;
  f.flags = in.integral<std::uint16_t>();
  f.stream_id = in.integral<std::uint32_t>() | 1;  // non-zero; zeroed below where required
  switch (in.below(10)) {
    case 0: {
      Hello h;
      h.version_min = in.integral<std::uint8_t>();
      h.version_max = static_cast<std::uint16_t>(h.version_min + in.integral<std::uint8_t>());
      h.service = in.string();
      h.service_version = in.string();
      h.instance_id = in.string();
      h.region = in.string();
      h.endpoints.resize(in.below(20));
      for (auto& e : h.endpoints) {
        e.method = in.string(8);
        e.path = in.string(64);
        e.timeout_ms = in.integral<std::uint32_t>();
        e.streaming = in.below(2) == 1;
        e.required_claims = claims(in);
        e.openapi = in.string(64);
      }
      h.max_in_flight = in.integral<std::uint32_t>();
      h.request_window = in.integral<std::uint32_t>();
      f.body = std::move(h);
      break;
    }
    case 1: {
      HelloAck a;
      a.version = in.integral<std::uint16_t>();
      a.accepted.resize(in.below(20));
      for (auto& e : a.accepted)
        e = {in.string(8), in.string(64)};
      a.rejected.resize(in.below(20));
      for (auto& e : a.rejected) {
        e = {in.string(8), in.string(64), in.integral<std::uint16_t>(), in.string()};
      }
      a.heartbeat_interval_ms = in.integral<std::uint32_t>();
      a.node_id = in.string();
      a.max_payload = in.integral<std::uint32_t>();
      a.stream_window = in.integral<std::uint32_t>();
      a.request_credit = in.below(2) == 1;
      f.body = std::move(a);
      break;
    }
    case 2:
      f.body = Heartbeat{in.integral<std::uint64_t>(), in.integral<std::uint64_t>(),
                         static_cast<HealthStatus>(in.below(5)), in.integral<std::uint32_t>()};
      break;
    case 3: {
      Request r;
      r.method = in.string(8);
      r.path = in.string(64);
      r.query = in.string(64);
      r.headers = headers(in);
      r.body = in.string(2048);
      r.timeout_ms = in.integral<std::uint32_t>();
      r.correlation_id = in.string();
      r.tenant = in.string();
      r.subject = in.string();
      r.scopes.resize(in.below(20));
      for (auto& s : r.scopes)
        s = in.string();
      r.claims = claims(in);
      r.traceparent = in.string(64);
      r.tracestate = in.string(64);
      r.route = in.string(64);
      f.body = std::move(r);
      break;
    }
    case 4:
      f.body =
          Response{static_cast<std::uint16_t>(100 + in.below(900)), headers(in), in.string(2048)};
      break;
    case 5:
      f.body = StreamData{in.string(4096)};
      break;
    case 6:
      f.body = Cancel{in.integral<std::uint16_t>(), in.string()};
      break;
    case 7:
      f.body = Drain{in.integral<std::uint16_t>(), in.integral<std::uint32_t>(),
                     in.integral<std::uint32_t>(), in.string()};
      break;
    case 8:
      f.body = Credit{in.integral<std::uint32_t>()};
      break;
    default:
      f.body = UnknownFrame{static_cast<std::uint8_t>(0x0A + in.below(0xF6)), in.string(256)};
      break;
  }
  if (stream_id_rule(f.type_code()) == StreamIdRule::zero) f.stream_id = 0;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  FrameLimits limits;
  limits.max_payload = 8 * 1024;
  limits.max_headers = 16;
  limits.max_endpoints = 16;
  limits.max_claims = 4;
  limits.max_scopes = 16;
  const Frame f = build(in);

  std::string bytes;
  const std::error_code ec = encode_frame(f, bytes, limits);
  if (ec) {
    // Refused frames leave nothing behind, and the refusal is one of the limit/rule errors.
    STELLA_FUZZ_CHECK(bytes.empty());
    const auto e = static_cast<Errc>(ec.value());
    STELLA_FUZZ_CHECK(e == Errc::too_many_items || e == Errc::payload_too_large ||
                      e == Errc::string_too_long || e == Errc::header_block_too_large);
    // With generous limits the same frame encodes.
    STELLA_FUZZ_CHECK(!encode_frame(f, bytes, FrameLimits{}));
    return 0;
  }
  Frame back;
  const DecodeResult r = decode_frame(bytes, back, limits);
  STELLA_FUZZ_CHECK(r.status == DecodeStatus::done);
  STELLA_FUZZ_CHECK(r.consumed == bytes.size());
  STELLA_FUZZ_CHECK(back == f);

  Frame from_json;
  std::string error;
  const auto text = frame_to_json(f).dump();
  STELLA_FUZZ_CHECK(frame_from_json(nlohmann::ordered_json::parse(text), from_json, error));
  STELLA_FUZZ_CHECK(from_json == f);
  return 0;
}
