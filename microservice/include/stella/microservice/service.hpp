// The microservice SDK: declare a service and its endpoints with async handlers (or immediate
// ones, for answers that need no waiting), connect to the gateway over TCP or TLS (mutual TLS
// when a client certificate is configured), and serve.
// Reconnects with exponential backoff and full jitter; answers heartbeats with its own health; a
// CANCEL from the gateway cancels the handler's coroutine (its cancellation slot fires); drains
// gracefully on stop().
//
// One Service runs on one executor (a single-threaded io_context is the intended use); coroutine
// handlers run on it, many at once on one connection; immediate handlers run inline, one at a
// time, as their requests are read.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/core/credit.hpp"
#include "stella/core/path_matcher.hpp"
#include "stella/core/service_session.hpp"
#include "stella/transport/address.hpp"
#include "stella/transport/inmemory/pipe.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::transport::tls {
class TlsConnector;
}

namespace stella::microservice {

namespace asio = boost::asio;

class Service;

/// What a handler sees. Valid until the handler's coroutine completes.
class RequestContext {
 public:
  const core::Request& request() const noexcept { return request_; }
  /// A path parameter of the matched template ("id" in /scans/{id}).
  std::optional<std::string_view> param(std::string_view name) const noexcept;
  std::uint32_t stream() const noexcept { return stream_; }
  /// True once the gateway cancelled this request (timeout, client gone).
  bool cancelled() const noexcept { return cancelled_; }

  /// Streaming: send the response head now, then chunks; the handler then returns
  /// std::nullopt. send_chunk waits while the gateway has granted this stream no window (CREDIT,
  /// docs/protocol.md §8.2) or the connection's outbound queue is above its high-water mark, so
  /// a slow client or a slow gateway slows the handler instead of growing memory. Errors:
  /// unknown_stream (cancelled), session_closed; any other error aborts the stream (the client
  /// gets 502 or a cut stream).
  asio::awaitable<core::Errc> send_head(core::Response head);
  asio::awaitable<core::Errc> send_chunk(std::string_view data, bool end_stream);

  /// Endpoints added with RequestBody::stream: the next piece of the request body, in order
  /// (the part that came inline in the REQUEST first); std::nullopt when there is no more —
  /// then body_complete() tells whether the body ended or was cut (the request was cancelled,
  /// the connection lost, or the handler sent its response head before the body ended: the
  /// gateway forwards no more body once it has the head, so read the body first). Each piece
  /// taken grants the gateway that much more window (CREDIT), so a handler that reads slowly
  /// slows the uploading client instead of growing memory. For other endpoints the whole body
  /// is in request().body and this returns std::nullopt.
  asio::awaitable<std::optional<std::string>> read_body();
  /// The whole request body arrived and read_body() has returned all of it (always true for
  /// RequestBody::collect endpoints).
  bool body_complete() const noexcept {
    return body_complete_ && body_.empty() && (!body_streams_ || request_.body.empty());
  }

 private:
  friend class Service;
  /// Marks it cancelled and, once its handler runs, fires the handler's cancellation slot.
  void cancel();
  /// A piece of a streamed request body arrived (Service, on its executor).
  void push_body(std::string data, bool end);
  Service* service_ = nullptr;
  bool started_ = false;  // its handler coroutine has had its first turn
  std::uint32_t stream_ = 0;
  std::uint64_t generation_ = 0;
  core::Request request_;
  std::vector<std::pair<std::string, std::string>> params_;
  bool cancelled_ = false;
  // RequestBody::stream endpoints: pieces not yet taken by read_body(), and whether the last
  // one has arrived; the timer (never expiring) wakes a waiting read_body().
  bool body_streams_ = false;
  std::deque<std::string> body_;
  std::size_t body_queued_ = 0;  // bytes in body_
  bool body_complete_ = true;
  std::optional<asio::steady_timer> body_ready_;
  core::CreditBatcher credit_;  // request bytes taken, granted back in batches
  // Owned here: the handler's coroutine frame keeps a slot of this signal until it is destroyed,
  // so the signal must outlive the coroutine (the spawn's completion handler holds the context).
  asio::cancellation_signal cancel_;
};

/// A handler returns the whole response, or std::nullopt after streaming it via the context.
using Handler = std::function<asio::awaitable<std::optional<core::Response>>(RequestContext&)>;

/// What an immediate handler writes its answer into. The Service keeps one and reuses it from
/// request to request: each answer starts with status 200, no headers and an empty body, but
/// header() assigns into the entries of earlier answers and body() keeps its capacity, so once
/// the strings have grown an answer allocates nothing.
class Reply {
 public:
  void status(std::uint16_t code) noexcept { response_.status = code; }
  /// Adds a header (lower-case names, as in core::Response).
  void header(std::string_view name, std::string_view value);
  /// The body, empty at the start of each answer.
  std::string& body() noexcept { return response_.body; }

 private:
  friend class Service;
  /// Starts the next answer: status 200, no headers (their entries kept), the body emptied.
  void reset() noexcept;
  /// The answer as written: drops the kept entries this one did not use.
  const core::Response& finish();
  core::Response response_;
  std::size_t headers_ = 0;  // entries of response_.headers this answer has written
};

/// A handler that answers at once, without waiting on anything: it runs inline, in the
/// connection's loop, as the REQUEST (with its whole body) is read, with no coroutine of its own,
/// and writes its answer into `reply`. The cheapest kind of endpoint: no allocation per request
/// once warm. It must not block (it holds up every other request of the connection); it cannot
/// stream (the context is const) and is never cancelled (it is done before a CANCEL could be
/// read). An exception from it answers 500, as for a Handler.
using ImmediateHandler = std::function<void(const RequestContext&, Reply&)>;

/// How an endpoint receives a request body that streams in (STREAM_DATA). collect: the SDK
/// gathers it (up to ServiceOptions::max_request_body) and runs the handler with the whole body
/// in request().body. stream: the handler runs at once and takes the body with
/// RequestContext::read_body(), at its own pace (uploads of any size).
enum class RequestBody : std::uint8_t { collect, stream };

struct ServiceOptions {
  std::string name;
  std::string version = "1.0.0";
  std::string region;
  std::string instance_id;
  std::uint32_t max_in_flight = 0;  // announced in HELLO; 0 = no stated limit
  core::Duration reconnect_min = std::chrono::milliseconds(100);
  core::Duration reconnect_max = std::chrono::seconds(10);
  std::size_t high_water_bytes = 1024 * 1024;  // outbound queue level that pauses streaming
  /// A request body streamed in (STREAM_DATA) to a RequestBody::collect endpoint is collected
  /// before the handler runs; past this size the stream is aborted (CANCEL handler_failed → the
  /// client gets 502) instead of growing. For stream endpoints it bounds what is queued unread
  /// (only reached when request_window is 0).
  std::size_t max_request_body = 64 * 1024 * 1024;
  /// Announced in HELLO: request-body bytes per stream the gateway sends before it waits for
  /// CREDIT; the SDK grants more as bodies are collected or read. 0: no credit (the gateway
  /// sends as fast as the client uploads, bounded by its output queue).
  std::uint32_t request_window = 256 * 1024;
  /// Gateway silence after which the connection counts as dead and is re-established;
  /// 0: three heartbeat intervals as announced by the gateway.
  core::Duration liveness_timeout = core::Duration::zero();
  core::FrameLimits limits;
  /// For tls:// gateways: the CA bundle that verifies the gateway, the client certificate (mTLS)
  /// and the handshake timeout. nullopt: the system CA store, no client certificate.
  std::optional<transport::tls::ClientTlsSettings> tls;
  /// Log sink for connection lifecycle lines; defaults to stderr.
  std::function<void(const std::string&)> log;
};

class Service {
 public:
  Service(asio::any_io_executor executor, ServiceOptions options, const core::Clock& clock,
          std::uint64_t seed);
  ~Service();

  /// Declares an endpoint. Returns false (and logs why) for a malformed template or a duplicate.
  bool add(core::EndpointDescriptor endpoint, Handler handler,
           RequestBody body = RequestBody::collect);
  /// Declares an endpoint described by an OpenAPI 3.1 Operation Object (summary, parameters,
  /// requestBody, responses, ...), sent in HELLO for the gateway's /openapi.json. Its `$ref`s
  /// name this service's components (openapi_components) as `#/components/<type>/<Name>`;
  /// the gateway renames them into the service's namespace. docs/openapi.md.
  bool add(core::EndpointDescriptor endpoint, const nlohmann::json& operation, Handler handler,
           RequestBody body = RequestBody::collect);
  /// Declares an endpoint answered by an immediate handler (its body always collected first).
  bool add(core::EndpointDescriptor endpoint, ImmediateHandler handler);
  bool add(core::EndpointDescriptor endpoint, const nlohmann::json& operation,
           ImmediateHandler handler);
  /// Components (schemas, responses, parameters, ...) the operations refer to, as an OpenAPI
  /// Components Object. Sent once per HELLO (with the first endpoint, as x-stella-components).
  void openapi_components(const nlohmann::json& components);

  /// Connects (and reconnects) to `gateway` until stop(): plain TCP for tcp://, TLS 1.3 for
  /// tls://. Never throws for network or TLS errors (they are logged and retried with backoff).
  /// Returns at once, after logging why, when the TLS settings cannot be loaded (missing file,
  /// wrong password, ...): retrying cannot fix configuration.
  asio::awaitable<void> run(transport::Address gateway);
  /// As run(), over in-process pipes: `connect` returns this service's end of a new pipe (the
  /// gateway adopts the other end), or nullopt when the gateway is unreachable. For tests and
  /// the simulator.
  using MemoryConnector = std::function<std::optional<transport::inmemory::MemoryStream>()>;
  asio::awaitable<void> run_in_memory(MemoryConnector connect);
  /// Graceful shutdown: DRAIN, let in-flight handlers finish within `timeout`, close, return
  /// from run().
  void stop(core::Duration timeout = std::chrono::seconds(30));

  void set_health(core::HealthStatus status);
  /// Registered endpoints as the gateway acknowledged them, for the current connection.
  bool registered() const noexcept { return registered_; }
  /// The gateway's answer to the current connection's HELLO (accepted and refused endpoints with
  /// reasons); nullopt before the first HELLO_ACK.
  const std::optional<core::HelloAck>& registration() const noexcept { return registration_; }
  std::size_t connections_made() const noexcept { return connections_made_; }

 private:
  friend class RequestContext;
  struct Live;
  template <class Stream>
  struct StreamLive;
  std::string openapi_components_;  // JSON text of the Components Object, or empty
  struct Route {
    core::EndpointDescriptor descriptor;
    core::PathTemplate path;
    Handler handler;             // empty for an immediate endpoint
    ImmediateHandler immediate;  // empty for a coroutine endpoint
    RequestBody body = RequestBody::collect;
  };
  bool add_route(core::EndpointDescriptor endpoint, Handler handler, ImmediateHandler immediate,
                 RequestBody body);

  asio::awaitable<void> serve_connection(transport::Address gateway);
  asio::awaitable<void> serve_memory(MemoryConnector connect);
  asio::awaitable<void> reconnect_loop(std::function<asio::awaitable<void>()> once);
  template <class Stream>
  asio::awaitable<void> serve_stream(Stream stream, transport::Address gateway);
  void on_event(core::ServiceEvent& e);
  void start_handler(std::uint32_t stream, core::Request request, bool end_stream);
  void on_request_data(core::svc_event::RequestData& data);
  /// The route a request goes to (its path parameters into `params`), if any.
  std::optional<std::size_t> find_route(std::string_view method, std::string_view path,
                                        std::vector<std::pair<std::string, std::string>>& params);
  /// A chunk of `bytes` of a request body on `stream` was taken (collected or read): CREDIT
  /// back once half a window has gathered in `credit`.
  void took_body(std::uint32_t stream, std::size_t bytes, core::CreditBatcher& credit);
  asio::awaitable<void> run_handler(std::shared_ptr<RequestContext> ctx, std::size_t route);
  /// Runs the immediate handler of `route` for `request` (its path parameters already in
  /// immediate_context_) and sends its answer, all before it returns.
  void answer_now(std::uint32_t stream, std::size_t route, core::Request&& request);
  /// The answer to a request whose handler threw `failure`: a 500 if no head went out yet, else
  /// an abort (the gateway answers 502 or cuts the stream).
  void answer_failed(std::uint32_t stream, const std::string& failure);
  /// A request to copy the next REQUEST into: an answered one's, with its capacity, if any.
  core::Request take_request();
  /// An answered request, kept for take_request() (at most kKeptRequests, none over
  /// kKeptRequestBytes: the Service lives as long as the process).
  void give_request(core::Request&& r) noexcept;
  bool current(std::uint64_t generation) const noexcept;
  void wake();
  /// After a send for `stream` returned `e`: aborts the stream when that answer can never go
  /// out (too large, output overflow, ...). The caller wakes the connection.
  void answered(std::uint32_t stream, core::Errc e, std::string_view what);
  void log(const std::string& line);

  asio::any_io_executor executor_;
  ServiceOptions options_;
  const core::Clock& clock_;
  core::Random random_;
  std::vector<Route> routes_;
  std::unordered_map<std::string, core::PathMatcher> by_method_;
  // find_route()'s scratch, reused: no allocation once grown.
  core::NormalizedPath path_scratch_;
  core::MatchResult match_scratch_;
  static constexpr std::size_t kKeptRequests = 64;
  static constexpr std::size_t kKeptRequestBytes = 4 * 1024;
  std::vector<core::Request> spare_requests_;
  // Immediate handlers' context and answer, reused request after request (the answer's memory
  // is dropped after one that held more than kKeptReplyBytes).
  static constexpr std::size_t kKeptReplyBytes = 16 * 1024;
  RequestContext immediate_context_;
  Reply reply_;
  std::unique_ptr<Live> live_;  // the current connection, if any
  /// A wake from a finished handler is deferred to the next turn of the loop: handlers that
  /// complete at once would otherwise nest wake → event → handler → wake without bound (one
  /// stack level per queued request), and finishing many in one turn gathers their writes.
  /// The token dies with the Service, so a pending wake after destruction does nothing.
  std::shared_ptr<bool> wake_token_ = std::make_shared<bool>(false);
  std::unique_ptr<transport::tls::TlsConnector> tls_;  // built by run() for tls:// gateways
  std::uint64_t generation_ = 0;
  core::HealthStatus health_ = core::HealthStatus::healthy;
  bool stopping_ = false;
  bool registered_ = false;
  std::optional<core::HelloAck> registration_;
  std::size_t connections_made_ = 0;
  core::Duration stop_timeout_{};
  /// Never expires: streaming senders wait on it for window or queue space, and cancel() wakes
  /// them all (after a CREDIT, a completed write, a lost connection).
  asio::steady_timer flow_;
  asio::steady_timer backoff_;
};

}  // namespace stella::microservice
