// The SDK's steady path allocates nothing: once warm, a request to an immediate handler is read,
// answered and written by the service without one heap allocation. The service runs on its own
// thread over a real TCP connection to a gateway listener on the test's thread; only the
// service thread's allocations are counted (this binary's operator new counts per thread).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <functional>
#include <new>
#include <thread>

#include "stella/microservice/demo_service.hpp"
#include "stella/transport/gateway_listener.hpp"

namespace {
thread_local bool t_counting = false;
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// Counts the allocations of a thread while its t_counting is set. The replacement pair uses
// malloc/free on purpose; GCC's -Wmismatched-new-delete cannot see that both halves are replaced.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include <execinfo.h>
#include <unistd.h>
void* operator new(std::size_t n) {
  if (t_counting) {
    if (g_allocations.fetch_add(1, std::memory_order_relaxed) % 997 == 5) {
      t_counting = false;
      void* frames[40];
      int k = backtrace(frames, 40);
      char buf[64];
      int len = snprintf(buf, sizeof buf, "---- alloc %zu\n", n);
      (void)!write(2, buf, static_cast<size_t>(len));
      backtrace_symbols_fd(frames, k, 2);
      t_counting = true;
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace stella::transport {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Hooks final : GatewayHooks {
  bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                std::string&) override {
    for (const auto& e : hello.endpoints)
      ack.accepted.push_back({e.method, e.path});
    connection = conn.id;
    return true;
  }
  void on_event(const ConnectionInfo&, core::GatewayEvent& e) override {
    if (auto* head = std::get_if<core::gw_event::ResponseHead>(&e)) {
      ++answers;
      if (head->response->status != expected_status(head->stream)) ++wrong;
    }
  }
  std::function<std::uint16_t(std::uint32_t)> expected_status;
  std::uint64_t connection = 0;
  std::size_t answers = 0;
  std::size_t wrong = 0;
};

class SdkAlloc : public ::testing::Test {
 protected:
  SdkAlloc() {
    ListenerSettings settings;
    settings.session.node_id = "gw-alloc";
    settings.session.heartbeat_interval = 60s;  // no beats while counting
    settings.session.max_in_flight = 5000;
    hooks.expected_status = [this](std::uint32_t stream) { return expected.at(stream); };
    gateway = std::make_unique<GatewayListener>(gw_io.get_executor(), settings, clock, hooks);
    EXPECT_FALSE(gateway->listen({asio::ip::make_address("127.0.0.1"), 0}));
    asio::co_spawn(gw_io, gateway->run(), asio::detached);

    microservice::ServiceOptions o;
    o.name = "demo";
    o.region = "eu1";
    o.instance_id = "demo-1";
    o.liveness_timeout = 600s;
    o.log = [](const std::string&) {};
    service = std::make_unique<microservice::Service>(svc_io.get_executor(), o, clock, 1);
    microservice::add_demo_endpoints(*service, "demo-1");
    asio::co_spawn(svc_io, service->run({"tcp", "127.0.0.1", gateway->local_endpoint().port()}),
                   asio::detached);
    service_thread = std::thread([this] {
      svc_io.run();
      service_done = true;
    });
  }

  ~SdkAlloc() override {
    asio::post(svc_io, [this] { service->stop(0s); });
    gateway->stop(0s);
    // Until both loops have nothing left (not run_until: it restarts a stopped loop).
    const auto deadline = clock.now() + 10s;
    while (!(service_done && gw_io.stopped()) && clock.now() < deadline)
      gw_io.run_for(10ms);
    service_thread.join();
  }

  bool run_until(const std::function<bool()>& done, core::Duration limit = 20s) {
    const auto deadline = clock.now() + limit;
    while (!done() && clock.now() < deadline) {
      gw_io.run_for(5ms);
      if (gw_io.stopped()) gw_io.restart();
    }
    return done();
  }

  // Runs `fn` on the service's thread and waits for it.
  void on_service_thread(std::function<void()> fn) {
    std::atomic<bool> ran{false};
    asio::post(svc_io, [&] {
      fn();
      ran = true;
    });
    ASSERT_TRUE(run_until([&] { return ran.load(); }));
  }

  // Sends `n` requests, alternating the echo and a status with a path parameter, and waits for
  // their answers.
  void round(int n) {
    core::GatewaySession* session = gateway->session(hooks.connection);
    ASSERT_NE(session, nullptr);
    const std::size_t before = hooks.answers;
    for (int i = 0; i < n; ++i) {
      core::Request r;
      r.method = "GET";
      r.path = i % 2 == 0 ? "/api/v1/demo/echo" : "/api/v1/demo/status/204";
      r.headers = {{"user-agent", "a client that sends a longer header value"}};
      r.correlation_id = "corr-" + std::to_string(i);
      std::uint32_t id = 0;
      ASSERT_EQ(session->send_request(r, true, clock.now(), id), core::Errc::ok);
      expected[id] = i % 2 == 0 ? 200 : 204;
    }
    gateway->wake(hooks.connection);
    ASSERT_TRUE(run_until([&] { return hooks.answers == before + static_cast<std::size_t>(n); }))
        << hooks.answers - before << " of " << n << " answered";
    EXPECT_EQ(hooks.wrong, 0u);
  }

  asio::io_context gw_io;
  asio::io_context svc_io;
  core::SteadyClock clock;
  Hooks hooks;
  std::unordered_map<std::uint32_t, std::uint16_t> expected;
  std::unique_ptr<GatewayListener> gateway;
  std::unique_ptr<microservice::Service> service;
  std::thread service_thread;
  std::atomic<bool> service_done{false};
};

TEST_F(SdkAlloc, WarmImmediateHandlersAllocateNothing) {
  ASSERT_TRUE(run_until([&] { return hooks.connection != 0; }));
  for (int i = 0; i < 20; ++i)
    round(50);  // warm: pools, capacities, Asio's recycled operation memory
  constexpr int kRequests = 2000;
  on_service_thread([] {
    g_allocations = 0;
    t_counting = true;
  });
  for (int i = 0; i < kRequests / 50; ++i)
    round(50);
  on_service_thread([] { t_counting = false; });
  // Nothing per request. (Asio allocates an operation now and then when its two-block cache of
  // recycled memory misses; a coroutine handler costs about ten per request.)
  const std::size_t allocations = g_allocations.load();
  EXPECT_LE(allocations, kRequests / 100u)
      << allocations << " allocations for " << kRequests << " requests";
}

}  // namespace
}  // namespace stella::transport
