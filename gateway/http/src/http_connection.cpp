#include "stella/gateway/http/http_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>

#include "stella/gateway/http/management.hpp"

namespace stella::gw::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::awaitable;
using asio::ip::tcp;
using SslStream = asio::ssl::stream<tcp::socket>;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadChunk = 16 * 1024;
/// Bytes of a request body sent inline in the REQUEST frame; larger bodies stream.
constexpr std::size_t kInlineBody = 64 * 1024;

enum class Deadline : std::uint8_t { none, idle, header, body, response, write };

bool valid_field_value(std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7F) return false;
  }
  return true;
}

bool valid_field_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

// Headers a service may not set on the client response: framing is the gateway's.
bool hop_by_hop_response(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
      "te",         "trailer",    "content-length",   "x-correlation-id"};
  for (auto h : kHop)
    if (iequals(name, h)) return true;
  return false;
}

void count_status(IngressStats& s, unsigned status) {
  if (status < 300)
    s.responses_2xx.fetch_add(1, std::memory_order_relaxed);
  else if (status < 400)
    s.responses_3xx.fetch_add(1, std::memory_order_relaxed);
  else if (status < 500)
    s.responses_4xx.fetch_add(1, std::memory_order_relaxed);
  else
    s.responses_5xx.fetch_add(1, std::memory_order_relaxed);
}

// A co_spawn completion handler that logs what escaped a coroutine.
auto log_failure(WorkerContext& w, const char* what) {
  return [&w, what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      w.shared.log(std::string(what) + ": " + ex.what());
    }
  };
}

template <class Stream>
tcp::socket& lowest(Stream& s) {
  if constexpr (std::is_same_v<Stream, tcp::socket>)
    return s;
  else
    return s.next_layer();
}

template <class Stream>
class HttpConnection final : public HttpConnectionBase,
                             public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  HttpConnection(WorkerContext& w, Stream stream, ConnectionFacts facts)
      : w_(w),
        s_(*w.shared.config),
        stream_(std::move(stream)),
        facts_(std::move(facts)),
        data_cv_(w.io),
        space_cv_(w.io),
        watchdog_(w.io),
        parser_(w.shared.head_limits) {
    data_cv_.expires_at(Clock::time_point::max());
    space_cv_.expires_at(Clock::time_point::max());
    // Room for one maximal head plus a read; more is back-pressure (the reader waits).
    in_limit_ = w.shared.head_limits.max_header_bytes + kReadChunk;
    w_.connections.insert(this);
  }
  ~HttpConnection() override {
    w_.connections.erase(this);
    w_.shared.connections.fetch_sub(1, std::memory_order_relaxed);
  }

  awaitable<void> run() {
    auto self = this->shared_from_this();
    asio::co_spawn(w_.io, reader(), log_failure(w_, "http reader"));
    asio::co_spawn(w_.io, watchdog(), log_failure(w_, "http watchdog"));
    try {
      co_await process();
    } catch (const std::exception& e) {
      w_.shared.log(std::string("http connection failed: ") + e.what());
    }
    close();
  }

  void on_drain() override {
    draining_ = true;
    if (!busy_ && begin_ == end_) close();
  }
  void abort() override { close(); }

 private:
  // ---- buffer --------------------------------------------------------------------------
  std::string_view pending() const { return {buf_.data() + begin_, end_ - begin_}; }
  // Only the processor calls this, and it moves begin_ alone: end_ and the buffer belong to the
  // reader, whose pending read targets [end_, size) (resetting offsets here would make that
  // read land behind them).
  void consume(std::size_t n) {
    begin_ += n;
    space_cv_.cancel();
  }

  // ---- background reader: fills the buffer, detects the client leaving --------------------
  awaitable<void> reader() {
    auto self = this->shared_from_this();
    while (!closed_) {
      if (end_ - begin_ >= in_limit_) {  // pipelined bytes wait: bounded queue
        co_await space_cv_.async_wait(kTuple);
        continue;
      }
      if constexpr (std::is_same_v<Stream, tcp::socket>) {
        if (begin_ == end_) {
          // Idle: give the buffer back and wait for readability without one, so an idle
          // keep-alive connection holds no read buffer.
          release_buffer();
          auto [ec] = co_await stream_.async_wait(tcp::socket::wait_read, kTuple);
          if (ec || closed_) break;
        }
      }
      if (begin_ == end_) begin_ = end_ = 0;
      if (buf_.size() - end_ < kReadChunk) {
        if (begin_ > 0) {
          std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(begin_),
                    buf_.begin() + static_cast<std::ptrdiff_t>(end_), buf_.begin());
          end_ -= begin_;
          begin_ = 0;
        }
        if (buf_.size() - end_ < kReadChunk) buf_.resize(end_ + kReadChunk);
      }
      auto buffer = asio::buffer(buf_.data() + end_, buf_.size() - end_);
      auto [ec, n] = co_await stream_.async_read_some(buffer, kTuple);
      if (ec || closed_) break;
      end_ += n;
      data_cv_.cancel();
    }
    peer_closed_ = true;
    data_cv_.cancel();
    if (call_ && !closed_) {  // the client left while its request was in flight
      w_.shared.stats.client_aborts.fetch_add(1, std::memory_order_relaxed);
      w_.shared.hub->cancel(call_, core::CancelReason::client_disconnected);
      call_->channel.cancel();
    }
  }

  void release_buffer() {
    if (buf_.capacity() == 0) return;
    begin_ = end_ = 0;
    std::vector<char>().swap(buf_);
  }

  // ---- deadlines: one timer per connection --------------------------------------------
  void set_deadline(Deadline kind, core::Duration d) {
    deadline_kind_ = kind;
    deadline_ = Clock::now() + d;
    if (deadline_ < watchdog_.expiry()) watchdog_.cancel();  // re-arm earlier
  }
  void clear_deadline() { deadline_kind_ = Deadline::none; }

  awaitable<void> watchdog() {
    auto self = this->shared_from_this();
    while (!closed_) {
      watchdog_.expires_at(deadline_kind_ == Deadline::none ? Clock::now() + std::chrono::hours(1)
                                                            : deadline_);
      co_await watchdog_.async_wait(kTuple);
      if (closed_) break;
      if (deadline_kind_ == Deadline::none || Clock::now() < deadline_) continue;
      expired_ = deadline_kind_;
      deadline_kind_ = Deadline::none;
      switch (expired_) {
        case Deadline::idle:
        case Deadline::write:
          close();
          break;
        case Deadline::header:
        case Deadline::body:
          data_cv_.cancel();
          break;
        case Deadline::response:
          if (call_) call_->channel.cancel();
          break;
        case Deadline::none:
          break;
      }
    }
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    lowest(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    lowest(stream_).close(ignored);
    data_cv_.cancel();
    space_cv_.cancel();
    watchdog_.cancel();
    if (call_) {
      w_.shared.hub->cancel(call_, core::CancelReason::client_disconnected);
      call_->channel.cancel();
    }
  }

  // Waits until the reader adds bytes, the client leaves, or a deadline passes.
  awaitable<void> wait_data() {
    data_cv_.expires_at(Clock::time_point::max());
    co_await data_cv_.async_wait(kTuple);
  }

  // ---- the request loop ------------------------------------------------------------------
  awaitable<void> process() {
    const auto& http = s_.http;
    for (;;) {
      busy_ = false;
      expired_ = Deadline::none;
      if (draining_ && begin_ == end_) co_return;
      parser_.reset();
      set_deadline(Deadline::idle, http.idle_timeout);
      bool header_armed = false;
      ParseStatus st;
      for (;;) {
        st = parser_.parse(pending(), head_);
        if (st != ParseStatus::need_more) break;
        if (!header_armed && parser_.started()) {
          set_deadline(Deadline::header, http.header_timeout);
          header_armed = true;
        }
        if (closed_ || peer_closed_) co_return;
        if (expired_ == Deadline::header) {
          w_.shared.stats.header_timeouts.fetch_add(1, std::memory_order_relaxed);
          co_await respond_problem(request_timeout(), "", false);
          co_return;
        }
        co_await wait_data();
      }
      busy_ = true;
      w_.shared.stats.requests.fetch_add(1, std::memory_order_relaxed);
      if (st == ParseStatus::error) {
        w_.shared.stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
        const auto& e = parser_.error();
        req_.clear();
        req_.correlation_id.clear();
        assign_correlation_id(RequestHead{}, w_.rng, req_);
        auto problem = from_http_error(e.status, e.reason, s_.routing.max_request_body_size);
        co_await respond_problem(problem, "", false);
        co_return;
      }
      const bool keep = co_await handle();
      if (!keep || closed_) co_return;
    }
  }

  // One request whose head is parsed. Returns whether the connection stays open.
  awaitable<bool> handle() {
    req_.clear();
    assign_correlation_id(head_, w_.rng, req_);  // stage 1
    keep_alive_ = head_.keep_alive && !draining_;
    is_head_ = head_.method == "HEAD";
    http11_ = head_.version_minor == 1;
    const std::size_t head_size = head_.size;
    const bool has_body = head_.has_body();
    const bool chunked = head_.chunked;
    const std::uint64_t content_length = head_.content_length.value_or(0);
    const bool expect_continue = head_.expect_continue;
    std::string target(head_.target.substr(0, head_.target.find('?')));

    // Management endpoints: answered here, never routed.
    if (auto m = management_response(w_.shared, head_.method, head_.target)) {
      consume(head_size);
      if (has_body) {
        co_await respond_problem(bad_request("management endpoints take no body"), target, false);
        co_return false;
      }
      co_return co_await respond(m->status, m->content_type, std::move(m->body), m->headers);
    }
    if (draining_ || w_.shared.draining.load(std::memory_order_relaxed)) {
      consume(head_size);
      keep_alive_ = false;
      co_await respond_problem(unavailable("the gateway is shutting down"), target, false);
      co_return false;
    }
    apply_identity_policy(w_.shared.pipeline, head_, facts_, req_);  // stage 2
    w_.shared.stats.stripped_headers.fetch_add(req_.stripped_headers, std::memory_order_relaxed);
    // Stages 3–5 (authentication, tenant, rate limiting) are inserted here.
    auto snapshot = w_.shared.routes->snapshot();
    auto problem = route_request(w_.shared.pipeline, head_, *snapshot, w_.shared.selector, w_.rng,
                                 w_.scratch, req_);  // stage 6
    // From here on nothing refers to the head's views: the buffer may move.
    consume(head_size);
    if (!problem && has_body && !chunked && content_length > s_.routing.max_request_body_size)
      problem = payload_too_large(s_.routing.max_request_body_size);
    if (problem) {
      // A refused request with a body: its bytes cannot be skipped safely without reading
      // them, so the connection closes after the answer.
      if (has_body) problem->close = true;
      co_await respond_problem(*problem, target, !problem->close);
      co_return !problem->close && keep_alive_;
    }
    if (expect_continue && has_body) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      set_deadline(Deadline::write, s_.http.idle_timeout);
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kTuple);
      if (ec) co_return false;
    }
    co_return co_await forward(has_body, chunked, content_length, std::move(target));  // stage 7
  }

  // Reads body bytes into `out` until it has `want` more bytes or the body ends. For chunked
  // bodies `decoder` decodes. Returns false on a framing error (answered) or a lost client.
  awaitable<int> read_body(bool chunked, std::uint64_t& remaining, ChunkedDecoder& decoder,
                           std::string& out, std::size_t want) {
    // 1: body complete, 0: more to come, -1: failed (answered or client gone)
    while (out.size() < want) {
      if (begin_ == end_) {
        if (closed_ || peer_closed_) co_return -1;
        if (expired_ == Deadline::body) {
          w_.shared.stats.header_timeouts.fetch_add(1, std::memory_order_relaxed);
          co_await respond_problem(request_timeout(), req_.path.path(), false);
          co_return -1;
        }
        set_deadline(Deadline::body, s_.http.body_timeout);
        co_await wait_data();
        continue;
      }
      std::string_view in = pending();
      if (!chunked) {
        const std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>({remaining, in.size(), want - out.size()}));
        out.append(in.data(), n);
        consume(n);
        remaining -= n;
        if (remaining == 0) co_return 1;
        continue;
      }
      const auto r = decoder.decode(in.substr(0, std::min(in.size(), want - out.size() + 64)), out);
      consume(r.consumed);
      if (r.status == ParseStatus::done) co_return 1;
      if (r.status == ParseStatus::error) {
        w_.shared.stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
        const auto& e = decoder.error();
        co_await respond_problem(
            from_http_error(e.status, e.reason, s_.routing.max_request_body_size), req_.path.path(),
            false);
        co_return -1;
      }
    }
    co_return 0;
  }

  awaitable<bool> forward(bool has_body, bool chunked, std::uint64_t content_length,
                          std::string target) {
    auto& hub = *w_.shared.hub;
    const auto& pick = *req_.pick;
    std::uint64_t remaining = content_length;
    ChunkedDecoder decoder(s_.routing.max_request_body_size, w_.shared.head_limits);
    int body_state = has_body ? 0 : 1;
    if (has_body) {
      body_state = co_await read_body(chunked, remaining, decoder, req_.frame.body, kInlineBody);
      if (body_state < 0) co_return false;
    }
    call_ = hub.make_call(w_.io.get_executor());
    auto call = call_;
    const auto started_at = Clock::now();
    // Moved, not copied: from here on req_.path (not req_.frame) names the request.
    hub.start(call, pick.instance->info->connection_id, pick.instance->state, std::move(req_.frame),
              body_state == 1);
    while (body_state == 0) {
      std::string chunk;
      body_state =
          co_await read_body(chunked, remaining, decoder, chunk, s_.routing.streaming_buffer_size);
      if (body_state < 0) {
        hub.cancel(call, core::CancelReason::client_disconnected);
        call_.reset();
        co_return false;
      }
      hub.send_data(call, std::move(chunk), body_state == 1);
    }
    // Wait for the answer.
    const auto left = req_.timeout - (Clock::now() - started_at);
    set_deadline(Deadline::response, left);
    bool head_written = false;
    bool ok = true;
    for (;;) {
      auto [ec, part] = co_await call->channel.async_receive(kTuple);
      if (ec) {
        if (expired_ == Deadline::response) {
          expired_ = Deadline::none;
          hub.cancel(call, core::CancelReason::timeout);
          w_.shared.stats.timeouts.fetch_add(1, std::memory_order_relaxed);
          call_.reset();
          if (head_written) co_return false;  // cut: never a body that looks complete
          const auto ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(req_.timeout).count();
          co_return co_await respond_problem(
              gateway_timeout("no response from " + std::string(req_.lookup.route->service) +
                              " within " + std::to_string(ms) + " ms"),
              target, keep_alive_);
        }
        // Client gone (reader cancelled) or channel closed by overflow.
        call_.reset();
        if (head_written) w_.shared.stats.aborted_responses.fetch_add(1, std::memory_order_relaxed);
        co_return false;
      }
      const std::size_t bytes = part.head.body.size() + part.data.size();
      if (part.kind == UpstreamPart::Kind::failed) {
        call_.reset();
        clear_deadline();
        if (head_written || part.response_started) {
          w_.shared.stats.aborted_responses.fetch_add(1, std::memory_order_relaxed);
          co_return false;
        }
        if (part.failure == UpstreamPart::Failure::not_ready)
          co_return co_await respond_problem(unavailable(part.detail), target, keep_alive_);
        co_return co_await respond_problem(bad_gateway(part.detail), target, keep_alive_);
      }
      if (part.kind == UpstreamPart::Kind::head) {
        ok = co_await write_head(part.head, part.end_stream);
        head_written = true;
      } else {
        ok = co_await write_chunk(part.data, part.end_stream);
      }
      call->buffered_bytes.fetch_sub(bytes, std::memory_order_relaxed);
      if (!ok) {
        hub.cancel(call, core::CancelReason::client_disconnected);
        call_.reset();
        co_return false;
      }
      if (part.end_stream) break;
      set_deadline(Deadline::response, req_.timeout - (Clock::now() - started_at));
    }
    call_.reset();
    clear_deadline();
    co_return keep_alive_;
  }

  // ---- writing ---------------------------------------------------------------------------
  void add_headers(bhttp::fields& f, const std::vector<core::Header>& headers) {
    for (const auto& h : headers) {
      if (!valid_field_name(h.name) || !valid_field_value(h.value) || hop_by_hop_response(h.name))
        continue;
      f.insert(h.name, h.value);
    }
    f.set("X-Correlation-Id", req_.correlation_id);
  }

  awaitable<bool> write_head(core::Response& r, bool end_stream) {
    const unsigned status = r.status >= 100 && r.status <= 999 ? r.status : 502;
    count_status(w_.shared.stats, status);
    if (draining_) keep_alive_ = false;  // shutting down: this answer is the last
    set_deadline(Deadline::write, s_.http.idle_timeout);
    if (end_stream) {
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status),
                                              http11_ ? 11 : 10};
      add_headers(res.base(), r.headers);
      res.keep_alive(keep_alive_);
      if (is_head_) {
        res.content_length(r.body.size());
        bhttp::response_serializer<bhttp::string_body> sr{res};
        auto [ec, n] = co_await bhttp::async_write_header(stream_, sr, kTuple);
        co_return !ec;
      }
      res.body() = std::move(r.body);
      res.prepare_payload();
      auto [ec, n] = co_await bhttp::async_write(stream_, res, kTuple);
      co_return !ec;
    }
    // Streamed: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), http11_ ? 11 : 10};
    add_headers(res.base(), r.headers);
    if (http11_) {
      res.chunked(true);
      res.keep_alive(keep_alive_);
    } else {
      keep_alive_ = false;
      res.keep_alive(false);
    }
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    auto [ec, n] = co_await bhttp::async_write_header(stream_, sr, kTuple);
    if (ec) co_return false;
    if (!r.body.empty()) co_return co_await write_chunk(r.body, false);
    co_return true;
  }

  awaitable<bool> write_chunk(const std::string& data, bool last) {
    if (is_head_) co_return true;
    set_deadline(Deadline::write, s_.http.idle_timeout);
    if (!http11_) {
      if (!data.empty()) {
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(data), kTuple);
        if (ec) co_return false;
      }
      co_return true;
    }
    if (!data.empty()) {
      auto chunk = bhttp::make_chunk(asio::buffer(data));
      auto [ec, n] = co_await asio::async_write(stream_, chunk, kTuple);
      if (ec) co_return false;
    }
    if (last) {
      auto end = bhttp::make_chunk_last();
      auto [ec, n] = co_await asio::async_write(stream_, end, kTuple);
      if (ec) co_return false;
    }
    co_return true;
  }

  awaitable<bool> respond(unsigned status, std::string_view content_type, std::string body,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
    count_status(w_.shared.stats, status);
    if (draining_) keep_alive_ = false;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), http11_ ? 11 : 10};
    res.set(bhttp::field::content_type, content_type);
    res.set("X-Correlation-Id", req_.correlation_id);
    for (const auto& [n, v] : extra)
      res.insert(n, v);
    res.keep_alive(keep_alive_);
    if (!is_head_) res.body() = std::move(body);
    res.prepare_payload();
    set_deadline(Deadline::write, s_.http.idle_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream_, res, kTuple);
    clear_deadline();
    co_return !ec && keep_alive_;
  }

  awaitable<bool> respond_problem(const Problem& p, std::string_view instance, bool keep_alive) {
    keep_alive_ = keep_alive && !p.close;
    if (req_.correlation_id.empty()) assign_correlation_id(RequestHead{}, w_.rng, req_);
    std::string body = problem_json(p, instance, req_.correlation_id);
    co_return co_await respond(p.status, "application/problem+json", std::move(body), p.headers);
  }

  WorkerContext& w_;
  const config::GatewayConfig& s_;
  Stream stream_;
  ConnectionFacts facts_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0, in_limit_ = 0;
  asio::steady_timer data_cv_, space_cv_, watchdog_;
  Deadline deadline_kind_ = Deadline::none;
  Clock::time_point deadline_{};
  Deadline expired_ = Deadline::none;
  bool closed_ = false, peer_closed_ = false, draining_ = false, busy_ = false;
  bool keep_alive_ = true, is_head_ = false, http11_ = true;
  std::shared_ptr<UpstreamCall> call_;
  HeadParser parser_;
  RequestHead head_;
  ProxyRequest req_;
};

template <class Stream>
void launch(WorkerContext& w, Stream stream, ConnectionFacts facts) {
  auto conn = std::make_shared<HttpConnection<Stream>>(w, std::move(stream), std::move(facts));
  asio::co_spawn(w.io, conn->run(), log_failure(w, "http connection"));
}

ConnectionFacts facts_of(tcp::socket& s, bool tls) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  ConnectionFacts f;
  f.tls = tls;
  f.peer_ip = ec ? std::string("unknown") : ep.address().to_string();
  return f;
}

}  // namespace

void serve_http_connection(WorkerContext& worker, tcp::socket socket) {
  auto facts = facts_of(socket, false);
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  launch(worker, std::move(socket), std::move(facts));
}

void serve_https_connection(WorkerContext& worker, tcp::socket socket,
                            std::shared_ptr<asio::ssl::context> context) {
  auto facts = facts_of(socket, true);
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto handshake = [](WorkerContext& w, tcp::socket sock, std::shared_ptr<asio::ssl::context> ctx,
                      ConnectionFacts f) -> awaitable<void> {
    SslStream stream(std::move(sock), *ctx);
    asio::steady_timer timer(w.io);
    timer.expires_after(w.shared.config->http.header_timeout);
    asio::cancellation_signal cancel;
    timer.async_wait([&cancel](boost::system::error_code ec) {
      if (!ec) cancel.emit(asio::cancellation_type::terminal);
    });
    auto token = asio::bind_cancellation_slot(cancel.slot(), kTuple);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, token);
    timer.cancel();
    if (ec) {
      boost::system::error_code ignore;
      stream.next_layer().close(ignore);
      w.shared.connections.fetch_sub(1, std::memory_order_relaxed);
      co_return;
    }
    launch(w, std::move(stream), std::move(f));
  };
  asio::co_spawn(worker.io,
                 handshake(worker, std::move(socket), std::move(context), std::move(facts)),
                 log_failure(worker, "https handshake"));
}

}  // namespace stella::gw::http
