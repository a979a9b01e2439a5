// The gateway's end of a service connection, after a valid HELLO, fed whatever a hostile or
// broken service could send — well-formed frames of every type on open, finished and unknown
// streams, interleaved with raw bytes — while the gateway sends requests, credit and cancels
// and advances its clock. Invariants: no crash or sanitizer finding; the output the peer alone
// provokes stays within the output bound (plus one frame); events stay proportional to the
// input; a closed session stays closed and quiet.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "fuzz_input.hpp"
#include "stella/core/frame_codec.hpp"
#include "stella/core/gateway_session.hpp"

using namespace stella::core;
using stella::fuzz::Input;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

Frame peer_frame(Input& in, const std::vector<std::uint32_t>& streams) {
  std::uint32_t stream = static_cast<std::uint32_t>(in.below(8));
  if (!streams.empty() && in.below(4) != 0) stream = streams[in.below(streams.size())];
  const std::uint16_t end = in.below(2) ? flags::kEndStream : 0;
  switch (in.below(9)) {
    case 0:
      return Frame{0, 0,
                   Heartbeat{in.integral<std::uint64_t>(), in.integral<std::uint64_t>(),
                             HealthStatus::healthy, in.integral<std::uint32_t>()}};
    case 1:
      return Frame{flags::kAck, 0,
                   Heartbeat{in.integral<std::uint8_t>(), in.integral<std::uint64_t>(),
                             static_cast<HealthStatus>(in.below(5)), 0}};
    case 2:
      return Frame{end, std::max<std::uint32_t>(stream, 1),
                   Response{static_cast<std::uint16_t>(in.below(1000)),
                            {{in.string(8), in.string(8)}},
                            in.string(64)}};
    case 3:
      return Frame{end, std::max<std::uint32_t>(stream, 1), StreamData{in.string(256)}};
    case 4:
      return Frame{0, std::max<std::uint32_t>(stream, 1),
                   Cancel{static_cast<std::uint16_t>(in.below(7)), in.string(16)}};
    case 5:
      return Frame{0, std::max<std::uint32_t>(stream, 1), Credit{in.integral<std::uint32_t>()}};
    case 6:
      return Frame{0, 0, Drain{static_cast<std::uint16_t>(in.below(3)), 0, 0, in.string(8)}};
    case 7: {
      Hello h;
      h.service = in.string(8);
      return Frame{0, 0, h};
    }
    default:
      return Frame{0, 0,
                   UnknownFrame{static_cast<std::uint8_t>(0x40 + in.below(64)), in.string(16)}};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  GatewaySessionConfig cfg;
  cfg.limits.max_payload = 4096;
  cfg.max_output_bytes = 16 * 1024;
  cfg.heartbeat_interval = std::chrono::milliseconds(100);
  TimePoint now{};
  GatewaySession s(cfg, now);

  Hello hello;
  hello.service = "fuzzed";
  hello.instance_id = "f-1";
  hello.endpoints.push_back({"GET", "/x", 0, true, {}, ""});
  s.on_bytes(encode_frame(Frame{0, 0, hello}, cfg.limits), now);
  GatewayEvent e;
  while (s.poll_event(e)) {
  }
  s.accept_hello(HelloAck{}, now);

  std::vector<std::uint32_t> streams;
  std::string out;
  const std::size_t slack = cfg.limits.max_payload + 64;  // one frame past the bound
  // Events are polled after each read while its bytes are still in hand, and a RESPONSE is read
  // through its view (to catch a view whose bytes went away: ASan).
  std::string read;
  std::size_t events = 0;
  const auto poll_all = [&] {
    while (s.poll_event(e)) {
      ++events;
      if (const auto* h = std::get_if<gw_event::ResponseHead>(&e))
        check(h->response->to_owned().status >= 100, "a RESPONSE view with a bad status");
    }
  };
  for (int step = 0; step < 256 && !in.empty(); ++step) {
    std::size_t fed = 0;
    events = 0;
    switch (in.below(8)) {
      case 0: {  // the gateway sends a request
        Request r;
        r.method = "GET";
        r.path = "/x";
        r.body = in.string(128);
        std::uint32_t id = 0;
        if (s.send_request(r, in.below(2) != 0, now, id) == Errc::ok) streams.push_back(id);
        break;
      }
      case 1:
        if (!streams.empty())
          (void)s.grant_credit(streams[in.below(streams.size())], in.integral<std::uint32_t>());
        break;
      case 2:
        if (!streams.empty())
          (void)s.cancel(streams[in.below(streams.size())], CancelReason::timeout);
        break;
      case 3:
        now += std::chrono::milliseconds(in.below(500));
        s.on_timer(now);
        break;
      case 4:
        s.take_output(out);  // the peer reads
        out.clear();
        break;
      case 5: {  // raw bytes
        read = in.string(64);
        fed = read.size();
        s.on_bytes(read, now);
        break;
      }
      default: {  // one or many well-formed frames, cut across two reads, perhaps then garbage
        std::string bytes;
        const std::size_t n = 1 + in.below(32);
        for (std::size_t i = 0; i < n; ++i)
          (void)encode_frame(peer_frame(in, streams), bytes, cfg.limits);
        if (in.below(4) == 0) bytes += in.string(16);
        fed = bytes.size();
        const std::size_t before = s.pending_output();
        const std::size_t cut = in.below(bytes.size() + 1);
        read = bytes.substr(0, cut);
        s.on_bytes(read, now);
        poll_all();
        read = bytes.substr(cut);
        s.on_bytes(read, now);
        // Whatever the peer sent, what it provoked stays within the bound (plus one frame).
        check(s.pending_output() <= std::max(before, cfg.max_output_bytes + slack),
              "peer input grew the output past the bound");
        break;
      }
    }
    poll_all();
    check(events <= 4 + fed / 8 + streams.size(), "more events than the input can explain");
    if (s.closed()) {
      const std::size_t before = s.pending_output();
      s.on_bytes("SG\x01\x03", now);
      check(!s.poll_event(e) && s.pending_output() == before, "a closed session reacted");
      break;
    }
  }
  return 0;
}
