// The gateway listener and the SDK over real TCP sockets on 127.0.0.1:0, in one process: one
// io_context, real clock. Waits are on conditions with a deadline, never fixed sleeps.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>

#include "stella/microservice/demo_service.hpp"
#include "stella/transport/gateway_listener.hpp"

namespace stella::transport {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct RecordingHooks final : GatewayHooks {
  bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                std::string&) override {
    for (const auto& e : hello.endpoints)
      ack.accepted.push_back({e.method, e.path});
    hellos.push_back(hello);
    connection = conn.id;
    return true;
  }
  void on_event(const ConnectionInfo&, core::GatewayEvent& e) override { events.push_back(e); }
  template <class T>
  std::vector<T> of() const {
    std::vector<T> out;
    for (const auto& e : events) {
      if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
    }
    return out;
  }
  std::vector<core::Hello> hellos;
  std::vector<core::GatewayEvent> events;
  std::uint64_t connection = 0;
};

class TcpIntegration : public ::testing::Test {
 protected:
  TcpIntegration() {
    ListenerSettings settings;
    settings.session.node_id = "gw-test";
    settings.session.heartbeat_interval = 50ms;
    listener = std::make_unique<GatewayListener>(io.get_executor(), settings, clock, hooks);
    EXPECT_FALSE(listener->listen({asio::ip::make_address("127.0.0.1"), 0}));
    asio::co_spawn(io, listener->run(), asio::detached);
    address = Address{"tcp", "127.0.0.1", listener->local_endpoint().port()};
  }

  std::unique_ptr<microservice::Service> start_service(std::string instance) {
    microservice::ServiceOptions o;
    o.name = "demo";
    o.region = "eu1";
    o.instance_id = std::move(instance);
    o.reconnect_min = 10ms;
    o.reconnect_max = 50ms;
    o.log = [](const std::string&) {};
    auto s = std::make_unique<microservice::Service>(io.get_executor(), o, clock, 42);
    microservice::add_demo_endpoints(*s);
    asio::co_spawn(io, s->run(address), asio::detached);
    return s;
  }

  // Runs the loop until `done()` or the deadline; returns done().
  bool run_until(const std::function<bool()>& done, core::Duration limit = 10s) {
    const auto deadline = clock.now() + limit;
    while (!done() && clock.now() < deadline) {
      io.run_for(5ms);
      if (io.stopped()) io.restart();
    }
    return done();
  }

  asio::io_context io;
  core::SteadyClock clock;
  RecordingHooks hooks;
  std::unique_ptr<GatewayListener> listener;
  Address address;
};

TEST_F(TcpIntegration, RegistersAndHeartbeats) {
  auto service = start_service("demo-1");
  ASSERT_TRUE(run_until([&] { return service->registered(); }));
  ASSERT_EQ(hooks.hellos.size(), 1u);
  EXPECT_EQ(hooks.hellos[0].endpoints.size(), 5u);
  ASSERT_TRUE(run_until([&] { return hooks.of<core::gw_event::HeartbeatAck>().size() >= 3; }));
  const auto acks = hooks.of<core::gw_event::HeartbeatAck>();
  EXPECT_EQ(acks[0].status, core::HealthStatus::healthy);
  EXPECT_GT(acks[0].rtt, core::Duration::zero());
}

}  // namespace
}  // namespace stella::transport
