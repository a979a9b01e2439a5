// Failures around a request: timeouts, lost and unhealthy instances, clients that leave, and
// graceful shutdown — each with its own gateway so one case cannot disturb another.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

nlohmann::json json_of(const HttpResponse& r) {
  return nlohmann::json::parse(r.body);
}

TEST(Lifecycle, TimeoutIs504AndTheServiceGetsCancel) {
  GatewayRun gw;  // routing.defaultTimeout: 3s
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  const auto s = gw.start_service("demo-timeout");
  ASSERT_TRUE(gw.wait_instances(1));
  auto r =
      http_exchange(gw.http(), get("/api/v1/demo/slow/60000", "X-Correlation-Id: t-504\r\n"), 20s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  const auto j = json_of(*r);
  EXPECT_EQ(j["type"], "https://stella-gw.dev/problems/timeout");
  EXPECT_EQ(j["correlationId"], "t-504");
  EXPECT_TRUE(eventually([&] {
    return gw.service(s).log_contains("cancelled by the gateway (timeout)");
  })) << gw.service(s).log();
}

TEST(Lifecycle, ClientThatLeavesCausesCancel) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok());
  const auto s = gw.start_service("demo-leave");
  ASSERT_TRUE(gw.wait_instances(1));
  {
    Client c(gw.http());
    ASSERT_TRUE(c.send(get("/api/v1/demo/slow/60000")));
    // Wait until the request reached the service, then go away.
    ASSERT_TRUE(gw.wait_in_flight(1)) << gw.gateway_log();
  }
  EXPECT_TRUE(eventually([&] {
    return gw.service(s).log_contains("cancelled by the gateway (client_disconnected)");
  })) << gw.service(s).log();
}

TEST(Lifecycle, InstanceLostBeforeTheResponseIs502) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok());
  const auto s = gw.start_service("demo-victim");
  ASSERT_TRUE(gw.wait_instances(1));
  Client c(gw.http());
  ASSERT_TRUE(c.send(get("/api/v1/demo/slow/60000")));
  ASSERT_TRUE(gw.wait_in_flight(1));  // the request is at the service
  gw.service(s).signal(SIGKILL);
  auto bytes =
      c.read_until([](const std::string& b) { return parse_response(b).has_value(); }, 15s);
  auto r = parse_response(bytes);
  ASSERT_TRUE(r) << bytes;
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(json_of(*r)["type"], "https://stella-gw.dev/problems/instance-lost");
}

TEST(Lifecycle, InstanceLostMidStreamCutsTheConnectionWithoutAFinalChunk) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok());
  const auto s = gw.start_service("demo-stream-victim");
  ASSERT_TRUE(gw.wait_instances(1));
  Client c(gw.http());
  // 100,000 chunks: still streaming when the service dies.
  ASSERT_TRUE(c.send(get("/api/v1/demo/stream/100000")));
  c.read_until([](const std::string& b) { return b.find("chunk 10\n") != std::string::npos; });
  gw.service(s).signal(SIGKILL);
  const auto bytes = c.read_all(15s);
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(bytes.find("\r\n0\r\n\r\n"), std::string::npos)
      << "a truncated body must not look complete";
  EXPECT_EQ(parse_response(bytes), std::nullopt);
}

TEST(Lifecycle, NoHealthyInstanceIs503WithRetryAfter) {
  GatewayRun gw;  // heartbeats every 0.2 s, Unhealthy after 2 misses or 1 s
  ASSERT_TRUE(gw.ok());
  const auto s = gw.start_service("demo-paused");
  ASSERT_TRUE(gw.wait_instances(1));
  gw.service(s).signal(SIGSTOP);
  std::optional<HttpResponse> r;
  EXPECT_TRUE(eventually([&] {
    r = http_exchange(gw.http(), get("/api/v1/demo/echo"), 2s);
    return r && r->status == 503;
  })) << gw.gateway_log();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers["retry-after"], "1");
  EXPECT_EQ(json_of(*r)["type"], "https://stella-gw.dev/problems/no-healthy-instance");
  gw.service(s).signal(SIGCONT);
  EXPECT_TRUE(eventually([&] {
    auto ok = http_exchange(gw.http(), get("/api/v1/demo/echo"), 2s);
    return ok && ok->status == 200;
  }));
}

// A service that stops reading its socket (SIGSTOP) while the gateway has requests to send it:
// once a write makes no progress for transports.tcp.writeTimeout, the connection is closed and
// the instance removed — not kept forever with the gateway's queue for it.
TEST(Lifecycle, AServiceThatStopsReadingIsDisconnected) {
  std::string config = test_config();
  config.replace(config.find("    port: 0\n"), 12, "    port: 0\n    writeTimeout: 1s\n");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  const auto s = gw.start_service("demo-deaf");
  ASSERT_TRUE(gw.wait_instances(1));
  gw.service(s).signal(SIGSTOP);
  // Enough request bytes to fill both socket buffers, sent before the missed heartbeats make
  // the instance unhealthy.
  std::vector<std::unique_ptr<Client>> clients;
  const std::string body(200'000, 'x');
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::make_unique<Client>(gw.http()));
    clients.back()->send("POST /api/v1/demo/echo HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  EXPECT_TRUE(eventually([&] { return gw.gateway().log_contains("write timeout"); }))
      << gw.gateway_log();
  EXPECT_TRUE(gw.wait_instances(0)) << gw.gateway_log();
  auto metrics = http_exchange(gw.http(), get("/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\ngateway_service_write_timeouts_total 1\n"), std::string::npos);
  gw.service(s).signal(SIGCONT);
}

TEST(Lifecycle, GracefulShutdownFinishesInFlightRequests) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok());
  gw.start_service("demo-drain");
  ASSERT_TRUE(gw.wait_instances(1));
  Client busy(gw.http());
  ASSERT_TRUE(busy.send(get("/api/v1/demo/slow/1500")));
  Client idle(gw.http());  // keep-alive, between requests
  ASSERT_TRUE(idle.send(get("/health/live")));
  idle.read_until([](const std::string& b) { return parse_response(b).has_value(); });
  ASSERT_TRUE(gw.wait_in_flight(1));  // the slow request is at the service
  gw.gateway().signal(SIGTERM);
  // The idle connection is closed, the busy one gets its answer with Connection: close.
  idle.read_all(5s);
  EXPECT_TRUE(idle.closed());
  auto r = parse_response(busy.read_all(10s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slept 1500 ms\n");
  EXPECT_EQ(lower(r->headers["connection"]), "close");
  EXPECT_EQ(gw.gateway().wait_exit(15s), 0) << gw.gateway_log();
  EXPECT_NE(gw.gateway_log().find("shutdown complete"), std::string::npos);
  Client late(gw.http());
  EXPECT_FALSE(late.connected());
}

// Pipelined requests already forwarded ahead when shutdown begins are answered, in order; the
// last answer carries Connection: close.
TEST(Lifecycle, GracefulShutdownAnswersPipelinedRequestsForwardedAhead) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok());
  gw.start_service("demo-drain");
  ASSERT_TRUE(gw.wait_instances(1));
  Client busy(gw.http());
  ASSERT_TRUE(busy.send(get("/api/v1/demo/slow/1500") + get("/api/v1/demo/slow/1400") +
                        get("/api/v1/demo/slow/1300")));
  ASSERT_TRUE(gw.wait_in_flight(3));
  gw.gateway().signal(SIGTERM);
  auto got = parse_responses(busy.read_all(10s));
  EXPECT_TRUE(busy.closed());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].body, "slept 1500 ms\n");
  EXPECT_EQ(got[1].body, "slept 1400 ms\n");
  EXPECT_EQ(got[2].body, "slept 1300 ms\n");
  EXPECT_NE(lower(got[0].headers["connection"]), "close");
  EXPECT_NE(lower(got[1].headers["connection"]), "close");
  EXPECT_EQ(lower(got[2].headers["connection"]), "close");
  EXPECT_EQ(gw.gateway().wait_exit(15s), 0) << gw.gateway_log();
}

TEST(Lifecycle, ReadinessTurns503WhileDraining) {
  GatewayRun gw;
  ASSERT_TRUE(gw.ok());
  gw.start_service("demo-ready");
  ASSERT_TRUE(gw.wait_instances(1));
  Client probe(gw.http());
  ASSERT_TRUE(probe.send(get("/api/v1/demo/slow/1500")));  // keeps the drain going
  ASSERT_TRUE(gw.wait_in_flight(1));
  Client keep(gw.http());  // accepted before the signal
  gw.gateway().signal(SIGTERM);
  ASSERT_TRUE(eventually([&] { return gw.gateway().log_contains("shutting down gracefully"); }));
  ASSERT_TRUE(keep.send(get("/health/ready")));
  auto bytes = keep.read_all(5s);
  auto r = parse_response(bytes);
  if (r) {  // the connection may also simply be closed: both refuse new work
    EXPECT_EQ(r->status, 503);
  } else {
    EXPECT_TRUE(keep.closed());
  }
  EXPECT_EQ(gw.gateway().wait_exit(15s), 0);
}

TEST(Lifecycle, BadConfigNamesTheKeyAndExits1) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-e2e-badcfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bad.yaml") << "routing:\n  defaultTimeout: soon\n  nope: 1\n";
  auto [rc, out] = shell(std::string(STELLA_GW_BINARY) + " serve --config " +
                         (dir / "bad.yaml").string() + " 2>&1");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("routing.defaultTimeout"), std::string::npos) << out;
  EXPECT_NE(out.find("routing.nope"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.yaml"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stella::e2e

namespace stella::e2e {
namespace {

// The value of an unlabelled counter on /metrics (-1: no scrape, or no such line).
double counter_value(std::uint16_t port, const std::string& name) {
  auto r = http_exchange(port, get("/metrics"));
  if (!r) return -1;
  const auto at = r->body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(r->body.c_str() + at + name.size() + 2);
}

// 8 client connections × 50 keep-alive requests for distinct items: how many came back 200
// with their own path.
int answered_items(std::uint16_t port) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      Client c(port);
      for (int i = 0; i < 50; ++i) {
        const std::string path = "/api/v1/demo/items/" + std::to_string(t * 1000 + i);
        if (!c.send(get(path))) return;
        auto bytes =
            c.read_until([](const std::string& b) { return parse_response(b).has_value(); });
        auto r = parse_response(bytes);
        if (!r) return;
        c.buffer().erase(0, r->size);
        if (r->status == 200 && nlohmann::json::parse(r->body)["path"] == path) ++ok;
      }
    });
  }
  for (auto& c : clients)
    c.join();
  return ok.load();
}

TEST(MultiWorker, RequestsOnEveryWorkerReachTheServiceAndBack) {
  // Four workers: connections land on several event loops, so requests cross to the transport
  // loop and their answers cross back.
  std::string config = test_config();
  const auto pos = config.find("  workers: 1\n");
  ASSERT_NE(pos, std::string::npos);
  config.replace(pos, 13, "  workers: 4\n");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  EXPECT_NE(gw.gateway_log().find("4 worker(s)"), std::string::npos);
  gw.start_service("demo-mw");
  ASSERT_TRUE(gw.wait_instances(1));
  EXPECT_EQ(answered_items(gw.http()), 400);
  auto stream = http_exchange(gw.http(), get("/api/v1/demo/stream/200"));
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->body.substr(stream->body.size() - 10), "chunk 199\n");
  // One service connection, on one worker: requests read by the three others hop to it.
  EXPECT_GT(counter_value(gw.http(), "gateway_upstream_cross_worker_total"), 0);
}

// A burst of connections queued in the kernel at once (the gateway stopped while they connect)
// is taken in batches per turn of the loop, and every one of them is admitted or refused by
// http.maxConnections as one accepted alone would be: 100 answered, the other 50 closed.
TEST(Accept, AQueuedBurstIsTakenInBatchesWithinTheConnectionLimit) {
  GatewayRun gw(test_config("  maxConnections: 100\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.gateway().signal(SIGSTOP);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 150; ++i) {
    clients.push_back(std::make_unique<Client>(gw.http()));
    ASSERT_TRUE(clients.back()->connected());
    ASSERT_TRUE(clients.back()->send(get("/health/live")));
  }
  gw.gateway().signal(SIGCONT);
  int answered = 0;
  int refused = 0;
  for (auto& c : clients) {
    const std::string bytes = c->read_until(
        [&c](const std::string& b) { return parse_response(b).has_value() || c->closed(); });
    if (const auto r = parse_response(bytes); r && r->status == 200) {
      ++answered;
    } else if (c->closed()) {
      ++refused;
    }
  }
  EXPECT_EQ(answered, 100);
  EXPECT_EQ(refused, 50);
}

TEST(MultiWorker, AServiceConnectedOncePerWorkerIsServedOnEach) {
  // Two workers, and one instance connected twice: the first worker's listener accepts both
  // connections and hands one to each worker (ids name the worker: 2 on worker 0, 3 on 1).
  // Requests on either worker go to the instance's connection on their own worker.
  std::string config = test_config();
  config.replace(config.find("  workers: 1\n"), 13, "  workers: 2\n");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_process({"service", "demo", "--gateway", "tcp://127.0.0.1:" + std::to_string(gw.tcp()),
                    "--instance", "twin", "--region", "local", "--connections", "2"},
                   "twin");
  ASSERT_TRUE(gw.wait_instances(2)) << gw.gateway_log();
  // (The log is written by its own thread: its lines may follow /health/ready.)
  EXPECT_TRUE(eventually([&] {
    const std::string log = gw.gateway_log();
    return log.find("conn 2 ") != std::string::npos && log.find("conn 3 ") != std::string::npos;
  })) << gw.gateway_log();
  EXPECT_EQ(answered_items(gw.http()), 400);  // client connections land on both workers
  auto stream = http_exchange(gw.http(), get("/api/v1/demo/stream/200"));
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->body.substr(stream->body.size() - 10), "chunk 199\n");
  EXPECT_EQ(gw.in_flight(), 0);
  // Every request went out on its own worker's connection of the instance.
  EXPECT_EQ(counter_value(gw.http(), "gateway_upstream_cross_worker_total"), 0);
}

}  // namespace
}  // namespace stella::e2e

namespace stella::e2e {
namespace {

/// gateway_http_read_buffers{state="in_use"} from a scrape (-1 when absent). The gateway serves
/// scrapes less than 250 ms apart from one rendering, so each waits past that first.
double read_buffers_in_use(std::uint16_t port) {
  std::this_thread::sleep_for(300ms);
  auto r = http_exchange(port, get("/metrics"));
  if (!r || r->status != 200) return -1;
  const std::string key = "gateway_http_read_buffers{state=\"in_use\"} ";
  const auto at = r->body.find(key);
  return at == std::string::npos ? -1 : std::stod(r->body.substr(at + key.size()));
}

// An idle keep-alive connection holds no read buffer: after its request is answered the buffer
// goes back to the worker's pool (docs/http.md "Memory"). A connection in the middle of a head
// holds one. The scrape's own connection holds one while it is answered, hence the 1.
TEST(Memory, IdleConnectionsHoldNoReadBuffer) {
  GatewayRun gw;
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 20; ++i) {
    auto c = std::make_unique<Client>(gw.http());
    const char* path = i % 2 ? "/health/live" : "/api/v1/demo/status/200";
    ASSERT_TRUE(c->send(std::string("GET ") + path + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = parse_response(
        c->read_until([](const std::string& b) { return parse_response(b).has_value(); }));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    idle.push_back(std::move(c));
  }
  EXPECT_EQ(read_buffers_in_use(gw.http()), 1);
  Client partial(gw.http());
  ASSERT_TRUE(partial.send("GET /health/live HTTP/1.1\r\nHo"));
  // The partial head is read (and its buffer taken) as soon as it arrives.
  double in_use = 0;
  for (int i = 0; i < 10 && in_use != 2; ++i)
    in_use = read_buffers_in_use(gw.http());
  EXPECT_EQ(in_use, 2);
  ASSERT_TRUE(partial.send("st: t\r\n\r\n"));
  auto r = parse_response(
      partial.read_until([](const std::string& b) { return parse_response(b).has_value(); }));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(read_buffers_in_use(gw.http()), 1);
}

// A forwarded whole answer's head is written by the exchange itself (not Beast): its framing
// per HTTP version and keep-alive, and the service's fields, as docs/http.md says.
TEST(Framing, ForwardedAnswersKeepTheirFramingPerVersion) {
  GatewayRun gw;
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  const auto one = [](Client& c, const std::string& request) {
    c.buffer().clear();
    EXPECT_TRUE(c.send(request));
    c.read_until([](const std::string& b) { return parse_response(b).has_value(); });
    return c.buffer();
  };
  {  // HTTP/1.0 asking for keep-alive: answered 1.0, kept, Connection: keep-alive.
    Client c(gw.http());
    for (int i = 0; i < 2; ++i) {
      const std::string raw = one(c,
                                  "GET /api/v1/demo/status/200 HTTP/1.0\r\nHost: t\r\n"
                                  "Connection: keep-alive\r\n\r\n");
      EXPECT_EQ(raw.compare(0, 17, "HTTP/1.0 200 OK\r\n"), 0) << raw;
      auto r = parse_response(raw);
      ASSERT_TRUE(r) << raw;
      EXPECT_EQ(lower(r->headers["connection"]), "keep-alive");
      EXPECT_EQ(r->headers["content-length"], std::to_string(r->body.size()));
      EXPECT_FALSE(r->headers["x-correlation-id"].empty());
      EXPECT_EQ(r->headers["traceparent"].size(), 55u);
      EXPECT_EQ(r->headers["content-type"], "text/plain; charset=utf-8");
    }
  }
  {  // HTTP/1.0 without keep-alive: no Connection field, closed after the answer.
    Client c(gw.http());
    const std::string raw = one(c, "GET /api/v1/demo/status/200 HTTP/1.0\r\nHost: t\r\n\r\n");
    auto r = parse_response(raw);
    ASSERT_TRUE(r) << raw;
    EXPECT_EQ(r->headers.count("connection"), 0u) << raw;
    c.read_all(5s);
    EXPECT_TRUE(c.closed());
  }
  {  // HTTP/1.1 with Connection: close: said so, then closed.
    Client c(gw.http());
    const std::string raw =
        one(c, "GET /api/v1/demo/status/200 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    auto r = parse_response(raw);
    ASSERT_TRUE(r) << raw;
    EXPECT_EQ(lower(r->headers["connection"]), "close");
    c.read_all(5s);
    EXPECT_TRUE(c.closed());
  }
  {  // HTTP/1.1 kept alive: no Connection field; a status without a name gets its class's.
    Client c(gw.http());
    std::string raw = one(c, "GET /api/v1/demo/status/200 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(parse_response(raw)->headers.count("connection"), 0u) << raw;
    raw = one(c, "GET /api/v1/demo/status/555 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(raw.compare(0, 27, "HTTP/1.1 555 Server Error\r\n"), 0) << raw;
  }
}

}  // namespace
}  // namespace stella::e2e
