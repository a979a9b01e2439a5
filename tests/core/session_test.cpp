// The two protocol state machines wired back to back, on a manual clock: no sockets, no threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>

#include "kept_events.hpp"
#include "stella/core/gateway_session.hpp"
#include "stella/core/service_session.hpp"

namespace stella::core {
namespace {

using namespace std::chrono_literals;

Hello demo_hello() {
  Hello h;
  h.service = "demo";
  h.instance_id = "demo-1";
  h.region = "eu1";
  h.endpoints.push_back({"GET", "/api/v1/demo/echo", 0, false, {}, ""});
  return h;
}

template <class T, class Variant>
std::vector<T> events_of(std::vector<Variant>& events) {
  std::vector<T> out;
  for (auto& e : events) {
    if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
  }
  return out;
}

class SessionPair : public ::testing::Test {
 protected:
  SessionPair()
      : gateway(GatewaySessionConfig{{}, "gw-1", 10s, 5s, 64, 1 << 20}, clock.now()),
        service(ServiceSessionConfig{{}, demo_hello(), 5s, Duration::zero(), 1 << 20},
                clock.now()) {}

  // Moves bytes both ways until neither side has anything to send; collects events (their
  // views copied: they would not outlive the next delivery).
  void pump() {
    for (int round = 0; round < 100; ++round) {
      std::string g, s;
      gateway.take_output(g);
      service.take_output(s);
      if (g.empty() && s.empty()) break;
      if (!g.empty() && deliver_to_service) service.on_bytes(g, clock.now());
      collect();
      if (!s.empty() && deliver_to_gateway) gateway.on_bytes(s, clock.now());
      collect();
    }
    collect();
  }
  void collect() {
    GatewayEvent ge;
    while (gateway.poll_event(ge))
      gw_events.push_back(kept.keep(ge));
    ServiceEvent se;
    while (service.poll_event(se))
      svc_events.push_back(kept.keep(se));
  }

  void handshake() { handshake_with(demo_hello()); }
  void handshake_with(const Hello& expected) {
    pump();
    auto hellos = events_of<gw_event::HelloReceived>(gw_events);
    ASSERT_EQ(hellos.size(), 1u);
    EXPECT_EQ(hellos[0].hello, expected);
    HelloAck ack;
    ack.accepted.push_back({"GET", "/api/v1/demo/echo"});
    gateway.accept_hello(ack, clock.now());
    pump();
    ASSERT_EQ(events_of<svc_event::Registered>(svc_events).size(), 1u);
    ASSERT_EQ(gateway.state(), GatewaySession::State::active);
    ASSERT_EQ(service.state(), ServiceSession::State::active);
    gw_events.clear();
    svc_events.clear();
  }

  Request request(std::string body) {
    Request r;
    r.method = "GET";
    r.path = "/api/v1/demo/echo";
    r.body = std::move(body);
    return r;
  }

  ManualClock clock;
  test_support::KeptViews kept;
  GatewaySession gateway;
  ServiceSession service;
  std::vector<GatewayEvent> gw_events;
  std::vector<ServiceEvent> svc_events;
  bool deliver_to_service = true;
  bool deliver_to_gateway = true;
};

TEST_F(SessionPair, HandshakeNegotiatesAndAnnouncesHeartbeatInterval) {
  handshake();
  EXPECT_EQ(gateway.hello().service, "demo");
}

TEST_F(SessionPair, MultiplexedRequestsNeverCrossTalk) {
  handshake();
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 64; ++i) {
    std::uint32_t id = 0;
    ASSERT_EQ(gateway.send_request(request("body-" + std::to_string(i)), true, clock.now(), id),
              Errc::ok);
    ids.push_back(id);
  }
  // One more is over max_in_flight (64): refused, nothing queued.
  std::uint32_t extra = 0;
  EXPECT_EQ(gateway.send_request(request("x"), true, clock.now(), extra), Errc::too_many_streams);
  pump();
  auto requests = events_of<svc_event::RequestStarted>(svc_events);
  ASSERT_EQ(requests.size(), 64u);
  // Answer in reverse order, each echoing its own body.
  std::reverse(requests.begin(), requests.end());
  for (const auto& r : requests) {
    ASSERT_EQ(service.send_response(
                  r.stream, Response{200, {}, "echo:" + std::string(r.request->body)}, true),
              Errc::ok);
  }
  pump();
  auto responses = events_of<gw_event::ResponseHead>(gw_events);
  ASSERT_EQ(responses.size(), 64u);
  for (const auto& r : responses) {
    const auto pos = std::find(ids.begin(), ids.end(), r.stream) - ids.begin();
    EXPECT_EQ(r.response->body, "echo:body-" + std::to_string(pos));
    EXPECT_TRUE(r.end_stream);
  }
  EXPECT_EQ(gateway.in_flight(), 0u);
  EXPECT_EQ(service.in_flight(), 0u);
}

TEST_F(SessionPair, HeartbeatMeasuresRttOnTheGatewayClock) {
  handshake();
  clock.advance(10s);
  gateway.on_timer(clock.now());
  std::string hb;
  gateway.take_output(hb);
  ASSERT_FALSE(hb.empty());
  clock.advance(7ms);  // the wire
  service.set_health(HealthStatus::degraded);
  service.on_bytes(hb, clock.now());
  pump();
  auto acks = events_of<gw_event::HeartbeatAck>(gw_events);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].rtt, 7ms);
  EXPECT_EQ(acks[0].status, HealthStatus::degraded);
  EXPECT_EQ(gateway.next_deadline(), clock.now() - 7ms + 10s);
}

// A service cannot fake its round-trip time: the echoed timestamp is not trusted, only the
// sequence, and only the gateway's own send time counts.
TEST_F(SessionPair, ForgedHeartbeatTimestampsDoNotChangeTheRtt) {
  handshake();
  for (const std::uint64_t forged : {std::uint64_t{0}, std::uint64_t{1}, ~std::uint64_t{0},
                                     std::uint64_t{1} << 63, to_wire_us(clock.now() + 1h)}) {
    clock.advance(10s);
    gateway.on_timer(clock.now());
    std::string out;
    gateway.take_output(out);
    FrameReader reader;
    reader.feed(out);
    Frame f;
    ASSERT_EQ(reader.next(f).status, DecodeStatus::done);
    auto hb = std::get<Heartbeat>(f.body);
    clock.advance(3ms);
    hb.timestamp_us = forged;
    gateway.on_bytes(encode_frame(Frame{flags::kAck, 0, hb}), clock.now());
    // A repeated ack of the same sequence changes nothing either.
    gateway.on_bytes(encode_frame(Frame{flags::kAck, 0, hb}), clock.now());
    hb.sequence += 7;  // an unknown sequence
    gateway.on_bytes(encode_frame(Frame{flags::kAck, 0, hb}), clock.now());
    pump();
    auto acks = events_of<gw_event::HeartbeatAck>(gw_events);
    ASSERT_EQ(acks.size(), 1u) << forged;
    EXPECT_EQ(acks[0].rtt, 3ms) << forged;
    gw_events.clear();
  }
}

// Heartbeat asks from a service are answered within the output bound: a peer that sends them
// at line rate and never reads cannot grow the gateway's output queue.
TEST_F(SessionPair, HeartbeatAsksCannotGrowTheOutputWithoutBound) {
  handshake();
  std::string asks;
  for (std::uint64_t i = 0; i < 100000; ++i)
    asks += encode_frame(Frame{0, 0, Heartbeat{i, i, HealthStatus::healthy, 0}});
  gateway.on_bytes(asks, clock.now());
  // The bound (1 MiB in this fixture) plus at most one frame.
  EXPECT_LE(gateway.pending_output(), (1u << 20) + 64u);
  EXPECT_GT(gateway.pending_output(), 0u);  // answered until the bound
}

TEST_F(SessionPair, UnansweredHeartbeatsCountAsMissed) {
  handshake();
  deliver_to_service = false;
  for (int i = 0; i < 4; ++i) {
    clock.advance(10s);
    gateway.on_timer(clock.now());
    pump();
  }
  auto missed = events_of<gw_event::HeartbeatMissed>(gw_events);
  ASSERT_EQ(missed.size(), 3u);  // the first beat is only missed when the second is due
  EXPECT_EQ(missed.back().consecutive, 3u);
}

TEST_F(SessionPair, CancelReachesTheServiceAndLateResponsesAreDropped) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request("slow"), true, clock.now(), id), Errc::ok);
  pump();
  ASSERT_EQ(gateway.cancel(id, CancelReason::timeout, "deadline"), Errc::ok);
  pump();
  auto cancels = events_of<svc_event::Cancelled>(svc_events);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].stream, id);
  EXPECT_EQ(cancels[0].reason, static_cast<std::uint16_t>(CancelReason::timeout));
  EXPECT_EQ(service.send_response(id, Response{200, {}, "too late"}, true), Errc::unknown_stream);
  EXPECT_EQ(gateway.cancel(id, CancelReason::timeout), Errc::unknown_stream);
}

TEST_F(SessionPair, StreamedBodiesBothWays) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request("part1-"), false, clock.now(), id), Errc::ok);
  ASSERT_EQ(gateway.send_request_data(id, "part2", true), Errc::ok);
  EXPECT_EQ(gateway.send_request_data(id, "more", true), Errc::unknown_stream);
  pump();
  auto data = events_of<svc_event::RequestData>(svc_events);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].data, "part2");
  EXPECT_TRUE(data[0].end_stream);
  ASSERT_EQ(service.send_response(id, Response{200, {}, ""}, false), Errc::ok);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(service.send_response_data(id, "chunk" + std::to_string(i), i == 2), Errc::ok);
  }
  pump();
  auto chunks = events_of<gw_event::ResponseData>(gw_events);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2].data, "chunk2");
  EXPECT_TRUE(chunks[2].end_stream);
  EXPECT_EQ(gateway.in_flight(), 0u);
}

TEST_F(SessionPair, ServiceDrainFinishesInFlightThenCloses) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request("a"), true, clock.now(), id), Errc::ok);
  pump();
  service.drain(30s, clock.now());
  pump();
  ASSERT_EQ(events_of<gw_event::PeerDraining>(gw_events).size(), 1u);
  EXPECT_EQ(gateway.state(), GatewaySession::State::draining);
  std::uint32_t refused = 0;
  EXPECT_EQ(gateway.send_request(request("b"), true, clock.now(), refused),
            Errc::session_not_ready);
  EXPECT_FALSE(service.closed());
  ASSERT_EQ(service.send_response(id, Response{200, {}, "done"}, true), Errc::ok);
  pump();
  EXPECT_TRUE(service.closed());
  EXPECT_EQ(service.close_info()->error, Errc::ok);
  EXPECT_EQ(events_of<gw_event::ResponseHead>(gw_events).size(), 1u);
}

TEST_F(SessionPair, GatewayDrainTimesOutAndFailsWhatIsLeft) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request("a"), true, clock.now(), id), Errc::ok);
  gateway.drain(5s, clock.now());
  pump();
  ASSERT_EQ(events_of<svc_event::GatewayDraining>(svc_events).size(), 1u);
  clock.advance(5s);
  gateway.on_timer(clock.now());
  pump();
  auto failed = events_of<gw_event::StreamFailed>(gw_events);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].stream, id);
  EXPECT_TRUE(gateway.closed());
}

TEST_F(SessionPair, ConnectionLossFailsExactlyTheInFlightStreams) {
  handshake();
  std::uint32_t a = 0, b = 0, c = 0;
  gateway.send_request(request("a"), true, clock.now(), a);
  gateway.send_request(request("b"), true, clock.now(), b);
  gateway.send_request(request("c"), true, clock.now(), c);
  pump();
  service.send_response(b, Response{204, {}, ""}, true);
  pump();
  gateway.on_closed(clock.now());
  pump();
  auto failed = events_of<gw_event::StreamFailed>(gw_events);
  ASSERT_EQ(failed.size(), 2u);
  std::vector<std::uint32_t> ids{failed[0].stream, failed[1].stream};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{a, c}));
  EXPECT_EQ(events_of<gw_event::Closed>(gw_events).size(), 1u);
}

// A RESPONSE cut by a read reaches the owner as a view into the session's copy of it, which
// holds while the rest of that read (here a second RESPONSE, cut again) is split off.
TEST_F(SessionPair, ResponseCutByReadsIsHandedOverWhole) {
  handshake();
  std::uint32_t first = 0, second = 0;
  ASSERT_EQ(gateway.send_request(request("a"), true, clock.now(), first), Errc::ok);
  ASSERT_EQ(gateway.send_request(request("b"), true, clock.now(), second), Errc::ok);
  pump();
  ASSERT_EQ(events_of<svc_event::RequestStarted>(svc_events).size(), 2u);
  const std::string body_a(500, 'a'), body_b(700, 'b');
  ASSERT_EQ(service.send_response(first, Response{200, {{"x-n", "1"}}, body_a}, true), Errc::ok);
  const std::size_t first_size = service.pending_output();
  ASSERT_EQ(service.send_response(second, Response{201, {}, body_b}, true), Errc::ok);
  std::string bytes;
  service.take_output(bytes);

  GatewayEvent e;
  gateway.on_bytes(std::string(bytes.substr(0, 10)), clock.now());
  EXPECT_FALSE(gateway.poll_event(e));
  // The rest, and all but the last bytes of the next frame (larger than the first): without the
  // lending, keeping that cut frame would overwrite every byte of the first.
  const std::size_t cut = bytes.size() - first_size - 5;
  {
    std::string read = bytes.substr(10, first_size - 10 + cut);
    gateway.on_bytes(read, clock.now());
    ASSERT_TRUE(gateway.poll_event(e));
    const auto* head = std::get_if<gw_event::ResponseHead>(&e);
    ASSERT_NE(head, nullptr);
    EXPECT_EQ(head->stream, first);
    EXPECT_EQ(head->response->status, 200);
    ASSERT_EQ(head->response->headers.size(), 1u);
    EXPECT_EQ(head->response->headers[0].name, "x-n");
    EXPECT_EQ(head->response->headers[0].value, "1");
    EXPECT_EQ(head->response->body, body_a);
    EXPECT_FALSE(gateway.poll_event(e));
  }
  std::string rest = bytes.substr(first_size + cut);
  gateway.on_bytes(rest, clock.now());
  ASSERT_TRUE(gateway.poll_event(e));
  const auto* head = std::get_if<gw_event::ResponseHead>(&e);
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->stream, second);
  EXPECT_EQ(head->response->status, 201);
  EXPECT_EQ(head->response->body, body_b);
  EXPECT_FALSE(gateway.closed());
}

// HELLO_ACK and the first REQUEST in one read: the REQUEST, after the handshake ended earlier in
// the same read, is a request like any other.
TEST_F(SessionPair, RequestInTheSameReadAsTheHelloAckIsDelivered) {
  std::string hello;
  service.take_output(hello);
  gateway.on_bytes(hello, clock.now());
  collect();
  HelloAck ack;
  ack.accepted.push_back({"GET", "/api/v1/demo/echo"});
  gateway.accept_hello(ack, clock.now());
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request("together"), true, clock.now(), id), Errc::ok);
  std::string both;
  gateway.take_output(both);
  service.on_bytes(both, clock.now());
  collect();
  ASSERT_EQ(events_of<svc_event::Registered>(svc_events).size(), 1u);
  const auto requests = events_of<svc_event::RequestStarted>(svc_events);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].stream, id);
  EXPECT_EQ(requests[0].request->body, "together");
  EXPECT_EQ(service.in_flight(), 1u);
}

// A REQUEST completed from a cut read, then garbage in the same read: the session closes, and the
// request's view, polled after, still reads the request (the reader's error does not free it).
TEST_F(SessionPair, ViewOfACutRequestOutlivesGarbageLaterInTheRead) {
  handshake();
  std::uint32_t id = 0;
  Request r = request(std::string(300, 'q'));
  r.path = "/api/v1/demo/echo/" + std::string(100, 'p');
  ASSERT_EQ(gateway.send_request(r, true, clock.now(), id), Errc::ok);
  std::string bytes;
  gateway.take_output(bytes);
  service.on_bytes(std::string(bytes.substr(0, 20)), clock.now());
  std::string read = bytes.substr(20) + "garbage: no frame header";
  service.on_bytes(read, clock.now());
  EXPECT_TRUE(service.closed());
  EXPECT_EQ(service.close_info()->error, Errc::bad_magic);
  ServiceEvent e;
  ASSERT_TRUE(service.poll_event(e));
  const auto* started = std::get_if<svc_event::RequestStarted>(&e);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->stream, id);
  EXPECT_EQ(started->request->path, r.path);
  EXPECT_EQ(started->request->body, r.body);
}

TEST_F(SessionPair, GarbageClosesWithProtocolErrorDrain) {
  handshake();
  gateway.on_bytes("GET / HTTP/1.1\r\n\r\n", clock.now());
  EXPECT_TRUE(gateway.closed());
  EXPECT_EQ(gateway.close_info()->error, Errc::bad_magic);
  pump();  // the DRAIN(protocol_error) reaches the service, which closes too
  EXPECT_TRUE(service.closed());
  EXPECT_EQ(service.close_info()->error, Errc::peer_closed);
}

TEST_F(SessionPair, FirstFrameMustBeHello) {
  GatewaySession g(GatewaySessionConfig{}, clock.now());
  g.on_bytes(encode_frame(Frame{0, 0, Heartbeat{1, 1, HealthStatus::healthy, 0}}), clock.now());
  EXPECT_TRUE(g.closed());
  EXPECT_EQ(g.close_info()->error, Errc::unexpected_frame);
}

TEST_F(SessionPair, VersionMismatchIsRefusedWithDrain) {
  Hello h = demo_hello();
  h.version_min = 7;
  h.version_max = 9;
  ServiceSession s(ServiceSessionConfig{{}, h, 5s, Duration::zero(), 1 << 20}, clock.now());
  GatewaySession g(GatewaySessionConfig{}, clock.now());
  std::string bytes;
  s.take_output(bytes);
  g.on_bytes(bytes, clock.now());
  EXPECT_TRUE(g.closed());
  EXPECT_EQ(g.close_info()->error, Errc::version_mismatch);
  g.take_output(bytes);
  s.on_bytes(bytes, clock.now());
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.close_info()->error, Errc::version_mismatch);
}

TEST_F(SessionPair, HelloTimeoutAndGatewaySilence) {
  GatewaySession g(GatewaySessionConfig{}, clock.now());
  clock.advance(10s);
  g.on_timer(clock.now());
  EXPECT_EQ(g.close_info()->error, Errc::hello_timeout);

  handshake();
  deliver_to_service = false;
  clock.advance(29s);
  service.on_timer(clock.now());
  EXPECT_FALSE(service.closed());
  clock.advance(1s);  // three announced 10 s intervals of silence
  service.on_timer(clock.now());
  EXPECT_EQ(service.close_info()->error, Errc::peer_silent);
}

TEST_F(SessionPair, RejectedHelloClosesTheService) {
  pump();
  gateway.reject_hello(DrainCode::hello_rejected, "too many instances");
  pump();
  EXPECT_TRUE(service.closed());
  EXPECT_EQ(service.close_info()->error, Errc::peer_closed);
  EXPECT_NE(service.close_info()->message.find("too many instances"), std::string::npos);
}

TEST_F(SessionPair, ServiceAbortFailsTheStream) {
  handshake();
  std::uint32_t id = 0;
  gateway.send_request(request("a"), true, clock.now(), id);
  pump();
  ASSERT_EQ(service.abort_stream(id, "handler threw"), Errc::ok);
  pump();
  auto failed = events_of<gw_event::StreamFailed>(gw_events);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].response_started);
}

}  // namespace
}  // namespace stella::core

namespace stella::core {
namespace {

// Flow control (docs/protocol.md §8.2): the window announced in HELLO_ACK, taken by STREAM_DATA,
// refilled by CREDIT; grants for unknown streams are ignored and cannot overflow the window.
TEST_F(SessionPair, ResponseWindowIsTakenByDataAndRefilledByCredit) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request(""), true, clock.now(), id), Errc::ok);
  pump();
  const std::int64_t window = GatewaySessionConfig{}.stream_window;
  ASSERT_EQ(service.send_window(id), window);
  ASSERT_EQ(service.send_response(id, Response{200, {}, {}}, false), Errc::ok);
  const std::string chunk(100'000, 'x');
  ASSERT_EQ(service.send_response_data(id, chunk, false), Errc::ok);
  ASSERT_EQ(service.send_response_data(id, chunk, false), Errc::ok);
  ASSERT_EQ(service.send_response_data(id, chunk, false), Errc::ok);  // may go below zero
  const std::int64_t cost = 300'000 + 3 * kCreditPerChunk;  // bytes plus the per-chunk cost
  EXPECT_EQ(service.send_window(id), window - cost);
  EXPECT_LE(service.send_window(id), 0);
  pump();
  ASSERT_EQ(gateway.grant_credit(id, 200'000), Errc::ok);
  EXPECT_EQ(gateway.grant_credit(id + 100, 1), Errc::unknown_stream);
  pump();
  EXPECT_EQ(service.send_window(id), window - cost + 200'000);
  EXPECT_EQ(events_of<svc_event::CreditGranted>(svc_events).size(), 1u);
  // Hostile grants saturate instead of overflowing.
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(gateway.grant_credit(id, 0xFFFFFFFFu), Errc::ok);
  pump();
  EXPECT_GT(service.send_window(id), 0);
  EXPECT_LT(service.send_window(id), ServiceSession::kUnlimitedWindow);
}

// Request bodies under credit: the window the service announced in HELLO is taken by the
// gateway's STREAM_DATA (payload + kCreditPerChunk); at zero the gateway refuses to send more
// (window_exhausted) until the service grants CREDIT, which reaches the gateway as an event.
TEST_F(SessionPair, RequestWindowIsTakenByBodyChunksAndRefilledByTheServicesCredit) {
  Hello h = demo_hello();
  h.request_window = 150'000;
  service = ServiceSession(ServiceSessionConfig{{}, h, 5s, Duration::zero(), 1 << 20}, clock.now());
  handshake_with(h);
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request("inline part, not charged"), false, clock.now(), id),
            Errc::ok);
  EXPECT_EQ(gateway.request_window(id), 150'000);
  const std::string chunk(100'000, 'x');
  ASSERT_EQ(gateway.send_request_data(id, chunk, false), Errc::ok);
  ASSERT_EQ(gateway.send_request_data(id, chunk, false), Errc::ok);  // may go below zero
  EXPECT_EQ(gateway.request_window(id), 150'000 - 200'000 - 2 * std::int64_t{kCreditPerChunk});
  EXPECT_EQ(gateway.send_request_data(id, chunk, false), Errc::window_exhausted);
  pump();
  ASSERT_EQ(events_of<svc_event::RequestData>(svc_events).size(), 2u);
  // The handler took both chunks: the service grants what they cost.
  const std::uint32_t grant = 200'000 + 2 * kCreditPerChunk;
  ASSERT_EQ(service.grant_request_credit(id, grant), Errc::ok);
  EXPECT_EQ(service.grant_request_credit(id + 100, 1), Errc::unknown_stream);
  pump();
  const auto credits = events_of<gw_event::RequestCredit>(gw_events);
  ASSERT_EQ(credits.size(), 1u);
  EXPECT_EQ(credits[0].stream, id);
  EXPECT_EQ(credits[0].increment, grant);
  EXPECT_EQ(gateway.request_window(id), 150'000);
  ASSERT_EQ(gateway.send_request_data(id, "end", true), Errc::ok);
  EXPECT_EQ(gateway.request_window(id), 0);  // the body is complete
  pump();
  EXPECT_EQ(service.state(), ServiceSession::State::active);
  // CREDIT after the body ended is ignored (no event).
  gw_events.clear();
  gateway.on_bytes(encode_frame(Frame{0, id, Credit{5}}), clock.now());
  pump();
  EXPECT_TRUE(events_of<gw_event::RequestCredit>(gw_events).empty());
  EXPECT_EQ(gateway.state(), GatewaySession::State::active);
}

// A gateway that sends request body past the service's window is a protocol error at the
// service: it closes instead of buffering without bound.
TEST_F(SessionPair, BodyBeyondTheRequestWindowIsAProtocolError) {
  Hello h = demo_hello();
  h.request_window = 1000;
  service = ServiceSession(ServiceSessionConfig{{}, h, 5s, Duration::zero(), 1 << 20}, clock.now());
  handshake_with(h);
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request(""), false, clock.now(), id), Errc::ok);
  pump();
  // Forged frames: a well-behaved gateway session never sends the second one.
  service.on_bytes(encode_frame(Frame{0, id, StreamData{std::string(10, 'a')}}), clock.now());
  EXPECT_EQ(service.state(), ServiceSession::State::active);  // 10 + 1024 > 1000: now at zero
  service.on_bytes(encode_frame(Frame{0, id, StreamData{std::string(10, 'b')}}), clock.now());
  EXPECT_EQ(service.state(), ServiceSession::State::closed);
}

// A gateway that does not confirm request credit (an older one: no HELLO_ACK request_credit)
// streams bodies without waiting: the service then neither enforces its window nor grants.
TEST_F(SessionPair, AnOlderGatewayWithoutRequestCreditIsNotHeldToTheWindow) {
  Hello h = demo_hello();
  h.request_window = 1000;
  ServiceSession svc(ServiceSessionConfig{{}, h, 5s, Duration::zero(), 1 << 20}, clock.now());
  std::string hello;
  svc.take_output(hello);
  HelloAck ack;  // request_credit false, as an older gateway's
  ack.version = kProtocolVersionMin;
  svc.on_bytes(encode_frame(Frame{0, 0, ack}), clock.now());
  ASSERT_EQ(svc.state(), ServiceSession::State::active);
  Request r = request("");
  svc.on_bytes(encode_frame(Frame{0, 1, r}), clock.now());
  for (int i = 0; i < 5; ++i)
    svc.on_bytes(encode_frame(Frame{0, 1, StreamData{std::string(5000, 'b')}}), clock.now());
  EXPECT_EQ(svc.state(), ServiceSession::State::active);
  std::string out;
  svc.take_output(out);
  EXPECT_EQ(svc.grant_request_credit(1, 10'000), Errc::ok);
  std::string credit;
  svc.take_output(credit);
  EXPECT_TRUE(credit.empty());  // nothing to grant to a gateway that does not use it
}

// Without a request_window (older services, or 0) nothing changes: bodies are not under credit.
TEST_F(SessionPair, NoRequestWindowMeansNoCredit) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request(""), false, clock.now(), id), Errc::ok);
  EXPECT_EQ(gateway.request_window(id), GatewaySession::kUnlimitedWindow);
  const std::string chunk(100'000, 'x');
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(gateway.send_request_data(id, chunk, false), Errc::ok);
  EXPECT_EQ(gateway.request_window(id), GatewaySession::kUnlimitedWindow);
  pump();
  EXPECT_EQ(service.state(), ServiceSession::State::active);
}

TEST_F(SessionPair, TheServicesMaxInFlightIsHonoured) {
  // A service that announces max_in_flight 2 gets at most 2 open streams.
  Hello h = demo_hello();
  h.max_in_flight = 2;
  service = ServiceSession(ServiceSessionConfig{{}, h, 5s, Duration::zero(), 1 << 20}, clock.now());
  handshake_with(h);
  std::uint32_t id = 0;
  EXPECT_EQ(gateway.send_request(request("a"), true, clock.now(), id), Errc::ok);
  EXPECT_EQ(gateway.send_request(request("b"), true, clock.now(), id), Errc::ok);
  EXPECT_EQ(gateway.send_request(request("c"), true, clock.now(), id), Errc::too_many_streams);
  // The gateway keeps the identity of a HELLO, not its endpoints.
  EXPECT_EQ(gateway.hello().service, "demo");
  EXPECT_TRUE(gateway.hello().endpoints.empty());
}

}  // namespace
}  // namespace stella::core

namespace stella::core {
namespace {

// A service's CANCEL(instance_draining) means "refused unseen" (the gateway may resend the
// request) only for a stream above the last_stream_id of its DRAIN; otherwise it is a failure.
TEST_F(SessionPair, InstanceDrainingWithoutADrainIsAFailure) {
  handshake();
  std::uint32_t id = 0;
  ASSERT_EQ(gateway.send_request(request(""), true, clock.now(), id), Errc::ok);
  pump();
  gateway.on_bytes(encode_frame(Frame{0, id, Cancel{4, "draining, honest"}}), clock.now());
  GatewayEvent e;
  std::uint16_t seen = 0;
  while (gateway.poll_event(e))
    if (auto* f = std::get_if<gw_event::StreamFailed>(&e)) seen = f->service_cancel;
  EXPECT_EQ(seen, static_cast<std::uint16_t>(CancelReason::handler_failed));
}

// The service drained and closed before a REQUEST sent meanwhile reached it: that stream is
// above the DRAIN's last_stream_id, so it failed unseen (it may be sent elsewhere); a stream the
// service had accepted and not answered is a plain failure.
TEST_F(SessionPair, StreamsAboveTheDrainsLastStreamFailUnseenWhenTheServiceCloses) {
  handshake();
  std::uint32_t seen_by_service = 0, in_flight = 0;
  ASSERT_EQ(gateway.send_request(request(""), true, clock.now(), seen_by_service), Errc::ok);
  pump();
  ASSERT_EQ(gateway.send_request(request(""), true, clock.now(), in_flight), Errc::ok);
  std::string on_the_wire;
  gateway.take_output(on_the_wire);  // never delivered: the service closes first
  service.drain(std::chrono::seconds(5), clock.now());
  std::string drain;
  service.take_output(drain);
  gateway.on_bytes(drain, clock.now());
  gateway.on_closed(clock.now());
  GatewayEvent e;
  std::map<std::uint32_t, std::uint16_t> cancel_by_stream;
  while (gateway.poll_event(e))
    if (auto* f = std::get_if<gw_event::StreamFailed>(&e))
      cancel_by_stream[f->stream] = f->service_cancel;
  ASSERT_EQ(cancel_by_stream.size(), 2u);
  EXPECT_EQ(cancel_by_stream[seen_by_service], 0);
  EXPECT_EQ(cancel_by_stream[in_flight],
            static_cast<std::uint16_t>(CancelReason::instance_draining));
}

TEST_F(SessionPair, InstanceDrainingAboveTheDrainsLastStreamIsRefusedUnseen) {
  handshake();
  std::uint32_t first = 0, second = 0;
  ASSERT_EQ(gateway.send_request(request(""), true, clock.now(), first), Errc::ok);
  pump();  // the service has seen `first`
  ASSERT_EQ(gateway.send_request(request(""), true, clock.now(), second), Errc::ok);
  std::string in_flight;
  gateway.take_output(in_flight);                       // `second` is on the wire...
  service.drain(std::chrono::seconds(5), clock.now());  // ...when the service drains
  std::string drain;
  service.take_output(drain);
  gateway.on_bytes(drain, clock.now());
  service.on_bytes(in_flight, clock.now());  // it refuses `second` with instance_draining
  std::string refusal;
  service.take_output(refusal);
  gateway.on_bytes(refusal, clock.now());
  GatewayEvent e;
  std::uint16_t seen = 0;
  while (gateway.poll_event(e))
    if (auto* f = std::get_if<gw_event::StreamFailed>(&e); f && f->stream == second)
      seen = f->service_cancel;
  EXPECT_EQ(seen, static_cast<std::uint16_t>(CancelReason::instance_draining));
}

// The sessions' event queue: first in, first out across growth and wrap-around, with values
// that own memory (moved, never copied or lost).
TEST(RingQueue, FifoAcrossGrowthAndWrap) {
  RingQueue<std::string> q;
  std::deque<std::string> model;
  std::string out;
  int next = 0;
  // Interleave pushes and pops so the ring wraps at every size it grows through.
  for (int round = 0; round < 200; ++round) {
    const int pushes = 1 + (round * 7) % 13;
    const int pops = (round * 5) % 11;
    for (int i = 0; i < pushes; ++i) {
      std::string v = "value number " + std::to_string(next++) + std::string(40, 'x');
      model.push_back(v);
      q.push(std::move(v));
    }
    for (int i = 0; i < pops && !model.empty(); ++i) {
      ASSERT_FALSE(q.empty());
      q.pop_into(out);
      ASSERT_EQ(out, model.front());
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
  }
  while (!model.empty()) {
    q.pop_into(out);
    ASSERT_EQ(out, model.front());
    model.pop_front();
  }
  EXPECT_TRUE(q.empty());
  // Usable again after a release (a burst above the kept size, drained).
  q.push(std::string("again"));
  q.pop_into(out);
  EXPECT_EQ(out, "again");
}

}  // namespace
}  // namespace stella::core
