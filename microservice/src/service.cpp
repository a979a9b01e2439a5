#include "stella/microservice/service.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>

#include "stella/core/path_normalize.hpp"
#include "stella/transport/session_runner.hpp"
#include "stella/transport/tls/tls_connector.hpp"

namespace stella::microservice {

using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {
// Keeps `item` in `pool` for reuse unless the pool holds `max` already. The room is reserved on
// first use, so keeping never allocates after that (out of memory, the item is dropped).
template <class T>
void keep_for_reuse(std::vector<T>& pool, T&& item, std::size_t max) noexcept {
  if (pool.size() >= max) return;
  if (pool.capacity() < max) {
    try {
      pool.reserve(max);
    } catch (...) {
      return;
    }
  }
  pool.push_back(std::move(item));
}
}  // namespace

// The current connection, whatever its stream type (TCP socket, TLS stream).
struct Service::Live {
  Live(core::ServiceSessionConfig cfg, const core::Clock& clock)
      : session(std::move(cfg), clock.now()) {}
  virtual ~Live() = default;
  virtual void wake() = 0;
  virtual void close() = 0;
  core::ServiceSession session;
  using Contexts = std::unordered_map<std::uint32_t, std::shared_ptr<RequestContext>>;
  Contexts contexts;
  /// Nodes of `contexts` kept when their request ended, for the next ones (no allocation per
  /// request); at most kKeptNodes.
  static constexpr std::size_t kKeptNodes = 64;
  std::vector<Contexts::node_type> spare_nodes;
  void remember(std::uint32_t stream, std::shared_ptr<RequestContext> ctx) {
    if (spare_nodes.empty()) {
      contexts[stream] = std::move(ctx);
      return;
    }
    Contexts::node_type node = std::move(spare_nodes.back());
    spare_nodes.pop_back();
    node.key() = stream;
    node.mapped() = std::move(ctx);
    const auto result = contexts.insert(std::move(node));
    if (!result.inserted) result.position->second = std::move(result.node.mapped());
  }
  void forget(std::uint32_t stream) noexcept {
    Contexts::node_type node = contexts.extract(stream);
    if (node.empty()) return;
    node.mapped().reset();
    keep_for_reuse(spare_nodes, std::move(node), kKeptNodes);  // else the node is freed here
  }
  /// Requests to RequestBody::collect endpoints whose body is streaming in.
  struct Partial {
    core::Request request;       // its body so far
    core::CreditBatcher credit;  // body bytes collected, granted back in batches
  };
  std::unordered_map<std::uint32_t, Partial> partial;
};

template <class Stream>
struct Service::StreamLive final : Service::Live {
  StreamLive(Stream s, core::ServiceSessionConfig cfg, const core::Clock& clock)
      : Live(std::move(cfg), clock), stream(std::move(s)) {}
  void wake() override {
    if (runner) runner->wake();
  }
  void close() override {
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
  }
  Stream stream;
  std::unique_ptr<transport::SessionRunner<Stream, core::ServiceSession, core::ServiceEvent>>
      runner;
};

std::optional<std::string_view> RequestContext::param(std::string_view name) const noexcept {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return std::nullopt;
}

asio::awaitable<core::Errc> RequestContext::send_head(core::Response head) {
  if (!service_->current(generation_)) co_return core::Errc::session_closed;
  const core::Errc e = service_->live_->session.send_response(stream_, head, false);
  service_->answered(stream_, e, "response head");
  service_->wake();
  co_return e;
}

asio::awaitable<core::Errc> RequestContext::send_chunk(std::string_view data, bool end_stream) {
  // Back-pressure: wait while the gateway has granted no window for this stream (CREDIT), or
  // while the connection's queue is above the high-water mark. Woken by a CREDIT, by a
  // completed write, or by this request's cancellation.
  while (service_->current(generation_) && !cancelled_ &&
         service_->live_->session.stream_open(stream_) &&
         (service_->live_->session.send_window(stream_) <= 0 ||
          service_->live_->session.pending_output() > service_->options_.high_water_bytes)) {
    co_await service_->flow_.async_wait(kTuple);
  }
  if (cancelled_) co_return core::Errc::unknown_stream;
  if (!service_->current(generation_)) co_return core::Errc::session_closed;
  const core::Errc e = service_->live_->session.send_response_data(stream_, data, end_stream);
  service_->answered(stream_, e, "response chunk");
  service_->wake();
  co_return e;
}

asio::awaitable<std::optional<std::string>> RequestContext::read_body() {
  if (!body_streams_) co_return std::nullopt;
  if (!request_.body.empty()) {  // what came inline in the REQUEST (never charged to the window)
    std::string first = std::move(request_.body);
    request_.body.clear();
    co_return first;
  }
  // Nothing more will come once the request is cancelled, the connection or the stream is
  // gone, or our response head went out (the gateway stops forwarding the body then).
  while (body_.empty() && !body_complete_ && !cancelled_ && service_->current(generation_) &&
         service_->live_->session.stream_open(stream_) &&
         !service_->live_->session.response_started(stream_)) {
    co_await body_ready_->async_wait(kTuple);
  }
  if (cancelled_ || body_.empty()) co_return std::nullopt;
  std::string piece = std::move(body_.front());
  body_.pop_front();
  body_queued_ -= piece.size();
  if (service_->current(generation_)) service_->took_body(stream_, piece.size(), credit_);
  co_return piece;
}

void RequestContext::push_body(std::string data, bool end) {
  if (!data.empty()) {
    body_queued_ += data.size();
    body_.push_back(std::move(data));
  }
  if (end) body_complete_ = true;
  if (body_ready_) body_ready_->cancel();
}

Service::Service(asio::any_io_executor executor, ServiceOptions options, const core::Clock& clock,
                 std::uint64_t seed)
    : executor_(executor),
      options_(std::move(options)),
      clock_(clock),
      random_(seed),
      flow_(executor, core::TimePoint::max()),
      backoff_(executor) {}

Service::~Service() = default;

void Service::log(const std::string& line) {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "%s %s\n", core::wall_clock_rfc3339().c_str(), line.c_str());
  }
}

void Reply::header(std::string_view name, std::string_view value) {
  if (headers_ < response_.headers.size()) {
    core::Header& h = response_.headers[headers_];
    h.name.assign(name);
    h.value.assign(value);
  } else {
    response_.headers.push_back({std::string(name), std::string(value)});
  }
  ++headers_;
}

void Reply::reset() noexcept {
  response_.status = 200;
  response_.body.clear();
  headers_ = 0;
}

const core::Response& Reply::finish() {
  response_.headers.resize(headers_);
  return response_;
}

bool Service::add_route(core::EndpointDescriptor endpoint, Handler handler,
                        ImmediateHandler immediate, RequestBody body) {
  auto parsed = core::PathTemplate::parse(endpoint.path);
  if (!parsed.ok()) {
    log("endpoint " + endpoint.method + " " + endpoint.path +
        " refused: " + parsed.error().message);
    return false;
  }
  const auto index = static_cast<std::uint32_t>(routes_.size());
  if (auto err = by_method_[endpoint.method].add(parsed.value(), index)) {
    log("endpoint " + endpoint.method + " " + endpoint.path + " refused: " + err->message);
    return false;
  }
  routes_.push_back({std::move(endpoint), std::move(parsed).value(), std::move(handler),
                     std::move(immediate), body});
  return true;
}

bool Service::add(core::EndpointDescriptor endpoint, Handler handler, RequestBody body) {
  return add_route(std::move(endpoint), std::move(handler), {}, body);
}

bool Service::add(core::EndpointDescriptor endpoint, ImmediateHandler handler) {
  return add_route(std::move(endpoint), {}, std::move(handler), RequestBody::collect);
}

namespace {
std::string operation_text(const nlohmann::json& operation) {
  return operation.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

bool Service::add(core::EndpointDescriptor endpoint, const nlohmann::json& operation,
                  Handler handler, RequestBody body) {
  endpoint.openapi = operation_text(operation);
  return add(std::move(endpoint), std::move(handler), body);
}

bool Service::add(core::EndpointDescriptor endpoint, const nlohmann::json& operation,
                  ImmediateHandler handler) {
  endpoint.openapi = operation_text(operation);
  return add(std::move(endpoint), std::move(handler));
}

void Service::openapi_components(const nlohmann::json& components) {
  openapi_components_ = components.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Service::set_health(core::HealthStatus status) {
  health_ = status;
  if (live_) live_->session.set_health(status);
}

bool Service::current(std::uint64_t generation) const noexcept {
  return live_ && generation == generation_ && !live_->session.closed();
}

void Service::wake() {
  if (live_) live_->wake();
}

void Service::answered(std::uint32_t stream, core::Errc e, std::string_view what) {
  // The stream is gone (cancelled) or the connection is: nobody waits for an answer. Any other
  // error means this answer can never be sent: say so at once instead of letting the client
  // wait for the gateway's timeout.
  if (e != core::Errc::ok && e != core::Errc::unknown_stream && e != core::Errc::session_closed &&
      live_ && live_->session.stream_open(stream)) {
    const std::string why =
        std::string(what) + " could not be sent: " + std::string(core::errc_name(e));
    log("stream " + std::to_string(stream) + ": " + why + "; aborting the stream");
    live_->session.abort_stream(stream, why);
  }
}

void Service::stop(core::Duration timeout) {
  stopping_ = true;
  stop_timeout_ = timeout;
  backoff_.cancel();
  if (live_) {
    live_->session.drain(timeout, clock_.now());
    wake();
  }
}

asio::awaitable<void> Service::run(transport::Address gateway) {
  if (gateway.scheme == "tls" && !tls_) {
    std::string error;
    tls_ = transport::tls::TlsConnector::create(
        options_.tls.value_or(transport::tls::ClientTlsSettings{}), error);
    if (!tls_) {
      log("cannot connect to " + gateway.to_string() + ": TLS settings: " + error);
      co_return;
    }
  } else if (gateway.scheme != "tls" && gateway.scheme != "tcp") {
    log("cannot connect to " + gateway.to_string() + ": unknown scheme '" + gateway.scheme + "'");
    co_return;
  }
  // (Named first: GCC 12 destroys temporaries inside a co_await operand twice.)
  std::function<asio::awaitable<void>()> once = [this, gateway] {
    return serve_connection(gateway);
  };
  co_await reconnect_loop(std::move(once));
}

asio::awaitable<void> Service::run_in_memory(MemoryConnector connect) {
  std::function<asio::awaitable<void>()> once = [this, connect] { return serve_memory(connect); };
  co_await reconnect_loop(std::move(once));
}

asio::awaitable<void> Service::serve_memory(MemoryConnector connect) {
  auto stream = connect();
  if (!stream) {
    log("cannot connect to the in-memory gateway");
    co_return;
  }
  transport::Address where{"mem", "in-process", 0};
  co_await serve_stream(std::move(*stream), std::move(where));
}

asio::awaitable<void> Service::reconnect_loop(std::function<asio::awaitable<void>()> once) {
  unsigned attempt = 0;
  while (!stopping_) {
    const std::size_t before = connections_made_;
    co_await once();
    if (stopping_) break;
    if (connections_made_ > before && registered_) attempt = 0;
    registered_ = false;
    // Exponential backoff with full jitter: uniform in [0, min(max, min * 2^attempt)).
    const auto cap = std::min<core::Duration>(
        options_.reconnect_max, options_.reconnect_min * (1LL << std::min(attempt, 20u)));
    const auto delay = core::Duration(
        static_cast<core::Duration::rep>(random_.uniform() * static_cast<double>(cap.count())));
    ++attempt;
    backoff_.expires_after(delay);
    co_await backoff_.async_wait(kTuple);
  }
}

asio::awaitable<void> Service::serve_connection(transport::Address gateway) {
  tcp::resolver resolver(executor_);
  auto [rec, results] =
      co_await resolver.async_resolve(gateway.host, std::to_string(gateway.port), kTuple);
  if (rec) {
    log("cannot resolve " + gateway.to_string() + ": " + rec.message());
    co_return;
  }
  tcp::socket socket(executor_);
  auto [cec, ep] = co_await asio::async_connect(socket, results, kTuple);
  if (cec) {
    log("cannot connect to " + gateway.to_string() + ": " + cec.message());
    co_return;
  }
  boost::system::error_code opt;
  socket.set_option(tcp::no_delay(true), opt);
  socket.set_option(asio::socket_base::keep_alive(true), opt);
  if (gateway.scheme != "tls") {
    co_await serve_stream(std::move(socket), std::move(gateway));
    co_return;
  }
  auto handshake = tls_->async_handshake(std::move(socket), gateway.host);
  auto tls = co_await std::move(handshake);
  if (!tls.stream) {
    log("cannot connect to " + gateway.to_string() + ": " + tls.error);
    co_return;
  }
  co_await serve_stream(std::move(*tls.stream), std::move(gateway));
}

template <class Stream>
asio::awaitable<void> Service::serve_stream(Stream stream, transport::Address gateway) {
  using Runner = transport::SessionRunner<Stream, core::ServiceSession, core::ServiceEvent>;
  core::ServiceSessionConfig cfg;
  cfg.limits = options_.limits;
  cfg.liveness_timeout = options_.liveness_timeout;
  cfg.hello.service = options_.name;
  cfg.hello.service_version = options_.version;
  cfg.hello.instance_id = options_.instance_id;
  cfg.hello.region = options_.region;
  cfg.hello.max_in_flight = options_.max_in_flight;
  cfg.hello.request_window = options_.request_window;
  for (const auto& r : routes_)
    cfg.hello.endpoints.push_back(r.descriptor);
  if (!openapi_components_.empty() && !cfg.hello.endpoints.empty()) {
    // The components travel with the first endpoint's fragment (docs/openapi.md).
    auto& first = cfg.hello.endpoints.front().openapi;
    auto fragment =
        first.empty() ? nlohmann::json::object() : nlohmann::json::parse(first, nullptr, false);
    if (fragment.is_object()) {
      fragment["x-stella-components"] = nlohmann::json::parse(openapi_components_);
      first = fragment.dump();
    } else {
      log("openapi: the first endpoint's fragment is not a JSON object; components not sent");
    }
  }

  ++connections_made_;
  ++generation_;
  auto owned = std::make_unique<StreamLive<Stream>>(std::move(stream), std::move(cfg), clock_);
  StreamLive<Stream>* live = owned.get();
  live_ = std::move(owned);
  live_->session.set_health(health_);
  live->runner = std::make_unique<Runner>(
      live->stream, live->session, clock_, [this](core::ServiceEvent& e) { on_event(e); },
      [live] { live->close(); });
  live->runner->on_written([this] { flow_.cancel(); });
  log("connected to " + gateway.to_string() + " as " + options_.name + "/" + options_.instance_id);
  if (stopping_) live->session.drain(stop_timeout_, clock_.now());
  co_await live->runner->run();
  live->close();
  // Handlers still running see a new generation and drop their responses; each context owns
  // its cancellation signal, so it outlives the handler's coroutine.
  auto orphans = std::move(live->contexts);
  live_.reset();
  for (auto& [id, ctx] : orphans)
    ctx->cancel();
  flow_.cancel();
}

void Service::on_event(core::ServiceEvent& e) {
  if (auto* reg = std::get_if<core::svc_event::Registered>(&e)) {
    registered_ = true;
    registration_ = reg->ack;
    log("registered with gateway " + reg->ack.node_id + ": " +
        std::to_string(reg->ack.accepted.size()) + " endpoints accepted, " +
        std::to_string(reg->ack.rejected.size()) + " refused, heartbeat every " +
        std::to_string(reg->ack.heartbeat_interval_ms) + " ms");
    for (const auto& r : reg->ack.rejected) {
      log("  refused " + r.method + " " + r.path + ": " + r.message);
    }
  } else if (auto* req = std::get_if<core::svc_event::RequestStarted>(&e)) {
    std::vector<std::pair<std::string, std::string>> params;
    const core::RequestView& view = *req->request;  // valid during this event only
    const auto route = req->end_stream ? std::nullopt : find_route(view.method, view.path, params);
    core::Request request = take_request();
    view.assign_to(request);
    if (req->end_stream || (route && routes_[*route].body == RequestBody::stream)) {
      start_handler(req->stream, std::move(request), req->end_stream);
    } else {
      live_->partial.emplace(
          req->stream,
          Live::Partial{std::move(request), core::CreditBatcher(options_.request_window)});
    }
  } else if (auto* data = std::get_if<core::svc_event::RequestData>(&e)) {
    on_request_data(*data);
  } else if (auto* cancel = std::get_if<core::svc_event::Cancelled>(&e)) {
    log("stream " + std::to_string(cancel->stream) + " cancelled by the gateway (" +
        std::string(core::cancel_reason_name(cancel->reason)) + ")");
    live_->partial.erase(cancel->stream);
    if (auto it = live_->contexts.find(cancel->stream); it != live_->contexts.end()) {
      auto ctx = it->second;  // emit() may complete the handler, which erases the entry
      ctx->cancel();
    }
  } else if (std::get_if<core::svc_event::CreditGranted>(&e)) {
    flow_.cancel();  // senders waiting for window look again
  } else if (auto* drain = std::get_if<core::svc_event::GatewayDraining>(&e)) {
    log("gateway draining: " + drain->drain.message);
  } else if (auto* closed = std::get_if<core::svc_event::Closed>(&e)) {
    log("connection closed: " + std::string(core::errc_name(closed->info.error)) +
        (closed->info.message.empty() ? "" : " (" + closed->info.message + ")"));
  }
}

void Service::on_request_data(core::svc_event::RequestData& data) {
  if (auto it = live_->partial.find(data.stream); it != live_->partial.end()) {
    Live::Partial& p = it->second;
    if (p.request.body.size() + data.data.size() > options_.max_request_body) {
      live_->session.abort_stream(data.stream, "request body too large");
      live_->partial.erase(it);
      return;
    }
    p.request.body += data.data;
    if (data.end_stream) {
      core::Request request = std::move(p.request);
      live_->partial.erase(it);
      start_handler(data.stream, std::move(request), true);
    } else {
      took_body(data.stream, data.data.size(), p.credit);
    }
    return;
  }
  auto it = live_->contexts.find(data.stream);
  if (it == live_->contexts.end() || !it->second->body_streams_) return;  // answered meanwhile
  auto ctx = it->second;
  if (ctx->body_queued_ + data.data.size() > options_.max_request_body) {
    log("stream " + std::to_string(data.stream) +
        ": request body queued beyond max_request_body; aborting the stream");
    live_->session.abort_stream(data.stream, "request body too large");
    ctx->cancel();
    return;
  }
  // An empty piece is never handed to the handler: its cost is granted back at once.
  if (data.data.empty() && !data.end_stream) took_body(data.stream, 0, ctx->credit_);
  ctx->push_body(std::move(data.data), data.end_stream);
}

void Service::took_body(std::uint32_t stream, std::size_t bytes, core::CreditBatcher& credit) {
  if (const std::uint32_t grant = credit.consumed_chunk(bytes)) {
    if (live_->session.grant_request_credit(stream, grant) == core::Errc::ok) wake();
  }
}

std::optional<std::size_t> Service::find_route(
    std::string_view method, std::string_view raw_path,
    std::vector<std::pair<std::string, std::string>>& params) {
  if (core::normalize_path_into(raw_path, path_scratch_)) return std::nullopt;
  auto m = by_method_.find(std::string(method));  // a method fits the small-string buffer
  if (m == by_method_.end()) return std::nullopt;
  if (!m->second.match(path_scratch_, match_scratch_)) return std::nullopt;
  params.resize(match_scratch_.params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    params[i].first.assign(match_scratch_.params[i].name);
    params[i].second.assign(match_scratch_.params[i].value);
  }
  return match_scratch_.value;
}

core::Request Service::take_request() {
  if (spare_requests_.empty()) return {};
  core::Request r = std::move(spare_requests_.back());
  spare_requests_.pop_back();
  return r;
}

void Service::give_request(core::Request&& r) noexcept {
  if (core::held_bytes(r) <= kKeptRequestBytes)
    keep_for_reuse(spare_requests_, std::move(r), kKeptRequests);
}

void Service::start_handler(std::uint32_t stream, core::Request request, bool end_stream) {
  // The path parameters go to the immediate handlers' context first: an immediate endpoint runs
  // with them there, reusing their strings.
  std::vector<std::pair<std::string, std::string>>& params = immediate_context_.params_;
  const std::optional<std::size_t> route = find_route(request.method, request.path, params);
  if (!route) {
    live_->session.send_response(
        stream, core::Response{404, {{"content-type", "text/plain"}}, "no such endpoint"}, true);
    return;
  }
  if (routes_[*route].immediate) {
    answer_now(stream, *route, std::move(request));
    return;
  }
  auto ctx = std::make_shared<RequestContext>();
  ctx->params_ = params;
  ctx->service_ = this;
  ctx->stream_ = stream;
  ctx->generation_ = generation_;
  ctx->request_ = std::move(request);
  if (routes_[*route].body == RequestBody::stream) {
    ctx->body_streams_ = true;
    ctx->body_complete_ = end_stream;
    ctx->body_ready_.emplace(executor_, core::TimePoint::max());
    ctx->credit_.reset(options_.request_window);
  }
  live_->remember(stream, ctx);
  asio::co_spawn(
      executor_, run_handler(ctx, *route),
      asio::bind_cancellation_slot(ctx->cancel_.slot(), [this, ctx](std::exception_ptr ep) {
        if (!ep) return;
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& ex) {
          log(std::string("handler task failed: ") + ex.what());
        }
      }));
}

void RequestContext::cancel() {
  cancelled_ = true;
  if (body_ready_) body_ready_->cancel();
  // A spawned coroutine that has not had its first turn yet must not see the signal: Asio's
  // co_spawn would throw operation_aborted from its entry point, outside the handler, and out
  // of io_context::run(). It sees cancelled() when it starts instead.
  if (started_) cancel_.emit(asio::cancellation_type::terminal);
}

void Service::answer_failed(std::uint32_t stream, const std::string& failure) {
  log("stream " + std::to_string(stream) + ": handler failed: " + failure);
  core::ServiceSession& session = live_->session;
  if (session.response_started(stream)) {
    session.abort_stream(stream, "handler failed: " + failure);
    return;
  }
  const core::Response internal{
      500,
      {{"content-type", "application/problem+json"}},
      R"({"type":"about:blank","title":"Internal Server Error","status":500,)"
      R"("detail":"the service's handler failed"})"};
  answered(stream, session.send_response(stream, internal, true), "500 response");
}

void Service::answer_now(std::uint32_t stream, std::size_t route, core::Request&& request) {
  RequestContext& ctx = immediate_context_;
  ctx.service_ = this;
  ctx.stream_ = stream;
  ctx.generation_ = generation_;
  ctx.request_ = std::move(request);
  reply_.reset();
  std::optional<std::string> failure;
  try {
    routes_[route].immediate(ctx, reply_);
  } catch (const std::exception& ex) {
    failure = *ex.what() != '\0' ? ex.what() : "an exception with no message";
  } catch (...) {
    failure = "an exception that is not a std::exception";
  }
  // The handler may have stopped the service, but the connection is the same: it runs inline.
  if (failure) {
    answer_failed(stream, *failure);
  } else {
    answered(stream, live_->session.send_response(stream, reply_.finish(), true), "response");
  }
  // Out of the context, kept or freed: a large request must not stay until the next one.
  give_request(std::exchange(ctx.request_, core::Request{}));
  if (core::held_bytes(reply_.response_) > kKeptReplyBytes) reply_.response_ = core::Response{};
}

asio::awaitable<void> Service::run_handler(std::shared_ptr<RequestContext> ctx, std::size_t route) {
  ctx->started_ = true;
  const std::uint64_t gen = ctx->generation_;
  const std::uint32_t stream = ctx->stream_;
  if (ctx->cancelled_) {  // cancelled before its first turn: nobody waits for an answer
    if (current(gen)) live_->forget(stream);
    co_return;
  }
  std::optional<core::Response> response;
  std::optional<std::string> failure;
  try {
    response = co_await routes_[route].handler(*ctx);
  } catch (const std::exception& ex) {
    failure = *ex.what() != '\0' ? ex.what() : "an exception with no message";
  } catch (...) {
    failure = "an exception that is not a std::exception";
  }
  if (current(gen)) {
    core::ServiceSession& session = live_->session;
    // Every request gets an answer: the response, a 500 for a handler that threw before its
    // head, or an abort (the gateway answers 502 or cuts the stream) for anything else.
    if (ctx->cancelled_ || !session.stream_open(stream)) {
      // answered already, or nobody is waiting
    } else if (failure) {
      answer_failed(stream, *failure);
    } else if (response) {
      answered(stream, session.send_response(stream, *response, true), "response");
    } else {
      log("stream " + std::to_string(stream) +
          ": handler returned without completing its response; aborting the stream");
      session.abort_stream(stream, "handler returned without completing its response");
    }
    live_->forget(stream);
    give_request(std::move(ctx->request_));  // the handler is done with it
    if (!*wake_token_) {
      *wake_token_ = true;
      asio::post(executor_, [this, token = std::weak_ptr<bool>(wake_token_)] {
        auto alive = token.lock();
        if (!alive) return;
        *alive = false;
        wake();
      });
    }
  }
}

}  // namespace stella::microservice
