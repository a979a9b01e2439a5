// The transport conformance suite: the same behaviour over TCP, TLS 1.3 (mutual) and the
// in-memory pipe. Gateway listener and SDK services share one io_context; waits are conditions
// with a deadline. Transport-specific cases (kill -9, gateway restart, raw garbage, certificate
// refusals, pipe faults) live beside this file.
#include <gtest/gtest.h>

#include "../core/kept_events.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <unordered_map>

#include "stella/microservice/demo_service.hpp"
#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/inmemory/pipe.hpp"
#include "stella/transport/tls/tls_context.hpp"
#include "stella/transport/tls/tls_gateway_listener.hpp"
#include "tls_test_pki.hpp"

namespace stella::transport {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Recorder final : GatewayHooks {
  bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                std::string&) override {
    for (const auto& e : hello.endpoints)
      ack.accepted.push_back({e.method, e.path});
    connection = conn.id;
    ++hellos;
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
  core::test_support::KeptViews kept;  // events are looked at after later reads
  std::vector<core::GatewayEvent> events;
  std::uint64_t connection = 0;
  int hellos = 0;
};

struct TcpTransport {
  void start(asio::io_context& io, GatewayListener& gateway) {
    ASSERT_FALSE(gateway.listen({asio::ip::make_address("127.0.0.1"), 0}));
    asio::co_spawn(io, gateway.run(), asio::detached);
    address = Address{"tcp", "127.0.0.1", gateway.local_endpoint().port()};
  }
  void run(asio::io_context& io, GatewayListener&, microservice::Service& s) {
    asio::co_spawn(io, s.run(address), asio::detached);
  }
  void configure(microservice::ServiceOptions&) {}
  void stop() {}
  Address address;
};

struct TlsTransport {
  void start(asio::io_context& io, GatewayListener& gateway) {
    tls::TlsSettings s;
    s.certificate_path = pki.cert("server");
    s.private_key_path = pki.key("server");
    s.ca_path = pki.cert("ca");
    std::string error;
    auto context = tls::make_server_context(s, error);
    ASSERT_TRUE(context) << error;
    tls::TlsListenerSettings ls;
    ls.log = [](const std::string&) {};
    listener = std::make_unique<tls::TlsGatewayListener>(io.get_executor(), context, gateway, ls);
    ASSERT_FALSE(listener->listen({asio::ip::make_address("127.0.0.1"), 0}));
    asio::co_spawn(io, listener->run(), asio::detached);
    address = Address{"tls", "127.0.0.1", listener->local_endpoint().port()};
  }
  void run(asio::io_context& io, GatewayListener&, microservice::Service& s) {
    asio::co_spawn(io, s.run(address), asio::detached);
  }
  void configure(microservice::ServiceOptions& o) {
    tls::ClientTlsSettings c;
    c.ca_path = pki.cert("ca");
    c.certificate_path = pki.cert("client");
    c.private_key_path = pki.key("client");
    o.tls = c;
  }
  void stop() {
    if (listener) listener->stop();
  }
  tls::testing::TempDir dir;
  tls::testing::Pki pki{dir.path()};
  std::unique_ptr<tls::TlsGatewayListener> listener;
  Address address;
};

struct MemoryTransport {
  void start(asio::io_context&, GatewayListener&) {}
  void stop() {}
  void run(asio::io_context& io, GatewayListener& gateway, microservice::Service& s) {
    asio::co_spawn(io, s.run_in_memory([&io, &gateway]() -> std::optional<inmemory::MemoryStream> {
      auto [service_end, gateway_end] = inmemory::make_pipe(io.get_executor());
      gateway.adopt<inmemory::MemoryStream>(std::move(gateway_end),
                                            ConnectionInfo{0, "in-memory", ""},
                                            [](inmemory::MemoryStream& m) { m.close(); });
      return std::move(service_end);
    }),
                   asio::detached);
  }
  void configure(microservice::ServiceOptions&) {}
};

template <class Transport>
class Conformance : public ::testing::Test {
 protected:
  Conformance() {
    ListenerSettings settings;
    settings.session.node_id = "gw-conformance";
    settings.session.heartbeat_interval = 250ms;
    settings.session.max_in_flight = 5000;
    gateway = std::make_unique<GatewayListener>(io.get_executor(), settings, clock, hooks);
    transport.start(io, *gateway);
  }

  // Every coroutine ends before the objects it uses are destroyed: stop the services (drain
  // with no grace), the listeners, then run the loop until it has nothing left.
  ~Conformance() override {
    for (auto& s : services)
      s->stop(0s);
    transport.stop();
    gateway->stop(0s);
    const auto deadline = clock.now() + 10s;
    while (!io.stopped() && clock.now() < deadline)
      io.run_for(10ms);
  }

  microservice::Service& start_service(std::string instance) {
    microservice::ServiceOptions o;
    o.name = "demo";
    o.region = "eu1";
    o.instance_id = std::move(instance);
    o.reconnect_min = 10ms;
    o.reconnect_max = 50ms;
    o.liveness_timeout = 60s;  // one thread runs both ends: a busy loop is not a dead gateway
    o.log = [](const std::string&) {};
    transport.configure(o);
    services.push_back(std::make_unique<microservice::Service>(io.get_executor(), o, clock, 5));
    microservice::add_demo_endpoints(*services.back(), "demo");
    if (extra_endpoints) extra_endpoints(*services.back());
    transport.run(io, *gateway, *services.back());
    return *services.back();
  }

  bool run_until(const std::function<bool()>& done, core::Duration limit = 20s) {
    const auto deadline = clock.now() + limit;
    while (!done() && clock.now() < deadline) {
      io.run_for(5ms);
      if (io.stopped()) io.restart();
    }
    return done();
  }

  core::GatewaySession& registered_session() {
    auto& s = start_service("demo-1");
    EXPECT_TRUE(run_until([&] { return s.registered(); }));
    auto* session = gateway->session(hooks.connection);
    EXPECT_NE(session, nullptr);
    return *session;
  }

  std::uint32_t send(core::GatewaySession& session, std::string path, std::string body = {}) {
    core::Request r;
    r.method = body.empty() ? "GET" : "POST";
    r.path = std::move(path);
    r.body = std::move(body);
    std::uint32_t id = 0;
    EXPECT_EQ(session.send_request(r, true, clock.now(), id), core::Errc::ok);
    gateway->wake(hooks.connection);
    return id;
  }

  /// Endpoints added to every service after the demo's.
  std::function<void(microservice::Service&)> extra_endpoints;
  asio::io_context io;
  core::SteadyClock clock;
  Recorder hooks;
  std::unique_ptr<GatewayListener> gateway;
  Transport transport;
  std::vector<std::unique_ptr<microservice::Service>> services;
};

using Transports = ::testing::Types<TcpTransport, TlsTransport, MemoryTransport>;
class TransportNames {
 public:
  template <class T>
  static std::string GetName(int) {
    if (std::is_same_v<T, TcpTransport>) return "tcp";
    if (std::is_same_v<T, TlsTransport>) return "tls";
    return "inmemory";
  }
};
TYPED_TEST_SUITE(Conformance, Transports, TransportNames);

TYPED_TEST(Conformance, RegistersAndMeasuresHeartbeatRtt) {
  this->registered_session();
  EXPECT_EQ(this->hooks.hellos, 1);
  ASSERT_TRUE(this->run_until(
      [&] { return this->hooks.template of<core::gw_event::HeartbeatAck>().size() >= 2; }));
  const auto ack = this->hooks.template of<core::gw_event::HeartbeatAck>()[0];
  EXPECT_EQ(ack.status, core::HealthStatus::healthy);
  EXPECT_GE(ack.rtt, core::Duration::zero());
}

TYPED_TEST(Conformance, MultiplexedRequestsNeverCrossTalk) {
  auto& session = this->registered_session();
  std::unordered_map<std::uint32_t, std::string> sent;
  for (int i = 0; i < 2000; ++i) {
    std::string body = "payload-" + std::to_string(i);
    sent.emplace(this->send(session, "/api/v1/demo/echo", body), body);
  }
  ASSERT_TRUE(this->run_until(
      [&] { return this->hooks.template of<core::gw_event::ResponseHead>().size() == sent.size(); },
      60s));
  for (const auto& r : this->hooks.template of<core::gw_event::ResponseHead>()) {
    ASSERT_NE(r.response->body.find("\"body\":\"" + sent.at(r.stream) + "\""), std::string::npos);
  }
}

TYPED_TEST(Conformance, CancelReachesTheHandler) {
  auto& session = this->registered_session();
  const auto id = this->send(session, "/api/v1/demo/slow/60000");
  ASSERT_TRUE(this->run_until([&] {
    const auto acks = this->hooks.template of<core::gw_event::HeartbeatAck>();
    return !acks.empty() && acks.back().in_flight == 1;
  }));
  ASSERT_EQ(session.cancel(id, core::CancelReason::client_disconnected), core::Errc::ok);
  this->gateway->wake(this->hooks.connection);
  const auto before = this->hooks.template of<core::gw_event::HeartbeatAck>().size();
  ASSERT_TRUE(this->run_until([&] {
    const auto acks = this->hooks.template of<core::gw_event::HeartbeatAck>();
    return acks.size() > before && acks.back().in_flight == 0;
  }));
  EXPECT_TRUE(this->hooks.template of<core::gw_event::ResponseHead>().empty());
}

TYPED_TEST(Conformance, StreamedResponseArrivesInOrder) {
  auto& session = this->registered_session();
  this->send(session, "/api/v1/demo/stream/40");
  ASSERT_TRUE(this->run_until([&] {
    const auto chunks = this->hooks.template of<core::gw_event::ResponseData>();
    return !chunks.empty() && chunks.back().end_stream;
  }));
  const auto chunks = this->hooks.template of<core::gw_event::ResponseData>();
  ASSERT_EQ(chunks.size(), 40u);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].data, "chunk " + std::to_string(i) + "\n");
  }
}

// A request body streamed to an endpoint that reads it as it comes (the demo's sink), under the
// window the SDK announced: the gateway sends while the window is above zero and waits for the
// service's CREDIT otherwise; the handler counts every byte, in order.
TYPED_TEST(Conformance, StreamedRequestBodyFlowsUnderTheServicesCredit) {
  auto& session = this->registered_session();
  core::Request r;
  r.method = "POST";
  r.path = "/api/v1/demo/sink";
  r.body = std::string(1000, 'i');  // the inline part
  std::uint32_t id = 0;
  ASSERT_EQ(session.send_request(r, false, this->clock.now(), id), core::Errc::ok);
  const std::int64_t window = microservice::ServiceOptions{}.request_window;
  EXPECT_EQ(session.request_window(id), window);
  const std::string chunk(64 * 1024, 'c');
  constexpr int kChunks = 40;  // 2.5 MiB: ten windows
  std::size_t waits = 0;
  for (int i = 0; i < kChunks; ++i) {
    if (session.request_window(id) <= 0) {
      ++waits;
      ASSERT_TRUE(this->run_until([&] { return session.request_window(id) > 0; }))
          << "no CREDIT after " << i << " chunks";
    }
    ASSERT_EQ(session.send_request_data(id, chunk, i + 1 == kChunks), core::Errc::ok);
    this->gateway->wake(this->hooks.connection);
  }
  EXPECT_GE(waits, 5u);  // the window, not the queue, paced the body
  ASSERT_TRUE(this->run_until(
      [&] { return !this->hooks.template of<core::gw_event::ResponseHead>().empty(); }));
  const auto heads = this->hooks.template of<core::gw_event::ResponseHead>();
  EXPECT_EQ(heads[0].response->status, 200);
  EXPECT_NE(heads[0].response->body.find("\"bytes\":" + std::to_string(1000 + kChunks * 64 * 1024)),
            std::string::npos)
      << heads[0].response->body;
  EXPECT_FALSE(this->hooks.template of<core::gw_event::RequestCredit>().empty());
}

TYPED_TEST(Conformance, DrainFinishesInFlightAndRefusesNew) {
  auto& session = this->registered_session();
  const auto id = this->send(session, "/api/v1/demo/slow/150");
  this->run_until([] { return false; }, 30ms);
  this->services[0]->stop(5s);
  ASSERT_TRUE(this->run_until(
      [&] { return !this->hooks.template of<core::gw_event::PeerDraining>().empty(); }));
  core::Request r;
  r.method = "GET";
  r.path = "/api/v1/demo/echo";
  std::uint32_t refused = 0;
  EXPECT_EQ(session.send_request(r, true, this->clock.now(), refused),
            core::Errc::session_not_ready);
  ASSERT_TRUE(
      this->run_until([&] { return !this->hooks.template of<core::gw_event::Closed>().empty(); }));
  const auto responses = this->hooks.template of<core::gw_event::ResponseHead>();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].stream, id);
  EXPECT_TRUE(this->hooks.template of<core::gw_event::StreamFailed>().empty());
}

}  // namespace
}  // namespace stella::transport

namespace stella::transport {
namespace {

// Fault hooks of the in-memory pipe: a reset mid-stream fails exactly the open streams of that
// connection; a partition silences heartbeats until it heals.
class MemoryFaults : public Conformance<MemoryTransport> {
 protected:
  inmemory::MemoryStream* gateway_end = nullptr;
  std::optional<inmemory::MemoryStream> kept;

  void start_faulty_service() {
    microservice::ServiceOptions o;
    o.name = "demo";
    o.instance_id = "faulty";
    o.reconnect_min = 1s;  // stay away after the fault, so the test sees one connection's end
    o.reconnect_max = 1s;
    o.liveness_timeout = 60s;
    o.log = [](const std::string&) {};
    services.push_back(std::make_unique<microservice::Service>(io.get_executor(), o, clock, 9));
    microservice::add_demo_endpoints(*services.back(), "demo");
    asio::co_spawn(
        io, services.back()->run_in_memory([this]() -> std::optional<inmemory::MemoryStream> {
          auto [service_end, gw_end] = inmemory::make_pipe(io.get_executor());
          kept.emplace(gw_end);  // a second handle on the gateway's end, for faults
          gateway->adopt<inmemory::MemoryStream>(std::move(gw_end),
                                                 ConnectionInfo{0, "in-memory", ""},
                                                 [](inmemory::MemoryStream& m) { m.close(); });
          return std::move(service_end);
        }),
        asio::detached);
  }
};

TEST_F(MemoryFaults, ResetMidStreamFailsExactlyTheOpenStreams) {
  start_faulty_service();
  ASSERT_TRUE(run_until([&] { return services[0]->registered(); }));
  auto* session = gateway->session(hooks.connection);
  ASSERT_NE(session, nullptr);
  const auto fast = send(*session, "/api/v1/demo/echo");
  ASSERT_TRUE(run_until([&] { return hooks.of<core::gw_event::ResponseHead>().size() == 1; }));
  const auto slow = send(*session, "/api/v1/demo/slow/60000");
  run_until([] { return false; }, 20ms);
  kept->fail_operation(1);              // the gateway's next read or write fails: connection reset
  send(*session, "/api/v1/demo/echo");  // this write trips the fault
  ASSERT_TRUE(run_until([&] { return !hooks.of<core::gw_event::Closed>().empty(); }));
  const auto failed = hooks.of<core::gw_event::StreamFailed>();
  ASSERT_EQ(failed.size(), 2u);  // the slow request and the one whose write failed
  for (const auto& f : failed)
    EXPECT_NE(f.stream, fast);
  EXPECT_TRUE(failed[0].stream == slow || failed[1].stream == slow);
}

TEST_F(MemoryFaults, PartitionSilencesHeartbeatsUntilHealed) {
  start_faulty_service();
  ASSERT_TRUE(run_until([&] { return services[0]->registered(); }));
  kept->partition(true);  // what the gateway writes is held back
  ASSERT_TRUE(run_until([&] { return hooks.of<core::gw_event::HeartbeatMissed>().size() >= 2; }));
  const auto acks_during = hooks.of<core::gw_event::HeartbeatAck>().size();
  kept->partition(false);
  ASSERT_TRUE(
      run_until([&] { return hooks.of<core::gw_event::HeartbeatAck>().size() > acks_during; }));
  EXPECT_TRUE(hooks.of<core::gw_event::Closed>().empty());
}

}  // namespace
}  // namespace stella::transport

namespace stella::transport {
namespace {

// The SDK answers every request at once, whatever its handler does (issue: a client must never
// wait for the gateway's timeout because the service could not answer).
TYPED_TEST(Conformance, EveryRequestIsAnsweredWhateverTheHandlerDoes) {
  this->extra_endpoints = [](microservice::Service& s) {
    using Ctx = microservice::RequestContext;
    using Result = asio::awaitable<std::optional<core::Response>>;
    s.add({"GET", "/t/throw-empty", 0, false, {}, ""}, [](Ctx&) -> Result {
      throw std::runtime_error("");
      co_return std::nullopt;
    });
    s.add({"GET", "/t/throw-other", 0, false, {}, ""}, [](Ctx&) -> Result {
      throw 42;
      co_return std::nullopt;
    });
    s.add({"GET", "/t/too-large", 0, false, {}, ""}, [](Ctx&) -> Result {
      co_return core::Response{200, {}, std::string(core::FrameLimits{}.max_payload + 1, 'x')};
    });
    s.add({"GET", "/t/bad-header", 0, false, {}, ""}, [](Ctx&) -> Result {
      core::Response r{200, {}, "ok"};
      r.headers.push_back({"x-big", std::string(core::FrameLimits{}.max_payload, 'h')});
      co_return r;
    });
    s.add({"GET", "/t/forgot", 0, true, {}, ""}, [](Ctx&) -> Result { co_return std::nullopt; });
    s.add({"GET", "/t/stream-throws", 0, true, {}, ""}, [](Ctx& ctx) -> Result {
      core::Response head{200, {}, {}};
      co_await ctx.send_head(std::move(head));
      throw std::runtime_error("midway");
    });
    s.add({"GET", "/t/huge-chunk", 0, true, {}, ""}, [](Ctx& ctx) -> Result {
      core::Response head{200, {}, {}};
      co_await ctx.send_head(std::move(head));
      const std::string big(core::FrameLimits{}.max_payload + 1, 'c');
      co_await ctx.send_chunk(big, true);
      co_return std::nullopt;
    });
  };
  auto& session = this->registered_session();
  const auto throw_empty = this->send(session, "/t/throw-empty");
  const auto throw_other = this->send(session, "/t/throw-other");
  const auto too_large = this->send(session, "/t/too-large");
  const auto bad_header = this->send(session, "/t/bad-header");
  const auto forgot = this->send(session, "/t/forgot");
  const auto stream_throws = this->send(session, "/t/stream-throws");
  const auto huge_chunk = this->send(session, "/t/huge-chunk");
  auto answered = [&](std::uint32_t id) {
    for (const auto& h : this->hooks.template of<core::gw_event::ResponseHead>())
      if (h.stream == id && h.end_stream) return h.response->status;
    for (const auto& f : this->hooks.template of<core::gw_event::StreamFailed>())
      if (f.stream == id) return static_cast<std::uint16_t>(f.service_cancel == 5 ? 1 : 2);
    return std::uint16_t{0};
  };
  // Well within the gateway's request timeout: the answers come at once.
  ASSERT_TRUE(this->run_until(
      [&] {
        for (auto id :
             {throw_empty, throw_other, too_large, bad_header, forgot, stream_throws, huge_chunk})
          if (answered(id) == 0) return false;
        return true;
      },
      5s));
  EXPECT_EQ(answered(throw_empty), 500);  // a throwing handler: 500 before its head
  EXPECT_EQ(answered(throw_other), 500);
  EXPECT_EQ(answered(too_large), 1);  // cannot be encoded: CANCEL handler_failed → 502
  EXPECT_EQ(answered(bad_header), 1);
  EXPECT_EQ(answered(forgot), 1);         // returned without answering
  EXPECT_EQ(answered(stream_throws), 1);  // head sent, then threw: the stream is cut
  EXPECT_EQ(answered(huge_chunk), 1);
  // The connection survives all of it.
  const auto after = this->send(session, "/api/v1/demo/echo");
  ASSERT_TRUE(this->run_until([&] { return answered(after) == 200; }));
}

// Immediate handlers: answered inline, with their path parameters and their whole (collected)
// body, through the Reply the SDK reuses — an answer never carries an earlier one's headers or
// body; a throwing one answers 500, one that cannot be sent is aborted.
TYPED_TEST(Conformance, ImmediateHandlersAnswerWithTheirOwnReply) {
  this->extra_endpoints = [](microservice::Service& s) {
    using Ctx = microservice::RequestContext;
    s.add({"GET", "/t/now/{word}", 0, false, {}, ""},
          [](const Ctx& ctx, microservice::Reply& reply) {
            const std::string_view word = ctx.param("word").value_or("?");
            reply.header("x-first", word);
            if (word == "two") reply.header("x-second", "a value longer than a short string");
            if (word == "teapot") reply.status(418);
            reply.body().append(word).append(":").append(ctx.request().body);
          });
    s.add({"POST", "/t/now-body", 0, false, {}, ""},
          [](const Ctx& ctx, microservice::Reply& reply) {
            reply.body() = std::to_string(ctx.request().body.size());
          });
    s.add({"GET", "/t/now-throws", 0, false, {}, ""}, [](const Ctx&, microservice::Reply& reply) {
      reply.header("x-half", "written");
      throw std::runtime_error("inline");
    });
    s.add({"GET", "/t/now-too-large", 0, false, {}, ""},
          [](const Ctx&, microservice::Reply& reply) {
            reply.body().assign(core::FrameLimits{}.max_payload + 1, 'x');
          });
  };
  auto& session = this->registered_session();
  const auto two = this->send(session, "/t/now/two");
  const auto one = this->send(session, "/t/now/one");
  const auto teapot = this->send(session, "/t/now/teapot");
  const auto throws = this->send(session, "/t/now-throws");
  const auto too_large = this->send(session, "/t/now-too-large");
  const auto after = this->send(session, "/t/now/after");
  // A body that streams in is collected before the handler runs.
  core::Request r;
  r.method = "POST";
  r.path = "/t/now-body";
  r.body = std::string(1000, 'i');
  std::uint32_t streamed = 0;
  ASSERT_EQ(session.send_request(r, false, this->clock.now(), streamed), core::Errc::ok);
  ASSERT_EQ(session.send_request_data(streamed, std::string(70000, 'c'), true), core::Errc::ok);
  this->gateway->wake(this->hooks.connection);
  auto head = [&](std::uint32_t id) -> std::optional<core::Response> {
    for (const auto& h : this->hooks.template of<core::gw_event::ResponseHead>())
      if (h.stream == id) return h.response->to_owned();
    return std::nullopt;
  };
  auto failed = [&](std::uint32_t id) {
    for (const auto& f : this->hooks.template of<core::gw_event::StreamFailed>())
      if (f.stream == id) return true;
    return false;
  };
  ASSERT_TRUE(this->run_until([&] {
    for (auto id : {two, one, teapot, throws, after, streamed})
      if (!head(id)) return false;
    return failed(too_large);
  }));
  using Headers = std::vector<core::Header>;
  const core::Response h2 = *head(two);
  EXPECT_EQ(h2.status, 200);
  EXPECT_EQ(h2.headers,
            (Headers{{"x-first", "two"}, {"x-second", "a value longer than a short string"}}));
  EXPECT_EQ(h2.body, "two:");
  const core::Response h1 = *head(one);
  EXPECT_EQ(h1.headers, (Headers{{"x-first", "one"}}));
  EXPECT_EQ(h1.body, "one:");
  EXPECT_EQ(head(teapot)->status, 418);
  EXPECT_EQ(head(throws)->status, 500);
  EXPECT_EQ(head(throws)->headers, (Headers{{"content-type", "application/problem+json"}}));
  EXPECT_EQ(head(after)->status, 200);  // the 418 and the 500 did not stay
  EXPECT_EQ(head(after)->headers, (Headers{{"x-first", "after"}}));
  EXPECT_EQ(head(streamed)->body, "71000");
}

}  // namespace
}  // namespace stella::transport
