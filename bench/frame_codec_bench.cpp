// Encode and decode cost per frame type. Run: ./build/release/bench/stella_bench
// --benchmark_filter=Frame
#include <benchmark/benchmark.h>

#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_view.hpp"

namespace stella::core {
namespace {

Frame small_request() {
  Request r;
  r.method = "GET";
  r.path = "/api/v1/scans/0b1c2d3e";
  r.query = "expand=findings";
  r.headers = {{"host", "gateway.example.com"},
               {"user-agent", "curl/7.88.1"},
               {"accept", "application/json"},
               {"accept-encoding", "gzip, deflate, br"},
               {"x-correlation-id", "4bf92f3577b34da6a3ce929d0e0e4736"},
               {"x-forwarded-for", "203.0.113.7"},
               {"x-forwarded-proto", "https"},
               {"x-forwarded-host", "gateway.example.com"},
               {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
               {"content-length", "0"}};
  r.timeout_ms = 30000;
  r.correlation_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  r.tenant = "tenant-1";
  r.subject = "alice";
  r.scopes = {"scans.read"};
  r.route = "/api/v1/scans/{id}";
  return Frame{flags::kEndStream, 42, r};
}

Frame small_response() {
  return Frame{flags::kEndStream, 42,
               Response{200,
                        {{"content-type", "application/json"}, {"cache-control", "no-store"}},
                        R"({"id":"0b1c2d3e","status":"done","findings":3})"}};
}

Frame stream_64k() {
  return Frame{0, 42, StreamData{std::string(64 * 1024, 'x')}};
}

Frame heartbeat() {
  return Frame{0, 0, Heartbeat{1234, 5678901234, HealthStatus::healthy, 12}};
}

Frame hello_20() {
  Hello h;
  h.service = "scanner";
  h.service_version = "1.4.2";
  h.instance_id = "scanner-eu1-7f9c";
  h.region = "eu1";
  for (int i = 0; i < 20; ++i) {
    h.endpoints.push_back({i % 2 ? "POST" : "GET",
                           "/api/v1/scanner/r" + std::to_string(i) + "/{id}",
                           30000,
                           false,
                           {{"scope", "scans.read"}},
                           ""});
  }
  return Frame{0, 0, h};
}

void encode_bench(benchmark::State& state, Frame (*make)()) {
  const Frame f = make();
  std::string out;
  out.reserve(128 * 1024);
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(encode_frame(f, out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
  state.counters["frame_bytes"] = static_cast<double>(out.size());
}

void decode_bench(benchmark::State& state, Frame (*make)()) {
  const std::string bytes = encode_frame(make());
  Frame f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decode_frame(bytes, f));
    benchmark::DoNotOptimize(f);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["frame_bytes"] = static_cast<double>(bytes.size());
}

// The hot path: a reused view, no copies.
void decode_request_view_bench(benchmark::State& state) {
  const std::string bytes = encode_frame(small_request());
  RequestView view;
  FrameHeader header;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decode_request_view(bytes, header, view));
    benchmark::DoNotOptimize(view);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(decode_request_view_bench)->Name("decode_view_bench/Frame_Request10Headers");

void decode_response_view_bench(benchmark::State& state) {
  const std::string bytes = encode_frame(small_response());
  ResponseView view;
  FrameHeader header;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decode_response_view(bytes, header, view));
    benchmark::DoNotOptimize(view);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(decode_response_view_bench)->Name("decode_view_bench/Frame_Response");

BENCHMARK_CAPTURE(encode_bench, Frame_Request10Headers, small_request);
BENCHMARK_CAPTURE(decode_bench, Frame_Request10Headers, small_request);
BENCHMARK_CAPTURE(encode_bench, Frame_Response, small_response);
BENCHMARK_CAPTURE(decode_bench, Frame_Response, small_response);
BENCHMARK_CAPTURE(encode_bench, Frame_StreamData64K, stream_64k);
BENCHMARK_CAPTURE(decode_bench, Frame_StreamData64K, stream_64k);
BENCHMARK_CAPTURE(encode_bench, Frame_Heartbeat, heartbeat);
BENCHMARK_CAPTURE(decode_bench, Frame_Heartbeat, heartbeat);
BENCHMARK_CAPTURE(encode_bench, Frame_Hello20Endpoints, hello_20);
BENCHMARK_CAPTURE(decode_bench, Frame_Hello20Endpoints, hello_20);

// The incremental path a connection takes: 16 KiB reads holding many small frames, the last
// one cut by the read (so the next read completes it). `lend`: decoded from the read buffer as
// the sessions do (FrameReader::next(input, frame)); otherwise copied in with feed() first.
void reader_bench(benchmark::State& state, bool lend) {
  std::string stream;
  while (stream.size() < 16 * 1024)
    encode_frame(small_request(), stream);
  const std::size_t frame_size = encode_frame(small_request()).size();
  const std::string_view first = std::string_view(stream).substr(0, stream.size() - frame_size / 2);
  const std::string_view rest = std::string_view(stream).substr(first.size());
  std::size_t frames = 0;
  FrameReader reader;
  Frame f;
  for (auto _ : state) {
    for (std::string_view piece : {first, rest}) {
      if (lend) {
        while (reader.next(piece, f).status == DecodeStatus::done)
          ++frames;
      } else {
        reader.feed(piece);
        while (reader.next(f).status == DecodeStatus::done)
          ++frames;
      }
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
}
BENCHMARK_CAPTURE(reader_bench, Fed, false)->Name("FrameReader_16KiBOfRequests_Fed");
BENCHMARK_CAPTURE(reader_bench, Lent, true)->Name("FrameReader_16KiBOfRequests_Lent");

}  // namespace
}  // namespace stella::core
