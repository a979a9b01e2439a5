// The decoder allocates only after a length has been checked: whatever the input claims, the
// bytes it allocates stay within a small multiple of the bytes it was given.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "frame_gen.hpp"
#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_view.hpp"
#include "stella/core/gateway_session.hpp"
#include "stella/core/service_session.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocated{0};
}  // namespace

// Counts every allocation of this test binary while g_counting is set. The replacement pair uses
// malloc/free on purpose; GCC's -Wmismatched-new-delete cannot see that both halves are replaced.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocated += n;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace stella::core {
namespace {

std::size_t allocated_while(auto&& fn) {
  g_allocated = 0;
  g_counting = true;
  fn();
  g_counting = false;
  return g_allocated.load();
}

TEST(FrameCodecAlloc, HugeLengthClaimsAllocateNothing) {
  // A header announcing 4 GiB, and fields claiming 4 GiB inside a tiny payload.
  const std::string header_claim = {'S', 'G', 1, 6, 0,      0,      0,      0,
                                    0,   0,   0, 1, '\xff', '\xff', '\xff', '\xff'};
  const std::string field_claim = {'S', 'G', 1, 5, 0, 0, 0, 0,      0,      0,      0,
                                   1,   0,   0, 0, 6, 0, 3, '\xff', '\xff', '\xff', '\xff'};
  for (const std::string& bytes : {header_claim, field_claim}) {
    Frame f;
    DecodeResult r;
    const std::size_t n = allocated_while([&] { r = decode_frame(bytes, f); });
    EXPECT_EQ(r.status, DecodeStatus::error);
    EXPECT_EQ(n, 0u);
  }
}

RC_GTEST_PROP(FrameCodecAlloc, AllocationIsBoundedByInput, (const std::string& junk)) {
  // Start from a valid frame and corrupt it, so the decoder gets deep into payloads.
  std::string bytes = encode_frame(*testgen::any_frame());
  const auto flips = *rc::gen::container<std::vector<std::pair<std::size_t, char>>>(
      rc::gen::pair(rc::gen::inRange<std::size_t>(0, bytes.size()), rc::gen::arbitrary<char>()));
  for (const auto& [at, c] : flips)
    bytes[at] = c;
  bytes += junk;
  Frame f;
  const std::size_t n = allocated_while([&] { decode_frame(bytes, f); });
  // Strings own copies of at most the payload bytes; vectors and per-string headers add a
  // bounded factor. 8x + 4 KiB is generous and still catches any claim-driven allocation.
  RC_ASSERT(n <= 8 * bytes.size() + 4096);
}

}  // namespace
}  // namespace stella::core

namespace stella::core {
namespace {

// The hot path: decoding REQUEST frames into a reused view allocates nothing once warm.
TEST(FrameCodecAlloc, ReusedRequestViewDoesNotAllocate) {
  Request r;
  r.method = "POST";
  r.path = "/api/v1/scans/0b1c2d3e-with-a-long-id";
  for (int i = 0; i < 10; ++i)
    r.headers.push_back({"x-header-" + std::to_string(i), std::string(40, 'v')});
  r.body = std::string(300, 'b');
  r.scopes = {"scans.read", "scans.write"};
  r.claims = {{"tid", "tenant-1"}};
  const std::string bytes = encode_frame(Frame{flags::kEndStream, 9, r});
  RequestView view;
  FrameHeader header;
  ASSERT_EQ(decode_request_view(bytes, header, view).status, DecodeStatus::done);  // warm up
  const std::size_t n = allocated_while([&] {
    for (int i = 0; i < 100; ++i)
      decode_request_view(bytes, header, view);
  });
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(view.to_owned(), r);
}

// A download: 64 KiB STREAM_DATA frames (65,552 bytes each) read 64 KiB at a time, so every
// frame is cut by a read and finished by the next. Once warm the reader's buffer is reused: what
// is allocated is the frames' own data (one copy each), not a buffer grown and freed per frame.
TEST(FrameCodecAlloc, CutLargeFramesReuseTheReadersBuffer) {
  std::string stream;
  constexpr int kFrames = 40;
  for (int i = 0; i < kFrames; ++i)
    ASSERT_FALSE(encode_frame(Frame{0, 1, StreamData{std::string(64 * 1024, 'd')}}, stream));
  const std::size_t frame_size = stream.size() / kFrames;
  FrameReader reader;
  Frame f;
  int frames = 0;
  const auto read_all = [&](std::string_view bytes) {
    constexpr std::size_t kRead = 64 * 1024;
    for (std::size_t at = 0; at < bytes.size(); at += kRead) {
      std::string_view input = bytes.substr(at, kRead);
      while (reader.next(input, f).status == DecodeStatus::done)
        ++frames;
    }
  };
  const std::string_view all(stream);
  read_all(all.substr(0, frame_size * 4));  // warm
  const std::size_t n = allocated_while([&] { read_all(all.substr(frame_size * 4)); });
  EXPECT_EQ(frames, kFrames);
  EXPECT_EQ(reader.buffered(), 0u);
  // The data strings: 36 × 64 KiB. A buffer reallocated per frame would add about twice that.
  EXPECT_LT(n, (kFrames - 4) * frame_size * 3 / 2);
}

// The sessions' steady path: once warm, a request out and its answer back allocate nothing
// beyond the decoded values (here short strings that fit a std::string's own buffer, so none):
// the output strings keep their capacity, the event queues reuse their slots, the stream
// tables their nodes, the frame reader decodes straight from the bytes it is given into views,
// and both frames are encoded straight from the caller's values (the answer has a header and a
// body longer than a string's own buffer: a copy of it would allocate).
TEST(SessionAlloc, WarmRoundTripAllocatesNothing) {
  const TimePoint now{};
  GatewaySession gw(
      GatewaySessionConfig{
          {}, "gw-1", std::chrono::seconds(10), std::chrono::seconds(5), 64, 1 << 20},
      now);
  Hello hello;
  hello.service = "demo";
  hello.instance_id = "demo-1";
  hello.region = "eu1";
  hello.endpoints.push_back({"GET", "/a", 0, false, {}, ""});
  ServiceSession svc(
      ServiceSessionConfig{{}, hello, std::chrono::seconds(5), Duration::zero(), 1 << 20}, now);
  std::string g, s;
  GatewayEvent ge;
  ServiceEvent se;
  const auto pump = [&] {
    for (int i = 0; i < 10; ++i) {
      gw.take_output(g);
      svc.take_output(s);
      if (g.empty() && s.empty()) break;
      if (!g.empty()) svc.on_bytes(g, now);
      if (!s.empty()) gw.on_bytes(s, now);
    }
  };
  pump();
  while (gw.poll_event(ge)) {
  }
  HelloAck ack;
  ack.accepted.push_back({"GET", "/a"});
  gw.accept_hello(ack, now);
  pump();
  while (svc.poll_event(se)) {
  }
  ASSERT_EQ(gw.state(), GatewaySession::State::active);
  ASSERT_EQ(svc.state(), ServiceSession::State::active);

  Request request;
  request.method = "GET";
  request.path = "/a";
  const Response response{
      200, {{"content-type", "application/json; charset=utf-8"}}, R"({"status":"all good"})"};
  int answered = 0;
  const auto round_trip = [&] {
    std::uint32_t stream = 0;
    ASSERT_EQ(gw.send_request(request, true, now, stream), Errc::ok);
    // Events are read while the bytes they were decoded from are still in hand: they point
    // into them.
    gw.take_output(g);
    svc.on_bytes(g, now);
    ASSERT_TRUE(svc.poll_event(se));
    const auto* started = std::get_if<svc_event::RequestStarted>(&se);
    ASSERT_NE(started, nullptr);
    ASSERT_EQ(started->request->path, "/a");
    ASSERT_EQ(svc.send_response(started->stream, response, true), Errc::ok);
    svc.take_output(s);
    gw.on_bytes(s, now);
    ASSERT_TRUE(gw.poll_event(ge));
    const auto* head = std::get_if<gw_event::ResponseHead>(&ge);
    ASSERT_NE(head, nullptr);
    ASSERT_EQ(head->stream, stream);
    ASSERT_EQ(head->response->status, response.status);
    ASSERT_EQ(head->response->body, response.body);
    ASSERT_EQ(head->response->headers.size(), 1u);
    ASSERT_EQ(head->response->headers[0].value, response.headers[0].value);
    ++answered;
  };
  for (int i = 0; i < 100; ++i)
    round_trip();  // warm: buffers, rings and tables at their working sizes
  const std::size_t n = allocated_while([&] {
    for (int i = 0; i < 100; ++i)
      round_trip();
  });
  EXPECT_EQ(answered, 200);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(gw.in_flight(), 0u);
  EXPECT_EQ(svc.in_flight(), 0u);
}

}  // namespace
}  // namespace stella::core
