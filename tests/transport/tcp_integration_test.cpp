// TCP-specific cases beside the conformance suite (conformance_test.cpp): 10,000 multiplexed
// requests, a real service process killed with SIGKILL, a gateway restart, raw garbage on the
// port. Real sockets on 127.0.0.1:0, one io_context, real clock; waits are conditions with a
// deadline, never fixed sleeps.
#include <gtest/gtest.h>

#include "../core/kept_events.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <mutex>
#include <thread>

extern char** environ;

#include "stella/gateway/service_registry.hpp"
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
  void on_event(const ConnectionInfo&, core::GatewayEvent& e) override {
    events.push_back(kept.keep(e));
  }
  template <class T>
  std::vector<T> of() const {
    std::vector<T> out;
    for (const auto& e : events) {
      if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
    }
    return out;
  }
  void clear() { events.clear(); }
  std::vector<core::Hello> hellos;
  core::test_support::KeptViews kept;  // events are looked at after later reads
  std::vector<core::GatewayEvent> events;
  std::uint64_t connection = 0;
};

class TcpIntegration : public ::testing::Test {
 protected:
  TcpIntegration() {
    ListenerSettings settings;
    settings.session.node_id = "gw-test";
    // Short enough to see several beats per test, long enough that a loop busy with 10,000
    // requests under ASan is not taken for a silent gateway (the service allows 3 intervals).
    settings.session.heartbeat_interval = 250ms;
    settings.session.max_in_flight = 20000;
    listener = std::make_unique<GatewayListener>(io.get_executor(), settings, clock, hooks);
    EXPECT_FALSE(listener->listen({asio::ip::make_address("127.0.0.1"), 0}));
    asio::co_spawn(io, listener->run(), asio::detached);
    address = Address{"tcp", "127.0.0.1", listener->local_endpoint().port()};
  }

  std::unique_ptr<microservice::Service> start_service(
      std::string instance, core::Duration liveness = core::Duration::zero()) {
    microservice::ServiceOptions o;
    o.name = "demo";
    o.region = "eu1";
    o.instance_id = std::move(instance);
    o.reconnect_min = 10ms;
    o.reconnect_max = 50ms;
    o.log = [](const std::string&) {};
    o.liveness_timeout = liveness;
    auto s = std::make_unique<microservice::Service>(io.get_executor(), o, clock, 42);
    microservice::add_demo_endpoints(*s, "demo");
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
  EXPECT_EQ(hooks.hellos[0].endpoints.size(), 12u);
  ASSERT_TRUE(run_until([&] { return hooks.of<core::gw_event::HeartbeatAck>().size() >= 3; }));
  const auto acks = hooks.of<core::gw_event::HeartbeatAck>();
  EXPECT_EQ(acks[0].status, core::HealthStatus::healthy);
  EXPECT_GT(acks[0].rtt, core::Duration::zero());
}

core::Request demo_request(std::string path, std::string body = {}) {
  core::Request r;
  r.method = body.empty() ? "GET" : "POST";
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

TEST_F(TcpIntegration, TenThousandMultiplexedRequestsNoCrossTalk) {
  // Both ends share this one thread: while 10,000 handlers run, no heartbeat is read, so the
  // service must not take the busy gateway for a dead one.
  auto service = start_service("demo-1", 60s);
  ASSERT_TRUE(run_until([&] { return service->registered(); }));
  auto* session = listener->session(hooks.connection);
  ASSERT_NE(session, nullptr);
  std::unordered_map<std::uint32_t, std::string> sent;
  for (int i = 0; i < 10000; ++i) {
    std::uint32_t id = 0;
    std::string body = "payload-" + std::to_string(i);
    ASSERT_EQ(session->send_request(demo_request("/api/v1/demo/echo", body), true, clock.now(), id),
              core::Errc::ok);
    sent.emplace(id, std::move(body));
  }
  listener->wake(hooks.connection);
  ASSERT_TRUE(run_until(
      [&] { return hooks.of<core::gw_event::ResponseHead>().size() == sent.size(); }, 60s))
      << hooks.of<core::gw_event::ResponseHead>().size() << " responses, "
      << hooks.of<core::gw_event::StreamFailed>().size() << " failures, "
      << hooks.of<core::gw_event::Closed>().size() << " closes "
      << (hooks.of<core::gw_event::Closed>().empty()
              ? ""
              : std::string(core::errc_name(hooks.of<core::gw_event::Closed>()[0].info.error)) +
                    " " + hooks.of<core::gw_event::Closed>()[0].info.message);
  for (const auto& r : hooks.of<core::gw_event::ResponseHead>()) {
    ASSERT_EQ(r.response->status, 200);
    // Each echo carries its own request's body: no cross-talk between streams.
    const std::string expected = "\"body\":\"" + sent.at(r.stream) + "\"";
    ASSERT_NE(r.response->body.find(expected), std::string::npos) << r.response->body;
  }
}

TEST_F(TcpIntegration, ServiceKilledMidRequestFailsExactlyItsInFlight) {
  const std::string port = std::to_string(listener->local_endpoint().port());
  const std::string gateway = "tcp://127.0.0.1:" + port;
  const char* argv[] = {STELLA_GW_BINARY, "service",    "demo",   "--gateway",
                        gateway.c_str(),  "--instance", "victim", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(
      posix_spawn(&pid, STELLA_GW_BINARY, nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  ASSERT_TRUE(run_until([&] { return hooks.hellos.size() == 1; }, 30s));
  ASSERT_TRUE(run_until([&] {
    return listener->session(hooks.connection) != nullptr &&
           listener->session(hooks.connection)->state() == core::GatewaySession::State::active;
  }));
  auto* session = listener->session(hooks.connection);
  std::uint32_t fast = 0, slow1 = 0, slow2 = 0;
  session->send_request(demo_request("/api/v1/demo/echo"), true, clock.now(), fast);
  session->send_request(demo_request("/api/v1/demo/slow/60000"), true, clock.now(), slow1);
  session->send_request(demo_request("/api/v1/demo/slow/60000"), true, clock.now(), slow2);
  listener->wake(hooks.connection);
  ASSERT_TRUE(run_until([&] { return hooks.of<core::gw_event::ResponseHead>().size() == 1; }));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(run_until([&] { return !hooks.of<core::gw_event::Closed>().empty(); }));
  auto failed = hooks.of<core::gw_event::StreamFailed>();
  ASSERT_EQ(failed.size(), 2u);
  std::vector<std::uint32_t> ids{failed[0].stream, failed[1].stream};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{std::min(slow1, slow2), std::max(slow1, slow2)}));
  EXPECT_EQ(hooks.of<core::gw_event::ResponseHead>()[0].stream, fast);
}

TEST_F(TcpIntegration, ReconnectsAfterTheGatewayRestarts) {
  auto service = start_service("demo-1");
  ASSERT_TRUE(run_until([&] { return service->registered(); }));
  const auto port = listener->local_endpoint().port();
  listener->stop(1s);
  ASSERT_TRUE(run_until([&] { return listener->connections() == 0; }));
  listener.reset();
  ListenerSettings settings;
  settings.session.heartbeat_interval = 50ms;
  listener = std::make_unique<GatewayListener>(io.get_executor(), settings, clock, hooks);
  ASSERT_FALSE(listener->listen({asio::ip::make_address("127.0.0.1"), port}));
  asio::co_spawn(io, listener->run(), asio::detached);
  ASSERT_TRUE(run_until([&] { return hooks.hellos.size() == 2 && service->registered(); }));
  EXPECT_GE(service->connections_made(), 2u);
}

TEST_F(TcpIntegration, MalformedBytesCloseOnlyThatSession) {
  auto service = start_service("demo-1");
  ASSERT_TRUE(run_until([&] { return service->registered(); }));
  // A second client sends garbage.
  asio::ip::tcp::socket rogue(io);
  rogue.connect(listener->local_endpoint());
  const std::string junk = "GET / HTTP/1.1\r\n\r\n";
  asio::write(rogue, asio::buffer(junk));
  ASSERT_TRUE(run_until([&] {
    for (const auto& c : hooks.of<core::gw_event::Closed>()) {
      if (c.info.error == core::Errc::bad_magic) return true;
    }
    return false;
  }));
  // The gateway told the rogue why (DRAIN protocol_error) and closed it.
  std::string reply(256, '\0');
  boost::system::error_code ec;
  const std::size_t n = rogue.read_some(asio::buffer(reply), ec);
  core::Frame f;
  ASSERT_EQ(core::decode_frame(std::string_view(reply.data(), n), f).status,
            core::DecodeStatus::done);
  EXPECT_EQ(std::get<core::Drain>(f.body).code,
            static_cast<std::uint16_t>(core::DrainCode::protocol_error));
  // The well-behaved service is untouched and still answers.
  auto* session = listener->session(hooks.connection);
  ASSERT_NE(session, nullptr);
  std::uint32_t id = 0;
  ASSERT_EQ(session->send_request(demo_request("/api/v1/demo/status/201"), true, clock.now(), id),
            core::Errc::ok);
  listener->wake(hooks.connection);
  ASSERT_TRUE(run_until([&] { return !hooks.of<core::gw_event::ResponseHead>().empty(); }));
  EXPECT_EQ(hooks.of<core::gw_event::ResponseHead>()[0].response->status, 201);
}

// The gateway's registry refuses a template another service already serves, with the reason,
// and the refused service still registers its other endpoints.
struct RegistryHooks final : GatewayHooks {
  explicit RegistryHooks(const core::Clock& c) : clock(c) {}
  bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                std::string& reason) override {
    auto outcome = registry.on_hello(conn.id, hello, clock.now());
    reason = outcome.reason;
    ack = std::move(outcome.ack);
    return outcome.registered;
  }
  void on_event(const ConnectionInfo& conn, core::GatewayEvent& e) override {
    if (std::holds_alternative<core::gw_event::Closed>(e)) registry.on_closed(conn.id);
  }
  const core::Clock& clock;
  gw::ServiceRegistry registry;
};

TEST_F(TcpIntegration, ConflictingTemplateIsRefusedWithTheReason) {
  RegistryHooks registry_hooks(clock);
  GatewayListener gateway(io.get_executor(), ListenerSettings{}, clock, registry_hooks);
  ASSERT_FALSE(gateway.listen({asio::ip::make_address("127.0.0.1"), 0}));
  asio::co_spawn(io, gateway.run(), asio::detached);
  address = Address{"tcp", "127.0.0.1", gateway.local_endpoint().port()};
  auto demo = start_service("demo-1");
  ASSERT_TRUE(run_until([&] { return demo->registered(); }));
  // Another service claims the demo's echo route (same method and shape) and one of its own.
  microservice::ServiceOptions o;
  o.name = "copycat";
  o.instance_id = "copycat-1";
  o.log = [](const std::string&) {};
  microservice::Service copycat(io.get_executor(), o, clock, 3);
  auto echo = [](microservice::RequestContext&) -> asio::awaitable<std::optional<core::Response>> {
    co_return core::Response{};
  };
  copycat.add({"GET", "/api/v1/demo/echo", 0, false, {}, ""}, echo);
  copycat.add({"GET", "/api/v1/copycat/{id}", 0, false, {}, ""}, echo);
  asio::co_spawn(io, copycat.run(address), asio::detached);
  ASSERT_TRUE(run_until([&] { return copycat.registered(); }));
  const auto& ack = *copycat.registration();
  ASSERT_EQ(ack.rejected.size(), 1u);
  EXPECT_EQ(ack.rejected[0].path, "/api/v1/demo/echo");
  EXPECT_EQ(ack.rejected[0].reason, static_cast<std::uint16_t>(core::RejectReason::conflict));
  EXPECT_NE(ack.rejected[0].message.find("demo"), std::string::npos) << ack.rejected[0].message;
  ASSERT_EQ(ack.accepted.size(), 1u);
  EXPECT_EQ(ack.accepted[0].path, "/api/v1/copycat/{id}");
  EXPECT_EQ(registry_hooks.registry.routes().counters().conflicts_total, 1u);
  copycat.stop(0s);
  demo->stop(0s);
  gateway.stop(0s);
  run_until([&] { return gateway.connections() == 0; });
  run_until([] { return false; }, 50ms);
}

// A storm of connections that never say HELLO: beyond max_pending_hellos they are closed at
// once, and a real service still gets in once the silent ones time out or leave.
TEST_F(TcpIntegration, PendingHelloAdmissionIsBounded) {
  ListenerSettings settings;
  settings.max_pending_hellos = 3;
  settings.session.hello_timeout = 300ms;
  RecordingHooks local;
  GatewayListener bounded(io.get_executor(), settings, clock, local);
  ASSERT_FALSE(bounded.listen({asio::ip::make_address("127.0.0.1"), 0}));
  asio::co_spawn(io, bounded.run(), asio::detached);
  std::vector<asio::ip::tcp::socket> silent;
  for (int i = 0; i < 8; ++i) {
    silent.emplace_back(io);
    silent.back().connect(bounded.local_endpoint());
  }
  ASSERT_TRUE(run_until([&] { return bounded.refused_total() == 5; }));
  EXPECT_EQ(bounded.pending_hellos(), 3u);
  // The silent three time out (hello_timeout); then a real service registers.
  ASSERT_TRUE(run_until([&] { return bounded.pending_hellos() == 0; }));
  address = Address{"tcp", "127.0.0.1", bounded.local_endpoint().port()};
  auto service = start_service("late");
  ASSERT_TRUE(run_until([&] { return service->registered(); }));
  EXPECT_EQ(local.hellos.size(), 1u);
  service->stop(0s);
  bounded.stop(0s);
  run_until([&] { return bounded.connections() == 0; });
}

// Thread-safe: the second listener's hooks run on its own thread.
struct IdHooks final : GatewayHooks {
  bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                std::string&) override {
    for (const auto& e : hello.endpoints)
      ack.accepted.push_back({e.method, e.path});
    const std::lock_guard lock(mu);
    ids.push_back(conn.id);
    return true;
  }
  void on_event(const ConnectionInfo&, core::GatewayEvent&) override {}
  std::vector<std::uint64_t> seen() {
    const std::lock_guard lock(mu);
    return ids;
  }
  std::mutex mu;
  std::vector<std::uint64_t> ids;
};

// A gateway with two workers: the first listener accepts and hands connections to both in turn,
// each on its own thread; ids name the listener (id % 2); one Admission counts them together.
TEST_F(TcpIntegration, ListenersSpreadConnectionsAndShareTheirLimits) {
  ListenerSettings settings;
  settings.max_connections = 3;
  settings.id_stride = 2;
  // No timer fires during the test: a service that stops with nothing in flight closes its
  // connection at once (the runner ends when its session closes), not at its next heartbeat.
  settings.session.heartbeat_interval = 1h;
  auto admission = std::make_shared<Admission>(settings);
  IdHooks hooks0, hooks1;
  asio::io_context io1(1);
  settings.id_offset = 0;
  GatewayListener first(io.get_executor(), settings, clock, hooks0, admission);
  settings.id_offset = 1;
  GatewayListener second(io1.get_executor(), settings, clock, hooks1, admission);
  first.spread_over({&first, &second});
  ASSERT_FALSE(first.listen({asio::ip::make_address("127.0.0.1"), 0}));
  asio::co_spawn(io, first.run(), asio::detached);
  auto work = asio::make_work_guard(io1);
  std::thread worker1([&] { io1.run(); });
  address = Address{"tcp", "127.0.0.1", first.local_endpoint().port()};

  std::vector<std::unique_ptr<microservice::Service>> services;
  const auto registered = [&] {
    return std::count_if(services.begin(), services.end(),
                         [](const auto& s) { return s->registered(); });
  };
  for (int i = 0; i < 4; ++i)
    services.push_back(start_service("s" + std::to_string(i)));
  // Three fit (maxConnections counts both listeners); the fourth is refused, and retries.
  ASSERT_TRUE(run_until([&] { return registered() == 3 && first.refused_total() >= 1; }));
  run_until([] { return false; }, 100ms);
  EXPECT_EQ(registered(), 3);
  EXPECT_EQ(admission->connections(), 3u);
  const auto on0 = hooks0.seen(), on1 = hooks1.seen();
  EXPECT_FALSE(on0.empty());
  EXPECT_FALSE(on1.empty());
  for (auto id : on0)
    EXPECT_EQ(id % 2, 0u) << id;
  for (auto id : on1)
    EXPECT_EQ(id % 2, 1u) << id;

  // One leaves (stop(0s): DRAIN, then the connection closes at once): the fourth gets in.
  const auto gone =
      std::find_if(services.begin(), services.end(), [](const auto& s) { return s->registered(); });
  (*gone)->stop(0s);
  // (When the runner kept waiting on its timer, the connection stayed for 10 s here: the wait
  // stops well before.)
  ASSERT_TRUE(run_until(
      [&] {
        return std::all_of(services.begin(), services.end(),
                           [&](const auto& s) { return s == *gone || s->registered(); });
      },
      5s));

  for (auto& s : services)
    s->stop(0s);
  first.stop(0s);
  asio::post(io1, [&] { second.stop(0s); });
  run_until([&] { return admission->connections() == 0; });
  EXPECT_EQ(admission->connections(), 0u);
  EXPECT_EQ(admission->pending_hellos(), 0u);
  work.reset();
  io1.stop();
  worker1.join();
}

}  // namespace
}  // namespace stella::transport

namespace stella::transport {
namespace {

// Pending-HELLO slots are counted per source: an IPv4 address, or an IPv6 /64 (one host holds
// a whole /64, so counting single addresses would not bound it); IPv4-mapped IPv6 is IPv4.
TEST(GatewayListenerSources, Ipv4ByAddressIpv6BySlash64) {
  EXPECT_EQ(GatewayListener::source_of("10.0.0.7:5123"), "10.0.0.7");
  EXPECT_EQ(GatewayListener::source_of("2001:db8:1:2:aaaa::1:443"), "2001:db8:1:2::/64");
  EXPECT_EQ(GatewayListener::source_of("2001:db8:1:2:bbbb::9:80"), "2001:db8:1:2::/64");
  EXPECT_EQ(GatewayListener::source_of("::ffff:10.0.0.7:99"), "10.0.0.7");
  EXPECT_EQ(GatewayListener::source_of("in-memory"), "in-memory");
}

// The HTTP listener sets TCP_NODELAY once, on the acceptor, and relies on the kernel handing it
// to every accepted socket (gateway_server.cpp): if that ever stops holding, small answers
// would wait for Nagle's algorithm.
TEST(Platform, AcceptedSocketsInheritTcpNoDelayFromTheListener) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  acceptor.set_option(asio::ip::tcp::no_delay(true));
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  asio::ip::tcp::socket accepted = acceptor.accept();
  asio::ip::tcp::no_delay option;
  accepted.get_option(option);
  EXPECT_TRUE(option.value());
}

}  // namespace
}  // namespace stella::transport
