// The chaos matrix of docs/operations.md, on real processes: what a client sees when a service
// answers badly, stops, floods the gateway with garbage, or drains under load. The invariant in
// every case: each client request gets exactly one well-formed answer or a clean close, and the
// other services' clients see nothing of it. (Kills before and after the head, a service that
// stops reading, timeouts and shutdown are in lifecycle_e2e_test.cpp; slow clients in
// flow_control_e2e_test.cpp; other certificates in service_identity_e2e_test.cpp.)
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "gateway_run.hpp"
#include "stella/core/frame_codec.hpp"

namespace stella::e2e {
namespace {

TEST(Chaos, EveryInvalidStatusBecomes502AndBodylessStatusesCarryNoBody) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-statuses");
  ASSERT_TRUE(gw.wait_instances(1));
  Client c(gw.http());  // one keep-alive connection through every case
  auto exchange = [&](const std::string& path) {
    c.buffer().clear();
    EXPECT_TRUE(c.send(get(path)));
    const auto bytes =
        c.read_until([](const std::string& b) { return parse_response(b).has_value(); });
    auto r = parse_response(bytes);
    EXPECT_TRUE(r) << path << ": " << bytes;
    if (r) {
      EXPECT_EQ(r->size, bytes.size()) << path << ": bytes after the answer";
    }
    return r.value_or(HttpResponse{});
  };
  for (const int code : {101, 103, 199, 600, 999}) {
    const auto r = exchange("/api/v1/demo/status/" + std::to_string(code));
    EXPECT_EQ(r.status, 502) << code;
    EXPECT_NE(r.body.find("bad-response"), std::string::npos) << r.body;
  }
  for (const int code : {204, 304}) {
    const auto r = exchange("/api/v1/demo/status/" + std::to_string(code));
    EXPECT_EQ(r.status, code);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.headers.count("content-length"), 0u) << code;
    EXPECT_EQ(r.headers.count("transfer-encoding"), 0u) << code;
  }
  EXPECT_EQ(exchange("/api/v1/demo/status/418").status, 418);
  EXPECT_EQ(c.buffer().compare(0, 27, "HTTP/1.1 418 Client Error\r\n"), 0)
      << "no <unknown-status> phrase";
  EXPECT_EQ(exchange("/api/v1/demo/echo").status, 200);  // the connection is still good
  EXPECT_FALSE(c.closed());
  // The log writer flushes on its own thread: wait for the line rather than race it.
  EXPECT_TRUE(eventually([&] {
    return gw.gateway().log_contains("answered status 999: answered 502");
  })) << gw.gateway_log();
}

// SIGSTOP: the request in flight at the stopped instance gets 504 at its timeout, the service
// learns of it (CANCEL) when it resumes, and new requests go to the other instance as soon as
// the missed heartbeats make the stopped one unhealthy.
TEST(Chaos, AStoppedInstanceTimesOutItsRequestAndLosesItsTraffic) {
  GatewayRun gw;  // defaultTimeout 3s, heartbeats every 0.2 s
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  const auto a = gw.start_service("demo-a");
  ASSERT_TRUE(gw.wait_instances(1));
  Client slow(gw.http());
  ASSERT_TRUE(slow.send(get("/api/v1/demo/slow/60000")));  // never done on its own
  ASSERT_TRUE(gw.wait_in_flight(1));
  gw.service(a).signal(SIGSTOP);
  gw.start_service("demo-b");
  ASSERT_TRUE(gw.wait_instances(2));
  ASSERT_TRUE(eventually([&] {
    auto m = http_exchange(gw.http(), get("/metrics"), 2s);
    return m &&
           m->body.find("service_instance=\"demo-a\",health=\"unhealthy\"} 1") != std::string::npos;
  })) << gw.gateway_log();
  for (int i = 0; i < 20; ++i) {
    auto r = http_exchange(gw.http(), get("/api/v1/demo/echo"), 2s);
    ASSERT_TRUE(r && r->status == 200);
    EXPECT_EQ(nlohmann::json::parse(r->body)["instance"], "demo-b");
  }
  const auto bytes =
      slow.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 15s);
  auto r = parse_response(bytes);
  ASSERT_TRUE(r) << bytes;
  EXPECT_EQ(r->status, 504);
  gw.service(a).signal(SIGCONT);
  EXPECT_TRUE(eventually([&] {
    return gw.service(a).log_contains("cancelled by the gateway (timeout)");
  })) << gw.service(a).log();
}

// A peer that completes a HELLO and then sends garbage: the gateway closes that connection with
// a protocol error; the demo service's clients are not disturbed.
TEST(Chaos, AServiceSendingGarbageLosesOnlyItsOwnConnection) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-good");
  ASSERT_TRUE(gw.wait_instances(1));
  core::Hello hello;
  hello.service = "rogue";
  hello.instance_id = "rogue-1";
  hello.region = "local";
  hello.endpoints.push_back({"GET", "/rogue", 0, false, {}, ""});
  Client rogue(gw.tcp());
  ASSERT_TRUE(rogue.send(core::encode_frame(core::Frame{0, 0, hello})));
  ASSERT_TRUE(gw.wait_instances(2)) << gw.gateway_log();
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, ok{0};
  std::thread load([&] {
    while (!stop) {
      auto r = http_exchange(gw.http(), get("/api/v1/demo/echo"), 5s);
      ++(r && r->status == 200 ? ok : bad);
    }
  });
  std::string garbage(1 << 20, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<char>((i * 7919) & 0xff);
  rogue.send(garbage);  // may fail half-way: the gateway closes on the first bad frame
  rogue.read_all(10s);
  EXPECT_TRUE(rogue.closed());
  EXPECT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  std::this_thread::sleep_for(300ms);  // keep the load going past the close
  stop = true;
  load.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_TRUE(eventually([&] { return gw.gateway().log_contains("rogue/rogue-1: gone ("); }))
      << gw.gateway_log();
}

// SIGTERM during load: the instance drains (DRAIN, in-flight requests finish, no new ones), the
// other takes the traffic; no client sees an error.
TEST(Chaos, ADrainUnderLoadLosesNoRequest) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  const auto a = gw.start_service("demo-leaving");
  gw.start_service("demo-staying");
  ASSERT_TRUE(gw.wait_instances(2));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, ok{0};
  std::mutex seen_mu;
  std::string seen;  // the bad answers, for the failure message
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      while (!stop) {
        auto r = http_exchange(gw.http(), get("/api/v1/demo/slow/20"), 10s);
        if (r && r->status == 200) {
          ++ok;
          continue;
        }
        ++bad;
        std::lock_guard lock(seen_mu);
        seen += r ? std::to_string(r->status) + " " + r->body + "\n" : "no answer\n";
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  gw.service(a).signal(SIGTERM);
  EXPECT_EQ(gw.service(a).wait_exit(20s), 0);
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(bad.load(), 0) << seen << gw.gateway_log();
  EXPECT_GT(ok.load(), 20);
}

// routing.maxResponseBodySize: a whole answer over it is 502; a stream that passes it is cut.
TEST(Chaos, AResponseOverTheBodyLimitIs502OrACutStream) {
  GatewayRun gw(test_config("", "  maxResponseBodySize: 100000\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-big");
  ASSERT_TRUE(gw.wait_instances(1));
  auto small = http_exchange(gw.http(), get("/api/v1/demo/bytes/50000"));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(small->body.size(), 50000u);
  const std::string body(150'000, 'b');  // echoed back: a 150 KB answer in one RESPONSE
  auto whole = http_exchange(gw.http(),
                             "POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\n"
                             "Content-Length: 150000\r\n\r\n" +
                                 body);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 502);
  EXPECT_NE(whole->body.find("maxResponseBodySize"), std::string::npos) << whole->body;
  Client c(gw.http());
  ASSERT_TRUE(c.send(get("/api/v1/demo/bytes/400000")));
  const auto bytes = c.read_all(15s);
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(bytes.compare(0, 15, "HTTP/1.1 200 OK"), 0);
  EXPECT_EQ(bytes.find("\r\n0\r\n\r\n"), std::string::npos) << "a cut body must not look complete";
}

}  // namespace
}  // namespace stella::e2e
