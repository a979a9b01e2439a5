// The gateway's TLS port and the SDK over real TLS 1.3 on 127.0.0.1:0, in one process: one
// io_context, real clock, certificates generated at test time. Waits are on conditions with a
// deadline, never fixed sleeps. Each refusal is asserted by its counter and by the absence of a
// registration, next to a control that is accepted under the same listener.
#include <gtest/gtest.h>

#include "../core/kept_events.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>

#include "stella/microservice/demo_service.hpp"
#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tls/tls_gateway_listener.hpp"
#include "tls_test_pki.hpp"

namespace stella::transport::tls {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::Pki;
using testing::TempDir;

struct Hooks final : GatewayHooks {
  bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                std::string&) override {
    for (const auto& e : hello.endpoints)
      ack.accepted.push_back({e.method, e.path});
    hellos.push_back(hello);
    connections.push_back(conn);
    return true;
  }
  void on_event(const ConnectionInfo&, core::GatewayEvent& e) override {
    if (std::holds_alternative<core::gw_event::HeartbeatAck>(e)) ++heartbeat_acks;
    if (std::holds_alternative<core::gw_event::ResponseHead>(e))
      responses.push_back(std::get<core::gw_event::ResponseHead>(kept.keep(e)));
  }
  core::test_support::KeptViews kept;  // responses are looked at after later reads
  std::vector<core::Hello> hellos;
  std::vector<ConnectionInfo> connections;
  std::vector<core::gw_event::ResponseHead> responses;
  std::size_t heartbeat_acks = 0;
};

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

class TlsIntegration : public ::testing::Test {
 protected:
  ~TlsIntegration() override { shutdown(); }

  TlsSettings server_settings(ClientCertificateMode mode = ClientCertificateMode::require) {
    TlsSettings s;
    s.certificate_path = pki.cert("server");
    s.private_key_path = pki.key("server");
    s.ca_path = pki.cert("ca");
    s.client_certificate_mode = mode;
    return s;
  }

  void start_gateway(const TlsSettings& s, std::chrono::milliseconds handshake_timeout = 10s) {
    ListenerSettings ls;
    ls.session.node_id = "gw-test";
    ls.session.heartbeat_interval = 50ms;
    sessions = std::make_unique<GatewayListener>(io.get_executor(), ls, clock, hooks);
    std::string error;
    auto context = make_server_context(s, error);
    ASSERT_TRUE(context) << error;
    TlsListenerSettings tls_settings;
    tls_settings.handshake_timeout = handshake_timeout;
    tls_settings.log = [this](const std::string& line) { gateway_log.push_back(line); };
    listener = std::make_unique<TlsGatewayListener>(io.get_executor(), std::move(context),
                                                    *sessions, tls_settings);
    ASSERT_FALSE(listener->listen({asio::ip::make_address("127.0.0.1"), 0}));
    ++tasks;
    asio::co_spawn(io, listener->run(), [this](std::exception_ptr) { --tasks; });
    address = Address{"tls", "127.0.0.1", listener->local_endpoint().port()};
  }

  ClientTlsSettings client(const std::string& name) {
    ClientTlsSettings c;
    c.ca_path = pki.cert("ca");
    if (!name.empty()) {
      c.certificate_path = pki.cert(name);
      c.private_key_path = pki.key(name);
    }
    return c;
  }

  microservice::Service& start_service(std::string instance, std::optional<ClientTlsSettings> tls,
                                       std::optional<Address> to = std::nullopt) {
    microservice::ServiceOptions o;
    o.name = "demo";
    o.region = "eu1";
    o.instance_id = std::move(instance);
    o.reconnect_min = 10ms;
    o.reconnect_max = 50ms;
    o.tls = std::move(tls);
    o.log = [this](const std::string& line) { service_log.push_back(line); };
    services.push_back(std::make_unique<microservice::Service>(io.get_executor(), o, clock, 42));
    auto& s = *services.back();
    microservice::add_demo_endpoints(s, "demo");
    ++tasks;
    asio::co_spawn(io, s.run(to.value_or(address)), [this](std::exception_ptr) { --tasks; });
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

  // Stops everything and runs until every coroutine has returned, so nothing outlives the
  // objects it points to.
  void shutdown() {
    for (auto& s : services)
      s->stop(0ms);
    if (listener) listener->stop();
    if (sessions) sessions->stop(0ms);
    EXPECT_TRUE(run_until([&] {
      return tasks == 0 && (!sessions || sessions->connections() == 0) &&
             (!listener || listener->pending_handshakes() == 0);
    }));
    services.clear();
  }

  TempDir dir;
  Pki pki{dir.path()};
  asio::io_context io;
  core::SteadyClock clock;
  Hooks hooks;
  std::unique_ptr<GatewayListener> sessions;
  std::unique_ptr<TlsGatewayListener> listener;
  std::vector<std::unique_ptr<microservice::Service>> services;
  std::vector<std::string> gateway_log, service_log;
  int tasks = 0;
  Address address;
};

TEST_F(TlsIntegration, RegistersHeartbeatsAndServesOverMutualTls) {
  start_gateway(server_settings());
  auto& service = start_service("demo-1", client("client"));
  ASSERT_TRUE(run_until([&] { return service.registered(); }))
      << ::testing::PrintToString(service_log);
  ASSERT_EQ(hooks.connections.size(), 1u);
  EXPECT_EQ(hooks.connections[0].client_certificate_sha256, pki.client.thumbprint);
  EXPECT_EQ(hooks.hellos[0].endpoints.size(), 12u);
  ASSERT_TRUE(run_until([&] { return hooks.heartbeat_acks >= 3; }));

  auto* session = sessions->session(hooks.connections[0].id);
  ASSERT_NE(session, nullptr);
  core::Request r;
  r.method = "POST";
  r.path = "/api/v1/demo/echo";
  r.body = "over-tls";
  std::uint32_t id = 0;
  ASSERT_EQ(session->send_request(r, true, clock.now(), id), core::Errc::ok);
  sessions->wake(hooks.connections[0].id);
  ASSERT_TRUE(run_until([&] { return !hooks.responses.empty(); }));
  EXPECT_EQ(hooks.responses[0].response->status, 200);
  EXPECT_NE(hooks.responses[0].response->body.find("over-tls"), std::string::npos);
  EXPECT_EQ(listener->stats().handshakes_completed, 1u);
  EXPECT_EQ(listener->stats().refused(), 0u);
}

TEST_F(TlsIntegration, ServerCertificateFromPkcs12) {
  auto s = server_settings();
  s.certificate_path = pki.server_p12;
  s.private_key_path.clear();
  s.certificate_password = "s3cret";
  start_gateway(s);
  auto& service = start_service("demo-1", client("client"));
  ASSERT_TRUE(run_until([&] { return service.registered(); }));
}

TEST_F(TlsIntegration, ClientCertificateFromAnotherCaIsRefused) {
  start_gateway(server_settings());
  auto& stranger = start_service("stranger", client("stranger"));
  ASSERT_TRUE(run_until([&] { return listener->stats().client_certificate_untrusted >= 2; }));
  EXPECT_TRUE(hooks.hellos.empty());
  EXPECT_FALSE(stranger.registered());
  EXPECT_TRUE(contains(gateway_log, "refused: client_certificate_untrusted"));
  // The same listener accepts a certificate from its CA.
  auto& good = start_service("good", client("client"));
  ASSERT_TRUE(run_until([&] { return good.registered(); }));
  EXPECT_FALSE(stranger.registered());
}

TEST_F(TlsIntegration, ThumbprintAllowList) {
  auto s = server_settings();
  // Upper case with ':' separators, as `openssl x509 -fingerprint -sha256` prints it.
  std::string listed;
  for (std::size_t i = 0; i < pki.client.thumbprint.size(); i += 2) {
    listed += (i ? ":" : "") + pki.client.thumbprint.substr(i, 2);
  }
  for (auto& c : listed)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  s.allowed_client_certificate_thumbprints = {listed};
  start_gateway(s);

  auto& unlisted = start_service("unlisted", client("client2"));
  ASSERT_TRUE(run_until([&] { return listener->stats().thumbprint_refused >= 2; }));
  EXPECT_TRUE(hooks.hellos.empty());
  EXPECT_TRUE(
      contains(gateway_log, "refused: thumbprint_refused (sha256 " + pki.client2.thumbprint + ")"));

  auto& listed_service = start_service("listed", client("client"));
  ASSERT_TRUE(run_until([&] { return listed_service.registered(); }));
  ASSERT_EQ(hooks.connections.size(), 1u);
  EXPECT_EQ(hooks.connections[0].client_certificate_sha256, pki.client.thumbprint);
  EXPECT_EQ(hooks.hellos[0].instance_id, "listed");
  EXPECT_FALSE(unlisted.registered());
}

TEST_F(TlsIntegration, RequireModeRefusesAClientWithoutCertificate) {
  start_gateway(server_settings(ClientCertificateMode::require));
  auto& anonymous = start_service("anonymous", client(""));
  ASSERT_TRUE(run_until([&] { return listener->stats().client_certificate_missing >= 2; }));
  EXPECT_TRUE(hooks.hellos.empty());
  EXPECT_FALSE(anonymous.registered());
}

TEST_F(TlsIntegration, AllowModeAcceptsAClientWithoutCertificate) {
  start_gateway(server_settings(ClientCertificateMode::allow));
  auto& anonymous = start_service("anonymous", client(""));
  ASSERT_TRUE(run_until([&] { return anonymous.registered(); }));
  EXPECT_EQ(hooks.connections[0].client_certificate_sha256, "");
  // ... but a certificate that is sent must still verify.
  start_service("stranger", client("stranger"));
  ASSERT_TRUE(run_until([&] { return listener->stats().client_certificate_untrusted >= 1; }));
  EXPECT_EQ(hooks.hellos.size(), 1u);
}

TEST_F(TlsIntegration, PlainTcpToTheTlsPortFailsCleanlyAndOthersKeepWorking) {
  start_gateway(server_settings());
  auto& good = start_service("good", client("client"));
  ASSERT_TRUE(run_until([&] { return good.registered(); }));
  // The SDK speaking plain TCP frames (a HELLO) to the TLS port.
  auto& plain = start_service("plain", std::nullopt, Address{"tcp", "127.0.0.1", address.port});
  ASSERT_TRUE(run_until([&] { return listener->stats().handshake_failed >= 2; }));
  EXPECT_FALSE(plain.registered());
  EXPECT_TRUE(contains(gateway_log, "refused: handshake_failed"));
  // The established session keeps heartbeating, and new TLS clients are still served.
  const auto acks = hooks.heartbeat_acks;
  ASSERT_TRUE(run_until([&] { return hooks.heartbeat_acks >= acks + 3; }));
  auto& late = start_service("late", client("client"));
  ASSERT_TRUE(run_until([&] { return late.registered(); }));
  EXPECT_TRUE(good.registered());
  EXPECT_EQ(hooks.hellos.size(), 2u);
}

TEST_F(TlsIntegration, AClientThatNeverFinishesTheHandshakeIsClosed) {
  start_gateway(server_settings(), 100ms);
  asio::ip::tcp::socket idle(io);
  boost::system::error_code ec;
  idle.connect({asio::ip::make_address("127.0.0.1"), address.port}, ec);
  ASSERT_FALSE(ec);
  bool closed = false;
  char byte = 0;
  idle.async_read_some(asio::buffer(&byte, 1),
                       [&](boost::system::error_code rec, std::size_t) { closed = bool(rec); });
  ASSERT_TRUE(run_until([&] { return closed; }));
  EXPECT_EQ(listener->stats().handshake_timeout, 1u);
  EXPECT_EQ(listener->pending_handshakes(), 0u);
  EXPECT_TRUE(contains(gateway_log, "refused: handshake_timeout"));
}

TEST_F(TlsIntegration, TheSdkRefusesAGatewayWithTheWrongName) {
  start_gateway(server_settings());
  auto settings = client("client");
  settings.server_name = "gateway.example";
  auto& service = start_service("demo-1", settings);
  ASSERT_TRUE(run_until([&] { return contains(service_log, "certificate verify failed"); }));
  EXPECT_TRUE(contains(service_log, "hostname mismatch"));
  EXPECT_FALSE(service.registered());
  EXPECT_TRUE(hooks.hellos.empty());
}

TEST_F(TlsIntegration, TheSdkRefusesAGatewayFromAnotherCa) {
  start_gateway(server_settings());
  auto settings = client("client");
  settings.ca_path = pki.cert("other-ca");
  auto& service = start_service("demo-1", settings);
  ASSERT_TRUE(run_until([&] { return contains(service_log, "certificate verify failed"); }));
  EXPECT_FALSE(service.registered());
}

TEST_F(TlsIntegration, TheSdkStopsOnUnloadableTlsSettings) {
  start_gateway(server_settings());
  auto settings = client("client");
  settings.private_key_path = pki.key("client2");
  start_service("demo-1", settings);
  ASSERT_TRUE(run_until([&] { return tasks == 1; }));  // run() returned; the listener runs
  EXPECT_TRUE(contains(service_log, "does not match certificate"));
  EXPECT_EQ(listener->stats().accepted, 0u);
}

}  // namespace
}  // namespace stella::transport::tls
