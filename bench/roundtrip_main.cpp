// The hop the gateway adds to a request: a small REQUEST → RESPONSE round trip between the
// gateway side (GatewayListener + sessions) and SDK services (the demo service), over TCP or TLS
// loopback. Gateway and services run on separate threads (one io_context each), as they would
// in separate processes. Prints requests/s and latency percentiles.
//
//   stella_roundtrip [--transport tcp|tls] [--connections C] [--concurrency K] [--requests N]
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "stella/microservice/demo_service.hpp"
#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tls/dev_certs.hpp"
#include "stella/transport/tls/tls_context.hpp"
#include "stella/transport/tls/tls_gateway_listener.hpp"

namespace asio = boost::asio;
using namespace stella;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string transport = "tcp";
  int connections = 1;
  int concurrency = 1;
  long requests = 20000;
};

class LoadHooks final : public transport::GatewayHooks {
 public:
  LoadHooks(const Options& o, transport::GatewayListener*& listener)
      : opt_(o), listener_(listener) {}

  bool on_hello(const transport::ConnectionInfo& conn, const core::Hello& hello,
                core::HelloAck& ack, std::string&) override {
    for (const auto& e : hello.endpoints)
      ack.accepted.push_back({e.method, e.path});
    ready_.push_back(conn.id);
    return true;
  }
  void on_event(const transport::ConnectionInfo& conn, core::GatewayEvent& e) override {
    if (auto* r = std::get_if<core::gw_event::ResponseHead>(&e)) {
      const auto it = started_.find(key(conn.id, r->stream));
      if (it != started_.end()) {
        latencies_.push_back(Clock::now() - it->second);
        started_.erase(it);
      }
      if (sent_ < opt_.requests) send(conn.id);
      if (latencies_.size() == static_cast<std::size_t>(opt_.requests)) end_ = Clock::now();
    }
  }

  void start() {
    begin_ = Clock::now();
    for (int i = 0; i < opt_.concurrency && sent_ < opt_.requests; ++i) {
      send(ready_[static_cast<std::size_t>(i) % ready_.size()]);
    }
  }
  void send(std::uint64_t conn) {
    auto* session = listener_->session(conn);
    if (session == nullptr) return;
    std::uint32_t id = 0;
    if (session->send_request(request_, true, Clock::now(), id) != core::Errc::ok) return;
    started_[key(conn, id)] = Clock::now();
    ++sent_;
    listener_->wake(conn);
  }

  std::size_t ready() const { return ready_.size(); }
  bool done() const { return latencies_.size() == static_cast<std::size_t>(opt_.requests); }
  void report(const char* label) {
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double p) {
      const auto i = static_cast<std::size_t>(p * static_cast<double>(latencies_.size() - 1));
      return std::chrono::duration<double, std::micro>(latencies_[i]).count();
    };
    const double secs = std::chrono::duration<double>(end_ - begin_).count();
    std::printf(
        "%-4s connections=%-3d concurrency=%-4d requests=%-7ld  %9.0f req/s  "
        "p50 %7.1f us  p99 %7.1f us  p99.9 %7.1f us\n",
        label, opt_.connections, opt_.concurrency, opt_.requests,
        static_cast<double>(opt_.requests) / secs, pct(0.50), pct(0.99), pct(0.999));
  }

 private:
  static std::uint64_t key(std::uint64_t conn, std::uint32_t stream) {
    return (conn << 32) | stream;
  }
  const Options& opt_;
  transport::GatewayListener*& listener_;
  core::Request request_{"GET", "/api/v1/demo/status/200",
                         "",    {{"accept", "*/*"}},
                         "",    30000,
                         "",    "",
                         "",    {},
                         {},    "",
                         "",    "/api/v1/demo/status/{code}"};
  std::vector<std::uint64_t> ready_;
  std::unordered_map<std::uint64_t, Clock::time_point> started_;
  std::vector<Clock::duration> latencies_;
  long sent_ = 0;
  Clock::time_point begin_, end_;
};

int usage() {
  std::fprintf(stderr,
               "usage: stella_roundtrip [--transport tcp|tls] [--connections C] "
               "[--concurrency K] [--requests N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--transport")
      opt.transport = v;
    else if (k == "--connections")
      opt.connections = std::atoi(v.c_str());
    else if (k == "--concurrency")
      opt.concurrency = std::atoi(v.c_str());
    else if (k == "--requests")
      opt.requests = std::atol(v.c_str());
    else
      return usage();
  }
  if ((opt.transport != "tcp" && opt.transport != "tls") || opt.connections < 1 ||
      opt.concurrency < 1 || opt.requests < 1) {
    return usage();
  }

  core::SteadyClock clock;
  asio::io_context gw_io(1), svc_io(1);
  transport::GatewayListener* listener_ptr = nullptr;
  LoadHooks hooks(opt, listener_ptr);
  transport::ListenerSettings settings;
  settings.session.max_in_flight = 100000;
  transport::GatewayListener listener(gw_io.get_executor(), settings, clock, hooks);
  listener_ptr = &listener;
  std::unique_ptr<transport::tls::TlsGatewayListener> tls_listener;
  const auto loopback = asio::ip::make_address("127.0.0.1");
  std::uint16_t port = 0;
  std::optional<transport::tls::ClientTlsSettings> client_tls;
  if (opt.transport == "tcp") {
    if (listener.listen({loopback, 0})) return 1;
    port = listener.local_endpoint().port();
    asio::co_spawn(gw_io, listener.run(), asio::detached);
  } else {
    const auto dir = std::filesystem::temp_directory_path() / "stella-roundtrip-certs";
    std::string error;
    try {
      transport::tls::write_dev_certificates(dir);  // throws at this edge only
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dev certs: %s\n", e.what());
      return 1;
    }
    transport::tls::TlsSettings ts;
    ts.certificate_path = (dir / "gateway.pem").string();
    ts.private_key_path = (dir / "gateway-key.pem").string();
    ts.ca_path = (dir / "ca.pem").string();
    auto ctx = transport::tls::make_server_context(ts, error);
    if (!ctx) {
      std::fprintf(stderr, "tls: %s\n", error.c_str());
      return 1;
    }
    tls_listener = std::make_unique<transport::tls::TlsGatewayListener>(
        gw_io.get_executor(), ctx, listener, transport::tls::TlsListenerSettings{});
    if (tls_listener->listen({loopback, 0})) return 1;
    port = tls_listener->local_endpoint().port();
    asio::co_spawn(gw_io, tls_listener->run(), asio::detached);
    client_tls = transport::tls::ClientTlsSettings{};
    client_tls->ca_path = (dir / "ca.pem").string();
    client_tls->certificate_path = (dir / "client.pem").string();
    client_tls->private_key_path = (dir / "client-key.pem").string();
  }

  std::vector<std::unique_ptr<microservice::Service>> services;
  for (int i = 0; i < opt.connections; ++i) {
    microservice::ServiceOptions so;
    so.name = "demo";
    so.instance_id = "bench-" + std::to_string(i);
    so.tls = client_tls;
    so.log = [](const std::string&) {};
    so.liveness_timeout = std::chrono::seconds(60);
    auto s = std::make_unique<microservice::Service>(svc_io.get_executor(), so, clock, 7 + i);
    microservice::add_demo_endpoints(*s, "demo");
    asio::co_spawn(svc_io, s->run({opt.transport, "127.0.0.1", port}), asio::detached);
    services.push_back(std::move(s));
  }
  auto svc_work = asio::make_work_guard(svc_io);
  std::thread svc_thread([&] { svc_io.run(); });

  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (hooks.ready() < static_cast<std::size_t>(opt.connections) && Clock::now() < deadline) {
    gw_io.run_for(std::chrono::milliseconds(5));
  }
  hooks.start();
  while (!hooks.done() && Clock::now() < deadline)
    gw_io.run_for(std::chrono::milliseconds(50));
  const bool ok = hooks.done();
  if (ok) hooks.report(opt.transport.c_str());
  svc_io.stop();
  svc_thread.join();
  return ok ? 0 : 1;
}
